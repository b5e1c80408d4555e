"""The UBW adapter without a network: documents in and out, lookups, errors, options.

The finance message types' XSDs and UBW's ABWTransaction subset are applied with lxml directly,
so these tests say what the schemas accept whether or not the registry lists the types yet.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
import zeep.exceptions
from lxml import etree

from adapters.finance_ubw.adapter import DIALECT, TRANSIENCE, UbwFinanceAdapter
from adapters.finance_ubw.mapping import (
    ABW_NS,
    AGRLIB_NS,
    AR_DEFERRAL_NS,
    DEFERRAL_NS,
    MAX_DEFERRAL_DAYS,
    PAYMENT_NS,
    abw_transaction,
    ar_deferral,
    invoice_answer,
    invoice_criteria,
    parse_body,
    read_deferral,
    read_payment,
    template_rows,
)
from adapters.finance_ubw.ocr import make_ocr
from adapters.soap import map_soap_outcome
from hub.errors import (
    ConfigError,
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
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


# -- the hub's message types ---------------------------------------------------------------------


def test_the_fictional_documents_fit_their_schemas() -> None:
    assert _valid("finance.payment-1.xsd", payment_document())
    assert _valid("finance.payment-1.xsd", payment_document(recipient=f"<Person>{TOLVAN}</Person>"))
    assert _valid("finance.deferral-1.xsd", deferral_document())
    ocr_only = f"<Ocr>{make_ocr('7100003')}</Ocr>"
    assert _valid("finance.deferral-1.xsd", deferral_document(invoice=ocr_only))
    both = f"<InvoiceNumber>7100003</InvoiceNumber><Ocr>{make_ocr('7100003')}</Ocr>"
    assert _valid("finance.deferral-1.xsd", deferral_document(invoice=both))


@pytest.mark.parametrize(
    "document",
    [
        payment_document(amount="38412.5"),  # kronor need exactly two decimals
        payment_document(amount="0.00"),
        payment_document(hours="745"),
        payment_document(client="121212-1212"),  # the century is required
        payment_document(recipient=""),
        payment_document(dims="<Dim8>x</Dim8>"),
        payment_document(description=""),
    ],
)
def test_the_payment_schema_refuses(document: bytes) -> None:
    assert not _valid("finance.payment-1.xsd", document)


@pytest.mark.parametrize(
    "document",
    [
        deferral_document(invoice=""),  # neither an invoice number nor an OCR reference
        deferral_document(days=0),
        deferral_document(days=366),
        deferral_document(invoice="<Ocr>71-0000399</Ocr>"),
        deferral_document(invoice=f"<Ocr>{make_ocr('1')}</Ocr><InvoiceNumber>1</InvoiceNumber>"),
    ],
)
def test_the_deferral_schema_refuses(document: bytes) -> None:
    assert not _valid("finance.deferral-1.xsd", document)


def test_the_deferral_schema_accepts_more_than_the_contact_centre_may_grant() -> None:
    # 30 days is the contact centre's delegation, enforced by the adapter, not by the type.
    assert _valid("finance.deferral-1.xsd", deferral_document(days=MAX_DEFERRAL_DAYS + 1))


# -- payment -> ABWTransaction -------------------------------------------------------------------


def _voucher(document: bytes) -> etree._Element:
    payment = read_payment(parse_body(document, PAYMENT_NS, "PaymentVoucher"))
    xml = abw_transaction(payment, batch_id="dlv-42", client="SE10", voucher_date=date(2024, 5, 2))
    root = etree.fromstring(xml)
    assert _schema("ubw-abwtransaction.xsd").validate(root)
    return root


def _find(root: etree._Element, path: str) -> list[str]:
    found = root.xpath(path, namespaces={"a": ABW_NS, "l": AGRLIB_NS})
    assert isinstance(found, list)
    return [str(x) for x in found]


def test_a_payment_becomes_a_balanced_two_line_voucher() -> None:
    root = _voucher(payment_document())
    assert _find(root, "/a:ABWTransaction/l:BatchId/text()") == ["dlv-42"]
    assert _find(root, "//l:CompanyCode/text()") == ["SE10"]
    assert _find(root, "//l:Period/text()") == ["202405"]  # the voucher date's period
    assert _find(root, "//l:TransType/text()") == ["AP", "GL"]
    assert _find(root, "//l:Amount/text()") == ["-38412.50", "38412.50"]
    assert _find(root, "//a:DcFlag/text()") == ["-1", "1"]
    assert _find(root, "//a:ExternalRef/text()") == ["LSS-2024-0042"] * 2
    assert _find(root, "//a:ApArInfo/a:ApArNo/text()") == ["5566778899"]
    assert _find(root, "//a:ApArInfo/a:InvoiceNo/text()") == ["LC-2024-000123"]
    assert _find(root, "//a:ApArInfo/a:DueDate/text()") == ["2024-05-25"]
    assert _find(root, "//l:Number1/text()") == ["123.50"]
    assert _find(root, "//l:Account/text()") == ["4521"]
    assert _find(root, "//a:Dim1/text()") == ["7100"]
    assert _find(root, "//a:Dim3/text()") == ["LSS"]
    assert _find(root, "//l:Description/text()") == ["Assistansersättning april 2024"] * 2
    assert sum(Decimal(x) for x in _find(root, "//l:Amount/text()")) == 0


def test_the_clients_identity_number_stays_out_unless_the_client_is_paid() -> None:
    to_provider = etree.tostring(_voucher(payment_document()))
    assert TOLVAN.encode() not in to_provider
    to_client = _voucher(payment_document(recipient="<Person>19121212-1212</Person>"))
    assert _find(to_client, "//a:ApArNo/text()") == [TOLVAN]


def test_a_period_ending_before_it_starts_is_refused() -> None:
    document = payment_document(period=("2024-04-30", "2024-04-01"))
    with pytest.raises(PermanentDeliveryError) as caught:
        read_payment(parse_body(document, PAYMENT_NS, "PaymentVoucher"))
    assert caught.value.reason == "invalid_document"


@pytest.mark.parametrize(
    "document",
    [
        payment_document(recipient=""),
        payment_document(recipient="<Organisation>--</Organisation>"),
        payment_document(hours="many"),
        payment_document(period=("2024-04-01", "2024-04-31")),
    ],
)
def test_a_payment_the_schema_would_refuse_is_refused_here_too(document: bytes) -> None:
    # The hub validated the body at ingest; the adapter still never sends half a voucher.
    with pytest.raises(PermanentDeliveryError) as caught:
        read_payment(parse_body(document, PAYMENT_NS, "PaymentVoucher"))
    assert caught.value.reason == "invalid_document"


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (b"<PaymentVoucher", "malformed_xml"),
        (b'<!DOCTYPE x [<!ENTITY e "x">]><PaymentVoucher xmlns="' + PAYMENT_NS.encode()
         + b'">&e;</PaymentVoucher>', "hostile_xml"),
        (b"<ClientSummary/>", "unexpected_document"),
    ],
)  # fmt: skip
def test_a_body_that_is_not_a_payment_is_refused(document: bytes, reason: str) -> None:
    with pytest.raises(PermanentDeliveryError) as caught:
        parse_body(document, PAYMENT_NS, "PaymentVoucher")
    assert caught.value.reason == reason


# -- deferral ------------------------------------------------------------------------------------


def test_a_deferral_of_30_days_becomes_an_ar_deferral_document() -> None:
    ocr = make_ocr("7100003")
    invoice = f"<InvoiceNumber>7100003</InvoiceNumber><Ocr>{ocr}</Ocr>"
    element = parse_body(deferral_document(invoice=invoice), DEFERRAL_NS, "PaymentDeferral")
    deferral = read_deferral(element)
    assert (deferral.invoice_number, deferral.ocr, deferral.days) == ("7100003", ocr, 30)
    root = etree.fromstring(ar_deferral(deferral, batch_id="dlv-7", client="SE10"))
    assert _schema("ubw-ar-deferral.xsd").validate(root)
    d = f"{{{AR_DEFERRAL_NS}}}"
    assert root.findtext(f"{d}Deferral/{d}ExtApArRef") == TOLVAN
    assert root.findtext(f"{d}Deferral/{d}DeferDays") == "30"
    assert root.findtext(f"{d}Deferral/{d}GrantedBy") == "ad-handl-17"  # the id, not the name


def test_a_deferral_of_31_days_is_refused_with_the_reason() -> None:
    element = parse_body(deferral_document(days=31), DEFERRAL_NS, "PaymentDeferral")
    with pytest.raises(PermanentDeliveryError) as caught:
        read_deferral(element)
    assert caught.value.reason == "deferral_too_long"
    assert caught.value.context["days"] == 31
    assert "31 days is longer than the 30 days the contact centre may grant" in str(caught.value)


@pytest.mark.parametrize("days", ["thirty", "3.5", "-1"])
def test_a_deferral_without_whole_days_is_refused(days: str) -> None:
    document = deferral_document().replace(b"<Days>30</Days>", f"<Days>{days}</Days>".encode())
    with pytest.raises(PermanentDeliveryError) as caught:
        read_deferral(parse_body(document, DEFERRAL_NS, "PaymentDeferral"))
    assert caught.value.reason == "invalid_document"


def test_a_deferral_with_a_bad_ocr_is_refused_saying_which_rule() -> None:
    ocr = make_ocr("7100003")
    wrong = ocr[:-1] + str((int(ocr[-1]) + 1) % 10)
    element = parse_body(
        deferral_document(invoice=f"<Ocr>{wrong}</Ocr>"), DEFERRAL_NS, "PaymentDeferral"
    )
    with pytest.raises(PermanentDeliveryError) as caught:
        read_deferral(element)
    assert caught.value.reason == "invalid_ocr"
    assert caught.value.context["rule"] == "check_digit"
    assert wrong not in str(caught.value)


# -- invoice status ------------------------------------------------------------------------------


def test_criteria_by_number_ocr_and_subject() -> None:
    ocr = make_ocr("7100002")
    criteria = invoice_criteria({"invoice_number": "7100002", "ocr": f" {ocr} "}, TOLVAN)
    assert [(c["ColumnName"], c["RestrictionType"], c["FromValue"]) for c in criteria] == [
        ("ext_inv_ref", "=", "7100002"),
        ("kid", "=", ocr),
        ("ext_apar_ref", "=", TOLVAN),
    ]


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({}, "invalid_lookup"),
        ({"invoice_number": ""}, "invalid_lookup"),
        ({"invoice_number": "7100002", "customer": "x"}, "invalid_lookup"),
        ({"invoice_number": "7100002'; DROP"}, "invalid_lookup"),
        ({"ocr": "710000291"}, "invalid_ocr"),
        ({"ocr": "71000029O"}, "invalid_ocr"),
    ],
)
def test_bad_lookup_parameters_are_refused(params: dict[str, str], reason: str) -> None:
    with pytest.raises(PermanentDeliveryError) as caught:
        invoice_criteria(params, None)
    assert caught.value.reason == reason


def _table(*rows: dict[str, str]) -> str:
    root = etree.Element("Agresso")
    for number, values in enumerate(rows):
        row = etree.SubElement(root, "AgressoQE")
        for column, value in {"_recno": str(number), "_section": "D", **values}.items():
            etree.SubElement(row, column).text = value
    return etree.tostring(root).decode()


def _row(balance: str, amount: str = "2359.00") -> dict[str, str]:
    return {
        "ext_inv_ref": "7100002", "kid": make_ocr("7100002"), "amount": amount,
        "rest_amount": balance, "due_date": "2024-05-31T00:00:00", "currency": "SEK",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("balance", "status", "shown"),
    [
        ("0.00", "paid", "0.00"),
        ("-10.00", "paid", "0.00"),  # overpaid
        ("1000.00", "partly_paid", "1000.00"),
        ("2359.00", "unpaid", "2359.00"),
        ("2419.00", "unpaid", "2419.00"),  # a reminder fee on top
    ],
)
def test_invoice_status_from_amount_and_balance(balance: str, status: str, shown: str) -> None:
    answer = invoice_answer(template_rows(_table(_row(balance))))
    assert answer == {
        "found": True,
        "invoice_number": "7100002",
        "ocr": make_ocr("7100002"),
        "amount": "2359.00",
        "balance": shown,
        "currency": "SEK",
        "status": status,
        "due_date": "2024-05-31",
    }


def test_no_rows_is_not_found_and_summary_rows_are_ignored() -> None:
    assert invoice_answer(template_rows("")) == {"found": False}
    summary = _table(_row("5.00"))
    summary = summary.replace("<_section>D</_section>", "<_section>S</_section>")
    assert invoice_answer(template_rows(summary)) == {"found": False}


def test_two_invoices_for_one_question_is_an_error() -> None:
    other = {**_row("0.00"), "ext_inv_ref": "7100009"}
    with pytest.raises(PermanentDeliveryError) as caught:
        invoice_answer(template_rows(_table(_row("0.00"), other)))
    assert caught.value.reason == "ambiguous_invoice"


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        ("<Agresso><AgressoQE>", "ubw_unexpected_answer"),
        (_table({"ext_inv_ref": "1", "amount": "12,50"}), "ubw_unexpected_answer"),
        ('<!DOCTYPE a [<!ENTITY x "y">]><Agresso/>', "hostile_answer"),
    ],
)
def test_a_garbled_template_result_is_an_error(result: str, reason: str) -> None:
    with pytest.raises(PermanentDeliveryError) as caught:
        invoice_answer(template_rows(result))
    assert caught.value.reason == reason


# -- the one error mapping -----------------------------------------------------------------------


def _raise(exc: Exception) -> object:
    raise exc


@pytest.mark.parametrize(
    ("exc", "error", "reason"),
    [
        (zx.Fault("no", code="s:Client"), PermanentDeliveryError, "ubw_rejected"),
        (zx.Fault("no", code="soap:Sender"), PermanentDeliveryError, "ubw_rejected"),
        (zx.Fault("busy", code="s:Server"), TransientDeliveryError, "ubw_fault"),
        (zx.Fault("busy", code="Receiver"), TransientDeliveryError, "ubw_fault"),
        (zx.Fault("x", code="a:InternalServiceFault"), TransientDeliveryError,
         "ubw_fault"),
        (zx.Fault("Unknown fault occured"), TransientDeliveryError, "ubw_fault"),
        (zx.TransportError(status_code=503), TransientDeliveryError,
         "destination_unavailable"),
        (zx.TransportError(status_code=500), TransientDeliveryError,
         "destination_unavailable"),
        (zx.TransportError(status_code=429), TransientDeliveryError,
         "destination_unavailable"),
        (zx.TransportError(status_code=200), TransientDeliveryError,
         "destination_unavailable"),  # a 200 that is not XML: a proxy's page, say
        (zx.TransportError(status_code=401), PermanentDeliveryError,
         "destination_rejected"),
        (zx.TransportError(status_code=404), PermanentDeliveryError,
         "destination_rejected"),
        (requests.exceptions.ConnectionError(), TransientDeliveryError, "destination_unavailable"),
        (requests.exceptions.ConnectTimeout(), TransientDeliveryError, "destination_unavailable"),
        (requests.exceptions.ReadTimeout(), TransientDeliveryError, "destination_unavailable"),
        (requests.exceptions.ChunkedEncodingError(), TransientDeliveryError,
         "destination_unavailable"),
        (requests.exceptions.InvalidURL(), PermanentDeliveryError, "destination_rejected"),
        (zx.DTDForbidden("x", None, None), PermanentDeliveryError, "hostile_answer"),
        (zx.EntitiesForbidden("x", "y"), PermanentDeliveryError, "hostile_answer"),
        (zx.ValidationError("Missing element"), PermanentDeliveryError,
         "invalid_request"),
        (zx.XMLParseError("Unexpected element"), PermanentDeliveryError,
         "ubw_unexpected_answer"),
    ],
)  # fmt: skip
def test_library_errors_become_hub_errors(
    exc: Exception, error: type[DeliveryError], reason: str
) -> None:
    with pytest.raises(error) as caught:
        map_soap_outcome("ubw", "Op", lambda: _raise(exc), TRANSIENCE, DIALECT)
    assert type(caught.value) is error
    assert caught.value.reason == reason
    assert caught.value.__cause__ is exc


def test_a_secret_at_the_cut_of_a_long_fault_string_is_still_removed() -> None:
    fault = zx.Fault("x" * 195 + PASSWORD, code="s:Server")
    with pytest.raises(TransientDeliveryError) as caught:
        map_soap_outcome(
            "ubw", "Op", lambda: _raise(fault), TRANSIENCE, DIALECT, secrets=(PASSWORD,)
        )
    assert PASSWORD[:5] not in str(caught.value)


def test_a_success_passes_through() -> None:
    assert map_soap_outcome("ubw", "Op", lambda: 42, TRANSIENCE, DIALECT) == 42


def test_fault_strings_lose_secrets_and_digit_runs() -> None:
    fault = zx.Fault(
        f"Login for HUBWS/{PASSWORD} refused; customer 19121212-1212, invoice 7100002\n\n"
        + "x" * 500,
        code="s:Client",
    )
    with pytest.raises(PermanentDeliveryError) as caught:
        map_soap_outcome(
            "ubw", "Op", lambda: _raise(fault), TRANSIENCE, DIALECT, secrets=(PASSWORD,)
        )
    text = str(caught.value)
    assert PASSWORD not in text
    assert "1212" not in text
    assert "7100002" not in text
    assert "Login for HUBWS/*** refused" in text
    assert len(text) < 300


# -- options -------------------------------------------------------------------------------------


def test_the_constructor_stores_settings_and_hides_the_password() -> None:
    adapter = UbwFinanceAdapter(
        "ubw", {**OPTIONS, "wsdl_import": "/nowhere/ubw-import.wsdl", "template_id": 4711}
    )  # a missing WSDL is only noticed by open(): the constructor reads nothing
    assert (adapter.name, adapter.template_id, adapter.timeout, adapter.retries) == (
        "ubw", 4711, 30.0, 1,
    )  # fmt: skip
    assert PASSWORD not in repr(adapter)
    assert "password=***" in repr(adapter)
    assert adapter.wsdl_queryengine.endswith("schemas/wsdl/ubw-queryengine.wsdl")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"passwd": "x"}, "unknown option 'passwd'"),
        ({"password": None}, "option 'password' is required"),
        ({"password": ""}, "option 'password' must not be empty"),
        ({"client": 10}, "option 'client' must be of type str"),
        ({"url": "ftp://ubw/service.svc"}, "option 'url' must be an absolute"),
        ({"url": "http://ubw/service.svc?ImportService/ImportV200606"}, "must end at service.svc"),
        ({"timeout": 0}, "option 'timeout' must be a positive"),
        ({"timeout": True}, "option 'timeout' must be of type float"),
        ({"retries": 5}, "option 'retries' must be between 0 and 4"),
        ({"template_id": 0}, "option 'template_id' must be a positive"),
        ({"template_id": "4711"}, "option 'template_id' must be of type int"),
        ({"wsdl_import": ""}, "option 'wsdl_import' must be a file path"),
    ],
)
def test_options_are_strict(change: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        UbwFinanceAdapter("ubw", {**OPTIONS, **change})
    assert problem in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_open_with_a_missing_wsdl_file_is_a_config_error() -> None:
    adapter = UbwFinanceAdapter("ubw", {**OPTIONS, "wsdl_import": "/nowhere/ubw-import.wsdl"})
    with pytest.raises(ConfigError) as caught:
        adapter.open()
    assert caught.value.reason == "wsdl_invalid"
    adapter.close()


def test_open_with_a_wsdl_that_is_not_one_is_a_config_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.wsdl"
    broken.write_text("<definitions/>")
    adapter = UbwFinanceAdapter("ubw", {**OPTIONS, "wsdl_queryengine": str(broken)})
    with pytest.raises(ConfigError) as caught:
        adapter.open()
    assert caught.value.reason == "wsdl_invalid"


def test_open_refuses_a_wsdl_with_a_doctype(tmp_path: Path) -> None:
    packaged = (XSD_DIR.parent / "wsdl" / "ubw-import.wsdl").read_text()
    hostile = tmp_path / "hostile.wsdl"
    hostile.write_text(
        packaged.replace(
            "<wsdl:definitions", '<!DOCTYPE d [<!ENTITY e "x">]>\n<wsdl:definitions', 1
        )
    )
    adapter = UbwFinanceAdapter("ubw", {**OPTIONS, "wsdl_import": str(hostile)})
    with pytest.raises(ConfigError):
        adapter.open()
