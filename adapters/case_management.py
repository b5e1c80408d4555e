"""Case-management adapter: the municipalities' case systems over the hub's SOAP contract.

System: the case-management (verksamhetssystem) of a city district, such as Paraplyet, Lifecare
or Procapita, behind the hub's own contract ``schemas/wsdl/case-management-1.wsdl`` (no vendor
publishes one; it is written in the RIVTA manner: an interaction per operation, versioned
responder namespaces, the district as ``LogicalAddress`` SOAP header). The local double is
``adapters.doubles.case_management_double``.

Operations: ``deliver`` sends a ``case.referral`` v1 as ``ReferCase`` and a
``case.execution_event`` v1 as ``ReportExecutionEvent``; any other message type or version is a
``PermanentDeliveryError`` (``unsupported_message_type``). ``lookup("client_summary")`` asks
``GetClientSummary`` for ``request.subject`` (a canonical identity number) and answers plain
JSON-able data: ``{"found": False}`` when the district has no case for the person (an answer,
not an error: RIVTA get-services answer "nothing" with an empty response), else ``found``,
``name``, ``decisions`` (law, service, interventions, dates, granted hours per month, execution
state), ``fee_basis`` (income per month as a decimal string, currency, period), ``provider`` and
``case_officer``. The document is mapped field by field (``adapters.case_management_mapping``:
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
by urllib3 (option ``retries``, backoff up to 0.2 s); nothing else is, and every longer schedule
lives in the hub's database. ``ReferCase`` and ``ReportExecutionEvent`` carry the hub's stable
delivery id as ``idempotencyKey``: the service answers a repeat with the first reference and
``duplicate=true`` (``Receipt.duplicate``), so a redelivery after a lost answer is harmless.

Errors, translated in one place (:func:`map_soap_outcome`):

    TransientDeliveryError   SOAP Server fault (and a fault without a known code), HTTP 408,
                             425, 429 and 5xx without a SOAP fault, timeouts, refused or reset
                             connections (``TRANSIENT_ERRORS``), an adapter that is not open
    PermanentDeliveryError   SOAP Client fault (validation, unknown logical address, unknown
                             decision, rejected), other HTTP statuses (401, 403, 404, 3xx), an
                             answer with a DOCTYPE or entities (``hostile_response``), an answer
                             that does not match the contract, TLS failures, a document that
                             cannot be mapped

Details name the operation, the fault code and the contract's ``errorCode``; the fault string,
the request and the answer are left out, since servers echo values (personal data) in them.
``open`` translates its own failures: ``TransientDeliveryError`` (``wsdl_unavailable``) when a
WSDL URL cannot be reached or answers 5xx, ``ConfigError`` when the WSDL is missing, invalid,
not this contract or without an http(s) address (the delivery engine retries or dead-letters
the delivery that needed the adapter accordingly).

Data categories: case.referral carries identity, contact and case; case.execution_event
identity, case and decisions; a client summary answer identity, decisions, fees and case. The
adapter holds them only for the length of a call.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import zeep
from lxml import etree
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry
from zeep.exceptions import DTDForbidden, EntitiesForbidden, Fault, TransportError
from zeep.exceptions import Error as ZeepError
from zeep.exceptions import ValidationError as ZeepValidationError
from zeep.helpers import serialize_object

from adapters import StrictOptions
from adapters.case_management_mapping import (
    EVENT_NS,
    OID_CPR,
    OID_PERSONNUMMER,
    OID_SAMORDNINGSNUMMER,
    REFERRAL_NS,
    canonical_person_id,
    client_summary_result,
    execution_event_request,
    person_id,
    referral_request,
)
from adapters.soap import QuietTransport, hardened_settings
from hub.envelope import LookupRequest, LookupResult, OutboundDelivery, Receipt
from hub.errors import ConfigError, PermanentDeliveryError, TransientDeliveryError

# The port and its error mapping, and the document mapping's names (still importable here).
__all__ = [
    "EVENT_NS",
    "OID_CPR",
    "OID_PERSONNUMMER",
    "OID_SAMORDNINGSNUMMER",
    "REFERRAL_NS",
    "CaseManagementAdapter",
    "canonical_person_id",
    "client_summary_result",
    "execution_event_request",
    "fault_code",
    "map_soap_outcome",
    "person_id",
    "referral_request",
]

PACKAGED_WSDL = Path(__file__).resolve().parents[1] / "schemas" / "wsdl" / "case-management-1.wsdl"
BINDING = (
    "{urn:riv:omsorgshub:casemanagement:CaseManagement:1:rivtabp21}CaseManagementResponderBinding"
)
OPERATIONS = ("GetClientSummary", "ReferCase", "ReportExecutionEvent")
CORE_NS = "urn:riv:omsorgshub:casemanagement:1"

# What makes an attempt transient, declared as data (kombu's connection_errors).
TRANSIENT_FAULT_CODES: frozenset[str] = frozenset({"Server", "Receiver"})
PERMANENT_FAULT_CODES: frozenset[str] = frozenset(
    {"Client", "Sender", "VersionMismatch", "MustUnderstand", "DataEncodingUnknown"}
)
TRANSIENT_STATUSES: frozenset[int] = frozenset({408, 425, 429, *range(500, 600)})
TRANSIENT_ERRORS: tuple[type[requests.RequestException], ...] = (
    requests.Timeout,
    requests.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
)
MAX_RETRIES = 4

# zeep has no type annotations: its entry points, typed loosely once here.
_zeep_client: Callable[..., Any] = zeep.Client
_zeep_transport: Callable[..., Any] = QuietTransport  # no DEBUG log of personal data
_serialize: Callable[[Any, type], Any] = serialize_object
_WSDL_LOAD_ERRORS: tuple[type[Exception], ...] = (requests.HTTPError, *TRANSIENT_ERRORS)

_T = TypeVar("_T")
_ERROR_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")


class CaseManagementAdapter:
    """Options: ``wsdl``, ``url``, ``timeout`` (s, 10), ``retries`` (2), ``token`` or
    ``username`` + ``password``. ``url`` is required with the packaged WSDL."""

    kind = "case-soap"
    transient_errors = TRANSIENT_ERRORS
    transient_statuses = TRANSIENT_STATUSES
    transient_fault_codes = TRANSIENT_FAULT_CODES

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

    def __repr__(self) -> str:
        auth = ", token=***" if self._token else ", basic=***" if self._basic else ""
        where = f", url={self.url!r}" if self.url else ""
        return f"CaseManagementAdapter(name={self.name!r}, wsdl={self.wsdl!r}{where}{auth})"

    # -- life cycle ---------------------------------------------------------------------------

    def open(self) -> None:
        with self._lock:
            if self._service is not None:
                return
            session = self._new_session()
            try:
                self._service = self._load(session)
            except BaseException:
                session.close()
                raise
            self._session = session

    def close(self) -> None:
        with self._lock:
            session, self._session, self._service = self._session, None, None
        if session is not None:
            session.close()

    def _new_session(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # a stray HTTPS_PROXY must not reroute personal data
        session.max_redirects = 0  # a redirected POST is refused (TooManyRedirects)
        retry = Retry(
            total=self.retries,
            connect=self.retries,
            read=0,
            redirect=0,
            status=0,
            other=0,
            backoff_factor=0.05,
            backoff_max=0.2,
            raise_on_status=False,
        )
        transport = HTTPAdapter(max_retries=retry)
        session.mount("http://", transport)
        session.mount("https://", transport)
        if self._token is not None:
            session.headers["Authorization"] = f"Bearer {self._token}"
        elif self._basic is not None:
            session.auth = self._basic
        return session

    def _load(self, session: requests.Session) -> Any:
        settings = hardened_settings()
        transport = _zeep_transport(
            session=session, timeout=self.timeout, operation_timeout=self.timeout
        )
        where = f"adapter {self.name!r}: WSDL {self.wsdl!r}"
        try:
            client = _zeep_client(self.wsdl, transport=transport, settings=settings)
        except _WSDL_LOAD_ERRORS as exc:
            if isinstance(exc, requests.HTTPError) and not _is_server_error(exc):
                raise ConfigError(
                    f"{where} cannot be loaded ({exc.response.status_code})",
                    reason="wsdl_unreadable",
                ) from exc
            raise TransientDeliveryError(
                f"{where} cannot be loaded ({type(exc).__name__})", reason="wsdl_unavailable"
            ) from exc
        except OSError as exc:  # a missing file; requests' other errors are OSErrors too
            raise ConfigError(
                f"{where} cannot be read ({type(exc).__name__})", reason="wsdl_unreadable"
            ) from exc
        except (ZeepError, etree.Error, ValueError) as exc:
            raise ConfigError(
                f"{where} is not a usable WSDL ({type(exc).__name__})", reason="wsdl_invalid"
            ) from exc
        binding = client.wsdl.bindings.get(BINDING)
        missing = [op for op in OPERATIONS if binding is None or not _has_operation(binding, op)]
        if missing:
            raise ConfigError(
                f"{where} lacks {', '.join(missing)} of the case-management contract",
                reason="wsdl_mismatch",
            )
        address = self.url or _binding_address(client)
        if address is None or not _is_http_url(address):
            raise ConfigError(f"{where} has no http(s) address: give option 'url'")
        return client.create_service(BINDING, address)

    # -- the two verbs ------------------------------------------------------------------------

    def deliver(self, delivery: OutboundDelivery) -> Receipt:
        service = self._open_service()
        if (delivery.message_type, delivery.version) == ("case.referral", "1"):
            operation, arguments = "ReferCase", referral_request(delivery)
            reference_field = "caseReference"
        elif (delivery.message_type, delivery.version) == ("case.execution_event", "1"):
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
        answer = map_soap_outcome(
            self.name, operation, lambda: call(**arguments, _soapheaders=header)
        )
        return _receipt(self.name, operation, answer, reference_field)

    def lookup(self, request: LookupRequest) -> LookupResult:
        service = self._open_service()
        if request.lookup != "client_summary":
            raise PermanentDeliveryError(
                f"{self.name}: unknown lookup {request.lookup!r} (this system answers "
                "'client_summary')",
                reason="unknown_lookup",
            )
        subject = canonical_person_id(request.subject)
        header = {"LogicalAddress": request.district}
        answer = map_soap_outcome(
            self.name,
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

    def _open_service(self) -> Any:
        service = self._service
        if service is None:
            raise TransientDeliveryError(
                f"adapter {self.name!r} is not open", reason="adapter_closed"
            )
        return service


# -- the one place where SOAP, HTTP and zeep failures become hub errors -------------------------


def map_soap_outcome(destination: str, operation: str, call: Callable[[], _T]) -> _T:
    """Run one SOAP call; translate every failure into a hub delivery error (see the module
    docstring for which is which). Details never carry the request, the answer or the fault
    string."""
    where = f"{destination}: {operation}"
    try:
        return call()
    except Fault as exc:
        code = fault_code(exc.code)
        error_code = _error_code_of(exc.detail)
        detail = f"{where}: SOAP {code or 'unknown'} fault" + (
            f" ({error_code})" if error_code else ""
        )
        context = {"operation": operation, "fault_code": code or "", "error_code": error_code}
        if code in PERMANENT_FAULT_CODES:
            raise PermanentDeliveryError(detail, reason="soap_client_fault", **context) from exc
        raise TransientDeliveryError(detail, reason="soap_server_fault", **context) from exc
    except TransportError as exc:
        status = exc.status_code
        detail = f"{where}: HTTP {status} without a SOAP answer"
        if status in TRANSIENT_STATUSES:
            raise TransientDeliveryError(detail, operation=operation, status=status) from exc
        raise PermanentDeliveryError(detail, operation=operation, status=status) from exc
    except (DTDForbidden, EntitiesForbidden) as exc:
        raise PermanentDeliveryError(
            f"{where}: the answer declares a DOCTYPE or entities; refused unread",
            reason="hostile_response",
            operation=operation,
        ) from exc
    except ZeepValidationError as exc:
        path = ".".join(str(step) for step in exc.path)
        raise PermanentDeliveryError(
            f"{where}: the request does not fit the contract at {path or 'its root'}",
            reason="request_invalid",
            operation=operation,
        ) from exc
    except ZeepError as exc:
        raise PermanentDeliveryError(
            f"{where}: the answer does not fit the contract ({type(exc).__name__})",
            reason="response_invalid",
            operation=operation,
        ) from exc
    except requests.exceptions.SSLError as exc:
        raise PermanentDeliveryError(
            f"{where}: TLS failed ({type(exc).__name__})", operation=operation
        ) from exc
    except TRANSIENT_ERRORS as exc:
        raise TransientDeliveryError(
            f"{where}: no SOAP answer ({type(exc).__name__})",
            operation=operation,
            error=type(exc).__name__,
        ) from exc
    except requests.RequestException as exc:  # TooManyRedirects, InvalidURL, ...
        raise PermanentDeliveryError(
            f"{where}: request failed ({type(exc).__name__})",
            operation=operation,
            error=type(exc).__name__,
        ) from exc


def fault_code(code: str | None) -> str | None:
    """``soap:Client.Validation`` -> ``Client``: the local part's first segment."""
    if not code:
        return None
    local = code.strip().rpartition(":")[2]
    return local.split(".", 1)[0] or None


def _error_code_of(detail: object) -> str:
    if not isinstance(detail, etree._Element):
        return ""
    text = (detail.findtext(f".//{{{CORE_NS}}}errorCode") or "").strip()
    return text if _ERROR_CODE.fullmatch(text) else ""


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


def _is_server_error(exc: BaseException) -> bool:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return isinstance(status, int) and status in TRANSIENT_STATUSES


def _has_operation(binding: Any, operation: str) -> bool:
    try:
        binding.get(operation)
    except ValueError:
        return False
    return True


def _binding_address(client: Any) -> str | None:
    for service in client.wsdl.services.values():
        for port in service.ports.values():
            if port.binding.name.text == BINDING:
                address = port.binding_options.get("address")
                return address if isinstance(address, str) else None
    return None
