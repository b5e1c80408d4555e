"""The UBW finance adapter against its local double, over real sockets on 127.0.0.1."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
import zeep
from lxml import etree

from adapters.doubles.ubw_double import IMPORT_SERVICE, QUERY_SERVICE, Invoice, UbwDouble
from adapters.finance_ubw.adapter import UbwFinanceAdapter
from adapters.finance_ubw.mapping import ABW_NS, AGRLIB_NS, PAYMENT_NS
from adapters.finance_ubw.ocr import make_ocr
from hub.demo.fictional import FictionalPeople
from hub.envelope import LookupRequest, OutboundDelivery
from hub.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError
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
    double_process,
    make_delivery,
    unreachable_url,
)
from tests.unit.test_ubw_mapping import deferral_document, payment_document

PASSWORD = "Lösen-UBW-fiktivt-7"
TOLVAN = "191212121212"
UNREACHABLE_PATH = "/BusinessWorld-webservices/service.svc"
SETTINGS = zeep.Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True)


@pytest.fixture(scope="module")
def running_double() -> Iterator[UbwDouble]:
    with UbwDouble(password=PASSWORD) as double:
        yield double


@pytest.fixture
def double(running_double: UbwDouble) -> UbwDouble:
    running_double.reset()
    return running_double


def adapter_for(double: UbwDouble, **overrides: object) -> UbwFinanceAdapter:
    options: dict[str, object] = {
        "url": double.url, "username": double.username, "client": double.client,
        "password": PASSWORD, "template_id": double.template_id, "timeout": 2,
    }  # fmt: skip
    return UbwFinanceAdapter("ubw", {**options, **overrides})


@pytest.fixture
def ubw(double: UbwDouble) -> Iterator[UbwFinanceAdapter]:
    adapter = adapter_for(double)
    adapter.open()
    yield adapter
    adapter.close()


def payment(delivery_id: str | None = None, **document: Any) -> OutboundDelivery:
    base = make_delivery(delivery_id)
    body = payment_document(voucher_id=f"LC-{base.message_id}", **document)
    return replace(base, message_type="finance.payment", version="1", document=body)


def deferral(delivery_id: str | None = None, **document: Any) -> OutboundDelivery:
    base = make_delivery(delivery_id)
    return replace(
        base, message_type="finance.deferral", version="1", document=deferral_document(**document)
    )


def invoice_status(adapter: UbwFinanceAdapter, subject: str | None = TOLVAN, **params: str) -> Any:
    request = LookupRequest("invoice_status", "sdn-sodermalm", "invoice_question", "req-1",
                            subject=subject, params=params)  # fmt: skip
    return adapter.lookup(request).data


def _text_of(error: DeliveryError) -> str:
    return " ".join([str(error), repr(error), *map(str, error.context.values())])


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
    adapter.open()
    try:
        with pytest.raises(PermanentDeliveryError) as caught:
            invoice_status(adapter, invoice_number="7100001")
    finally:
        adapter.close()
    assert (caught.value.reason, caught.value.context["return_code"]) == ("ubw_query_failed", -1)


def test_lookups_need_a_template_and_a_known_name(double: UbwDouble) -> None:
    adapter = adapter_for(double, template_id=None)
    adapter.open()
    try:
        with pytest.raises(PermanentDeliveryError, match="template_id") as unconfigured:
            invoice_status(adapter, invoice_number="7100001")
        request = LookupRequest("client_summary", "sdn-sodermalm", "x", "req-2", TOLVAN)
        with pytest.raises(PermanentDeliveryError) as unknown:
            adapter.lookup(request)
    finally:
        adapter.close()
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
    adapter = adapter_for(double, password=wrong)
    adapter.open()
    try:
        with pytest.raises(PermanentDeliveryError) as delivering:
            adapter.deliver(payment())
        with pytest.raises(PermanentDeliveryError) as looking_up:
            invoice_status(adapter, invoice_number="7100001")
    finally:
        adapter.close()
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


# -- failures of the destination -----------------------------------------------------------------


def test_a_server_fault_is_transient(double: UbwDouble, ubw: UbwFinanceAdapter) -> None:
    double.set_mode("fault")
    with pytest.raises(TransientDeliveryError) as caught:
        ubw.deliver(payment())
    assert (caught.value.reason, caught.value.context["fault_code"]) == ("ubw_fault", "Server")
    assert double.stats()["requests"] == 1  # a fault is not retried inside the call
    assert double.documents() == {}


def test_a_client_fault_is_permanent(double: UbwDouble, ubw: UbwFinanceAdapter) -> None:
    double.set_mode("reject")
    with pytest.raises(PermanentDeliveryError) as caught:
        invoice_status(ubw, invoice_number="7100001")
    assert (caught.value.reason, caught.value.context["fault_code"]) == ("ubw_rejected", "Client")


def test_http_503_without_soap_is_transient(double: UbwDouble, ubw: UbwFinanceAdapter) -> None:
    double.set_mode("unavailable")
    with pytest.raises(TransientDeliveryError, match="HTTP 503") as caught:
        ubw.deliver(payment())
    assert caught.value.context["status"] == 503


def test_slow_beyond_the_timeout_is_transient_and_the_redelivery_is_a_duplicate(
    double: UbwDouble,
) -> None:
    adapter = adapter_for(double, timeout=0.3)
    adapter.open()
    try:
        delivery = payment()
        double.set_mode("slow", delay=1.2, times=1)
        started = time.monotonic()
        with pytest.raises(TransientDeliveryError, match="ReadTimeout"):
            adapter.deliver(delivery)
        assert time.monotonic() - started < 1.2  # operation_timeout cut the wait short
        assert double.stats()["requests"] == 1  # a timeout is not retried inside the call
        deadline = time.monotonic() + 5
        while not double.documents() and time.monotonic() < deadline:
            time.sleep(0.02)  # the slow UBW imports it after the adapter gave up
        receipt = adapter.deliver(replace(delivery, attempt=2))
    finally:
        adapter.close()
    assert receipt.duplicate is True
    assert list(double.documents()) == [delivery.delivery_id]


def test_an_answer_with_a_doctype_is_refused(double: UbwDouble, ubw: UbwFinanceAdapter) -> None:
    double.set_mode("hostile")
    with pytest.raises(PermanentDeliveryError) as delivering:
        ubw.deliver(payment())
    with pytest.raises(PermanentDeliveryError) as looking_up:
        invoice_status(ubw, invoice_number="7100001")
    assert delivering.value.reason == looking_up.value.reason == "hostile_answer"
    assert double.documents() == {}


def test_down_is_transient_after_the_in_call_retry(
    double: UbwDouble, ubw: UbwFinanceAdapter
) -> None:
    double.set_mode("down")
    with pytest.raises(TransientDeliveryError, match="ConnectionError"):
        ubw.deliver(payment())
    assert double.stats()["requests"] == 2  # retries=1: two tries
    assert double.documents() == {}


def test_down_once_recovers_inside_one_call(double: UbwDouble, ubw: UbwFinanceAdapter) -> None:
    double.set_mode("down", times=1)
    assert ubw.deliver(payment()).duplicate is False
    assert (double.stats()["requests"], double.stats()["vouchers"]) == (2, 1)


def test_an_unreachable_ubw_is_transient() -> None:
    url = unreachable_url(UNREACHABLE_PATH)
    adapter = UbwFinanceAdapter(
        "nowhere", {"url": url, "username": "u", "client": "c", "password": "p"}
    )
    adapter.open()
    try:
        with pytest.raises(TransientDeliveryError, match="ConnectionError"):
            adapter.deliver(payment())
    finally:
        adapter.close()


# -- WSDLs ---------------------------------------------------------------------------------------


def test_wsdls_are_loaded_by_open_not_by_the_constructor(double: UbwDouble) -> None:
    adapter = adapter_for(
        double,
        wsdl_queryengine=double.wsdl_url(QUERY_SERVICE),
        wsdl_import=double.wsdl_url(IMPORT_SERVICE),
    )
    assert (double.stats()["wsdl_requests"], double.stats()["connections"]) == (0, 0)
    adapter.open()
    try:
        assert double.stats()["wsdl_requests"] == 2
        assert adapter.deliver(payment()).duplicate is False
        assert invoice_status(adapter, invoice_number="7100002")["status"] == "partly_paid"
    finally:
        adapter.close()


def test_a_wsdl_url_that_cannot_be_reached_is_transient() -> None:
    url = unreachable_url(UNREACHABLE_PATH)
    adapter = UbwFinanceAdapter(
        "ubw", {"url": url, "username": "u", "client": "c", "password": "p",
                "wsdl_import": f"{url}?{IMPORT_SERVICE}", "timeout": 1},
    )  # fmt: skip
    with pytest.raises(TransientDeliveryError) as caught:
        adapter.open()
    assert caught.value.reason == "wsdl_unavailable"
    with pytest.raises(TransientDeliveryError) as closed:
        adapter.deliver(payment())
    assert closed.value.reason == "adapter_closed"


# -- the double's own checks ---------------------------------------------------------------------


def _credentials(double: UbwDouble) -> dict[str, str]:
    return {"Username": double.username, "Client": double.client, "Password": PASSWORD}


def _bare_service(double: UbwDouble, service: str) -> Any:
    """A plain zeep client built from the WSDL the double serves (its address points there)."""
    client: Any = zeep.Client  # zeep's constructor has no type hints
    return client(double.wsdl_url(service), settings=SETTINGS).service


def _abw(voucher: str, client: str = "SE10") -> str:
    return (
        f'<ABWTransaction xmlns="{ABW_NS}" xmlns:agrlib="{AGRLIB_NS}"><Interface>BI</Interface>'
        f"<agrlib:BatchId>hand-2</agrlib:BatchId><agrlib:ReportClient>{client}"
        f"</agrlib:ReportClient>{voucher}</ABWTransaction>"
    )


def _line(amount: str) -> str:
    return (
        "<Transaction><agrlib:TransType>GL</agrlib:TransType><agrlib:Description>x"
        "</agrlib:Description><agrlib:Status>N</agrlib:Status><TransDate>2024-05-02</TransDate>"
        f"<Amounts><agrlib:Amount>{amount}</agrlib:Amount><agrlib:CurrAmount>{amount}"
        "</agrlib:CurrAmount></Amounts><GLAnalysis><agrlib:Account>4521</agrlib:Account>"
        "<agrlib:Currency>SEK</agrlib:Currency></GLAnalysis></Transaction>"
    )


def _voucher(*lines: str, company: str = "SE10") -> str:
    return (
        "<Voucher><VoucherNo>0</VoucherNo><agrlib:VoucherType>AE</agrlib:VoucherType>"
        f"<agrlib:CompanyCode>{company}</agrlib:CompanyCode><agrlib:Period>202405"
        f"</agrlib:Period><VoucherDate>2024-05-02</VoucherDate>{''.join(lines)}</Voucher>"
    )


@pytest.mark.parametrize(
    ("xml", "problem"),
    [
        (_abw(_voucher(_line("10.00"), _line("-10.00"))), None),
        (_abw(_voucher(_line("10.00"), _line("-9.00"))), "voucher 1 does not balance"),
        (_abw(_voucher(_line("10.00"), _line("-10.00"), company="SE99")), "CompanyCode"),
        (_abw(_voucher(_line("10.001"), _line("-10.001"))), "ABWTransaction is not valid"),
        (_abw(""), "ABWTransaction is not valid"),
        ("<ABWTransaction", "not well-formed"),
        ('<!DOCTYPE a [<!ENTITY e "x">]>' + _abw(_voucher(_line("1.00"), _line("-1.00"))),
         "DOCTYPE"),
    ],
)  # fmt: skip
def test_the_double_checks_the_abwtransaction(
    double: UbwDouble, xml: str, problem: str | None
) -> None:
    service = _bare_service(double, IMPORT_SERVICE)

    def run() -> Any:
        return service.ExecuteServerProcessAsynchronously(
            input={"ServerProcessId": "GL07", "MenuId": "BI88", "Variant": 103, "Xml": xml},
            credentials=_credentials(double),
        )

    if problem is None:
        assert run().OrderNumber > 0
        assert double.stats()["vouchers"] == 1
        return
    with pytest.raises(zeep.exceptions.Fault, match=problem) as caught:
        run()
    assert caught.value.code == "s:Client"
    assert double.stats()["vouchers"] == 0


def test_the_double_answers_only_the_operations_of_the_wsdl(double: UbwDouble) -> None:
    envelope = (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        '<GetTemplateResultAsXML xmlns="http://services.agresso.com/QueryEngineService/'
        'QueryEngineV201101"><input><TemplateId>x</TemplateId></input></GetTemplateResultAsXML>'
        "</s:Body></s:Envelope>"
    )
    wrong_type = httpx.post(f"{double.url}?{QUERY_SERVICE}", content=envelope)
    wrong_service = httpx.post(f"{double.url}?{IMPORT_SERVICE}", content=envelope)
    assert wrong_type.status_code == wrong_service.status_code == 500
    assert b"the request does not fit the WSDL" in wrong_type.content
    assert b"serves ExecuteServerProcessAsynchronously only" in wrong_service.content


def test_added_invoices_are_found(double: UbwDouble, ubw: UbwFinanceAdapter) -> None:
    person = FictionalPeople(11, kind="personnummer").take(1)[0].identity.canonical
    double.add_invoice(Invoice("7200001", make_ocr("7200001"), person, Decimal("99.00"),
                               Decimal("99.00"), date(2024, 9, 30)))  # fmt: skip
    answer = invoice_status(ubw, subject=person, ocr=make_ocr("7200001"))
    assert (answer["invoice_number"], answer["status"]) == ("7200001", "unpaid")
    assert invoice_status(ubw, subject=TOLVAN, ocr=make_ocr("7200001")) == {"found": False}


def test_double_runs_as_its_own_process_and_is_controlled_over_http() -> None:
    with double_process("ubw_double", "/service.svc", "--password", PASSWORD) as (url, base):
        adapter = UbwFinanceAdapter(
            "external", {"url": url, "username": "HUBWS", "client": "SE10", "password": PASSWORD,
                         "template_id": 4711, "retries": 0},
        )  # fmt: skip
        adapter.open()
        try:
            assert adapter.deliver(payment()).duplicate is False
            assert invoice_status(adapter, invoice_number="7100001")["status"] == "paid"
            assert httpx.post(f"{base}/_control", json={"mode": "reject"}).status_code == 200
            with pytest.raises(PermanentDeliveryError):
                adapter.deliver(payment())
            assert httpx.post(f"{base}/_control", json={"mode": "sideways"}).status_code == 400
            stats = httpx.get(f"{base}/_stats").json()
        finally:
            adapter.close()
        assert (stats["mode"], stats["requests"], stats["vouchers"]) == ("reject", 3, 1)
