"""A local double of a municipal case-management system (Paraplyet, Lifecare, Procapita).

It speaks the hub's SOAP contract ``schemas/wsdl/case-management-1.wsdl`` (SOAP 1.1,
document/literal, RIVTA manner) as a small WSGI application, :meth:`CaseManagementDouble.app`,
served by a threaded HTTP/1.1 gateway with keep-alive on 127.0.0.1 (port 0 picks a free one),
or in its own process with ``python -m adapters.doubles.case_management_double --port N``,
which prints the service URL on one line. No SOAP library on this side (spyne breaks on Python
3.12+): requests are parsed with the hub's hardened parser (``schemas.parser``: no DTD, no
entities, size and depth limits) and validated against the contract's own XSDs; answers are
built with lxml.

Endpoints: ``POST /case-management/1`` (the service), ``GET /case-management/1?wsdl`` (the WSDL
as one document, types inlined, ``soap:address`` pointing here), ``GET /_stats``,
``POST /_control`` (``{"mode": ..., "delay": s, "times": n}``) and ``POST /_reset``.

Behaviour: the ``LogicalAddress`` header names the district; an unknown one is a Client fault.
Each district has seeded fictional clients (:func:`seed_clients`, made with ``hub.fictional``)
with decisions, fee basis, provider and case officer. ``GetClientSummary`` answers without a
``client`` element for a person the district has no case for. ``ReferCase`` and
``ReportExecutionEvent`` are stored once per ``idempotencyKey``; a repeat answers the first
reference with ``duplicate=true``. An execution event must name a decision of that client in
that district (else Client fault ``unknown_decision``) and moves the decision's execution state.
An invalid request is a Client fault ``validation_failed``.

Modes make it misbehave on purpose (``times`` limits a mode to the next ``n`` service calls):

    up           answer normally
    down         read the request, close the connection without an answer; nothing is stored
    unavailable  HTTP 503 with no SOAP body
    slow         sleep ``delay`` seconds, then answer normally (stored even if the client left)
    fault        SOAP Server fault (HTTP 500): try again later; nothing is stored
    reject       SOAP Client fault (HTTP 500): will never succeed as sent; nothing is stored
    hostile      answer with a DOCTYPE declaring entities (an XXE attempt); nothing is stored

The double keeps everything in memory; feed it fictional data only.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import hmac
import io
import json
import random
import signal
import socket
import socketserver
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any, Literal, TypeAlias, cast, get_args
from urllib.parse import unquote, urlsplit
from wsgiref.types import StartResponse, WSGIEnvironment

from lxml import etree

from hub.fictional import PROVIDERS, FictionalPeople, FictionalProvider
from hub.identity import IdentityNumber
from schemas.errors import SchemaError
from schemas.parser import ParseLimits, parse_xml

Mode = Literal["up", "down", "unavailable", "slow", "fault", "reject", "hostile"]
MODES: tuple[str, ...] = get_args(Mode)
DISTRICTS = ("sdn-sodermalm", "sdn-kungsholmen", "sdn-farsta")
SERVICE_PATH = "/case-management/1"
MAX_BODY_BYTES = 1024 * 1024

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
CORE_NS = "urn:riv:omsorgshub:casemanagement:1"
ITR_NS = "urn:riv:itintegration:registry:1"
RESPONDER_NS = {
    "GetClientSummary": "urn:riv:omsorgshub:casemanagement:GetClientSummaryResponder:1",
    "ReferCase": "urn:riv:omsorgshub:casemanagement:ReferCaseResponder:1",
    "ReportExecutionEvent": "urn:riv:omsorgshub:casemanagement:ReportExecutionEventResponder:1",
}
OID_PERSONNUMMER = "1.2.752.129.2.1.3.1"
OID_SAMORDNINGSNUMMER = "1.2.752.129.2.1.3.3"
OID_CPR = "1.2.208.176.1.2"
_CONTRACT_DIR = Path(__file__).resolve().parents[2] / "schemas"
WSDL_FILE = _CONTRACT_DIR / "wsdl" / "case-management-1.wsdl"
CORE_XSD_FILE = _CONTRACT_DIR / "xsd" / "casemgmt-1.xsd"
_WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
_XS_NS = "http://www.w3.org/2001/XMLSchema"
_LIMITS = ParseLimits(max_bytes=MAX_BODY_BYTES, max_depth=32)
# What an execution event makes of the decision's execution state.
_STATE_AFTER = {
    "executed": "executed",
    "interrupted": "interrupted",
    "resumed": "executed",
    "closed": "closed",
}

# -- seeded clients --------------------------------------------------------------------------

_OFFICERS = ("Handla Läggarsson", "Beslute Provström", "Utreda Exempelqvist", "Bistå Testlund")
_Service: TypeAlias = tuple[str, str, str, tuple[int, int] | None]  # law, code, text, hours
_HOME_CARE: _Service = ("SoL", "home_care", "Hemtjänst", (8, 120))
_PERSONAL_ASSISTANCE: _Service = ("LSS", "personal_assistance", "Personlig assistans", (60, 700))
_SOL_SERVICES: tuple[_Service, ...] = (
    ("SoL", "safety_alarm", "Trygghetslarm", None),
    ("SoL", "food", "Matdistribution", None),
    ("SoL", "day_activity", "Dagverksamhet", None),
    ("SoL", "short_term_stay", "Korttidsvistelse", None),
)
_LSS_SERVICES: tuple[_Service, ...] = (
    ("LSS", "escort_service", "Ledsagarservice", (4, 40)),
    ("LSS", "daily_activity", "Daglig verksamhet", None),
)
_HOME_CARE_INTERVENTIONS = (
    ("personal_care", "Personlig omvårdnad"), ("cleaning", "Städning"), ("laundry", "Tvätt"),
    ("shopping", "Inköp"), ("meal", "Måltid"), ("supervision", "Tillsyn"),
    ("medication", "Läkemedelshantering"),
)  # fmt: skip


@dataclass(frozen=True)
class SeededDecision:
    decision_id: str
    law: str  # "SoL" | "LSS"
    service: tuple[str, str]  # code, display name
    interventions: tuple[tuple[str, str], ...]
    decision_date: date
    valid_from: date
    valid_to: date | None
    granted_hours_per_month: Decimal | None
    execution_state: str  # as seeded; ReportExecutionEvent moves it on


@dataclass(frozen=True)
class SeededClient:
    district: str
    identity: IdentityNumber
    name: str
    decisions: tuple[SeededDecision, ...]
    income_per_month: Decimal
    currency: str
    fee_period: tuple[date, date | None]
    provider: FictionalProvider
    officer: tuple[str, str]  # officer id, name


def seed_clients(
    seed: int = 0, districts: Sequence[str] = DISTRICTS, per_district: int = 12
) -> list[SeededClient]:
    """Fictional clients with decisions, the same for the same arguments."""
    rng = random.Random(seed)
    people = iter(FictionalPeople(seed))
    clients: list[SeededClient] = []
    for district in districts:
        prefix = district.removeprefix("sdn-")[:3].upper()
        for n in range(per_district):
            person = next(people)
            decisions = _decisions(rng, person.identity, f"{prefix}-{n + 1:03d}")
            period_start = date(2024, 1, 1)
            clients.append(
                SeededClient(
                    district=district,
                    identity=person.identity,
                    name=person.name,
                    decisions=decisions,
                    income_per_month=Decimal(rng.randrange(900_000, 3_200_000)) / 100,
                    currency="DKK" if person.identity.scheme == "dk" else "SEK",
                    fee_period=(period_start, rng.choice((None, date(2024, 12, 31)))),
                    provider=rng.choice(PROVIDERS),
                    officer=(f"hl-{rng.randrange(1000, 10000)}", rng.choice(_OFFICERS)),
                )
            )
    return clients


def _decisions(
    rng: random.Random, identity: IdentityNumber, prefix: str
) -> tuple[SeededDecision, ...]:
    if identity.birth_date.year < 1960:  # elderly care under SoL
        services = [_HOME_CARE, *rng.sample(_SOL_SERVICES, rng.randint(0, 2))]
    else:  # younger: support under LSS
        services = [_PERSONAL_ASSISTANCE, *rng.sample(_LSS_SERVICES, rng.randint(0, 2))]
    decided: list[SeededDecision] = []
    for number, (law, code, display, hours) in enumerate(services, start=1):
        decision_date = date(2023, 1, 2) + timedelta(days=rng.randrange(540))
        valid_from = decision_date + timedelta(days=rng.randrange(21))
        interventions: tuple[tuple[str, str], ...] = ()
        if code == "home_care":
            interventions = tuple(rng.sample(_HOME_CARE_INTERVENTIONS, rng.randint(1, 4)))
        decided.append(
            SeededDecision(
                decision_id=f"B-{prefix}-{number}",
                law=law,
                service=(code, display),
                interventions=interventions,
                decision_date=decision_date,
                valid_from=valid_from,
                valid_to=rng.choice((None, valid_from + timedelta(days=365 * rng.randint(1, 2)))),
                granted_hours_per_month=None if hours is None else _hours(rng, *hours),
                execution_state=rng.choices(
                    ("executed", "pending", "interrupted"), weights=(80, 15, 5)
                )[0],
            )
        )
    return tuple(decided)


def _hours(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randrange(2 * low, 2 * high)) / 2  # whole and half hours


def person_id_of(identity: IdentityNumber) -> tuple[str, str]:
    """The contract's (id, OID type) of a seeded identity."""
    if identity.scheme == "dk":
        return identity.canonical, OID_CPR
    if identity.kind == "samordningsnummer":
        return identity.canonical, OID_SAMORDNINGSNUMMER
    return identity.canonical, OID_PERSONNUMMER


