"""OCR payment references (OCR-nummer) as Swedish invoices carry them for Bankgirot.

An OCR reference is 2-25 digits whose last digit is a mod 10 (Luhn) check digit over all the
digits before it. A payee may also agree with Bankgirot on a length digit: then the digit just
before the check digit is the total length modulo 10, so a dropped or doubled digit is caught
even when the Luhn sum happens to match. Whether the length digit is in use is the payee's
choice, so :func:`validate_ocr` checks it only when asked.

Spaces are allowed between groups of digits ("7100 0012 35") and removed; nothing else is.
Errors say which rule failed and never repeat the number (it identifies an invoice).
"""

from __future__ import annotations

from typing import Literal

__all__ = ["MAX_LENGTH", "MIN_LENGTH", "OcrError", "luhn_digit", "make_ocr", "validate_ocr"]

MIN_LENGTH = 2
MAX_LENGTH = 25

Rule = Literal["digits", "length", "check_digit", "length_digit"]


class OcrError(ValueError):
    """The reference breaks ``rule``: one of digits, length, check_digit, length_digit."""

    def __init__(self, rule: Rule, detail: str) -> None:
        super().__init__(detail)
        self.rule: Rule = rule
        self.detail = detail


def luhn_digit(digits: str) -> int:
    """The mod 10 check digit to append to ``digits`` (weights 2,1,2,... from the right)."""
    if not digits.isascii() or not digits.isdigit():
        raise ValueError("luhn_digit takes ASCII digits only")
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return (10 - total % 10) % 10


def validate_ocr(text: str, *, length_digit: bool = False) -> str:
    """Return the reference's digits if ``text`` is a valid OCR reference; raise ``OcrError``.

    ``length_digit=True`` also requires the length digit (second-to-last digit = length mod 10).
    """
    digits = text.strip().replace(" ", "")
    if not digits or not digits.isascii() or not digits.isdigit():
        raise OcrError("digits", "an OCR reference may contain only the digits 0-9")
    if not MIN_LENGTH <= len(digits) <= MAX_LENGTH:
        raise OcrError(
            "length",
            f"an OCR reference has {MIN_LENGTH}-{MAX_LENGTH} digits, this one has {len(digits)}",
        )
    if luhn_digit(digits[:-1]) != int(digits[-1]):
        raise OcrError("check_digit", "the check digit (mod 10) of the OCR reference is wrong")
    if length_digit:
        if len(digits) < 3:
            raise OcrError("length_digit", "an OCR reference with a length digit has 3+ digits")
        if int(digits[-2]) != len(digits) % 10:
            raise OcrError(
                "length_digit",
                "the length digit of the OCR reference does not match its length "
                f"({len(digits)} digits, so it must be {len(digits) % 10})",
            )
    return digits


def make_ocr(base: str, with_length: bool = True) -> str:
    """A valid OCR reference from ``base`` digits: ``base`` [+ length digit] + check digit."""
    if not base or not base.isascii() or not base.isdigit():
        raise ValueError("make_ocr takes a non-empty string of digits")
    total = len(base) + (2 if with_length else 1)
    if total > MAX_LENGTH:
        raise ValueError(f"base too long: the reference would have {total} digits")
    body = base + (str(total % 10) if with_length else "")
    return body + str(luhn_digit(body))
