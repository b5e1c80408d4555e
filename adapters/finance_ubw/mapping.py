"""Hub finance documents to UBW's documents and criteria, and UBW's answers to plain data.

The other half of ``adapters.finance_ubw``, without I/O (the adapter's docstring says what UBW
is sent and why): :func:`parse_body` reads a delivery's document with a hardened parser (no
DTD, no entities, no network), :func:`read_payment` and :func:`read_deferral` check it as far as
that can be done without asking UBW (a deferral over ``MAX_DEFERRAL_DAYS``, an OCR reference
failing its check digit), :func:`abw_transaction` and :func:`ar_deferral` write the documents
UBW's server processes GL07 and OHAR01 import, :func:`invoice_criteria` builds the QueryEngine
search criteria of an ``invoice_status`` lookup, and :func:`template_rows` and
:func:`invoice_answer` turn the template's result into the contact centre's answer.

Every refusal is a ``PermanentDeliveryError`` that says why without quoting personal data.
Data categories: identity (recipient, payer), decisions, fees, invoices.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import cast

from lxml import etree

from adapters.finance_ubw.ocr import OcrError, validate_ocr
from hub.errors import PermanentDeliveryError

ABW_NS = "http://services.agresso.com/schema/ABWTransaction/2011/11/14"
AGRLIB_NS = "http://services.agresso.com/schema/ABWSchemaLib/2011/11/14"
AR_DEFERRAL_NS = "urn:omsorgshub:ubw:ar-deferral:1"
PAYMENT_NS = "urn:omsorgshub:finance.payment:1"
DEFERRAL_NS = "urn:omsorgshub:finance.deferral:1"
INTERFACE = "BI"  # the batch-input interface code the vouchers are imported under
VOUCHER_TYPE = "AE"  # assistansersättning; voucher types are defined per installation
MAX_DEFERRAL_DAYS = 30  # what the contact centre may grant (seed 001)
LOOKUP_PARAMS = ("invoice_number", "ocr")
_INVOICE_NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-]{0,24}")
_local = threading.local()


@dataclass(frozen=True)
class Payment:
    voucher_id: str
    decision_id: str
    recipient: str  # digits of the organisation or identity number
    period_from: date
    period_to: date
    hours: Decimal
    amount: Decimal
    account: str
    dimensions: tuple[tuple[int, str], ...]  # (position 1-7, value)
    due_date: date
    description: str


@dataclass(frozen=True)
class Deferral:
    invoice_number: str | None
    ocr: str | None
    payer: str  # identity number, digits only
    days: int
    reason: str
    granted_by: str


def parse_body(document: bytes, namespace: str, root: str) -> etree._Element:
    """The message body as an element; a permanent error if it is not what the type says."""
    element = _parse(document, "the document", malformed="malformed_xml", hostile="hostile_xml")
    if element.tag != f"{{{namespace}}}{root}":
        raise PermanentDeliveryError(
            f"the document's root is not {root} ({namespace})", reason="unexpected_document"
        )
    return element


def read_payment(element: etree._Element) -> Payment:
    def text(path: str) -> str:
        return _text(element, path, PAYMENT_NS)

    period_from, period_to = _date(text("Period/From")), _date(text("Period/To"))
    if period_to < period_from:
        raise PermanentDeliveryError(
            "the payment's period ends before it starts", reason="invalid_document"
        )
    recipient = _digits(text("Recipient/*"))  # Person or Organisation
    if not recipient:
        raise PermanentDeliveryError("the payment has no recipient", reason="invalid_document")
    dims = []
    for position in range(1, 8):
        value = element.findtext(f"{{{PAYMENT_NS}}}Accounting/{{{PAYMENT_NS}}}Dim{position}")
        if value is not None:
            dims.append((position, value.strip()))
    return Payment(
        voucher_id=text("VoucherId"),
        decision_id=text("DecisionId"),
        recipient=recipient,
        period_from=period_from,
        period_to=period_to,
        hours=_decimal(text("Hours")),
        amount=_decimal(text("Amount")),
        account=text("Accounting/Account"),
        dimensions=tuple(dims),
        due_date=_date(text("DueDate")),
        description=text("Description"),
    )


def read_deferral(element: etree._Element) -> Deferral:
    """The deferral, checked as far as it can be without asking UBW (days, OCR check digit)."""

    def text(path: str) -> str:
        return _text(element, path, DEFERRAL_NS)

    days_text = text("Days")
    if not (days_text.isascii() and days_text.isdigit()):
        raise PermanentDeliveryError("Days is not a whole number", reason="invalid_document")
    days = int(days_text)
    if days > MAX_DEFERRAL_DAYS:
        raise PermanentDeliveryError(
            f"a deferral of {days} days is longer than the {MAX_DEFERRAL_DAYS} days the contact "
            "centre may grant; the district's fee officer decides longer ones",
            reason="deferral_too_long", days=days,
        )  # fmt: skip
    number = element.findtext(f"{{{DEFERRAL_NS}}}InvoiceNumber")
    ocr = element.findtext(f"{{{DEFERRAL_NS}}}Ocr")
    return Deferral(
        invoice_number=number.strip() if number is not None else None,
        ocr=_checked_ocr(ocr) if ocr is not None else None,
        payer=_digits(text("Payer")),
        days=days,
        reason=text("Reason"),
        granted_by=text("GrantedBy/Id"),
    )


def abw_transaction(payment: Payment, *, batch_id: str, client: str, voucher_date: date) -> bytes:
    """The ABWTransaction for GL07: an AP line crediting the recipient, a GL line for the cost."""
    root = etree.Element(_abw("ABWTransaction"), nsmap=_nsmap({None: ABW_NS, "agrlib": AGRLIB_NS}))
    _sub(root, _abw("Interface"), INTERFACE)
    _sub(root, _lib("BatchId"), batch_id)
    _sub(root, _lib("ReportClient"), client)
    voucher = etree.SubElement(root, _abw("Voucher"))
    _sub(voucher, _abw("VoucherNo"), "0")
    _sub(voucher, _lib("VoucherType"), VOUCHER_TYPE)
    _sub(voucher, _lib("CompanyCode"), client)
    _sub(voucher, _lib("Period"), voucher_date.strftime("%Y%m"))
    _sub(voucher, _abw("VoucherDate"), voucher_date.isoformat())
    for trans_type, sign in (("AP", -1), ("GL", 1)):
        line = etree.SubElement(voucher, _abw("Transaction"))
        _sub(line, _lib("TransType"), trans_type)
        _sub(line, _lib("Description"), payment.description)
        _sub(line, _lib("Status"), "N")
        _sub(line, _abw("TransDate"), voucher_date.isoformat())
        _sub(line, _abw("ExternalRef"), payment.decision_id)
        amounts = etree.SubElement(line, _abw("Amounts"))
        _sub(amounts, _abw("DcFlag"), str(sign))
        _sub(amounts, _lib("Amount"), f"{sign * payment.amount:.2f}")
        _sub(amounts, _lib("CurrAmount"), f"{sign * payment.amount:.2f}")
        gl = etree.SubElement(line, _abw("GLAnalysis"))
        if trans_type == "GL":
            _sub(amounts, _lib("Number1"), f"{payment.hours:.2f}")  # the hours as quantity
            _sub(gl, _lib("Account"), payment.account)
            for position, value in payment.dimensions:
                _sub(gl, _abw(f"Dim{position}"), value)
        _sub(gl, _lib("Currency"), "SEK")
        _sub(gl, _lib("TaxCode"), "0")
        if trans_type == "AP":
            info = etree.SubElement(line, _abw("ApArInfo"))
            _sub(info, _abw("ApArType"), "P")
            _sub(info, _abw("ApArNo"), payment.recipient)
            _sub(info, _abw("InvoiceNo"), payment.voucher_id)
            _sub(info, _abw("DueDate"), payment.due_date.isoformat())
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def ar_deferral(deferral: Deferral, *, batch_id: str, client: str) -> bytes:
    """The (invented) ArDeferral document for the due-date server process OHAR01."""
    root = etree.Element(f"{{{AR_DEFERRAL_NS}}}ArDeferral", nsmap=_nsmap({None: AR_DEFERRAL_NS}))
    _sub(root, f"{{{AR_DEFERRAL_NS}}}BatchId", batch_id)
    _sub(root, f"{{{AR_DEFERRAL_NS}}}ReportClient", client)
    item = etree.SubElement(root, f"{{{AR_DEFERRAL_NS}}}Deferral")
    values = (
        ("InvoiceNo", deferral.invoice_number), ("BacsId", deferral.ocr),
        ("ExtApArRef", deferral.payer), ("DeferDays", str(deferral.days)),
        ("Reason", deferral.reason), ("GrantedBy", deferral.granted_by),
    )  # fmt: skip
    for name, value in values:
        if value is not None:
            _sub(item, f"{{{AR_DEFERRAL_NS}}}{name}", value)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def invoice_criteria(params: Mapping[str, str], subject: str | None) -> list[dict[str, object]]:
    """QueryEngine search criteria for an invoice-status lookup, checked before any call."""
    unknown = sorted(set(params) - set(LOOKUP_PARAMS))
    if unknown or not any(params.get(key) for key in LOOKUP_PARAMS):
        raise PermanentDeliveryError(
            "invoice_status takes invoice_number and/or ocr"
            + (f", not {', '.join(unknown)}" if unknown else ""),
            reason="invalid_lookup",
        )
    criteria: list[dict[str, object]] = []
    number = params.get("invoice_number")
    if number:
        if not _INVOICE_NUMBER.fullmatch(number):
            raise PermanentDeliveryError(
                "an invoice number is 1-25 letters, digits and hyphens", reason="invalid_lookup"
            )
        criteria.append(_criterion("ext_inv_ref", number))
    ocr = params.get("ocr")
    if ocr:
        criteria.append(_criterion("kid", _checked_ocr(ocr)))
    if subject is not None:
        criteria.append(_criterion("ext_apar_ref", _digits(subject)))
    return criteria


def template_rows(template_result: str) -> list[dict[str, str]]:
    """The detail rows of a TemplateResult (``<Agresso><AgressoQE>...``) as column -> text."""
    if not template_result.strip():
        return []
    root = _parse(
        template_result.encode(),
        "UBW's template result",
        malformed="ubw_unexpected_answer",
        hostile="hostile_answer",
    )
    rows = []
    for row in root.iter("AgressoQE"):
        values = {
            str(child.tag): (child.text or "").strip()
            for child in row
            if isinstance(child.tag, str)
        }
        if values.get("_section", "D") == "D":
            rows.append(values)
    return rows


def invoice_answer(rows: Sequence[Mapping[str, str]]) -> dict[str, object]:
    """The contact centre's answer: the invoice, its OCR, amount, balance, status, due date."""
    if not rows:
        return {"found": False}
    if len({row.get("ext_inv_ref") for row in rows}) > 1:
        raise PermanentDeliveryError(
            "the lookup matches more than one invoice", reason="ambiguous_invoice"
        )
    row = rows[0]
    try:
        amount = sum((Decimal(r["amount"]) for r in rows), Decimal(0))
        balance = sum((Decimal(r["rest_amount"]) for r in rows), Decimal(0))
        due = date.fromisoformat(row["due_date"][:10])
    except (KeyError, InvalidOperation, ValueError) as exc:
        raise PermanentDeliveryError(
            "UBW's template lacks or garbles a column (ext_inv_ref, kid, amount, rest_amount, "
            "due_date)", reason="ubw_unexpected_answer",
        ) from exc  # fmt: skip
    status = "paid" if balance <= 0 else "unpaid" if balance >= amount else "partly_paid"
    return {
        "found": True,
        "invoice_number": row.get("ext_inv_ref", ""),
        "ocr": row.get("kid", ""),
        "amount": f"{amount:.2f}",
        "balance": f"{max(balance, Decimal(0)):.2f}",
        "currency": row.get("currency") or "SEK",
        "status": status,
        "due_date": due.isoformat(),
    }


