"""The case-management adapter's answers, failures and options, without any network: SOAP
answers -> lookup results, zeep/requests failures -> hub errors, strict options."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import requests
from lxml import etree

from adapters.case_management.adapter import (
    DIALECT,
    TRANSIENCE,
    CaseManagementAdapter,
)
from adapters.case_management.mapping import (
    OID_PERSONNUMMER,
    client_summary_result,
)
from adapters.doubles.case_management_soap import (
    CORE_NS,
)
from adapters.soap import fault_code, map_soap_outcome
from hub.errors import (
    ConfigError,
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from tests.unit.case_management_mapping_support import (
    DTDForbidden,
    EntitiesForbidden,
    Fault,
    TransportError,
    ValidationError,
    XMLParseError,
)

# -- SOAP answers -> lookup results --------------------------------------------------------------


def test_a_client_summary_becomes_plain_json_able_data() -> None:
    answer = {
        "subjectId": {"id": "191212121212", "type": OID_PERSONNUMMER},
        "name": "Tolvan Tolvansson",
        "decision": [
            {
                "decisionId": "B-1",
                "law": "SoL",
                "service": {"code": "home_care", "displayName": "Hemtjänst"},
                "intervention": [{"code": "cleaning", "displayName": None}],
                "decisionDate": date(2024, 1, 15),
                "validFrom": date(2024, 2, 1),
                "validTo": None,
                "grantedHoursPerMonth": Decimal("32.5"),
                "executionState": "pending",
            }
        ],
        "feeBasis": {
            "incomePerMonth": Decimal("18450.5"),
            "currency": "SEK",
            "periodStart": date(2024, 1, 1),
            "periodEnd": None,
        },
        "provider": {"providerId": "prov-testvard", "name": "Testvård Hemtjänst AB"},
        "caseOfficer": {"officerId": None, "name": "Handla Läggarsson"},
    }
    assert client_summary_result(answer) == {
        "found": True,
        "name": "Tolvan Tolvansson",
        "decisions": [
            {
                "decision_id": "B-1",
                "law": "SoL",
                "service": {"code": "home_care", "display_name": "Hemtjänst"},
                "interventions": [{"code": "cleaning", "display_name": None}],
                "decision_date": "2024-01-15",
                "valid_from": "2024-02-01",
                "valid_to": None,
                "granted_hours_per_month": 32.5,
                "execution_state": "pending",
            }
        ],
        "fee_basis": {
            "income_per_month": "18450.50",
            "currency": "SEK",
            "period_start": "2024-01-01",
            "period_end": None,
        },
        "provider": {"id": "prov-testvard", "name": "Testvård Hemtjänst AB"},
        "case_officer": {"id": None, "name": "Handla Läggarsson"},
        "protected_identity": None,
    }
    sparse = {"subjectId": answer["subjectId"], "name": "N", "decision": []}
    assert client_summary_result(sparse) == {
        "found": True,
        "name": "N",
        "decisions": [],
        "fee_basis": None,
        "provider": None,
        "case_officer": None,
        "protected_identity": None,
    }


def test_no_client_is_an_answer_not_an_error() -> None:
    assert client_summary_result(None) == {"found": False}


# -- failures -> hub errors ----------------------------------------------------------------------


def fault_detail(error_code: str) -> etree._Element:
    detail = etree.Element("detail")
    info = etree.SubElement(detail, f"{{{CORE_NS}}}FaultInfo")
    etree.SubElement(info, f"{{{CORE_NS}}}errorCode").text = error_code
    return detail


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("soap:Client", "Client"),
        ("soap-env:Server", "Server"),
        ("Client.Authentication", "Client"),
        ("env:Receiver", "Receiver"),
        ("", None),
        (None, None),
    ],
)
def test_fault_codes(code: str | None, expected: str | None) -> None:
    assert fault_code(code) == expected


LEAKY = "unknown client 191212121212 Tolvan Tolvansson"


@pytest.mark.parametrize(
    ("raised", "error", "reason"),
    [
        (Fault(LEAKY, code="soap:Server"), TransientDeliveryError, "soap_server_fault"),
        (Fault(LEAKY, code="soap:Client"), PermanentDeliveryError, "soap_client_fault"),
        (Fault(LEAKY, code="s:Client.Validation"), PermanentDeliveryError, "soap_client_fault"),
        (Fault(LEAKY, code="soap:VersionMismatch"), PermanentDeliveryError, "soap_client_fault"),
        (Fault(LEAKY, code="soap:Receiver"), TransientDeliveryError, "soap_server_fault"),
        (Fault(LEAKY, code=None), TransientDeliveryError, "soap_server_fault"),
        (TransportError(LEAKY, status_code=503), TransientDeliveryError, "destination_unavailable"),
        (TransportError(LEAKY, status_code=502), TransientDeliveryError, "destination_unavailable"),
        (TransportError(LEAKY, status_code=429), TransientDeliveryError, "destination_unavailable"),
        (TransportError(LEAKY, status_code=401), PermanentDeliveryError, "destination_rejected"),
        (TransportError(LEAKY, status_code=404), PermanentDeliveryError, "destination_rejected"),
        (TransportError(LEAKY, status_code=200), PermanentDeliveryError, "destination_rejected"),
        (DTDForbidden(LEAKY, None, None), PermanentDeliveryError, "hostile_response"),
        (EntitiesForbidden(LEAKY, LEAKY), PermanentDeliveryError, "hostile_response"),
        (
            ValidationError(LEAKY, path=["caseReferral", "caseId"]),
            PermanentDeliveryError,
            "request_invalid",
        ),
        (XMLParseError(LEAKY), PermanentDeliveryError, "response_invalid"),
        (requests.ConnectTimeout(LEAKY), TransientDeliveryError, "destination_unavailable"),
        (requests.ReadTimeout(LEAKY), TransientDeliveryError, "destination_unavailable"),
        (requests.ConnectionError(LEAKY), TransientDeliveryError, "destination_unavailable"),
        (
            requests.exceptions.ChunkedEncodingError(LEAKY),
            TransientDeliveryError,
            "destination_unavailable",
        ),
        (requests.exceptions.SSLError(LEAKY), PermanentDeliveryError, "destination_rejected"),
        (requests.TooManyRedirects(LEAKY), PermanentDeliveryError, "destination_rejected"),
    ],
)
def test_failure_mapping(raised: Exception, error: type[DeliveryError], reason: str) -> None:
    def call() -> None:
        raise raised

    with pytest.raises(DeliveryError) as caught:
        map_soap_outcome("case-sdn-sodermalm", "ReferCase", call, TRANSIENCE, DIALECT)
    assert type(caught.value) is error
    assert caught.value.reason == reason
    assert caught.value.__cause__ is raised
    text = " ".join(
        [str(caught.value), repr(caught.value), *map(str, caught.value.context.values())]
    )
    assert "1912121212" not in text
    assert "Tolvan" not in text
    assert "ReferCase" in str(caught.value)


def test_a_fault_names_the_contracts_error_code_but_never_a_value() -> None:
    def fault(detail: etree._Element) -> None:
        raise Fault(LEAKY, code="soap:Client", detail=detail)

    with pytest.raises(PermanentDeliveryError) as caught:
        map_soap_outcome(
            "case",
            "ReferCase",
            lambda: fault(fault_detail("unknown_decision")),
            TRANSIENCE,
            DIALECT,
        )
    assert "unknown_decision" in str(caught.value)
    assert caught.value.context["error_code"] == "unknown_decision"

    for sneaky in ("191212121212", "Tolvan Tolvansson", "x" * 65, "bad code"):
        detail = fault_detail(sneaky)
        with pytest.raises(PermanentDeliveryError) as caught:
            map_soap_outcome(
                "case",
                "ReferCase",
                lambda: fault(detail),  # noqa: B023
                TRANSIENCE,
                DIALECT,
            )
        assert caught.value.context["error_code"] == ""
        assert sneaky not in str(caught.value)


def test_a_successful_call_passes_its_answer_through() -> None:
    assert map_soap_outcome("case", "ReferCase", lambda: 42, TRANSIENCE, DIALECT) == 42


# -- options -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"url": "http://h/x", "endpoint": "x"}, "unknown option 'endpoint'"),
        ({}, "option 'url' is required with the packaged WSDL"),
        ({"url": "ftp://h/x"}, "option 'url' must be an absolute http"),
        ({"url": "/relative"}, "option 'url' must be an absolute http"),
        ({"wsdl": "gopher://h/x.wsdl"}, "option 'wsdl' must be a path or an http"),
        ({"wsdl": " "}, "option 'wsdl' must be a path"),
        ({"url": "http://h/x", "timeout": 0}, "option 'timeout' must be a positive"),
        ({"url": "http://h/x", "timeout": float("nan")}, "option 'timeout' must be a positive"),
        ({"url": "http://h/x", "timeout": "10"}, "option 'timeout' must be of type float"),
        ({"url": "http://h/x", "retries": 5}, "option 'retries' must be between 0 and 4"),
        ({"url": "http://h/x", "retries": True}, "option 'retries' must be of type int"),
        ({"url": "http://h/x", "token": "a b"}, "option 'token' must be non-empty"),
        ({"url": "http://h/x", "username": "u"}, "option 'password' needs its pair"),
        (
            {"url": "http://h/x", "token": "t", "username": "u", "password": "p"},
            "option 'token' and username/password exclude each other",
        ),
    ],
)
def test_options_are_strict(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        CaseManagementAdapter("case", options)


def test_repr_hides_secrets() -> None:
    bearer = CaseManagementAdapter("case", {"url": "http://h/x", "token": "s3cret-token"})
    basic = CaseManagementAdapter(
        "case", {"wsdl": "http://h/x?wsdl", "username": "hub", "password": "s3cret-pw"}
    )
    assert "s3cret" not in repr(bearer) + repr(basic)
    assert "token=***" in repr(bearer)
    assert "basic=***" in repr(basic)
    assert bearer.kind == "case-soap"
    assert (bearer.timeout, bearer.retries, bearer.url) == (10.0, 2, "http://h/x")
