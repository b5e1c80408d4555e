"""Case-management adapter: the municipalities' case systems over the hub's SOAP contract.

System: the case-management (verksamhetssystem) of a city district, such as Paraplyet, Lifecare
or Procapita, behind the hub's own contract ``schemas/wsdl/case-management-1.wsdl`` (no vendor
publishes one; it is written in the RIVTA manner: an interaction per operation, versioned
responder namespaces, the district as ``LogicalAddress`` SOAP header). The local double is
``adapters.doubles.case_management_double``.

Operations: ``deliver`` sends a ``case.referral`` v1 as ``ReferCase`` and a
``case.execution_event`` v1 or v2 as ``ReportExecutionEvent`` (v2's kinds the contract lacks,
``decided``, ``partly_executed`` and ``declined_offer``, are a ``PermanentDeliveryError``
``unsupported_event_kind`` naming the kind; v2's added elements have no place in the contract
and are not sent); any other message type or version is a ``PermanentDeliveryError``
(``unsupported_message_type``). ``lookup("client_summary")`` asks
``GetClientSummary`` for ``request.subject`` (a canonical identity number) and answers plain
JSON-able data: ``{"found": False}`` when the district has no case for the person (an answer,
not an error: RIVTA get-services answer "nothing" with an empty response), else ``found``,
``name``, ``decisions`` (law, service, interventions, dates, granted hours per month, execution
state), ``fee_basis`` (income per month as a decimal string, currency, period), ``provider`` and
``case_officer``. ``protected_persons(district)`` (the port ``ProtectedPersonsSource``) asks
``GetProtectedClients`` for the district's whole list of persons it marks with protected
identity and answers ``ProtectedPerson``s (canonical number, scheme, kind), checked whole
(``protected_persons_result``); a WSDL given with option ``wsdl`` that lacks the operation
makes it a ``ConfigError`` (``operation_not_offered``), the other operations still work. The
document is mapped field by field (``adapters.case_management.mapping``:
``referral_request``, ``execution_event_request``, ``client_summary_result``); identity numbers
are sent as RIVTA person ids (12 digits, or 10 for a Danish CPR number, with the OID of their
kind), the ten-digit Swedish form completed with the century as of the message's arrival at the
hub.

Protocol: SOAP 1.1 document/literal over HTTP/1.1 with zeep, keep-alive connections of one
``requests`` session. zeep runs with ``Settings(strict=True, forbid_dtd=True,
forbid_entities=True, forbid_external=True, xml_huge_tree=False)``: an answer with a DOCTYPE or
entities is refused before anything in it is used, and loading the WSDL never fetches imports
over the network. ``operation_timeout`` (option ``timeout``) bounds connecting and each read.
Redirects are not followed; proxy and netrc settings from the environment are ignored. The WSDL
is loaded in :meth:`CaseManagementAdapter.open`, never at import or in the constructor: the
packaged one by default (then option ``url`` names the endpoint), or ``wsdl`` (a path or URL).

Authentication: none in the double; option ``token`` sends a bearer token, options ``username``
and ``password`` HTTP basic authentication (not both). Secrets never appear in ``repr``.

Retry and idempotency: connection failures (the request never left) are retried inside the call
by the adapters' one tenacity retry (``adapters.transience``; option ``retries``, 50-200 ms
apart); nothing else is, and every longer schedule lives in the hub's database. ``ReferCase``
and ``ReportExecutionEvent`` carry the hub's stable delivery id as ``idempotencyKey``: the
service answers a repeat with the first reference and ``duplicate=true``
(``Receipt.duplicate``), so a redelivery after a lost answer is harmless.

Errors, translated in one place (``adapters.soap.map_soap_outcome``, reading ``TRANSIENCE``):

    TransientDeliveryError   SOAP Server fault (and a fault without a known code), HTTP 408,
                             425, 429 and 5xx without a SOAP fault, timeouts, refused or reset
                             connections (``TRANSIENCE``), an adapter that is not open
    PermanentDeliveryError   SOAP Client/Sender fault, dotted ones too (validation, unknown
                             logical address, unknown decision, rejected), other HTTP
                             statuses (401, 403, 404, 3xx), an answer with a DOCTYPE or
                             entities (``hostile_response``), an answer that does not match the
                             contract, TLS failures, a document that cannot be mapped

Details name the operation, the fault code and the contract's ``errorCode``; the fault string,
the request and the answer are left out, since servers echo values (personal data) in them.
``open`` translates its own failures: ``TransientDeliveryError`` (``wsdl_unavailable``) when a
WSDL URL cannot be reached or answers 5xx, ``ConfigError`` when the WSDL is missing, invalid,
not this contract or without an http(s) address (the delivery engine retries or dead-letters
the delivery that needed the adapter accordingly).

Data categories: case.referral carries identity, contact and case; case.execution_event
identity, case and decisions; a client summary answer identity, decisions, fees and case; the
list of protected persons identity (the number and the kind of protection). The
adapter holds them only for the length of a call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from zeep.helpers import serialize_object

from adapters import StrictOptions
from adapters.case_management.mapping import (
    canonical_person_id,
    client_summary_result,
    execution_event_request,
    protected_persons_result,
    referral_request,
)
from adapters.soap import (
    SoapDialect,
    bind_service,
    binding_offers,
    load_wsdl,
    map_soap_outcome,
    never_sent,
    new_session,
    opened,
)
from adapters.transience import MAX_RETRIES, Transience, in_call_retrying
from hub.envelope import LookupRequest, LookupResult, OutboundDelivery, ProtectedPerson, Receipt
from hub.errors import ConfigError, PermanentDeliveryError

__all__ = ["BINDING", "PACKAGED_WSDL", "TRANSIENCE", "CaseManagementAdapter"]

PACKAGED_WSDL = Path(__file__).resolve().parents[2] / "schemas" / "wsdl" / "case-management-1.wsdl"
BINDING = (
    "{urn:riv:omsorgshub:casemanagement:CaseManagement:1:rivtabp21}CaseManagementResponderBinding"
)
OPERATIONS = ("GetClientSummary", "ReferCase", "ReportExecutionEvent")
PROTECTED_LIST = "GetProtectedClients"  # added to the contract later: a service may lack it

# The one declaration of what is transient here, read by map_soap_outcome and the in-call retry:
# only a request that never left is repeated inside the call (the service de-duplicates on the
# idempotency key, but a read timeout may mean it is still working on the first one).
TRANSIENCE = Transience(
    statuses=frozenset({408, 425, 429, *range(500, 600)}),
    errors=(
        requests.Timeout,
        requests.ConnectionError,
        requests.exceptions.ChunkedEncodingError,
    ),
    retry_in_call=never_sent,
)
DIALECT = SoapDialect()

# zeep has no type annotations: its helper, typed loosely once here.
_serialize: Callable[[Any, type], Any] = serialize_object


class CaseManagementAdapter:
    """Options: ``wsdl``, ``url``, ``timeout`` (s, 10), ``retries`` (2), ``token`` or
    ``username`` + ``password``. ``url`` is required with the packaged WSDL."""

    kind = "case-soap"
    transience = TRANSIENCE

    def __init__(self, name: str, options: Mapping[str, object]) -> None:
        allowed = ("wsdl", "url", "timeout", "retries", "token", "username", "password")
        opts = StrictOptions(self.kind, name, options, allowed)
        wsdl = opts.optional("wsdl", str)
        if wsdl is not None and not wsdl.strip():
            raise opts.fail("wsdl", "must be a path or an http(s) URL")
        if wsdl is not None and urlsplit(wsdl).scheme not in ("", "http", "https", "file"):
            raise opts.fail("wsdl", "must be a path or an http(s) URL")
        url = opts.optional("url", str)
        if url is not None and not _is_http_url(url):
            raise opts.fail("url", "must be an absolute http:// or https:// URL")
        if wsdl is None and url is None:
            raise opts.fail("url", "is required with the packaged WSDL (give url or wsdl)")
        timeout = opts.get("timeout", float, 10.0)
        if not (0 < timeout < float("inf")):
            raise opts.fail("timeout", "must be a positive number of seconds")
        retries = opts.get("retries", int, 2)
        if not 0 <= retries <= MAX_RETRIES:
            raise opts.fail("retries", f"must be between 0 and {MAX_RETRIES}")
        token = opts.optional("token", str)
        if token is not None and (not token or any(c.isspace() for c in token)):
            raise opts.fail("token", "must be non-empty and without whitespace")
        username, password = opts.optional("username", str), opts.optional("password", str)
        if (username is None) != (password is None):
            raise opts.fail("username" if username is None else "password", "needs its pair")
        if token is not None and username is not None:
            raise opts.fail("token", "and username/password exclude each other")
        self.name = name
        self.wsdl = wsdl or str(PACKAGED_WSDL)
        self.url = url
        self.timeout = timeout
        self.retries = retries
        self._token = token
        self._basic = None if username is None or password is None else (username, password)
        self._lock = threading.Lock()
        self._session: requests.Session | None = None
        self._service: Any = None  # zeep's ServiceProxy once open
        self._lists_protected = False  # the WSDL has GetProtectedClients (known once open)

    def __repr__(self) -> str:
        auth = ", token=***" if self._token else ", basic=***" if self._basic else ""
        where = f", url={self.url!r}" if self.url else ""
        return f"CaseManagementAdapter(name={self.name!r}, wsdl={self.wsdl!r}{where}{auth})"

    # -- life cycle ---------------------------------------------------------------------------

    def open(self) -> None:
        with self._lock:
            if self._service is not None:
                return
            session = new_session()
            if self._token is not None:
                session.headers["Authorization"] = f"Bearer {self._token}"
            elif self._basic is not None:
                session.auth = self._basic
            where = f"adapter {self.name!r}: WSDL {self.wsdl!r}"
            try:
                client = load_wsdl(where, self.wsdl, session, self.timeout, DIALECT)
                self._service = bind_service(where, client, BINDING, OPERATIONS, self.url, DIALECT)
                self._lists_protected = binding_offers(client, BINDING, PROTECTED_LIST)
            except BaseException:
                session.close()
                raise
            self._session = session

    def close(self) -> None:
        with self._lock:
            session, self._session, self._service = self._session, None, None
        if session is not None:
            session.close()

    # -- the verbs ------------------------------------------------------------------------

    def deliver(self, delivery: OutboundDelivery) -> Receipt:
        service = opened(self.name, self._service)
        if (delivery.message_type, delivery.version) == ("case.referral", "1"):
            operation, arguments = "ReferCase", referral_request(delivery)
            reference_field = "caseReference"
        elif delivery.message_type == "case.execution_event" and delivery.version in ("1", "2"):
            operation, arguments = "ReportExecutionEvent", execution_event_request(delivery)
            reference_field = "eventReference"
        else:
            raise PermanentDeliveryError(
                f"{self.name}: {delivery.message_type} v{delivery.version} has no operation "
                "in the case-management contract",
                reason="unsupported_message_type",
            )
        call = getattr(service, operation)
        header = {"LogicalAddress": delivery.district}
        answer = self._call(operation, lambda: call(**arguments, _soapheaders=header))
        return _receipt(self.name, operation, answer, reference_field)

    def lookup(self, request: LookupRequest) -> LookupResult:
        service = opened(self.name, self._service)
        if request.lookup != "client_summary":
            raise PermanentDeliveryError(
                f"{self.name}: unknown lookup {request.lookup!r} (this system answers "
                "'client_summary')",
                reason="unknown_lookup",
            )
        subject = canonical_person_id(request.subject)
        header = {"LogicalAddress": request.district}
        answer = self._call(
            "GetClientSummary",
            lambda: service.GetClientSummary(subjectId=subject, _soapheaders=header),
        )
        try:
            return LookupResult(client_summary_result(_serialize(answer, dict)))
        except (AttributeError, TypeError, ArithmeticError) as exc:  # a shape zeep let through
            raise PermanentDeliveryError(
                f"{self.name}: GetClientSummary: the answer does not fit the contract",
                reason="response_invalid",
            ) from exc

    def protected_persons(self, district: str) -> list[ProtectedPerson]:
        service = opened(self.name, self._service)
        if not self._lists_protected:
            raise ConfigError(
                f"{self.name}: the WSDL {self.wsdl!r} has no {PROTECTED_LIST} (an older "
                "contract): this case system cannot list its protected persons",
                reason="operation_not_offered",
            )
        header = {"LogicalAddress": district}
        answer = self._call(
            PROTECTED_LIST, lambda: service.GetProtectedClients(_soapheaders=header)
        )
        try:
            return protected_persons_result(_serialize(answer, dict) or {})
        except (AttributeError, TypeError) as exc:  # a shape zeep let through
            raise PermanentDeliveryError(
                f"{self.name}: {PROTECTED_LIST}: the answer does not fit the contract",
                reason="response_invalid",
            ) from exc

    def _call(self, operation: str, call: Callable[[], Any]) -> Any:
        retrying = in_call_retrying(TRANSIENCE, self.retries)
        return map_soap_outcome(self.name, operation, lambda: retrying(call), TRANSIENCE, DIALECT)


def _receipt(destination: str, operation: str, answer: Any, reference_field: str) -> Receipt:
    reference = getattr(answer, reference_field, None)
    duplicate = getattr(answer, "duplicate", None)
    if not isinstance(reference, str) or not reference or not isinstance(duplicate, bool):
        raise PermanentDeliveryError(
            f"{destination}: {operation}: the answer lacks {reference_field} or duplicate",
            reason="response_invalid",
            operation=operation,
        )
    return Receipt(
        reference=reference,
        duplicate=duplicate,
        details={"operation": operation, "result_code": str(getattr(answer, "resultCode", ""))},
    )


# -- small helpers -------------------------------------------------------------------------------


def _is_http_url(text: str) -> bool:
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)
