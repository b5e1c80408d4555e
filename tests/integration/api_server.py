"""A whole hub behind its real HTTP API, for the API integration tests.

``running_api(home, database_url)`` builds a hub from a ``Sandbox`` on the given database, with
one real ``HttpDouble`` as every destination, the demo's agreements, and three registered
systems (the contact centre, the time-reporting app and a system with no agreement at all),
then serves ``create_app(hub)`` with uvicorn in a thread on a free 127.0.0.1 port. Delivery is
*not* started: a test calls ``ApiServer.start_delivery()`` when it wants the relay running, so
the state of a message before delivery can be observed without a race.

The builders make fictional envelopes (``hub.demo.fictional``) and small variations of them.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from lxml import etree
from sqlalchemy import func, select

from adapters.doubles.http_double import HttpDouble
from audit.entry import AuditAction, AuditEntry
from audit.search import AuditQuery, search
from hub.api.app import create_app
from hub.bootstrap import Hub
from hub.demo.fictional import FictionalPeople, FictionalPerson, build_envelope, referral_body
from hub.demo.sandbox import DestinationSpec, Sandbox
from hub.demo.scenario import CONTACT_CENTRE, DISTRICTS, TIME_APP, demo_agreements, free_port
from hub.ingest.identity import IdentityNumber
from hub.services.agreements import add_agreements, register_system
from hub.storage.tables import messages

PROBLEM = "application/problem+json"
API = "/api/v1/messages"
OUTSIDER = "okand-app"  # registered, but named in no agreement
SODERMALM = DISTRICTS[0]
UNAGREED_DISTRICT = "sdn-bromma"  # routed, but no agreement of the district exists
UNROUTED_DISTRICT = "sdn-okanda"  # no route at all
REFERRAL_AGREEMENT = "PUB-SODERMALM-REFERRALS"
# Fast retries so that a test that waits for a delivery never waits for a backoff.
RETRY = {"base_seconds": 0.1, "cap_seconds": 0.5, "max_attempts": 20}
DEADLINE_SECONDS = 20.0


@dataclass
class ServerThread:
    """uvicorn serving one ASGI app on 127.0.0.1 in a daemon thread."""

    server: uvicorn.Server
    thread: threading.Thread
    url: str

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        if self.thread.is_alive():
            raise RuntimeError("the API server did not stop within 15 s")


def serve(hub: Hub) -> ServerThread:
    port = free_port()
    config = uvicorn.Config(
        create_app(hub),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"api-{port}", daemon=True)
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive(), "the API server to start", 15)
    if not server.started:
        raise RuntimeError("the API server exited while starting")
    return ServerThread(server, thread, f"http://127.0.0.1:{port}")


@dataclass
class ApiServer:
    hub: Hub
    url: str
    double: HttpDouble
    tokens: dict[str, str]
    _started: bool = field(default=False, repr=False)

    def client(self, system: str | None = CONTACT_CENTRE, timeout: float = 30) -> httpx.Client:
        """A client of the API, authenticated as ``system`` (``None``: no Authorization)."""
        headers = {"Authorization": f"Bearer {self.tokens[system]}"} if system else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout, trust_env=False)

    def post(
        self,
        body: bytes,
        system: str | None = CONTACT_CENTRE,
        content_type: str = "application/xml",
        timeout: float = 30,
    ) -> httpx.Response:
        with self.client(system, timeout) as client:
            return client.post(API, content=body, headers={"Content-Type": content_type})

    def start_delivery(self) -> None:
        if not self._started:
            self.hub.start()
            self._started = True

    def message_count(self, idempotency_key: str | None = None) -> int:
        query = select(func.count()).select_from(messages)
        if idempotency_key is not None:
            query = query.where(messages.c.idempotency_key == idempotency_key)
        with self.hub.reader.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def audit(self, action: AuditAction, **filters: Any) -> list[AuditEntry]:
        with self.hub.reader.connect() as conn:
            return search(conn, AuditQuery(action=action, **filters))

    def subject_ref(self, person: FictionalPerson) -> str:
        return self.hub.guards.hmacs.subject_ref(person.identity.canonical)


RouteRows = list[tuple[str, str, list[str]]]


def routes(double: HttpDouble) -> tuple[dict[str, DestinationSpec], RouteRows]:
    """Every district's case system and the time-report receiver are the same double."""
    districts = (*DISTRICTS, UNAGREED_DISTRICT)
    names = {d: f"case-{d.removeprefix('sdn-')}" for d in districts}
    spec = DestinationSpec("http", {"url": double.url, "timeout": 2}, RETRY)
    destinations = {name: spec for name in [*names.values(), "combine-timereports"]}
    table = [("case.referral", d, [names[d]]) for d in districts]
    table.append(("timereport.visit", "*", ["combine-timereports"]))
    return destinations, table


