"""OCR payment references: mod 10 check digit, optional length digit, 2-25 digits."""

from __future__ import annotations

import pytest

from adapters.finance_ubw.ocr import MAX_LENGTH, OcrError, luhn_digit, make_ocr, validate_ocr


def test_luhn_digit_of_the_textbook_example() -> None:
    assert luhn_digit("7992739871") == 3  # the classic Luhn example: 79927398713
    assert luhn_digit("0") == 0
    assert luhn_digit("1") == 8  # 1*2 = 2, (10 - 2) % 10


@pytest.mark.parametrize("base", ["1", "7100001", "12345678901234567890123"])
def test_make_ocr_with_length_digit_validates_both_ways(base: str) -> None:
    ocr = make_ocr(base)
    assert ocr.startswith(base)
    assert len(ocr) == len(base) + 2
    assert ocr[-2] == str(len(ocr) % 10)
    assert validate_ocr(ocr) == ocr
    assert validate_ocr(ocr, length_digit=True) == ocr


def test_make_ocr_without_length_digit() -> None:
    ocr = make_ocr("7100001", with_length=False)
    assert ocr == "7100001" + str(luhn_digit("7100001"))
    assert validate_ocr(ocr) == ocr


def test_spaces_between_groups_are_allowed_and_removed() -> None:
    ocr = make_ocr("71000012")
    grouped = f" {ocr[:4]} {ocr[4:8]} {ocr[8:]} "
    assert validate_ocr(grouped) == ocr


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("", "digits"),
        ("   ", "digits"),
        ("71000-0191", "digits"),
        ("7100O0191", "digits"),  # a letter O
        ("٧١٠٠٠٠١٩١", "digits"),  # Arabic-Indic digits are digits to Python, not to Bankgirot
        ("7", "length"),
        ("1" * (MAX_LENGTH + 1), "length"),
        ("710000192", "check_digit"),
    ],
)
def test_each_rule_is_named_when_it_fails(text: str, rule: str) -> None:
    with pytest.raises(OcrError) as caught:
        validate_ocr(text)
    assert caught.value.rule == rule


def test_the_error_never_repeats_the_number() -> None:
    valid = make_ocr("5566778899")
    bad = valid[:-1] + str((int(valid[-1]) + 1) % 10)
    with pytest.raises(OcrError) as caught:
        validate_ocr(bad)
    assert caught.value.rule == "check_digit"
    assert "5566778899" not in str(caught.value)


def validate_ocr_ok(text: str) -> bool:
    try:
        validate_ocr(text)
    except OcrError:
        return False
    return True


def test_length_digit_is_checked_only_when_asked() -> None:
    ocr = make_ocr("7100001", with_length=False)  # 8 digits, second-to-last is "1", not 8
    assert validate_ocr(ocr) == ocr
    with pytest.raises(OcrError) as caught:
        validate_ocr(ocr, length_digit=True)
    assert caught.value.rule == "length_digit"
    assert "must be 8" in str(caught.value)


def test_a_two_digit_reference_cannot_carry_a_length_digit() -> None:
    ocr = make_ocr("5", with_length=False)
    assert validate_ocr(ocr) == ocr
    with pytest.raises(OcrError) as caught:
        validate_ocr(ocr, length_digit=True)
    assert caught.value.rule == "length_digit"


def test_every_single_digit_error_is_caught() -> None:
    ocr = make_ocr("710000123")
    for position in range(len(ocr)):
        for digit in "0123456789":
            if digit == ocr[position]:
                continue
            typo = ocr[:position] + digit + ocr[position + 1 :]
            assert not validate_ocr_ok(typo), (position, digit)


def test_adjacent_transpositions_are_caught_except_09_and_90() -> None:
    ocr = make_ocr("1234567812")
    for position in range(len(ocr) - 1):
        a, b = ocr[position], ocr[position + 1]
        if a == b or {a, b} == {"0", "9"}:
            continue
        swapped = ocr[:position] + b + a + ocr[position + 2 :]
        assert not validate_ocr_ok(swapped), position


@pytest.mark.parametrize(("base", "with_length"), [("", True), ("12a", True), ("1" * 24, True)])
def test_make_ocr_refuses_what_cannot_become_a_reference(base: str, with_length: bool) -> None:
    with pytest.raises(ValueError, match=r"digits|too long"):
        make_ocr(base, with_length)


def test_luhn_digit_takes_ascii_digits_only() -> None:
    with pytest.raises(ValueError, match="ASCII digits"):
        luhn_digit("12x")
