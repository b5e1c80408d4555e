"""The case-management adapter against its local double when things go wrong: failures on the
wire, hostile answers, and WSDLs that cannot be used."""

from __future__ import annotations

import socket
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import urllib3.util.connection
import zeep
from lxml import etree
from zeep.exceptions import DTDForbidden

from adapters.case_management.adapter import PACKAGED_WSDL, CaseManagementAdapter
from adapters.case_management.mapping import referral_request
from adapters.doubles.case_management_double import SERVICE_PATH, CaseManagementDouble
from hub.errors import ConfigError, PermanentDeliveryError, TransientDeliveryError
from tests.adapter_contract import (
    assert_a_timed_out_delivery_is_transient_and_its_redelivery_a_duplicate,
    assert_stopping_the_double_cuts_kept_alive_connections,
    network_forbidden,
    opened,
    unreachable_url,
)
from tests.integration.case_management.conftest import (
    DISTRICT,
    referral_delivery,
)

# -- failures on the wire ------------------------------------------------------------------------


def test_a_server_fault_is_transient_and_the_retry_goes_through_once(
    double: CaseManagementDouble, case_adapter: CaseManagementAdapter
) -> None:
    delivery = referral_delivery()
    double.set_mode("fault", times=1)
    with pytest.raises(TransientDeliveryError, match="SOAP Server fault") as caught:
        case_adapter.deliver(delivery)
    assert caught.value.context == {
        "operation": "ReferCase",
        "fault_code": "Server",
        "error_code": "unavailable",
    }
    assert case_adapter.deliver(replace(delivery, attempt=2)).duplicate is False
    assert list(double.referrals()) == [delivery.delivery_id]


def test_a_client_fault_is_permanent(
    double: CaseManagementDouble, case_adapter: CaseManagementAdapter
) -> None:
    double.set_mode("reject")
    with pytest.raises(PermanentDeliveryError, match="SOAP Client fault") as caught:
        case_adapter.deliver(referral_delivery())
    assert caught.value.context["error_code"] == "rejected"
    assert "19121212" not in str(caught.value)
    assert double.referrals() == {}


def test_a_request_the_contracts_xsd_refuses_is_permanent(
    double: CaseManagementDouble, case_adapter: CaseManagementAdapter
) -> None:
    # zeep does not check facets; the service does: a sender name with a space breaks one.
    with pytest.raises(PermanentDeliveryError, match="validation_failed"):
        case_adapter.deliver(replace(referral_delivery(), sender="aldre direkt"))
    assert double.referrals() == {}


def test_slow_beyond_the_timeout_is_transient_and_the_redelivery_is_a_duplicate(
    double: CaseManagementDouble,
) -> None:
    adapter = CaseManagementAdapter("case", {"url": double.url, "timeout": 0.2})
    assert_a_timed_out_delivery_is_transient_and_its_redelivery_a_duplicate(
        double, adapter, referral_delivery, double.referral_documents
    )


def test_down_is_transient_and_not_retried_once_the_request_was_sent(
    double: CaseManagementDouble, case_adapter: CaseManagementAdapter
) -> None:
    double.set_mode("down")
    with pytest.raises(TransientDeliveryError, match="no SOAP answer") as caught:
        case_adapter.deliver(referral_delivery())
    assert caught.value.context["error"] == "ConnectionError"
    assert double.stats()["requests"] == 1
    assert double.referrals() == {}


def test_http_503_without_a_soap_body_is_transient(
    double: CaseManagementDouble, case_adapter: CaseManagementAdapter
) -> None:
    double.set_mode("unavailable")
    with pytest.raises(TransientDeliveryError, match="HTTP 503") as caught:
        case_adapter.deliver(referral_delivery())
    assert caught.value.context["status"] == 503


