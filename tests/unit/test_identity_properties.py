"""Identity numbers under Hypothesis: every spelling of a valid number round-trips, a change of
one digit under the check digit is refused, and no input raises anything but the hub's error.

The valid numbers are built here from a birth date and a serial with an independent Luhn
(``tests/unit/test_identity.complete``), not with the parser's own helper, so a wrong check
digit in the parser cannot agree with itself. ``today`` is fixed: the century of a ten-digit
number depends on it.
"""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.errors import InvalidIdentityNumber
from hub.ingest.identity import MAX_AGE_YEARS, IdentityNumber, parse_identity
from tests.unit.test_identity import complete

TODAY = date(2026, 3, 1)
BOUNDED = settings(max_examples=300, deadline=None, database=None)

# Everyone a personnummer can name: born this century back to the oldest plausible year.
birth_dates = st.dates(min_value=date(TODAY.year - MAX_AGE_YEARS, 1, 1), max_value=TODAY)


@st.composite
def swedish_numbers(draw: st.DrawFn) -> tuple[str, date, str]:
    """``(canonical YYYYMMDDNNNC, birth date, kind)`` of a valid personnummer or
    samordningsnummer."""
    born = draw(birth_dates)
    kind = draw(st.sampled_from(["personnummer", "samordningsnummer"]))
    day = born.day + (60 if kind == "samordningsnummer" else 0)
    ten = complete(f"{born:%y%m}{day:02d}{draw(st.integers(0, 999)):03d}")
    return f"{born.year // 100:02d}{ten}", born, kind


def spellings(canonical: str, born: date) -> list[str]:
    """Every accepted way to write the number (the ten-digit forms carry the century in their
    separator: '+' from the calendar year the person turns 100)."""
    ten = canonical[2:]
    forms = [canonical, f"{canonical[:8]}-{canonical[8:]}"]
    if TODAY.year - born.year >= 100:
        forms.append(f"{ten[:6]}+{ten[6:]}")
    else:
        forms += [ten, f"{ten[:6]}-{ten[6:]}"]
    return forms


@BOUNDED
@given(swedish_numbers(), st.sampled_from(["", " ", "\t", "\n"]))
def test_every_spelling_of_a_valid_swedish_number_round_trips(
    number: tuple[str, date, str], padding: str
) -> None:
    canonical, born, kind = number
    for spelling in spellings(canonical, born):
        parsed = parse_identity(f"{padding}{spelling}{padding}", "se", today=TODAY)
        assert (parsed.canonical, parsed.kind, parsed.birth_date) == (canonical, kind, born)
        again = parse_identity(parsed.formatted(), "se", today=TODAY)
        assert again == parsed


@BOUNDED
@given(swedish_numbers(), st.integers(0, 9), st.integers(1, 9), st.booleans())
def test_a_change_of_one_digit_under_the_check_digit_is_refused(
    number: tuple[str, date, str], position: int, delta: int, ten_digit_form: bool
) -> None:
    """Luhn catches every single-digit change of the ten digits it covers; the century digits
    of the twelve-digit form lie outside it (see the next test)."""
    canonical, born, _ = number
    ten = canonical[2:]
    changed = ten[:position] + str((int(ten[position]) + delta) % 10) + ten[position + 1 :]
    if ten_digit_form:
        separator = "+" if TODAY.year - born.year >= 100 else "-"
        text = f"{changed[:6]}{separator}{changed[6:]}"
    else:
        text = canonical[:2] + changed
    try:
        parsed = parse_identity(text, "se", today=TODAY)
    except InvalidIdentityNumber:
        return
    raise AssertionError(f"{text} (one digit off {canonical}) was accepted as {parsed!r}")


@BOUNDED
@given(swedish_numbers(), st.integers(0, 1), st.integers(1, 9))
def test_a_changed_century_digit_never_passes_for_the_same_person(
    number: tuple[str, date, str], position: int, delta: int
) -> None:
    """No check digit covers the century, so such a change may be accepted, but only as a
    number with another birth date: it can never be mistaken for the original."""
    canonical, born, _ = number
    text = (
        canonical[:position]
        + str((int(canonical[position]) + delta) % 10)
        + canonical[position + 1 :]
    )
    try:
        parsed = parse_identity(text, "se", today=TODAY)
    except InvalidIdentityNumber:
        return
    assert parsed.canonical != canonical
    assert parsed.birth_date != born


@st.composite
def cpr_numbers(draw: st.DrawFn) -> tuple[str, date]:
    """A valid CPR number (seventh digit consistent with the birth year) and its birth date."""
    born = draw(st.dates(min_value=date(1858, 1, 1), max_value=TODAY))
    yy = born.year % 100
    if born.year < 1900:
        choices = [5, 6, 7, 8]
    elif born.year < 2000:
        choices = [0, 1, 2, 3] + ([4, 9] if yy >= 37 else [])
    else:
        choices = ([4, 9] if yy <= 36 else []) + ([5, 6, 7, 8] if yy <= 57 else [])
    seventh = draw(st.sampled_from(choices))
    return f"{born:%d%m%y}{seventh}{draw(st.integers(0, 999)):03d}", born


@BOUNDED
@given(cpr_numbers())
def test_every_spelling_of_a_valid_cpr_number_round_trips(number: tuple[str, date]) -> None:
    canonical, born = number
    for spelling in (canonical, f"{canonical[:6]}-{canonical[6:]}"):
        parsed = parse_identity(spelling, "dk", today=TODAY)
        assert (parsed.canonical, parsed.birth_date) == (canonical, born)
        assert parse_identity(parsed.formatted(), "dk", today=TODAY) == parsed


# Text that looks like a number often (digits, separators, odd Unicode digits and spaces),
# and anything at all.
near_numbers = st.text(
    alphabet=st.sampled_from("0123456789-+ \t\n\u0660\u0669\uff10\u00b2\u200f\ufeff\x00/"),
    max_size=16,
)


@BOUNDED
@given(
    st.one_of(near_numbers, st.text(max_size=40)),
    st.sampled_from(["se", "dk", "no", "", "SE"]),
    st.one_of(st.none(), st.just(TODAY), st.dates()),
)
def test_no_input_raises_anything_but_invalid_identity_number(
    text: str, scheme: str, today: date | None
) -> None:
    parsed: IdentityNumber | str
    try:
        parsed = parse_identity(text, scheme, today=today)
    except InvalidIdentityNumber as exc:
        parsed = str(exc)
    if isinstance(parsed, str):
        assert text.strip() not in parsed or len(text.strip()) < 6, "the detail repeats it"
        return
    assert parsed.birth_date <= (today or date.today() + timedelta(days=1))
    assert parsed.canonical.isascii()
    assert parsed.canonical.isdigit()
