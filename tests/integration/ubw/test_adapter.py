"""The UBW finance adapter against its local double, over real sockets on 127.0.0.1: the
shared contract, invoice status, deferrals, vouchers and credentials."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date

import pytest
import zeep
from lxml import etree

from adapters.doubles.ubw_double import IMPORT_SERVICE, QUERY_SERVICE, UbwDouble
from adapters.finance_ubw.adapter import UbwFinanceAdapter
from adapters.finance_ubw.mapping import ABW_NS, AGRLIB_NS, PAYMENT_NS
from adapters.finance_ubw.ocr import make_ocr
from hub.demo.fictional import FictionalPeople
from hub.envelope import LookupRequest, OutboundDelivery
from hub.errors import PermanentDeliveryError
from tests.adapter_contract import (
    FICTIONAL_NAME,
    FICTIONAL_PERSONNUMMER,
    AdapterBuilder,
    AdapterContract,
    DeliveryFactory,
    Failure,
    SetFailure,
    StoredDocuments,
    deliver_concurrently,
    make_delivery,
    opened,
    unreachable_url,
)
from tests.integration.ubw.conftest import (
    PASSWORD,
    TOLVAN,
    UNREACHABLE_PATH,
    _bare_service,
    _credentials,
    _text_of,
    adapter_for,
    deferral,
    invoice_status,
    payment,
)
from tests.unit.ubw_mapping_support import payment_document

# -- the shared contract ------------------------------------------------------------------------


def _facts_of_payment(document: bytes) -> tuple[str, ...]:
    root = etree.fromstring(document)
    p = f"{{{PAYMENT_NS}}}"
    recipient = root.find(f"{p}Recipient/*")
    assert recipient is not None
    paths = ("VoucherId", "DecisionId", "Amount", "Hours", "Accounting/Account", "DueDate",
             "Description")  # fmt: skip
    digits = "".join(c for c in recipient.text or "" if c.isdigit())
    return (digits, *(root.findtext(p + path.replace("/", "/" + p)) or "" for path in paths))


def _facts_of_voucher(xml: bytes) -> tuple[str, ...]:
    root = etree.fromstring(xml)
    a, lib = f"{{{ABW_NS}}}", f"{{{AGRLIB_NS}}}"
    ap, gl = root.findall(f"{a}Voucher/{a}Transaction")
    found = (
        ap.findtext(f"{a}ApArInfo/{a}ApArNo"),
        ap.findtext(f"{a}ApArInfo/{a}InvoiceNo"),
        gl.findtext(a + "ExternalRef"),
        gl.findtext(f"{a}Amounts/{lib}Amount"),
        gl.findtext(f"{a}Amounts/{lib}Number1"),
        gl.findtext(f"{a}GLAnalysis/{lib}Account"),
        ap.findtext(f"{a}ApArInfo/{a}DueDate"),
        gl.findtext(lib + "Description"),
    )
    return tuple(value or "" for value in found)


class TestUbwAdapterContract(AdapterContract):
    """The shared contract, with finance.payment deliveries.

    The contract's own documents are client summaries, which UBW does not take, so its
    ``contract_delivery`` here makes a fictional payment to the contract's fictional person (so
    its personal-data checks bite) and repeats the same document for a repeated delivery id.
    ``stored_documents`` reports a stored voucher as the payment document it was made from
    (``sent``) only if the voucher carries that payment's data; otherwise it reports the voucher
    itself, and the contract's comparison fails.
    """

    @pytest.fixture
    def sent(self) -> dict[str, bytes]:
        return {}

    @pytest.fixture
    def contract_delivery(self, sent: dict[str, bytes]) -> DeliveryFactory:
        def payment_delivery(
            delivery_id: str | None = None, *, attempt: int = 1, document: bytes = b""
        ) -> OutboundDelivery:
            base = make_delivery(delivery_id, attempt=attempt)
            body = sent.setdefault(
                base.delivery_id,
                payment_document(
                    voucher_id=f"LC-{base.message_id}",
                    recipient=f"<Person>{FICTIONAL_PERSONNUMMER}</Person>",
                    client=FICTIONAL_PERSONNUMMER,
                    amount=f"{1000 + len(sent)}.50",
                    description=f"Assistansersättning april 2024, {FICTIONAL_NAME}",
                ),
            )
            return replace(base, message_type="finance.payment", version="1", document=body)

        return payment_delivery

    @pytest.fixture
    def adapter(self, ubw: UbwFinanceAdapter) -> UbwFinanceAdapter:
        return ubw

    @pytest.fixture
    def stored_documents(self, double: UbwDouble, sent: dict[str, bytes]) -> StoredDocuments:
        def stored() -> dict[str, bytes]:
            found = {}
            for batch_id, xml in double.documents().items():
                body = sent.get(batch_id)
                matches = body is not None and _facts_of_voucher(xml) == _facts_of_payment(body)
                found[batch_id] = body if body is not None and matches else xml
            return found

        return stored

    @pytest.fixture
    def set_failure(self, double: UbwDouble) -> SetFailure:
        modes: dict[Failure | None, str] = {"transient": "fault", "permanent": "reject", None: "up"}
        return lambda failure: double.set_mode(modes[failure])

    @pytest.fixture
    def unreachable_adapter(self) -> AdapterBuilder:
        url = unreachable_url(UNREACHABLE_PATH)
        options = {"url": url, "username": "HUBWS", "client": "SE10", "password": PASSWORD,
                   "timeout": 1, "retries": 1}  # fmt: skip
        return lambda: UbwFinanceAdapter("nowhere", options)


# -- invoice status ------------------------------------------------------------------------------

EXPECTED = {
    "7100001": ("1874.00", "0.00", "paid", "2024-04-30"),
    "7100002": ("2359.00", "1000.00", "partly_paid", "2024-05-31"),
    "7100003": ("612.50", "612.50", "unpaid", "2024-06-30"),
}


@pytest.mark.parametrize("number", sorted(EXPECTED))
def test_invoice_status_by_invoice_number(ubw: UbwFinanceAdapter, number: str) -> None:
    amount, balance, status, due = EXPECTED[number]
    assert invoice_status(ubw, invoice_number=number) == {
        "found": True, "invoice_number": number, "ocr": make_ocr(number), "amount": amount,
        "balance": balance, "currency": "SEK", "status": status, "due_date": due,
    }  # fmt: skip


@pytest.mark.parametrize("number", sorted(EXPECTED))
def test_invoice_status_by_ocr(ubw: UbwFinanceAdapter, number: str) -> None:
    answer = invoice_status(ubw, ocr=make_ocr(number))
    assert (answer["invoice_number"], answer["status"]) == (number, EXPECTED[number][2])


def test_one_persons_lookup_never_finds_another_persons_invoice(
    double: UbwDouble, ubw: UbwFinanceAdapter
) -> None:
    other = FictionalPeople(7, kind="personnummer").take(1)[0].identity.canonical
    assert invoice_status(ubw, subject=other, invoice_number="7100003") == {"found": False}
    assert invoice_status(ubw, subject=None, invoice_number="7100003")["found"] is True
    assert invoice_status(ubw, invoice_number="7100999") == {"found": False}
    assert double.stats()["queries"] == 3


def test_a_bad_ocr_is_refused_before_any_network_call(
    double: UbwDouble, ubw: UbwFinanceAdapter
) -> None:
    ocr = make_ocr("7100003")
    wrong = ocr[:-1] + str((int(ocr[-1]) + 1) % 10)
    with pytest.raises(PermanentDeliveryError) as caught:
        invoice_status(ubw, ocr=wrong)
    assert (caught.value.reason, caught.value.context["rule"]) == ("invalid_ocr", "check_digit")
    with pytest.raises(PermanentDeliveryError) as too_short:
        invoice_status(ubw, ocr="7")
    assert too_short.value.context["rule"] == "length"
    stats = double.stats()
    assert (stats["requests"], stats["connections"]) == (0, 0)  # nothing left the adapter


def test_an_unknown_template_is_a_permanent_error(double: UbwDouble) -> None:
    adapter = adapter_for(double, template_id=9999)
    with opened(adapter), pytest.raises(PermanentDeliveryError) as caught:
        invoice_status(adapter, invoice_number="7100001")
    assert (caught.value.reason, caught.value.context["return_code"]) == ("ubw_query_failed", -1)


def test_lookups_need_a_template_and_a_known_name(double: UbwDouble) -> None:
    with opened(adapter_for(double, template_id=None)) as adapter:
        with pytest.raises(PermanentDeliveryError, match="template_id") as unconfigured:
            invoice_status(adapter, invoice_number="7100001")
        request = LookupRequest("client_summary", "sdn-sodermalm", "x", "req-2", TOLVAN)
        with pytest.raises(PermanentDeliveryError) as unknown:
            adapter.lookup(request)
    assert unconfigured.value.reason == "lookup_not_configured"
    assert unknown.value.reason == "unknown_lookup"
    assert double.stats()["requests"] == 0


# -- deferrals -----------------------------------------------------------------------------------


def test_a_deferral_of_30_days_moves_the_due_date_once(
    double: UbwDouble, ubw: UbwFinanceAdapter
) -> None:
    delivery = deferral(days=30)
    receipt = ubw.deliver(delivery)
    assert receipt.duplicate is False
    assert receipt.details["server_process"] == "OHAR01"
    assert double.invoice("7100003").due_date == date(2024, 7, 30)

    again = ubw.deliver(replace(delivery, attempt=2))
    assert (again.duplicate, again.reference) == (True, receipt.reference)
    assert double.invoice("7100003").due_date == date(2024, 7, 30)  # not moved twice
    assert invoice_status(ubw, invoice_number="7100003")["due_date"] == "2024-07-30"
    assert list(double.deferral_documents()) == [delivery.delivery_id]


def test_a_deferral_of_31_days_is_refused_before_any_network_call(
    double: UbwDouble, ubw: UbwFinanceAdapter
) -> None:
    with pytest.raises(PermanentDeliveryError) as caught:
        ubw.deliver(deferral(days=31))
    assert caught.value.reason == "deferral_too_long"
    assert "31 days is longer than the 30 days the contact centre may grant" in str(caught.value)
    assert (double.stats()["requests"], double.stats()["connections"]) == (0, 0)
    assert double.invoice("7100003").due_date == date(2024, 6, 30)


def test_the_double_refuses_a_31_day_deferral_too(double: UbwDouble) -> None:
    # What the adapter never sends, sent by hand: the deferral process checks the limit itself.
    service = _bare_service(double, IMPORT_SERVICE)
    xml = (
        '<ArDeferral xmlns="urn:omsorgshub:ubw:ar-deferral:1"><BatchId>hand-1</BatchId>'
        f"<ReportClient>{double.client}</ReportClient><Deferral><InvoiceNo>7100003</InvoiceNo>"
        f"<ExtApArRef>{TOLVAN}</ExtApArRef><DeferDays>31</DeferDays><Reason>x</Reason>"
        "<GrantedBy>ad-1</GrantedBy></Deferral></ArDeferral>"
    )
    with pytest.raises(zeep.exceptions.Fault) as caught:
        service.ExecuteServerProcessAsynchronously(
            input={"ServerProcessId": "OHAR01", "MenuId": "OHAR01", "Variant": 1, "Xml": xml},
            credentials=_credentials(double),
        )
    assert caught.value.code == "s:Client"
    assert "31 days exceeds the 30 days allowed" in caught.value.message
    assert double.invoice("7100003").due_date == date(2024, 6, 30)


def test_a_deferral_by_ocr_alone(double: UbwDouble, ubw: UbwFinanceAdapter) -> None:
    ubw.deliver(deferral(invoice=f"<Ocr>{make_ocr('7100002')}</Ocr>", days=14))
    assert double.invoice("7100002").due_date == date(2024, 6, 14)


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"invoice": "<InvoiceNumber>7100001</InvoiceNumber>"}, "the invoice is paid"),
        ({"payer": "194202021238"}, "no open item of this customer"),
        ({"invoice": "<InvoiceNumber>7100999</InvoiceNumber>"}, "no open item of this customer"),
        ({"invoice": f"<InvoiceNumber>7100003</InvoiceNumber><Ocr>{make_ocr('7100002')}</Ocr>"},
         "no open item of this customer"),
    ],
)  # fmt: skip
def test_deferrals_ubw_refuses_are_permanent(
    double: UbwDouble, ubw: UbwFinanceAdapter, document: dict[str, str], problem: str
) -> None:
    with pytest.raises(PermanentDeliveryError, match=problem) as caught:
        ubw.deliver(deferral(**document))
    assert caught.value.reason == "ubw_rejected"
    assert "1942020" not in _text_of(caught.value)
    assert double.stats()["deferrals"] == 0


# -- vouchers ------------------------------------------------------------------------------------


def test_a_voucher_repeated_from_several_threads_is_stored_once(
    double: UbwDouble, ubw: UbwFinanceAdapter
) -> None:
    delivery = payment()
    receipts = deliver_concurrently(ubw, [[delivery]] * 6)
    assert sorted(r.duplicate for r in receipts) == [False] + [True] * 5
    assert len({r.reference for r in receipts}) == 1
    assert list(double.documents()) == [delivery.delivery_id]
    assert double.stats()["duplicates"] == 5


def test_deliveries_reuse_one_keep_alive_connection(
    double: UbwDouble, ubw: UbwFinanceAdapter
) -> None:
    for _ in range(20):
        ubw.deliver(payment())
    assert (double.stats()["vouchers"], double.stats()["connections"]) == (20, 1)


def test_an_unsupported_message_type_never_reaches_ubw(
    double: UbwDouble, ubw: UbwFinanceAdapter
) -> None:
    with pytest.raises(PermanentDeliveryError) as caught:
        ubw.deliver(make_delivery())  # the contract's client summary
    assert caught.value.reason == "unsupported_message_type"
    assert double.stats()["connections"] == 0


# -- credentials ---------------------------------------------------------------------------------


def test_wrong_credentials_are_permanent_and_never_show_the_password(double: UbwDouble) -> None:
    wrong = "Fel-lösen-" + PASSWORD
    with opened(adapter_for(double, password=wrong)) as adapter:
        with pytest.raises(PermanentDeliveryError) as delivering:
            adapter.deliver(payment())
        with pytest.raises(PermanentDeliveryError) as looking_up:
            invoice_status(adapter, invoice_number="7100001")
    for caught in (delivering, looking_up):
        assert caught.value.reason == "ubw_rejected"
        assert "Authentication failed" in str(caught.value)
        assert wrong not in _text_of(caught.value)
        assert PASSWORD not in _text_of(caught.value)
    assert double.stats()["vouchers"] == 0
    assert wrong not in repr(adapter)


def test_the_password_is_not_logged_even_at_debug(
    double: UbwDouble, ubw: UbwFinanceAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ubw.deliver(payment())
    invoice_status(ubw, invoice_number="7100001")
    assert PASSWORD not in caplog.text
    assert "5566778899" not in caplog.text  # nor the document

    # What the adapter's transport prevents: zeep's own transport logs whole requests.
    caplog.clear()
    _bare_service(double, QUERY_SERVICE).GetTemplateResultAsXML(
        input={"TemplateId": 1}, credentials=_credentials(double)
    )
    assert PASSWORD in caplog.text