def _parser() -> etree.XMLParser:
    """This thread's hardened parser (lxml parsers must not be shared between threads)."""
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
        )
        _local.parser = parser
    return parser


def _parse(data: bytes, what: str, *, malformed: str, hostile: str) -> etree._Element:
    """``data`` parsed with the hardened parser; a permanent error with reason ``malformed`` if
    it is not well-formed, ``hostile`` if it has a DOCTYPE (``what`` names it in the detail)."""
    try:
        element = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise PermanentDeliveryError(f"{what} is not well-formed XML", reason=malformed) from exc
    docinfo = element.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise PermanentDeliveryError(f"{what} has a DOCTYPE", reason=hostile)
    return element


def _criterion(column: str, value: str) -> dict[str, object]:
    return {
        "ColumnName": column, "RestrictionType": "=", "FromValue": value,
        "DataType": 10, "DataLength": 25, "DataCase": 2,
        "IsParameter": True, "IsVisible": True, "IsPrompt": False,
    }  # fmt: skip


def _checked_ocr(text: str) -> str:
    try:
        return validate_ocr(text)
    except OcrError as exc:
        raise PermanentDeliveryError(
            f"invalid OCR reference: {exc.detail}", reason="invalid_ocr", rule=exc.rule
        ) from exc


def _text(element: etree._Element, path: str, namespace: str) -> str:
    qualified = "/".join(f"{{{namespace}}}{step}" for step in path.split("/"))
    value = element.findtext(qualified)
    if value is None or not value.strip():
        raise PermanentDeliveryError(f"the document lacks {path}", reason="invalid_document")
    return value.strip()


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise PermanentDeliveryError(
            "the document has an invalid date", reason="invalid_document"
        ) from exc


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise PermanentDeliveryError(
            "the document has an invalid number", reason="invalid_document"
        ) from exc
    if not value.is_finite():
        raise PermanentDeliveryError(
            "the document has an invalid number", reason="invalid_document"
        )
    return value


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _nsmap(mapping: dict[str | None, str]) -> dict[str, str]:
    return cast("dict[str, str]", mapping)  # lxml-stubs do not allow the default (None) prefix


def _abw(local: str) -> str:
    return f"{{{ABW_NS}}}{local}"


def _lib(local: str) -> str:
    return f"{{{AGRLIB_NS}}}{local}"


def _sub(parent: etree._Element, tag: str, text: str) -> None:
    etree.SubElement(parent, tag).text = text
