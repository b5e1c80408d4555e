"""``serve`` with ``delivery_process = true``: the API and ingest in the serving process, the
relay and delivery threads in a child process on the same SQLite database.

What it proves, with real processes: messages accepted over HTTP are delivered by the child
(not by the serving process); a child that dies is started again and delivers what came
meanwhile; when the serving process is killed outright, the child sees its lifeline close and
exits on its own (no orphan delivering for a hub that is gone); and the audit trail, written by
both processes, verifies.
"""

from __future__ import annotations

import os
import random
import re
import signal
from pathlib import Path

import httpx

from adapters.doubles.http_double import HttpDouble
from hub.demo.fictional import FictionalPeople, referral_envelope
from tests.e2e.crash_setup import DISTRICT, referral_hub
from tests.e2e.processes import Process, Processes, free_port, hub_command, run

SETTINGS = {
    "delivery_process": "true",
    "relay_interval": "60",  # long: a delivery within it shows the serving process woke the child
    "log_level": "INFO",
}
STARTED = re.compile(r"delivery process (\d+) started")


def _envelopes(first: int, count: int) -> list[bytes]:
    rng = random.Random(first)
    people = FictionalPeople(seed=11).take(first + count)[first:]
    return [
        referral_envelope(person, DISTRICT, rng, message_id=f"E2E-DP-{first + i:04d}")
        for i, person in enumerate(people)
    ]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by its parent) is not alive
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _children(serve: Process) -> list[int]:
    return [int(pid) for pid in STARTED.findall(serve.log.read_text(errors="replace"))]


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _send(url: str, token: str, bodies: list[bytes]) -> None:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/xml"}
    with httpx.Client(base_url=url, timeout=30) as client:
        for body in bodies:
            response = client.post("/api/v1/messages", content=body, headers=headers)
            assert response.status_code == 202, response.text


def test_a_child_process_delivers_is_restarted_and_ends_with_the_hub(
    home: Path, procs: Processes, double: HttpDouble
) -> None:
    token, env = referral_hub(home, SETTINGS, double.url)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve = procs.start("serve", hub_command("serve", "--port", str(port)), env)
    procs.wait_for("serve to be ready", lambda: _ready(url), timeout=60, watch=[serve])
    (child,) = _children(serve)
    assert child != serve.pid

    _send(url, token, _envelopes(0, 1))  # delivered by the child's first pass, once it is up
    procs.wait_for("the child's first delivery", lambda: double.unique == 1, timeout=60)
    _send(url, token, _envelopes(1, 9))  # now only a wake-up gets these out within a minute
    procs.wait_for("10 deliveries", lambda: double.unique == 10, timeout=30, watch=[serve])

    os.kill(child, signal.SIGKILL)  # the child dies: the serving process starts another
    procs.wait_for("a new delivery process", lambda: len(_children(serve)) == 2, timeout=30)
    assert "ended (exit code -9); starting it again" in serve.log.read_text()
    _send(url, token, _envelopes(10, 10))  # accepted while the new child may still be starting
    procs.wait_for("20 deliveries", lambda: double.unique == 20, timeout=60, watch=[serve])
    replacement = _children(serve)[1]
    assert _alive(replacement)

    os.kill(serve.pid, signal.SIGKILL)  # the serving process only: its child must notice
    serve.popen.wait(timeout=10)
    procs.wait_for("the orphaned child to exit", lambda: not _alive(replacement), timeout=30)

    assert double.stats()["unique"] == 20
    verified = run(hub_command("audit", "verify"), env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