@contextmanager
def running_api(
    home: Path, database_url: str, overrides: Mapping[str, str] | None = None
) -> Iterator[ApiServer]:
    double = HttpDouble()
    double.start()
    hub: Hub | None = None
    server: ServerThread | None = None
    try:
        sandbox = Sandbox(home, database_url=database_url, overrides=dict(overrides or {}))
        sandbox.write_routes(*routes(double))
        hub = sandbox.open()
        tokens = {
            name: register_system(hub, name, "API integration test (fictional)", actor="test")
            for name in (CONTACT_CENTRE, TIME_APP, OUTSIDER)
        }
        add_agreements(hub, demo_agreements(hub.clock()), actor="test")
        server = serve(hub)
        yield ApiServer(hub, server.url, double, tokens)
    finally:
        if server is not None:
            server.stop()
        if hub is not None:
            hub.close()
        double.stop()


# -- waiting ----------------------------------------------------------------------------------


def wait_until(condition: Callable[[], bool], what: str, seconds: float = DEADLINE_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:g} s waiting for {what}")
        time.sleep(0.02)


# -- documents --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    body: bytes
    person: FictionalPerson


class Referrals:
    """Fictional case referrals, reproducible from the seed; one new person per document."""

    def __init__(self, seed: int = 7) -> None:
        self._people = iter(FictionalPeople(seed, kind="personnummer"))
        self._rng = random.Random(seed)

    def person(self) -> FictionalPerson:
        return next(self._people)

    def make(
        self,
        *,
        district: str = SODERMALM,
        purpose: str = "referral",
        message_type: str = "case.referral",
        message_id: str | None = None,
        person: FictionalPerson | None = None,
        identity_number: str | None = None,
    ) -> Document:
        """A referral envelope, pretty-printed (one element per line, so lines mean something).

        ``identity_number`` replaces the person's number in the header and the body."""
        person = person or self.person()
        body = referral_body(person, district, self._rng)
        number = person.identity.formatted()
        if identity_number is not None:
            body = body.replace(number.encode(), identity_number.encode())
            number = identity_number
        envelope = build_envelope(
            message_type=message_type,
            version="1",
            district=district,
            purpose=purpose,
            body=body,
            message_id=message_id,
            subjects=((person.identity.scheme, number),),
        )
        return Document(pretty(envelope), person)


def pretty(document: bytes) -> bytes:
    root = etree.fromstring(document)
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True, pretty_print=True)


def with_element_text(document: bytes, local_name: str, text: str) -> bytes:
    """The document with the text of its first element named ``local_name`` replaced."""
    root = etree.fromstring(document)
    found = root.xpath(f"//*[local-name() = '{local_name}']")
    assert isinstance(found, list)
    assert found
    assert isinstance(found[0], etree._Element)
    found[0].text = text
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True)


def line_of(document: bytes, needle: bytes) -> int:
    """1-based line of the first occurrence of ``needle``."""
    at = document.index(needle)
    return document.count(b"\n", 0, at) + 1


def wrong_check_digit(identity: IdentityNumber) -> str:
    """The person's formatted number with its last (Luhn) digit changed."""
    number = identity.formatted()
    last = int(number[-1])
    return number[:-1] + str((last + 1) % 10)


def problem_of(response: httpx.Response, status: int, reason: str) -> dict[str, Any]:
    """Assert an RFC 7807 answer with this status and reason; return its body."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["reason"] == reason, body
    assert body["status"] == status
    assert body["type"] == f"urn:omsorgshub:problem:{reason}"
    return body