# -- the double ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredRequest:
    """One accepted ReferCase or ReportExecutionEvent, as the case system keeps it."""

    reference: str
    logical_address: str
    source_system: str
    payload: bytes  # the caseReferral / executionEvent element, serialized


class SoapFault(Exception):
    def __init__(self, side: Literal["Client", "Server"], error_code: str, text: str) -> None:
        super().__init__(text)
        self.side, self.error_code, self.text = side, error_code, text


class DropConnection(Exception):
    """Raised by the app to make the gateway close the connection without an answer."""


class CaseManagementDouble:
    """The case-management service on ``host:port``; see the module docstring."""

    _mode: Mode
    _times_left: int | None
    _operations: dict[str, int]
    _referrals: dict[str, StoredRequest]
    _events: dict[str, StoredRequest]

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        seed: int = 0,
        districts: Sequence[str] = DISTRICTS,
        clients_per_district: int = 12,
        token: str | None = None,
    ) -> None:
        self.host, self.port = host, port
        self._token = token
        self.seeded = seed_clients(seed, districts, clients_per_district)
        self._districts = frozenset(districts)
        self._clients = {(c.district, c.identity.canonical): c for c in self.seeded}
        self._decisions = {
            (c.district, d.decision_id): (c, d) for c in self.seeded for d in c.decisions
        }
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._contract: ServiceContract | None = None
        self._reset_state()

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("CaseManagementDouble is already started")
        self._stopping.clear()
        server = _Server((self.host, self.port), self.app, lambda: self._count("_connections"))
        self.port = server.server_address[1]
        self._server = server
        self._contract = ServiceContract.load(self.url)
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name=f"case-management-double-{self.port}",
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop listening and cut every open connection (keep-alive ones too)."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes requests sleeping in "slow" mode
        server.shutdown()
        server.cut_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> CaseManagementDouble:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("CaseManagementDouble is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """The service endpoint."""
        return self.base_url + SERVICE_PATH

    @property
    def wsdl_url(self) -> str:
        return self.url + "?wsdl"

    # -- behaviour and observation ------------------------------------------------------------

    def set_mode(self, mode: str, delay: float = 0.0, times: int | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        if isinstance(delay, bool) or not isinstance(delay, int | float) or not delay >= 0:
            raise ValueError("delay must be a number of seconds >= 0")
        if times is not None and (isinstance(times, bool) or not isinstance(times, int)):
            raise ValueError("times must be a whole number >= 1")
        if times is not None and times < 1:
            raise ValueError("times must be a whole number >= 1")
        with self._lock:
            self._mode, self._delay, self._times_left = cast(Mode, mode), float(delay), times

    def stats(self) -> dict[str, object]:
        with self._lock:
            return {
                "mode": self._mode,
                "delay": self._delay,
                "times": self._times_left,
                "requests": self._requests,
                "operations": dict(self._operations),
                "referrals": len(self._referrals),
                "events": len(self._events),
                "duplicates": self._duplicates,
                "faults": self._faults,
                "connections": self._connections,
                "wsdl_requests": self._wsdl_requests,
            }

    def referrals(self) -> dict[str, StoredRequest]:
        """Accepted ReferCase requests by idempotency key."""
        with self._lock:
            return dict(self._referrals)

    def referral_documents(self) -> dict[str, bytes]:
        """What each accepted ReferCase carried, as the hub's case.referral document."""
        return {key: referral_document(r.payload) for key, r in self.referrals().items()}

    def execution_events(self) -> dict[str, StoredRequest]:
        """Accepted ReportExecutionEvent requests by idempotency key."""
        with self._lock:
            return dict(self._events)

    def execution_state(self, district: str, decision_id: str) -> str:
        with self._lock:
            return self._states[(district, decision_id)]

    def reset(self) -> None:
        """Forget stored requests, counters and execution-state changes; back to ``up``."""
        with self._lock:
            self._reset_state()

    def _reset_state(self) -> None:
        self._mode, self._delay, self._times_left = "up", 0.0, None
        self._requests = self._duplicates = self._faults = 0
        self._connections = self._wsdl_requests = 0
        self._operations, self._referrals, self._events = {}, {}, {}
        self._states = {key: d.execution_state for key, (_, d) in self._decisions.items()}

    def _next_request(self) -> tuple[Mode, float]:
        with self._lock:
            self._requests += 1
            mode, delay = self._mode, self._delay
            if self._times_left is not None:
                self._times_left -= 1
                if self._times_left == 0:
                    self._mode, self._delay, self._times_left = "up", 0.0, None
            return mode, delay

    def _count(self, field: str) -> None:
        with self._lock:
            setattr(self, field, getattr(self, field) + 1)

    # -- the WSGI application -----------------------------------------------------------------

    def app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        if method == "GET" and path == SERVICE_PATH and environ.get("QUERY_STRING") == "wsdl":
            self._count("_wsdl_requests")
            assert self._contract is not None
            return _answer(start_response, "200 OK", "text/xml; charset=utf-8", self._contract.wsdl)
        if method == "GET" and path == "/_stats":
            return _json(start_response, "200 OK", self.stats())
        if method == "POST" and path == "/_control":
            try:
                command = json.loads(_body(environ))
                if not isinstance(command, dict) or set(command) - {"mode", "delay", "times"}:
                    raise ValueError("expected {mode, delay, times}")
                self.set_mode(
                    command.get("mode", "up"), command.get("delay", 0.0), command.get("times")
                )
            except ValueError as exc:  # json.JSONDecodeError is a ValueError
                return _json(start_response, "400 Bad Request", {"error": str(exc)})
            return _json(start_response, "200 OK", self.stats())
        if method == "POST" and path == "/_reset":
            self.reset()
            return _json(start_response, "200 OK", self.stats())
        if path != SERVICE_PATH:
            return _json(start_response, "404 Not Found", {"error": "not found"})
        if method != "POST":
            return _json(start_response, "405 Method Not Allowed", {"error": "use POST"})
        return self._service(environ, start_response)

    def _service(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        body = _body(environ)
        mode, delay = self._next_request()
        if mode == "down":
            raise DropConnection
        if mode == "unavailable":
            return _answer(start_response, "503 Service Unavailable", "text/plain", b"")
        if mode == "slow" and self._stopping.wait(delay):
            raise DropConnection  # stopped while sleeping
        if self._token is not None and not hmac.compare_digest(
            environ.get("HTTP_AUTHORIZATION", "").encode(), f"Bearer {self._token}".encode()
        ):
            return _answer(start_response, "401 Unauthorized", "text/plain", b"")
        try:
            answer = self._handle(body, environ.get("HTTP_SOAPACTION", ""), mode)
        except SoapFault as fault:
            self._count("_faults")
            return _answer(start_response, "500 Internal Server Error", _XML, _fault(fault))
        return _answer(start_response, "200 OK", _XML, answer)

    def _handle(self, body: bytes, soap_action: str, mode: Mode) -> bytes:
        assert self._contract is not None
        try:
            envelope = parse_xml(body, _LIMITS)
        except SchemaError as exc:
            raise SoapFault("Client", "malformed_request", f"not accepted: {exc.reason}") from None
        payload, logical_address = _unwrap(envelope)
        operation = etree.QName(payload).localname
        if RESPONDER_NS.get(operation) != etree.QName(payload).namespace:
            raise SoapFault("Client", "unknown_operation", "no such operation in this contract")
        expected_action = f"{RESPONDER_NS[operation]}:{operation}"
        if soap_action.strip('"') not in ("", expected_action):
            raise SoapFault("Client", "soap_action_mismatch", "SOAPAction and body disagree")
        with self._lock:
            self._operations[operation] = self._operations.get(operation, 0) + 1
        self._contract.validate(operation, payload, logical_address)
        if mode == "fault":
            raise SoapFault("Server", "unavailable", "the case system is temporarily unavailable")
        if mode == "reject":
            raise SoapFault("Client", "rejected", "the case system rejected the request")
        if mode == "hostile":
            return _hostile(operation)
        district = logical_address.text or ""
        if district not in self._districts:
            raise SoapFault("Client", "unknown_logical_address", "no such logical address")
        if operation == "GetClientSummary":
            return self._client_summary(district, payload)
        return self._store(operation, district, payload)

    def _client_summary(self, district: str, payload: etree._Element) -> bytes:
        subject_id = _core(payload.find(f"{{{RESPONDER_NS['GetClientSummary']}}}subjectId"), "id")
        client = self._clients.get((district, subject_id))
        response = _element(RESPONDER_NS["GetClientSummary"], "GetClientSummaryResponse")
        if client is not None:
            with self._lock:
                states = {
                    d.decision_id: self._states[(district, d.decision_id)] for d in client.decisions
                }
            response.append(_summary(client, states))
        return _envelope(response)

    def _store(self, operation: str, district: str, payload: etree._Element) -> bytes:
        ns = RESPONDER_NS[operation]
        key = payload.findtext(f"{{{ns}}}idempotencyKey") or ""
        source = payload.findtext(f"{{{ns}}}sourceSystem") or ""
        item = payload[2]  # caseReferral / executionEvent (the schema fixed the order)
        with self._lock:
            store = self._referrals if operation == "ReferCase" else self._events
            stored, duplicate = store.get(key), True
            if stored is None:
                duplicate = False
                if operation == "ReportExecutionEvent":
                    self._apply_event(district, item)
                prefix = "REF" if operation == "ReferCase" else "EVT"
                reference = f"{prefix}-{district.removeprefix('sdn-')}-{len(store) + 1:06d}"
                stored = StoredRequest(reference, district, source, etree.tostring(item))
                store[key] = stored
            else:
                self._duplicates += 1
        name = "caseReference" if operation == "ReferCase" else "eventReference"
        response = _element(ns, f"{operation}Response")
        _sub(response, "resultCode", "OK", ns)
        _sub(response, name, stored.reference, ns)
        _sub(response, "duplicate", "true" if duplicate else "false", ns)
        return _envelope(response)

    def _apply_event(self, district: str, event: etree._Element) -> None:
        """Move the decision's state; the caller holds the lock."""
        found = self._decisions.get((district, _core(event, "decisionId")))
        subject = _core(event.find(f"{{{CORE_NS}}}subjectId"), "id")
        if found is None or found[0].identity.canonical != subject:
            raise SoapFault("Client", "unknown_decision", "no such decision for this client")
        self._states[(district, found[1].decision_id)] = _STATE_AFTER[_core(event, "eventKind")]


# -- the contract: WSDL for clients, XSDs for requests -----------------------------------------


class ServiceContract:
    """The contract as the service holds it: the WSDL as one document (types inlined, the
    service's address filled in) and validators of the requests."""

    def __init__(self, wsdl: bytes, schemas: dict[str, etree.XMLSchema]) -> None:
        self.wsdl = wsdl
        self._schemas = schemas
        self._lock = threading.Lock()  # an XMLSchema keeps its error log on the object

    @classmethod
    def load(cls, address: str) -> ServiceContract:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        definitions = etree.parse(str(WSDL_FILE), parser).getroot()
        types = definitions.find(f"{{{_WSDL_NS}}}types")
        assert types is not None
        schemas = {
            str(s.get("targetNamespace")): etree.XMLSchema(s)
            for s in types.iterfind(f"{{{_XS_NS}}}schema")
        }
        single = copy.deepcopy(definitions)
        single_types = single.find(f"{{{_WSDL_NS}}}types")
        assert single_types is not None
        for imported in single_types.iter(f"{{{_XS_NS}}}import"):
            if "schemaLocation" in imported.attrib:
                del imported.attrib["schemaLocation"]
        single_types.insert(0, etree.parse(str(CORE_XSD_FILE), parser).getroot())
        for address_element in single.iter("{http://schemas.xmlsoap.org/wsdl/soap/}address"):
            address_element.set("location", address)
        return cls(etree.tostring(single, xml_declaration=True, encoding="UTF-8"), schemas)

    def validate(self, operation: str, payload: etree._Element, address: etree._Element) -> None:
        """Raise a Client ``SoapFault`` unless the header and the payload match the XSDs."""
        with self._lock:
            try:
                valid = self._schemas[ITR_NS].validate(address) and self._schemas[
                    RESPONDER_NS[operation]
                ].validate(payload)
            except etree.Error:  # XMLSchema.validate can raise as well as answer False
                valid = False
        if not valid:  # the schema's message could quote a value: it stays here
            raise SoapFault("Client", "validation_failed", "the request does not match the XSD")


def _unwrap(envelope: etree._Element) -> tuple[etree._Element, etree._Element]:
    """The body's one payload element and the LogicalAddress header."""
    if envelope.tag != f"{{{SOAP_ENV}}}Envelope":
        raise SoapFault("Client", "not_soap_11", "expected a SOAP 1.1 Envelope")
    body = envelope.find(f"{{{SOAP_ENV}}}Body")
    payloads = [] if body is None else [c for c in body if isinstance(c.tag, str)]
    if len(payloads) != 1:
        raise SoapFault("Client", "malformed_request", "the Body must hold one element")
    address = envelope.find(f"{{{SOAP_ENV}}}Header/{{{ITR_NS}}}LogicalAddress")
    if address is None:
        raise SoapFault("Client", "missing_logical_address", "the LogicalAddress header is missing")
    return payloads[0], address


def _core(parent: etree._Element | None, name: str) -> str:
    text = None if parent is None else parent.findtext(f"{{{CORE_NS}}}{name}")
    return (text or "").strip()


# -- answers ---------------------------------------------------------------------------------

_XML = "text/xml; charset=utf-8"
# An XXE attempt: an external entity naming a local file, and nested entities (billion laughs).
_HOSTILE_DOCTYPE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    "<!DOCTYPE soap:Envelope [\n"
    '  <!ENTITY local SYSTEM "file:///etc/hostname">\n'
    '  <!ENTITY ha "ha"><!ENTITY haha "&ha;&ha;&ha;&ha;&ha;&ha;&ha;&ha;">\n'
    "]>\n"
)


def _hostile(operation: str) -> bytes:
    """A well-formed answer of ``operation``'s shape behind a DOCTYPE declaring entities."""
    ns = RESPONDER_NS[operation]
    fields = ""
    if operation != "GetClientSummary":
        name = "caseReference" if operation == "ReferCase" else "eventReference"
        fields = (
            f"<r:resultCode>OK</r:resultCode><r:{name}>&local;&haha;</r:{name}>"
            "<r:duplicate>false</r:duplicate>"
        )
    return (
        f'{_HOSTILE_DOCTYPE}<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>'
        f'<r:{operation}Response xmlns:r="{ns}">{fields}</r:{operation}Response>'
        "</soap:Body></soap:Envelope>"
    ).encode()


def _element(ns: str, name: str) -> etree._Element:
    return etree.Element(f"{{{ns}}}{name}", nsmap=cast("dict[str, str]", {None: ns}))


def _sub(parent: etree._Element, name: str, text: str | None, ns: str = CORE_NS) -> etree._Element:
    child = etree.SubElement(parent, f"{{{ns}}}{name}")
    child.text = text
    return child


def _envelope(payload: etree._Element) -> bytes:
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV})
    etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body").append(payload)
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def _fault(fault: SoapFault) -> bytes:
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV, "core": CORE_NS})
    element = etree.SubElement(
        etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body"), f"{{{SOAP_ENV}}}Fault"
    )
    etree.SubElement(element, "faultcode").text = f"soap:{fault.side}"
    etree.SubElement(element, "faultstring").text = fault.text
    info = etree.SubElement(etree.SubElement(element, "detail"), f"{{{CORE_NS}}}FaultInfo")
    _sub(info, "errorCode", fault.error_code)
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def _summary(client: SeededClient, states: Mapping[str, str]) -> etree._Element:
    summary = etree.Element(
        f"{{{RESPONDER_NS['GetClientSummary']}}}client", nsmap={"core": CORE_NS}
    )
    _person_id(summary, "subjectId", client.identity)
    _sub(summary, "name", client.name)
    for d in client.decisions:
        decision = _sub(summary, "decision", None)
        _sub(decision, "decisionId", d.decision_id)
        _sub(decision, "law", d.law)
        _code(decision, "service", d.service)
        for intervention in d.interventions:
            _code(decision, "intervention", intervention)
        _sub(decision, "decisionDate", d.decision_date.isoformat())
        _sub(decision, "validFrom", d.valid_from.isoformat())
        if d.valid_to is not None:
            _sub(decision, "validTo", d.valid_to.isoformat())
        if d.granted_hours_per_month is not None:
            _sub(decision, "grantedHoursPerMonth", str(d.granted_hours_per_month))
        _sub(decision, "executionState", states[d.decision_id])
    fee = _sub(summary, "feeBasis", None)
    _sub(fee, "incomePerMonth", f"{client.income_per_month:.2f}")
    _sub(fee, "currency", client.currency)
    _sub(fee, "periodStart", client.fee_period[0].isoformat())
    if client.fee_period[1] is not None:
        _sub(fee, "periodEnd", client.fee_period[1].isoformat())
    provider = _sub(summary, "provider", None)
    _sub(provider, "providerId", client.provider.id)
    _sub(provider, "name", client.provider.name)
    officer = _sub(summary, "caseOfficer", None)
    _sub(officer, "officerId", client.officer[0])
    _sub(officer, "name", client.officer[1])
    return summary


