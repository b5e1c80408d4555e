"""The one SOAP fault mapping (``adapters.soap``) and the one in-call retry
(``adapters.transience``), read from each adapter's declaration: no network."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest
import requests
import zeep.exceptions
from urllib3 import HTTPResponse
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError, ReadTimeoutError

from adapters import case_management, finance_ubw, http
from adapters.case_management.adapter import DIALECT as CASE_DIALECT
from adapters.case_management.adapter import TRANSIENCE as CASE_TRANSIENCE
from adapters.finance_ubw.adapter import DIALECT as UBW_DIALECT
from adapters.finance_ubw.adapter import TRANSIENCE as UBW_TRANSIENCE
from adapters.soap import SoapDialect, fault_code, is_permanent_fault, map_soap_outcome, never_sent
from adapters.transience import Transience, in_call_retrying
from hub.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError

# zeep has no type annotations: its exceptions, typed loosely once here.
Fault: Any = zeep.exceptions.Fault
TransportError: Any = zeep.exceptions.TransportError

ADAPTERS = [
    pytest.param(CASE_TRANSIENCE, CASE_DIALECT, id="case"),
    pytest.param(UBW_TRANSIENCE, UBW_DIALECT, id="ubw"),
]


@pytest.mark.parametrize(
    ("code", "klass", "permanent"),
    [
        ("soap:Client", "Client", True),
        ("s:Client", "Client", True),
        ("Client", "Client", True),
        ("soap:Client.Validation", "Client", True),
        ("s:Client.Authentication.Expired", "Client", True),
        ("env:Sender", "Sender", True),  # SOAP 1.2
        ("soap:VersionMismatch", "VersionMismatch", True),
        ("soap:MustUnderstand", "MustUnderstand", True),
        ("env:DataEncodingUnknown", "DataEncodingUnknown", True),
        ("soap:Server", "Server", False),
        ("soap:Server.Busy", "Server", False),
        ("env:Receiver", "Receiver", False),  # SOAP 1.2
        ("a:InternalServiceFault", "InternalServiceFault", False),  # WCF
        (" soap:Client.Validation ", "Client", True),
        ("", None, False),
        (None, None, False),
    ],
)
def test_the_fault_code_table(code: str | None, klass: str | None, permanent: bool) -> None:
    assert fault_code(code) == klass
    assert is_permanent_fault(code) is permanent


@pytest.mark.parametrize(("transience", "dialect"), ADAPTERS)
@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("soap:Client.Validation", PermanentDeliveryError),
        ("s:Client", PermanentDeliveryError),
        ("env:Sender", PermanentDeliveryError),
        ("soap:Server", TransientDeliveryError),
        ("env:Receiver", TransientDeliveryError),
        (None, TransientDeliveryError),
    ],
)
def test_every_soap_adapter_maps_faults_the_same_way(
    transience: Transience, dialect: SoapDialect, code: str | None, error: type[DeliveryError]
) -> None:
    fault = Fault("refused", code=code)

    def call() -> None:
        raise fault

    with pytest.raises(DeliveryError) as caught:
        map_soap_outcome("dest", "Op", call, transience, dialect)
    assert type(caught.value) is error
    assert caught.value.__cause__ is fault
    assert caught.value.reason == (
        dialect.client_fault if error is PermanentDeliveryError else dialect.server_fault
    )
    assert caught.value.context["fault_code"] == (fault_code(code) or "")


def test_each_adapter_declares_which_statuses_are_transient() -> None:
    def answered(status: int, transience: Transience) -> type[DeliveryError]:
        def call() -> None:
            raise TransportError(status_code=status)

        with pytest.raises(DeliveryError) as caught:
            map_soap_outcome("dest", "Op", call, transience, SoapDialect())
        return type(caught.value)

    # A 200 that is no SOAP: a proxy's page before UBW (transient); the case contract: permanent.
    assert answered(200, UBW_TRANSIENCE) is TransientDeliveryError
    assert answered(200, CASE_TRANSIENCE) is PermanentDeliveryError
    for transience in (UBW_TRANSIENCE, CASE_TRANSIENCE):
        assert answered(503, transience) is TransientDeliveryError
        assert answered(404, transience) is PermanentDeliveryError


def test_the_adapter_classes_carry_their_one_declaration() -> None:
    assert case_management.adapter.CaseManagementAdapter.transience is CASE_TRANSIENCE
    assert finance_ubw.adapter.UbwFinanceAdapter.transience is UBW_TRANSIENCE
    assert http.HttpAdapter.transience is http.TRANSIENCE


# -- the in-call retry, built from the same declarations -----------------------------------------


def _refused() -> requests.ConnectionError:
    reason = NewConnectionError(None, "Connection refused")  # type: ignore[arg-type]
    return requests.ConnectionError(MaxRetryError(None, "/x", reason))  # type: ignore[arg-type]


def _answer_lost() -> requests.ConnectionError:
    return requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError()))


def _tries(transience: Transience, retries: int, fail: Callable[[], object]) -> int:
    count = 0

    def attempt() -> object:
        nonlocal count
        count += 1
        return fail()

    with contextlib.suppress(Exception):  # the last failure, re-raised as it was
        in_call_retrying(transience, retries)(attempt)
    return count


def _raise(error: Exception) -> Callable[[], object]:
    def fail() -> object:
        raise error

    return fail


def test_never_sent_tells_a_refused_connection_from_a_lost_answer() -> None:
    assert never_sent(_refused())
    assert never_sent(requests.exceptions.ConnectTimeout())
    assert not never_sent(_answer_lost())
    assert not never_sent(requests.ReadTimeout())


def test_the_case_adapter_repeats_only_what_never_left() -> None:
    assert _tries(CASE_TRANSIENCE, 2, _raise(_refused())) == 3
    assert _tries(CASE_TRANSIENCE, 2, _raise(_answer_lost())) == 1
    assert _tries(CASE_TRANSIENCE, 2, _raise(requests.ReadTimeout())) == 1


def test_ubw_repeats_connection_errors_it_de_duplicates_on_the_batch_id() -> None:
    assert _tries(UBW_TRANSIENCE, 1, _raise(_refused())) == 2
    assert _tries(UBW_TRANSIENCE, 1, _raise(_answer_lost())) == 2
    assert _tries(UBW_TRANSIENCE, 1, _raise(requests.ReadTimeout())) == 1
    assert _tries(UBW_TRANSIENCE, 1, _raise(Fault("busy", code="s:Server"))) == 1


def test_http_repeats_503_and_lost_connections_and_returns_the_last_answer() -> None:
    assert _tries(http.TRANSIENCE, 2, lambda: HTTPResponse(status=503)) == 3
    assert _tries(http.TRANSIENCE, 2, lambda: HTTPResponse(status=500)) == 1
    refused = NewConnectionError(None, "refused")  # type: ignore[arg-type]
    assert _tries(http.TRANSIENCE, 2, _raise(refused)) == 3
    assert _tries(http.TRANSIENCE, 2, _raise(ProtocolError("Connection aborted."))) == 3
    assert _tries(http.TRANSIENCE, 2, _raise(ReadTimeoutError(None, "/m", "slow"))) == 1  # type: ignore[arg-type]
    last = in_call_retrying(http.TRANSIENCE, 1)(lambda: HTTPResponse(status=503))
    assert last.status == 503
