"""IVO's code for a person: birth date, ``-T`` and three digits, or ``-TF`` and two.

IVO never gets the identity number. The code is the birth date and a number whose parity
gives the gender (even: woman, odd: man), the same for the person through the reporting
period. The hub makes the number from a keyed HMAC of the person and the district
(``Hmacs.person_code``): stable for the person and district as long as the master key is, and
telling nothing of the identity number's serial digits.

``-T`` and three digits is for a person with a full personnummer. ``-TF`` and two digits is for
anyone without one: a samordningsnummer (its birth day is the number's day minus 60), and a
Danish CPR number (a person the case system knows by a CPR only has no Swedish number at all).

The gender is the one the case system sent (``case.execution_event`` v2 ``Gender``); without
it, the one the identity number itself carries (the second-to-last digit of a Swedish number,
the last of a CPR number: odd for men, even for women), which is the very convention IVO's
code follows: read from what was sent, not invented.
"""

from __future__ import annotations

from datetime import date

from hub.ingest.identity import IdentityNumber

GENDERS = ("female", "male")


def gender_of(identity: IdentityNumber) -> str:
    digit = identity.canonical[10] if identity.scheme == "se" else identity.canonical[9]
    return "female" if int(digit) % 2 == 0 else "male"


def full_personnummer(identity: IdentityNumber) -> bool:
    return identity.kind == "personnummer"


def ivo_code(birth_date: date, gender: str, full: bool, number: int) -> str:
    """The code for a person born ``birth_date`` of ``gender``; ``number`` is the keyed
    per-person number (only its value modulo 500 or 50 is used)."""
    if gender not in GENDERS:
        raise ValueError(f"gender must be one of {GENDERS}")
    parity = 0 if gender == "female" else 1
    if full:
        return f"{birth_date:%Y%m%d}-T{(number % 500) * 2 + parity:03d}"
    return f"{birth_date:%Y%m%d}-TF{(number % 50) * 2 + parity:02d}"


def code_gender(code: str) -> str:
    """The gender a code's last digit gives."""
    return "female" if int(code[-1]) % 2 == 0 else "male"