@pytest.mark.parametrize("retries", [0, 2])
def test_an_unreachable_service_is_transient_after_the_connection_retries(
    retries: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[object] = []
    connect = urllib3.util.connection.create_connection

    def counting(*args: Any, **kwargs: Any) -> socket.socket:
        attempts.append(args[0])
        return connect(*args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", counting)
    url = unreachable_url(SERVICE_PATH)
    adapter = CaseManagementAdapter("nowhere", {"url": url, "retries": retries})
    with opened(adapter), pytest.raises(TransientDeliveryError, match="ConnectionError"):
        adapter.deliver(referral_delivery())
    assert len(attempts) == retries + 1


def test_a_stopped_service_cuts_kept_alive_connections() -> None:
    assert_stopping_the_double_cuts_kept_alive_connections(
        CaseManagementDouble(),
        lambda url: CaseManagementAdapter("case", {"url": url, "retries": 0}),
        referral_delivery,
    )


# -- hostile answers -----------------------------------------------------------------------------


def test_an_answer_with_a_doctype_and_entities_is_refused(
    double: CaseManagementDouble, case_adapter: CaseManagementAdapter
) -> None:
    double.set_mode("hostile")
    with pytest.raises(PermanentDeliveryError, match="DOCTYPE") as caught:
        case_adapter.deliver(referral_delivery())
    assert caught.value.reason == "hostile_response"
    assert isinstance(caught.value.__cause__, DTDForbidden)  # forbid_dtd did it


def test_the_hostile_answer_gets_through_a_client_without_forbid_dtd(
    double: CaseManagementDouble,
) -> None:
    # Shows the test above can fail: zeep with forbid_dtd and forbid_entities off takes the
    # DOCTYPE'd answer as a receipt, the entities left unexpanded.
    double.set_mode("hostile")
    settings = zeep.Settings(strict=True, forbid_dtd=False, forbid_entities=False)
    lax = cast(Any, zeep).Client(double.wsdl_url, settings=settings)
    answer = lax.service.ReferCase(
        **referral_request(referral_delivery()), _soapheaders={"LogicalAddress": DISTRICT}
    )
    assert (answer.resultCode, answer.caseReference) == ("OK", None)
    assert double.referrals() == {}


_REFER_ACTION = '"urn:riv:omsorgshub:casemanagement:ReferCaseResponder:1:ReferCase"'
_ENVELOPE = (
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">{header}<s:Body>'
    '<r:ReferCase xmlns:r="urn:riv:omsorgshub:casemanagement:ReferCaseResponder:1">'
    "<r:idempotencyKey>k</r:idempotencyKey></r:ReferCase></s:Body></s:Envelope>"
)
_ADDRESS = (
    '<s:Header><a:LogicalAddress xmlns:a="urn:riv:itintegration:registry:1">sdn-sodermalm'
    "</a:LogicalAddress></s:Header>"
)


@pytest.mark.parametrize(
    ("body", "action", "error_code"),
    [
        ("not xml at all", _REFER_ACTION, "malformed_request"),
        (
            '<!DOCTYPE s:Envelope [<!ENTITY x SYSTEM "file:///etc/hostname">]>'
            + _ENVELOPE.format(header=_ADDRESS).replace(">k<", ">&x;<"),
            _REFER_ACTION,
            "malformed_request",
        ),
        ("<Envelope/>", _REFER_ACTION, "not_soap_11"),
        (_ENVELOPE.format(header=""), _REFER_ACTION, "missing_logical_address"),
        (_ENVELOPE.format(header=_ADDRESS), '"urn:other:Action"', "soap_action_mismatch"),
        (_ENVELOPE.format(header=_ADDRESS), _REFER_ACTION, "validation_failed"),
    ],
)
def test_the_double_refuses_bad_and_hostile_requests_with_client_faults(
    double: CaseManagementDouble, body: str, action: str, error_code: str
) -> None:
    answer = httpx.post(
        double.url,
        content=body.encode(),
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": action},
    )
    assert answer.status_code == 500
    fault = etree.fromstring(answer.content)
    assert fault.findtext(".//faultcode") == "soap:Client"
    assert fault.findtext(".//{urn:riv:omsorgshub:casemanagement:1}errorCode") == error_code
    assert double.referrals() == {}
    assert double.stats()["faults"] == 1


# -- the WSDL: loaded in open(), never before ----------------------------------------------------


def test_the_wsdl_is_loaded_in_open_not_in_the_constructor(double: CaseManagementDouble) -> None:
    with network_forbidden():
        adapter = CaseManagementAdapter("case", {"wsdl": double.wsdl_url})
    assert double.stats()["wsdl_requests"] == 0
    with opened(adapter):
        assert double.stats()["wsdl_requests"] == 1
        adapter.open()  # opening twice loads nothing more
        assert double.stats()["wsdl_requests"] == 1
        # No url option: the address comes from the served WSDL.
        assert adapter.deliver(referral_delivery()).duplicate is False


def test_a_wsdl_url_that_is_down_makes_open_transient() -> None:
    wsdl = unreachable_url(SERVICE_PATH) + "?wsdl"
    adapter = CaseManagementAdapter("case", {"wsdl": wsdl, "retries": 0})
    with pytest.raises(TransientDeliveryError) as caught:
        adapter.open()
    assert caught.value.reason == "wsdl_unavailable"
    with pytest.raises(TransientDeliveryError, match="not open"):
        adapter.deliver(referral_delivery())


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "wsdl_unreadable"),  # no such file
        (b"<definitions", "wsdl_invalid"),
        (b'<!DOCTYPE x [<!ENTITY e "e">]><x>&e;</x>', "wsdl_invalid"),
        (b"<definitions xmlns='http://schemas.xmlsoap.org/wsdl/'/>", "wsdl_mismatch"),
        ("GetClientSummary", "wsdl_mismatch"),  # the contract with this operation taken out
    ],
)
def test_an_unusable_wsdl_file_is_a_config_error(
    tmp_path: Path, content: bytes | str | None, reason: str
) -> None:
    (tmp_path / "wsdl").mkdir()
    (tmp_path / "xsd").mkdir()
    (tmp_path / "xsd" / "casemgmt-1.xsd").write_bytes(
        (PACKAGED_WSDL.parents[1] / "xsd" / "casemgmt-1.xsd").read_bytes()
    )
    path = tmp_path / "wsdl" / "case-management-1.wsdl"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        tree = etree.parse(str(PACKAGED_WSDL))
        for operation in tree.iter("{http://schemas.xmlsoap.org/wsdl/}operation"):
            parent = operation.getparent()
            if operation.get("name") == content and parent is not None:
                parent.remove(operation)
        tree.write(str(path))
    adapter = CaseManagementAdapter("case", {"wsdl": str(path), "url": "http://127.0.0.1:9/x"})
    with pytest.raises(ConfigError) as caught:
        adapter.open()
    assert caught.value.reason == reason
