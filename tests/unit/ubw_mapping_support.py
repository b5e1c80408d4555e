"""What the UBW mapping's unit tests (and the UBW adapter's integration tests) share: the
hub's finance documents as a sender writes them, and UBW's template results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import zeep.exceptions
from lxml import etree

from adapters.finance_ubw.mapping import (
    DEFERRAL_NS,
    PAYMENT_NS,
)

zx: Any = zeep.exceptions  # zeep's exception classes have untyped constructors
XSD_DIR = Path(__file__).resolve().parents[2] / "schemas" / "xsd"
TOLVAN = "191212121212"  # the Swedish Tax Agency's published test identity
PASSWORD = "hemligt-Lösen-42"
OPTIONS: dict[str, object] = {
    "url": "http://ubw.example.invalid/BusinessWorld-webservices/service.svc",
    "username": "HUBWS",
    "client": "SE10",
    "password": PASSWORD,
}


def payment_document(
    *,
    voucher_id: str = "LC-2024-000123",
    decision_id: str = "LSS-2024-0042",
    recipient: str = "<Organisation>556677-8899</Organisation>",
    client: str = TOLVAN,
    period: tuple[str, str] = ("2024-04-01", "2024-04-30"),
    hours: str = "123.50",
    amount: str = "38412.50",
    dims: str = "<Dim1>7100</Dim1><Dim3>LSS</Dim3>",
    description: str = "Assistansersättning april 2024",
) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<PaymentVoucher xmlns="{PAYMENT_NS}">'
        f"<VoucherId>{voucher_id}</VoucherId><DecisionId>{decision_id}</DecisionId>"
        f"<Recipient>{recipient}</Recipient><Client>{client}</Client>"
        f"<Period><From>{period[0]}</From><To>{period[1]}</To></Period>"
        f'<Hours>{hours}</Hours><Amount currency="SEK">{amount}</Amount>'
        f"<Accounting><Account>4521</Account>{dims}</Accounting>"
        f"<DueDate>2024-05-25</DueDate><Description>{description}</Description>"
        "</PaymentVoucher>"
    ).encode()


def deferral_document(
    *,
    invoice: str = "<InvoiceNumber>7100003</InvoiceNumber>",
    payer: str = TOLVAN,
    days: int = 30,
    reason: str = "Väntar på bostadstillägg",
) -> bytes:
    return (
        f'<PaymentDeferral xmlns="{DEFERRAL_NS}">{invoice}<Payer>{payer}</Payer>'
        f"<Days>{days}</Days><Reason>{reason}</Reason>"
        "<GrantedBy><Id>ad-handl-17</Id><Name>Handla Läggarsson</Name></GrantedBy>"
        "</PaymentDeferral>"
    ).encode()


def _schema(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD_DIR / name)))


def _valid(xsd: str, document: bytes) -> bool:
    return bool(_schema(xsd).validate(etree.fromstring(document)))
