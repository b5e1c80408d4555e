"""The UBW double's ledger (``ubw_double``): customer invoices, their seed, what was imported,
and the closed accounts its voucher validation refuses.

The seeded invoices belong to 19121212-1212, the Swedish Tax Agency's published test identity
("Tolvan Tolvansson"); feed the double fictional data only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from adapters.finance_ubw.ocr import make_ocr

TOLVAN = "191212121212"
# Accounts closed for posting: a voucher line on one is refused with ``Client.Validation``, as
# UBW's account validation refuses a blocked account. Chosen by a test as its input.
CLOSED_ACCOUNTS = frozenset({"4599"})


@dataclass(frozen=True)
class Invoice:
    """One customer invoice (a care fee) in the double's ledger."""

    invoice_number: str
    ocr: str
    payer: str  # identity number, 12 digits
    amount: Decimal
    balance: Decimal
    due_date: date
    currency: str = "SEK"


def seed_invoices() -> list[Invoice]:
    """Three care-fee invoices of the test identity: paid, partly paid and unpaid."""
    return [
        Invoice("7100001", make_ocr("7100001"), TOLVAN, Decimal("1874.00"), Decimal("0.00"),
                date(2024, 4, 30)),
        Invoice("7100002", make_ocr("7100002"), TOLVAN, Decimal("2359.00"), Decimal("1000.00"),
                date(2024, 5, 31)),
        Invoice("7100003", make_ocr("7100003"), TOLVAN, Decimal("612.50"), Decimal("612.50"),
                date(2024, 6, 30)),
    ]  # fmt: skip


@dataclass(frozen=True)
class Stored:
    order_number: int
    process: str
    xml: bytes


def matches(invoice: Invoice, wanted: dict[str, str]) -> bool:
    values = {
        "ext_inv_ref": invoice.invoice_number,
        "kid": invoice.ocr,
        "ext_apar_ref": invoice.payer,
    }
    return all(values[column] == value for column, value in wanted.items())