def _person_id(parent: etree._Element, name: str, identity: IdentityNumber) -> None:
    element = _sub(parent, name, None)
    number, oid = person_id_of(identity)
    _sub(element, "id", number)
    _sub(element, "type", oid)


def _code(parent: etree._Element, name: str, code: tuple[str, str]) -> None:
    element = _sub(parent, name, None)
    _sub(element, "code", code[0])
    _sub(element, "displayName", code[1])


def _answer(
    start_response: StartResponse, status: str, content_type: str, data: bytes
) -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(data)))])
    return [data]


def _json(start_response: StartResponse, status: str, payload: object) -> list[bytes]:
    return _answer(start_response, status, "application/json", json.dumps(payload).encode())


def _body(environ: WSGIEnvironment) -> bytes:
    return cast(bytes, environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))


# -- what the case system received, as the hub's documents -------------------------------------

REFERRAL_NS = "urn:omsorgshub:case.referral:1"
EVENT_NS = "urn:omsorgshub:case.execution_event:1"


def referral_document(payload: bytes) -> bytes:
    """The hub ``case.referral`` v1 document a stored ReferCase carried (see ``referrals()``).

    The inverse of the adapter's mapping, serialized as ``hub.fictional`` writes documents and
    with identity numbers in their usual written form, so that tests and the demo can compare
    what the case system received with what the hub sent.
    """
    item = etree.fromstring(payload)
    root = _element(REFERRAL_NS, "CaseReferral")
    for name in ("caseId", "registeredAt", "mainCategory", "caseType", "caseClass"):
        _sub(root, _upper(name), _core(item, name), REFERRAL_NS)
    unit = _child(item, "affectedUnit")
    attributes = {"kind": _core(unit, "kind")}
    if unit.find(f"{{{CORE_NS}}}unitId") is not None:
        attributes["id"] = _core(unit, "unitId")
    etree.SubElement(root, f"{{{REFERRAL_NS}}}AffectedUnit", attributes).text = _core(unit, "name")
    _sub(root, "Urgency", _core(item, "urgency"), REFERRAL_NS)
    callback = item.find(f"{{{CORE_NS}}}callback")
    if callback is not None:
        wish = _sub(root, "Callback", None, REFERRAL_NS)
        _sub(wish, "Phone", _core(callback, "phone"), REFERRAL_NS)
        window = callback.find(f"{{{CORE_NS}}}preferredTime")
        if window is not None:
            times = {"from": _core(window, "from"), "to": _core(window, "to")}
            etree.SubElement(wish, f"{{{REFERRAL_NS}}}PreferredTime", times)
    if item.find(f"{{{CORE_NS}}}language") is not None:
        _sub(root, "Language", _core(item, "language"), REFERRAL_NS)
    _sub(root, "FreeText", item.findtext(f"{{{CORE_NS}}}freeText"), REFERRAL_NS)
    subject = _child(item, "subject")
    person = _sub(root, "DataSubject", None, REFERRAL_NS)
    _identity(person, "IdentityNumber", _child(subject, "subjectId"), REFERRAL_NS)
    _sub(person, "Name", _core(subject, "name"), REFERRAL_NS)
    officer = item.find(f"{{{CORE_NS}}}responsibleOfficer")
    if officer is not None:
        responsible = _sub(root, "ResponsibleOfficer", None, REFERRAL_NS)
        if officer.find(f"{{{CORE_NS}}}officerId") is not None:
            _sub(responsible, "Id", _core(officer, "officerId"), REFERRAL_NS)
        _sub(responsible, "Name", _core(officer, "name"), REFERRAL_NS)
    return etree.tostring(root, encoding="UTF-8")


