"""The UBW adapter's document mapping, without any network: the hub's finance documents ->
UBW's ABWTransaction and ArDeferral, and the adapter's options."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from adapters.finance_ubw.adapter import UbwFinanceAdapter
from adapters.finance_ubw.mapping import (
    ABW_NS,
    AGRLIB_NS,
    AR_DEFERRAL_NS,
    DEFERRAL_NS,
    MAX_DEFERRAL_DAYS,
    PAYMENT_NS,
    abw_transaction,
    ar_deferral,
    parse_body,
    read_deferral,
    read_payment,
)
from adapters.finance_ubw.ocr import make_ocr
from hub.errors import (
    ConfigError,
    PermanentDeliveryError,
)
from tests.unit.ubw_mapping_support import (
    OPTIONS,
    PASSWORD,
    TOLVAN,
    XSD_DIR,
    _schema,
    _valid,
    deferral_document,
    payment_document,
)

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
