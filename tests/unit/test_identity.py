"""Swedish personnummer/samordningsnummer and Danish CPR numbers (all fictional)."""

from __future__ import annotations

from datetime import date

import pytest

from hub.errors import InvalidIdentityNumber
from hub.ingest.identity import IdentityNumber, parse_identity

TODAY = date(2024, 6, 1)


def luhn_valid(ten_digits: str) -> bool:
    """Independent Luhn check: double every second digit from the right, sum mod 10 is 0."""
    total = 0
    for position, char in enumerate(reversed(ten_digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value // 10 + value % 10
    return total % 10 == 0


def complete(nine: str) -> str:
    """``YYMMDDNNN`` plus its valid check digit."""
    return next(nine + str(c) for c in range(10) if luhn_valid(nine + str(c)))


def se(text: str) -> IdentityNumber:
    return parse_identity(text, "se", today=TODAY)


def se_error(text: str) -> str:
    with pytest.raises(InvalidIdentityNumber) as info:
        se(text)
    return info.value.detail


def test_helper_agrees_with_published_example() -> None:
    assert luhn_valid("1212121212")  # Skatteverket's example 19121212-1212
    assert not luhn_valid("1212121213")


@pytest.mark.parametrize(
    "text", ["19121212-1212", "191212121212", "121212+1212", " 19121212-1212 "]
)
def test_spellings_of_one_number_share_a_canonical_form(text: str) -> None:
    number = se(text)
    assert number == IdentityNumber("se", "personnummer", "191212121212", date(1912, 12, 12))


def test_ten_digits_without_separator_means_under_100() -> None:
    assert se("1212121212").canonical == "201212121212"
    assert se("121212-1212").canonical == "201212121212"


def test_plus_rule_both_sides() -> None:
    born_jan, born_jul = complete("240101123"), complete("240701123")
    nine_ago = complete("250101123")
    # '-': the last hundred calendar years; '+': from the year one turns 100.
    assert se(f"{born_jan[:6]}-{born_jan[6:]}").birth_date == date(2024, 1, 1)
    assert se(f"{born_jan[:6]}+{born_jan[6:]}").birth_date == date(1924, 1, 1)
    # Turns 100 in July 2024: already '+' in June, and '-' would be a future date.
    assert se(f"{born_jul[:6]}+{born_jul[6:]}").birth_date == date(1924, 7, 1)
    assert "future" in se_error(f"{born_jul[:6]}-{born_jul[6:]}")
    assert se(f"{nine_ago[:6]}-{nine_ago[6:]}").birth_date == date(1925, 1, 1)
    # '+' on someone born in '25 would mean 1825: older than anyone alive.
    assert "1825 is more than 130 years ago" in se_error(f"{nine_ago[:6]}+{nine_ago[6:]}")


def test_plus_is_not_allowed_in_the_twelve_digit_form() -> None:
    assert "10-digit form" in se_error("19121212+1212")


def test_bad_check_digit_says_which_digit_was_expected() -> None:
    detail = se_error("19121212-1213")
    assert "expected 2, got 3" in detail
    assert "1212" not in detail.replace("expected 2", "")  # the number is not repeated


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("1912121-1212", "10 or 12 digits, got 11"),
        ("19121212121", "10 or 12 digits, got 11"),
        ("12121212", "10 or 12 digits, got 8"),
        ("1912121212120", "10 or 12 digits, got 13"),
        ("19121212_1212", "digits"),
        ("١٩١٢١٢١٢١٢١٢", "digits"),  # Arabic-Indic digits are not accepted
        ("19121312-1212", "no month 13"),
        ("19120230-1212", "no day 30"),
        ("20300101-1234", "future"),
        ("00000101-1234", "no year 0"),
    ],
)
def test_invalid_swedish_numbers(text: str, words: str) -> None:
    assert words in se_error(text)


def test_samordningsnummer_is_day_plus_60() -> None:
    nine = complete("701063239")  # day 63: born the 3rd
    number = se(f"{nine[:6]}-{nine[6:]}")
    assert number.kind == "samordningsnummer"
    assert number.birth_date == date(1970, 10, 3)
    assert number.canonical == f"19{nine}"  # the number keeps its +60 day
    assert "no day 32" in se_error(complete("701092239"))


def test_check_digit_of_samordningsnummer_is_over_the_written_day() -> None:
    nine = "701063239"
    good = complete(nine)
    wrong = nine + str((int(good[-1]) + 1) % 10)
    assert "bad check digit" in se_error(wrong)


def test_masked_and_formatted() -> None:
    number = se("121212+1212")
    assert number.masked() == "19121212-****"
    assert number.formatted() == "19121212-1212"
    assert "1212'" not in repr(number)
    cpr = parse_identity("0102031234", "dk", today=TODAY)
    assert cpr.masked() == "010203-****"
    assert cpr.formatted() == "010203-1234"


@pytest.mark.parametrize(
    ("text", "year"),
    [
        ("010203-0000", 1903),
        ("010299-3999", 1999),
        ("010236-4000", 2036),  # 4: 00-36 are 2000s
        ("010237-4000", 1937),  # 4: 37-99 are 1900s
        ("010236-9000", 2036),
        ("010237-9000", 1937),
        ("010220-5000", 2020),  # 5-8: 00-57 are 2000s
        ("010258-5000", 1858),  # 5-8: 58-99 are 1800s
        ("010299-8000", 1899),
    ],
)
def test_cpr_centuries(text: str, year: int) -> None:
    number = parse_identity(text, "dk", today=date(2040, 1, 1))
    assert number.kind == "cpr"
    assert number.birth_date == date(year, 2, 1)
    assert number.canonical == text.replace("-", "")


def test_cpr_needs_no_modulus_11() -> None:
    # 010203-1234 fails the pre-2007 modulus-11 check; it is still a valid CPR form.
    weights = (4, 3, 2, 7, 6, 5, 4, 3, 2, 1)
    assert sum(int(d) * w for d, w in zip("0102031234", weights, strict=True)) % 11 != 0
    assert parse_identity("010203-1234", "dk", today=TODAY).birth_date == date(1903, 2, 1)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("010257-5000", "future"),  # 2057
        ("320103-1234", "no day 32"),
        ("011303-1234", "no month 13"),
        ("010203+1234", "digits"),
        ("01020312345", "10 digits, got 11"),
    ],
)
def test_invalid_cpr_numbers(text: str, words: str) -> None:
    with pytest.raises(InvalidIdentityNumber) as info:
        parse_identity(text, "dk", today=TODAY)
    assert words in info.value.detail


def test_unknown_scheme() -> None:
    with pytest.raises(InvalidIdentityNumber, match="scheme"):
        parse_identity("19121212-1212", "no")


def test_default_today_is_the_real_date() -> None:
    assert parse_identity("19121212-1212").birth_date == date(1912, 12, 12)


def test_a_birth_year_no_one_alive_has_is_refused() -> None:
    # The 12-digit form states its century: 0099 or 1893 is a typo, not a person. 130 years
    # back from TODAY (2024) is 1894, the oldest accepted year.
    ten = complete("940601123")
    assert se(f"18{ten[:6]}-{ten[6:]}").canonical == f"18{ten}"
    assert "1893 is more than 130 years ago" in se_error(f"1893{ten[2:6]}-{ten[6:]}")
    assert "more than 130 years ago" in se_error(f"0099{ten[2:6]}-{ten[6:]}")
    # '+' moves a 10-digit number back a century: born 1890 would be 134.
    old = complete("900601123")
    assert "1890 is more than 130 years ago" in se_error(f"{old[:6]}+{old[6:]}")