def execution_event_document(payload: bytes) -> bytes:
    """The hub ``case.execution_event`` v1 document a stored ReportExecutionEvent carried."""
    item = etree.fromstring(payload)
    root = _element(EVENT_NS, "ExecutionEvent")
    _sub(root, "EventId", _core(item, "eventId"), EVENT_NS)
    _sub(root, "DecisionId", _core(item, "decisionId"), EVENT_NS)
    _identity(root, "Subject", _child(item, "subjectId"), EVENT_NS)
    for name in ("law", "eventKind", "eventDate", "decisionDate"):
        _sub(root, _upper(name), _core(item, name), EVENT_NS)
    if item.find(f"{{{CORE_NS}}}note") is not None:
        _sub(root, "Note", item.findtext(f"{{{CORE_NS}}}note"), EVENT_NS)
    return etree.tostring(root, encoding="UTF-8")


def _upper(name: str) -> str:
    return name[0].upper() + name[1:]


def _child(parent: etree._Element, name: str) -> etree._Element:
    child = parent.find(f"{{{CORE_NS}}}{name}")
    if child is None:
        raise ValueError(f"{name} is missing")
    return child


def _identity(parent: etree._Element, name: str, person: etree._Element, ns: str) -> None:
    number, oid = _core(person, "id"), _core(person, "type")
    scheme, split = ("dk", 6) if oid == OID_CPR else ("se", 8)
    element = etree.SubElement(parent, f"{{{ns}}}{name}", {"scheme": scheme})
    element.text = f"{number[:split]}-{number[split:]}"


