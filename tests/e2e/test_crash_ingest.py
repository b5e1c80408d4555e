"""Embedded mode, whole processes: ``omsorgshub serve`` is SIGKILLed again and again *while
clients are sending*, so the kills land in ingest and in group commit, where "202 means stored"
is decided.

What it proves: every message answered 202 is in the database after the restart, complete
(its deliveries and its ``received`` audit entry) and ends delivered, each once in effect at the
destination. A request the kill cut off (no answer) may be stored or not, but never half: any
message in the database has its deliveries and its audit entry and is delivered too. The audit
trail verifies afterwards.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import Engine, func, select

from adapters.doubles.http_double import HttpDouble
from audit.tables import audit_entries
from hub.demo.fictional import FictionalPeople, referral_envelope
from hub.storage.tables import deliveries, messages
from tests.e2e.crash_setup import DISTRICT, referral_hub
from tests.e2e.processes import Process, Processes, free_port, hub_command, run

CLIENTS = 4
KILLS = 4
ACKS_BETWEEN_KILLS = 15  # 202s each serve gives before it is killed mid-stream
SETTINGS = {
    "lease_seconds": "2",
    "workers": "2",
    "relay_interval": "0.2",
    "retry_base_seconds": "0.1",
    "retry_cap_seconds": "1",
}


@dataclass
class Stream:
    """What the clients saw: 202s (sender's message id → delivery ids), cut-off requests, and
    anything else (which fails the test)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    accepted: dict[str, list[str]] = field(default_factory=dict)
    cut_off: list[str] = field(default_factory=list)
    other: list[tuple[str, int, str]] = field(default_factory=list)
    hub_up: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)

    def acks(self) -> int:
        with self.lock:
            return len(self.accepted)

    def more_acks(self, count: int) -> Callable[[], bool]:
        """A condition: ``count`` more 202s than now."""
        target = self.acks() + count
        return lambda: self.acks() >= target


def _client(stream: Stream, url: str, token: str, number: int) -> None:
    rng = random.Random(number)
    people = FictionalPeople(seed=100 + number).take(40)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/xml"}
    with httpx.Client(base_url=url, timeout=15) as client:
        sent = 0
        while not stream.stop.is_set():
            if not stream.hub_up.wait(timeout=0.1):
                continue
            message_id = f"E2E-INGEST-{number}-{sent:05d}"
            body = referral_envelope(
                people[sent % len(people)], DISTRICT, rng, message_id=message_id
            )
            sent += 1
            try:
                response = client.post("/api/v1/messages", content=body, headers=headers)
            except httpx.TransportError:
                with stream.lock:
                    stream.cut_off.append(message_id)
                continue
            with stream.lock:
                if response.status_code == 202:
                    stream.accepted[message_id] = [d["id"] for d in response.json()["deliveries"]]
                else:
                    stream.other.append((message_id, response.status_code, response.text[:200]))


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _stored(database: Engine) -> dict[str, str]:
    """The sender's message id → the hub's message id, for every stored message."""
    with database.connect() as conn:
        rows = conn.execute(select(messages.c.idempotency_key, messages.c.id)).all()
    return {row.idempotency_key: row.id for row in rows}


def _delivery_states(database: Engine) -> dict[str, str]:
    with database.connect() as conn:
        rows = conn.execute(select(deliveries.c.id, deliveries.c.state)).all()
    return {row.id: row.state for row in rows}


def _received_entries(database: Engine) -> Counter[str]:
    with database.connect() as conn:
        rows = conn.execute(
            select(audit_entries.c.message_id, func.count())
            .where(audit_entries.c.action == "received")
            .group_by(audit_entries.c.message_id)
        ).all()
    return Counter({row[0]: int(row[1]) for row in rows})


def test_sigkill_during_ingest_and_group_commit_loses_no_acknowledged_message(
    home: Path, database: Engine, procs: Processes, double: HttpDouble
) -> None:
    token, env = referral_hub(home, SETTINGS, double.url)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    stream = Stream()
    clients = [
        threading.Thread(target=_client, args=(stream, url, token, n), daemon=True)
        for n in range(CLIENTS)
    ]
    for thread in clients:
        thread.start()

    def serve(n: int) -> Process:
        process = procs.start(f"serve-{n}", hub_command("serve", "--port", str(port)), env)
        procs.wait_for(f"serve-{n} to be ready", lambda: _ready(url), timeout=30, watch=[process])
        stream.hub_up.set()
        return process

    try:
        for n in range(KILLS):
            process = serve(n)
            procs.wait_for(
                f"{ACKS_BETWEEN_KILLS} more 202s from serve-{n}",
                stream.more_acks(ACKS_BETWEEN_KILLS),
                timeout=60,
                watch=[process],
            )
            process.kill()  # mid-stream: requests are being parsed, batched and committed
            stream.hub_up.clear()
        last = serve(KILLS)
        procs.wait_for(
            "202s after the last restart", stream.more_acks(ACKS_BETWEEN_KILLS), timeout=60
        )
    finally:
        stream.stop.set()
        for thread in clients:
            thread.join(timeout=30)

    assert not stream.other, stream.other[:5]  # a 5xx or a refusal is not a crash's answer
    assert stream.cut_off, "no request was cut off by a kill: the kills proved nothing"
    accepted = dict(stream.accepted)
    acknowledged_deliveries = {d for ids in accepted.values() for d in ids}

    # Every 202 is stored; a cut-off request may be stored or not.
    stored = _stored(database)
    lost = sorted(set(accepted) - set(stored))
    assert not lost, f"{len(lost)} messages answered 202 are not stored: {lost[:5]}"
    assert set(stored) <= set(accepted) | set(stream.cut_off)

    # Nothing half-stored, and everything stored ends delivered, once in effect.
    procs.wait_for(
        "every stored delivery to be delivered",
        lambda: set(_delivery_states(database).values()) == {"delivered"},
        timeout=60,
        watch=[last],
    )
    states = _delivery_states(database)
    assert acknowledged_deliveries <= set(states)
    assert len(states) == len(stored)  # one destination: one delivery per message, none alone
    received = _received_entries(database)
    assert all(received[hub_id] == 1 for hub_id in stored.values()), received
    stats = double.stats()
    assert set(double.documents()) == set(states), stats
    assert stats["unique"] == len(stored), stats

    print(
        f"{KILLS} kills while {CLIENTS} clients sent: {len(accepted)} answered 202 (all stored), "
        f"{len(stream.cut_off)} cut off ({len(set(stream.cut_off) & set(stored))} of them "
        f"stored), repeats on the wire: {stats['duplicates']}"
    )
    last.stop()
    verified = run(hub_command("audit", "verify"), env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
