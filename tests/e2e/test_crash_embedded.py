"""Embedded mode, whole processes: ``omsorgshub serve`` is SIGKILLed mid-delivery and restarted.

What it proves: the database is the record. Messages accepted over HTTP (202) survive a hard
kill of the only hub process while deliveries are in flight; the restarted process's sweeper
hands out the in-flight deliveries whose lease ran out, and every accepted message reaches the
destination exactly once in effect (the destination de-duplicates on the ``Idempotency-Key``,
the delivery id). Repeats on the wire are allowed (at-least-once) and reported. The audit trail
still verifies after the crash (``omsorgshub audit verify`` exits 0).
"""

from __future__ import annotations

import random
import signal
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx
from sqlalchemy import Engine, select

from adapters.doubles.http_double import HttpDouble
from hub.demo.fictional import FictionalPeople, referral_envelope
from hub.storage.tables import deliveries
from tests.e2e.crash_setup import DISTRICT, referral_hub
from tests.e2e.processes import (
    Processes,
    free_port,
    hub_command,
    in_progress,
    run,
)

MESSAGES = 60
SLOW_SECONDS = 0.5  # per delivery request before the kill: two delivery threads, ~4 per second

# Short lease so the restarted hub re-offers the orphaned deliveries within seconds; small
# batches so one batch finishes well inside its lease.
SETTINGS = {
    "lease_seconds": "2",
    "workers": "2",
    "relay_batch": "2",
    "relay_interval": "0.2",
    "retry_base_seconds": "0.1",
    "retry_cap_seconds": "1",
    "log_level": "INFO",
}


def _envelopes(count: int) -> list[bytes]:
    rng = random.Random(7)
    return [
        referral_envelope(person, DISTRICT, rng, message_id=f"E2E-CRASH-{i:04d}")
        for i, person in enumerate(FictionalPeople(seed=7).take(count))
    ]


def _states(database: Engine, ids: Sequence[str]) -> Counter[str]:
    with database.connect() as conn:
        rows = conn.execute(select(deliveries.c.state).where(deliveries.c.id.in_(list(ids))))
        return Counter(rows.scalars())


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_sigkill_mid_delivery_loses_nothing_and_delivers_each_once_in_effect(
    home: Path,
    database: Engine,
    procs: Processes,
    double: HttpDouble,
    record_property: Callable[[str, object], None],
) -> None:
    token, env = referral_hub(home, SETTINGS, double.url)

    double.set_mode("slow", delay=SLOW_SECONDS)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    first = procs.start("serve-1", hub_command("serve", "--port", str(port)), env)
    procs.wait_for("serve-1 to be ready", lambda: _ready(url), timeout=30, watch=[first])

    accepted: list[str] = []
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/xml"}
    with httpx.Client(base_url=url, timeout=30) as client:
        for body in _envelopes(MESSAGES):
            response = client.post("/api/v1/messages", content=body, headers=headers)
            assert response.status_code == 202, response.text
            accepted += [d["id"] for d in response.json()["deliveries"]]
    assert len(accepted) == MESSAGES  # one destination per referral

    procs.wait_for(
        "some deliveries done and another one on the wire",
        lambda: double.unique >= 6 and in_progress(double) > 0,
        timeout=30,
        watch=[first],
    )
    first.kill()
    orphans = in_progress(double)  # reached the destination, never recorded by the hub
    seen_at_kill = double.unique
    states_at_kill = _states(database, accepted)
    assert seen_at_kill < MESSAGES, "everything was delivered before the kill: nothing proven"
    assert states_at_kill["in_flight"] > 0, states_at_kill
    assert states_at_kill["delivered"] < MESSAGES, states_at_kill

    double.set_mode("up")
    second = procs.start("serve-2", hub_command("serve", "--port", str(port)), env)
    procs.wait_for(
        "every accepted delivery to be delivered after the restart",
        lambda: _states(database, accepted)["delivered"] == MESSAGES,
        timeout=40,
        watch=[second],
    )

    final = _states(database, accepted)
    stats = double.stats()
    assert final == Counter({"delivered": MESSAGES}), final
    assert stats["unique"] == MESSAGES, stats  # nothing lost, each stored once
    assert set(double.documents()) == set(accepted)  # exactly the accepted deliveries
    # Requests cut off by the kill are sent again: at least once to the wire, once in effect.
    duplicates = stats["duplicates"]
    assert double.duplicates >= orphans, stats
    record_property("wire_duplicates", duplicates)
    print(
        f"at the kill the destination had {seen_at_kill} of {MESSAGES} ({orphans} more on the "
        f"wire), the database {dict(states_at_kill)}; repeats on the wire: {duplicates}"
    )

    second.stop()  # SIGTERM: uvicorn shuts down cleanly, then re-raises the signal
    assert second.popen.returncode in (0, -signal.SIGTERM), second.tail()
    verified = run(hub_command("audit", "verify"), env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "the audit trail verifies" in verified.stdout
