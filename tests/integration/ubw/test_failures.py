"""The UBW finance adapter against its local double when things go wrong: faults, timeouts,
hostile answers, unreachable services and WSDLs, and the double's own checks."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
import zeep

from adapters.doubles.ubw_double import IMPORT_SERVICE, QUERY_SERVICE, Invoice, UbwDouble
from adapters.finance_ubw.adapter import UbwFinanceAdapter
from adapters.finance_ubw.mapping import ABW_NS, AGRLIB_NS
from adapters.finance_ubw.ocr import make_ocr
from hub.demo.fictional import FictionalPeople
from hub.errors import PermanentDeliveryError, TransientDeliveryError
from tests.adapter_contract import (
    double_process,
    opened,
    unreachable_url,
)
from tests.integration.ubw.conftest import (
    PASSWORD,
    TOLVAN,
    UNREACHABLE_PATH,
    _bare_service,
    _credentials,
    adapter_for,
    invoice_status,
    payment,
)

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
    with opened(adapter_for(double, timeout=0.3)) as adapter:
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
    with opened(adapter), pytest.raises(TransientDeliveryError, match="ConnectionError"):
        adapter.deliver(payment())


# -- WSDLs ---------------------------------------------------------------------------------------


def test_wsdls_are_loaded_by_open_not_by_the_constructor(double: UbwDouble) -> None:
    adapter = adapter_for(
        double,
        wsdl_queryengine=double.wsdl_url(QUERY_SERVICE),
        wsdl_import=double.wsdl_url(IMPORT_SERVICE),
    )
    assert (double.stats()["wsdl_requests"], double.stats()["connections"]) == (0, 0)
    with opened(adapter):
        assert double.stats()["wsdl_requests"] == 2
        assert adapter.deliver(payment()).duplicate is False
        assert invoice_status(adapter, invoice_number="7100002")["status"] == "partly_paid"


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
        with opened(adapter):
            assert adapter.deliver(payment()).duplicate is False
            assert invoice_status(adapter, invoice_number="7100001")["status"] == "paid"
            assert httpx.post(f"{base}/_control", json={"mode": "reject"}).status_code == 200
            with pytest.raises(PermanentDeliveryError):
                adapter.deliver(payment())
            assert httpx.post(f"{base}/_control", json={"mode": "sideways"}).status_code == 400
            stats = httpx.get(f"{base}/_stats").json()
        assert (stats["mode"], stats["requests"], stats["vouchers"]) == ("reject", 3, 1)
