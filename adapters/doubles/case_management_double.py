"""A local double of a municipal case-management system (Paraplyet, Lifecare, Procapita).

It speaks the hub's SOAP contract ``schemas/wsdl/case-management-1.wsdl`` (SOAP 1.1,
document/literal, RIVTA manner) as a small WSGI application, :meth:`CaseManagementDouble.app`,
served by the doubles' threaded HTTP/1.1 server with keep-alive (``wsgi_server``) on 127.0.0.1
(port 0 picks a free one), or in its own process with ``python -m
adapters.doubles.case_management_double --port N``, which prints the service URL on one line.
No SOAP library on this side (spyne breaks on Python 3.12+): requests are parsed with the hub's
hardened parser (``schemas.parser``: no DTD, no entities, size and depth limits) and validated
against the contract's own XSDs; answers are built with lxml (``case_management_soap``).

Endpoints: ``POST /case-management/1`` (the service), ``GET /case-management/1?wsdl`` (the WSDL
as one document, types inlined, ``soap:address`` pointing here), ``GET /_stats``,
``POST /_control`` (``{"mode": ..., "delay": s, "times": n}``), ``POST /_case/protected`` and
``POST /_reset``.

Behaviour: the ``LogicalAddress`` header names the district; an unknown one is a Client fault.
Each district has seeded fictional clients (``case_management_seed.seed_clients``, made with
``hub.demo.fictional``) with decisions, fee basis, provider and case officer, and two more whose
identity is protected (``seed_protected_clients``, listed in ``protected``: one with skyddad
folkbokföring, one with sekretessmarkering), answered with ``protectedIdentity``.
``GetClientSummary`` answers without a ``client`` element for a person the district has no
case for. ``GetProtectedClients`` answers every person the district marks now; tests mark and
lift marks at run time with :meth:`CaseManagementDouble.mark` (any person, a client or not) and
:meth:`~CaseManagementDouble.unmark`, or ``POST /_case/protected`` with ``{"district": ...,
"identity": "YYYYMMDD-NNNC", "scheme": "se", "kind": ... or null}``; ``reset`` restores the
seeded marks. ``ReferCase`` and ``ReportExecutionEvent`` are stored once per ``idempotencyKey``;
a repeat answers the first reference with ``duplicate=true``. An execution event must name a
decision of that client in that district (else Client fault ``unknown_decision``) and moves
the decision's execution state. An invalid request is a Client fault ``validation_failed``.

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

import hmac
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from http import HTTPStatus
from typing import Literal, get_args
from wsgiref.types import StartResponse, WSGIEnvironment

from lxml import etree

from adapters.doubles.case_management_seed import (
    DISTRICTS,
    PROTECTION_KINDS,
    SeededClient,
    SeededDecision,
    person_id_of,
    seed_clients,
    seed_protected_clients,
)
from adapters.doubles.case_management_soap import (
    CORE_NS,
    RESPONDER_NS,
    ServiceContract,
    SoapFault,
    core_text,
    fault_response,
    hostile_response,
    protected_clients_response,
    referral_document,
    stored_response,
    summary_response,
    unwrap,
)
from adapters.doubles.wsgi_server import (
    DropConnection,
    ServedDouble,
    answer,
    argument_parser,
    json_answer,
    request_body,
    run_until_signalled,
)
from hub.errors import InvalidIdentityNumber
from hub.ingest.identity import IdentityNumber, parse_identity
from schemas.errors import SchemaError
from schemas.parser import ParseLimits, parse_xml

__all__ = [
    "DISTRICTS",
    "MODES",
    "SERVICE_PATH",
    "CaseManagementDouble",
    "DropConnection",
    "Mode",
    "SeededClient",
    "SeededDecision",
    "StoredRequest",
    "main",
    "person_id_of",
    "seed_clients",
]

Mode = Literal["up", "down", "unavailable", "slow", "fault", "reject", "hostile"]
MODES: tuple[str, ...] = get_args(Mode)
SERVICE_PATH = "/case-management/1"
MAX_BODY_BYTES = 1024 * 1024
_LIMITS = ParseLimits(max_bytes=MAX_BODY_BYTES, max_depth=32)
_XML = "text/xml; charset=utf-8"
# What an execution event makes of the decision's execution state.
_STATE_AFTER = {
    "executed": "executed",
    "interrupted": "interrupted",
    "resumed": "executed",
    "closed": "closed",
}


@dataclass(frozen=True)
class StoredRequest:
    """One accepted ReferCase or ReportExecutionEvent, as the case system keeps it."""

    reference: str
    logical_address: str
    source_system: str
    payload: bytes  # the caseReferral / executionEvent element, serialized


class CaseManagementDouble(ServedDouble):
    """The case-management service on ``host:port``; see the module docstring."""

    modes = MODES
    counters = ("duplicates", "faults", "wsdl_requests")
    path = SERVICE_PATH  # the service endpoint
    software = "OmsorgshubCaseManagementDouble/1"
    max_body_bytes = MAX_BODY_BYTES

    _operations: dict[str, int]
    _referrals: dict[str, StoredRequest]
    _events: dict[str, StoredRequest]
    _states: dict[tuple[str, str], str]
    _marks: dict[tuple[str, str], tuple[IdentityNumber, str]]  # (district, number) -> kind

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
        self._token = token
        self.seeded = seed_clients(seed, districts, clients_per_district)
        self.protected = seed_protected_clients(seed, districts, clients_per_district)
        everyone = [*self.seeded, *self.protected]
        self._districts = frozenset(districts)
        self._clients = {(c.district, c.identity.canonical): c for c in everyone}
        self._decisions = {
            (c.district, d.decision_id): (c, d) for c in everyone for d in c.decisions
        }
        self._contract: ServiceContract | None = None
        super().__init__(host, port)

    def _started(self) -> None:
        self._contract = ServiceContract.load(self.url)

    @property
    def wsdl_url(self) -> str:
        return self.url + "?wsdl"

    # -- observation --------------------------------------------------------------------------

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

    # -- test controls: protected identity ------------------------------------------------------

    def mark(self, district: str, identity: IdentityNumber, kind: str) -> None:
        """The district marks the person (``protected_registration`` or
        ``confidentiality_marking``) from now on: in its list and in the person's summary."""
        if district not in self._districts:
            raise ValueError(f"unknown district {district!r}")
        if kind not in PROTECTION_KINDS:
            raise ValueError(f"kind must be one of {', '.join(PROTECTION_KINDS)}, not {kind!r}")
        with self._lock:
            self._marks[(district, identity.canonical)] = (identity, kind)

    def unmark(self, district: str, identity: IdentityNumber) -> None:
        """The district lifts the person's mark (nothing happens if there is none)."""
        with self._lock:
            self._marks.pop((district, identity.canonical), None)

    def marked(self, district: str) -> dict[str, str]:
        """The persons the district marks now: canonical number -> kind."""
        with self._lock:
            return {n: kind for (d, n), (_, kind) in self._marks.items() if d == district}

    def _observations(self) -> dict[str, object]:
        return {
            "operations": dict(self._operations),
            "referrals": len(self._referrals),
            "events": len(self._events),
        }

    def _forget(self) -> None:
        """Forget stored requests and execution-state changes."""
        self._operations, self._referrals, self._events = {}, {}, {}
        self._states = {key: d.execution_state for key, (_, d) in self._decisions.items()}
        self._marks = {
            key: (c.identity, c.protected_identity)
            for key, c in self._clients.items()
            if c.protected_identity is not None
        }

    # -- the WSGI application -----------------------------------------------------------------

    def app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        control = self._control_endpoints(environ, start_response)
        if control is not None:
            return control
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        if (method, path) == ("POST", "/_case/protected"):
            return self._protected_control(environ, start_response)
        if method == "GET" and path == SERVICE_PATH and environ.get("QUERY_STRING") == "wsdl":
            self._count("wsdl_requests")
            assert self._contract is not None
            return answer(start_response, HTTPStatus.OK, _XML, self._contract.wsdl)
        if path != SERVICE_PATH:
            return json_answer(start_response, HTTPStatus.NOT_FOUND, {"error": "not found"})
        if method != "POST":
            return json_answer(start_response, HTTPStatus.METHOD_NOT_ALLOWED, {"error": "use POST"})
        return self._service(environ, start_response)

    def _service(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        body = request_body(environ)
        mode = self._meet_mode()
        if mode == "unavailable":
            return answer(start_response, HTTPStatus.SERVICE_UNAVAILABLE, "text/plain", b"")
        if self._token is not None and not hmac.compare_digest(
            environ.get("HTTP_AUTHORIZATION", "").encode(), f"Bearer {self._token}".encode()
        ):
            return answer(start_response, HTTPStatus.UNAUTHORIZED, "text/plain", b"")
        try:
            data = self._handle(body, environ.get("HTTP_SOAPACTION", ""), mode)
        except SoapFault as fault:
            self._count("faults")
            status = HTTPStatus.INTERNAL_SERVER_ERROR
            return answer(start_response, status, _XML, fault_response(fault))
        return answer(start_response, HTTPStatus.OK, _XML, data)

    def _handle(self, body: bytes, soap_action: str, mode: str) -> bytes:
        assert self._contract is not None
        try:
            envelope = parse_xml(body, _LIMITS)
        except SchemaError as exc:
            raise SoapFault("Client", "malformed_request", f"not accepted: {exc.reason}") from None
        payload, logical_address = unwrap(envelope)
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
            return hostile_response(operation)
        district = logical_address.text or ""
        if district not in self._districts:
            raise SoapFault("Client", "unknown_logical_address", "no such logical address")
        if operation == "GetClientSummary":
            return self._client_summary(district, payload)
        if operation == "GetProtectedClients":
            with self._lock:
                marked = [m for (d, _), m in sorted(self._marks.items()) if d == district]
            return protected_clients_response(marked)
        return self._store(operation, district, payload)

    def _client_summary(self, district: str, payload: etree._Element) -> bytes:
        subject = payload.find(f"{{{RESPONDER_NS['GetClientSummary']}}}subjectId")
        key = (district, core_text(subject, "id"))
        client = self._clients.get(key)
        states: dict[str, str] = {}
        if client is not None:
            with self._lock:
                states = {
                    d.decision_id: self._states[(district, d.decision_id)] for d in client.decisions
                }
                mark = self._marks.get(key)
            client = replace(client, protected_identity=None if mark is None else mark[1])
        return summary_response(client, states)

    def _protected_control(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        """``POST /_case/protected``: mark a person (``kind``) or lift the mark (``null``)."""
        try:
            command = json.loads(request_body(environ))
            if not isinstance(command, dict) or set(command) - {
                "district",
                "identity",
                "scheme",
                "kind",
            }:
                raise ValueError("expected {district, identity, scheme, kind}")
            district, kind = str(command.get("district")), command.get("kind")
            identity = parse_identity(
                str(command.get("identity")), str(command.get("scheme", "se"))
            )
            if kind is None:
                self.unmark(district, identity)
            else:
                self.mark(district, identity, str(kind))
        except (ValueError, InvalidIdentityNumber) as exc:
            return json_answer(start_response, HTTPStatus.BAD_REQUEST, {"error": str(exc)})
        return json_answer(start_response, HTTPStatus.OK, {"marked": len(self.marked(district))})

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
                self._counts["duplicates"] += 1
        return stored_response(operation, stored.reference, duplicate)

    def _apply_event(self, district: str, event: etree._Element) -> None:
        """Move the decision's state; the caller holds the lock."""
        found = self._decisions.get((district, core_text(event, "decisionId")))
        subject = core_text(event.find(f"{{{CORE_NS}}}subjectId"), "id")
        if found is None or found[0].identity.canonical != subject:
            raise SoapFault("Client", "unknown_decision", "no such decision for this client")
        self._states[(district, found[1].decision_id)] = _STATE_AFTER[core_text(event, "eventKind")]


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(
        "adapters.doubles.case_management_double",
        "Run the case-management SOAP double until SIGTERM or Ctrl-C.",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the fictional clients")
    parser.add_argument("--token", default=None, help="require this bearer token")
    args = parser.parse_args(argv)
    double = CaseManagementDouble(args.host, args.port, seed=args.seed, token=args.token)
    return run_until_signalled(double)


if __name__ == "__main__":
    raise SystemExit(main())