# -- a small threaded WSGI gateway with keep-alive ---------------------------------------------

_Request: TypeAlias = socket.socket | tuple[bytes, socket.socket]  # as socketserver has it
_App: TypeAlias = Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(
        self, address: tuple[str, int], app: _App, on_connection: Callable[[], None]
    ) -> None:
        self.app = app
        self._on_connection = on_connection
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._open: set[_Request] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # no reverse DNS lookup (getfqdn)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    def process_request(self, request: _Request, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        self._on_connection()
        super().process_request(request, client_address)

    def shutdown_request(self, request: _Request) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def cut_connections(self) -> None:
        with self._open_lock:
            connections = [c for c in self._open if isinstance(c, socket.socket)]
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: _Request, client_address: Any) -> None:
        pass  # a client that hung up (timeout, stop) is normal traffic for a double


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "OmsorgshubCaseManagementDouble/1"
    sys_version = ""
    timeout = 120

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._run()

    def do_POST(self) -> None:
        self._run()

    def _run(self) -> None:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower() or not (
            0 <= length <= MAX_BODY_BYTES
        ):
            self.close_connection = True  # the body cannot be skipped reliably
            self._send("413 Request Entity Too Large", [("Content-Length", "0")], b"")
            return
        body = self.rfile.read(length)
        server, url = cast(_Server, self.server), urlsplit(self.path)
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command, "PATH_INFO": unquote(url.path),
            "QUERY_STRING": url.query, "CONTENT_LENGTH": str(length),
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "SERVER_NAME": server.server_name, "SERVER_PORT": str(server.server_port),
            "SERVER_PROTOCOL": self.request_version, "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
            "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
        }  # fmt: skip
        for name, value in self.headers.items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        started: list[tuple[str, list[tuple[str, str]]]] = []
        written: list[bytes] = []  # what the app passed to WSGI's legacy write()

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None, /
        ) -> Callable[[bytes], object]:
            started.append((status, headers))
            return written.append

        try:
            data = b"".join([*server.app(environ, start_response)])
            data = b"".join(written) + data
        except DropConnection:
            self.close_connection = True
            return
        except Exception:  # a bug in the double: say so the way a server would
            started, data = [("500 Internal Server Error", [("Content-Type", "text/plain")])], b""
        self._send(*started[-1], data)

    def _send(self, status: str, headers: list[tuple[str, str]], data: bytes) -> None:
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        for name, value in headers:
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m adapters.doubles.case_management_double",
        description="Run the case-management SOAP double until SIGTERM or Ctrl-C.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fictional clients")
    parser.add_argument("--token", default=None, help="require this bearer token")
    args = parser.parse_args(argv)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    double = CaseManagementDouble(args.host, args.port, seed=args.seed, token=args.token)
    double.start()
    print(double.url, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        double.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
