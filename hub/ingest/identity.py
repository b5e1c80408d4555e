"""Personal identity numbers of Sweden and Denmark: parse, check, canonicalize, mask.

The hub stores identity numbers only as keyed hashes, so two spellings of one number must hash
alike: :func:`parse_identity` turns every accepted spelling into one canonical form, and refuses
what cannot be a number of that kind before it reaches storage.

Sweden (``scheme="se"``, Skatteverket):

* personnummer ``YYMMDD-NNNC``, ``YYMMDD+NNNC``, ``YYMMDDNNNC``, ``YYYYMMDD-NNNC`` or
  ``YYYYMMDDNNNC``; canonical ``YYYYMMDDNNNC``;
* ``C`` is a Luhn check digit over the ten-digit form ``YYMMDDNNN``;
* in the ten-digit form the separator gives the century: ``-`` (or none) means born within the
  last hundred years counted by calendar year, ``+`` is used from the year the person turns
  100. So in 2024 ``240701-…`` is 2024 and ``240701+…`` is 1924, even before 1 July;
* samordningsnummer (coordination number) is written the same way with 60 added to the day.

Denmark (``scheme="dk"``, CPR): ``DDMMYY-SSSS`` or ``DDMMYYSSSS``; canonical ``DDMMYYSSSS``. The
century follows from the seventh digit and the year (CPR-kontoret's table). Numbers issued
since 2007 need not satisfy the old modulus-11 check, so none is made.

Error details never repeat the number itself: they end up in logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from hub.errors import InvalidIdentityNumber

SCHEMES = frozenset({"se", "dk"})


@dataclass(frozen=True)
class IdentityNumber:
    """A checked identity number. ``canonical`` is what the hub hashes and compares."""

    scheme: str  # "se" | "dk"
    kind: str  # "personnummer" | "samordningsnummer" | "cpr"
    canonical: str  # se: YYYYMMDDNNNC (12 digits), dk: DDMMYYSSSS (10 digits)
    birth_date: date

    def formatted(self) -> str:
        """The usual written form: ``19121212-1212`` or ``121212-1212``."""
        if self.scheme == "se":
            return f"{self.canonical[:8]}-{self.canonical[8:]}"
        return f"{self.canonical[:6]}-{self.canonical[6:]}"

    def masked(self) -> str:
        """Safe for logs: the date part only, e.g. ``19121212-****`` or ``121212-****``."""
        if self.scheme == "se":
            return f"{self.canonical[:8]}-****"
        return f"{self.canonical[:6]}-****"

    def __repr__(self) -> str:
        return f"IdentityNumber({self.scheme!r}, {self.kind!r}, {self.masked()!r})"


MAX_AGE_YEARS = 130  # older than anyone alive (the oldest recorded person: 122 years)


def parse_identity(text: str, scheme: str = "se", today: date | None = None) -> IdentityNumber:
    """Check and canonicalize ``text``; raises :class:`InvalidIdentityNumber` saying why."""
    if scheme not in SCHEMES:
        raise InvalidIdentityNumber(f"unknown identity scheme {scheme!r}; use 'se' or 'dk'")
    today = today or date.today()
    cleaned = text.strip()
    if scheme == "se":
        return _parse_swedish(cleaned, today)
    return _parse_cpr(cleaned, today)


def luhn_check_digit(digits: str) -> int:
    """The Luhn (mod 10) check digit of ``digits``, weights 2,1,2,… from the left (9 digits)."""
    total = 0
    for position, char in enumerate(digits):
        product = int(char) * (2 if position % 2 == 0 else 1)
        total += product - 9 if product > 9 else product
    return (10 - total % 10) % 10


def _parse_swedish(text: str, today: date) -> IdentityNumber:
    separator = ""
    digits = text
    if len(text) > 5 and text[-5] in "-+":
        separator, digits = text[-5], text[:-5] + text[-4:]
    if not digits.isascii() or not digits.isdigit():
        raise InvalidIdentityNumber(
            "a personnummer has digits and one optional '-' or '+' before the last four"
        )
    if len(digits) not in (10, 12):
        raise InvalidIdentityNumber(f"a personnummer has 10 or 12 digits, got {len(digits)}")
    if len(digits) == 12:
        if separator == "+":
            raise InvalidIdentityNumber(
                "'+' belongs only to the 10-digit form (age 100 or more); "
                "the 12-digit form uses '-'"
            )
        year, short = int(digits[:4]), digits[2:]
    else:
        short = digits
        yy = int(digits[:2])
        # Latest year ending in yy not after this year; '+' from the year one turns 100.
        year = today.year - (today.year - yy) % 100
        if separator == "+":
            year -= 100
    month, day = int(short[2:4]), int(short[4:6])
    kind = "personnummer"
    if day > 60:
        kind, day = "samordningsnummer", day - 60
    birth_date = _date_or_raise(year, month, day, kind)
    if birth_date > today:
        raise InvalidIdentityNumber(f"the {kind}'s birth date lies in the future")
    if today.year - year > MAX_AGE_YEARS:
        # The 12-digit form states its century and '+' moves a 10-digit one back: either can
        # name a birth year no living person has (0099, 1066), which is a typo, not a person.
        raise InvalidIdentityNumber(
            f"the {kind}'s birth year {year} is more than {MAX_AGE_YEARS} years ago"
        )
    expected = luhn_check_digit(short[:9])
    if int(short[9]) != expected:
        raise InvalidIdentityNumber(
            f"bad check digit: expected {expected}, got {short[9]} (Luhn over the 10-digit form)"
        )
    return IdentityNumber("se", kind, f"{year:04d}{short[2:]}", birth_date)


def _parse_cpr(text: str, today: date) -> IdentityNumber:
    digits = text[:6] + text[7:] if len(text) == 11 and text[6] == "-" else text
    if not digits.isascii() or not digits.isdigit():
        raise InvalidIdentityNumber("a CPR number is DDMMYY-SSSS: digits and one optional '-'")
    if len(digits) != 10:
        raise InvalidIdentityNumber(f"a CPR number has 10 digits, got {len(digits)}")
    day, month, yy, seventh = int(digits[:2]), int(digits[2:4]), int(digits[4:6]), int(digits[6])
    year = 1900 + yy if seventh <= 3 else _cpr_century(seventh, yy) + yy
    birth_date = _date_or_raise(year, month, day, "CPR number")
    if birth_date > today:
        raise InvalidIdentityNumber("the CPR number's birth date lies in the future")
    return IdentityNumber("dk", "cpr", digits, birth_date)


def _cpr_century(seventh: int, yy: int) -> int:
    """CPR-kontoret: 0-3 → 1900s; 4 and 9 → 2000s up to 36, else 1900s; 5-8 → 2000s up to 57,
    else 1800s."""
    if seventh in (4, 9):
        return 2000 if yy <= 36 else 1900
    return 2000 if yy <= 57 else 1800


def _date_or_raise(year: int, month: int, day: int, kind: str) -> date:
    if year < 1:
        raise InvalidIdentityNumber(f"the {kind} is not a date: no year 0")
    if not 1 <= month <= 12:
        raise InvalidIdentityNumber(f"the {kind} is not a date: no month {month}")
    try:
        return date(year, month, day)
    except ValueError:
        raise InvalidIdentityNumber(
            f"the {kind} is not a date: month {month} of that year has no day {day}"
        ) from None
