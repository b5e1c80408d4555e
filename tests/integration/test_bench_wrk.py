"""The benchmark's wrk load (bench/wrk_load.py, bench/wrk_schedule.lua) against a small server.

The instrument behind ``open-loop`` must send every envelope exactly once, at its scheduled
time, and pair each answer with its envelope: a lost or doubled send would inflate or deflate
every figure measured with it (wrk calls ``request()`` once before the run to check it, which
once cost the first envelope). Needs ``wrk`` (``.ci/run`` installs it).
"""

from __future__ import annotations

import itertools
import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench import wrk_load


class _Echo(BaseHTTPRequestHandler):
    """202 with the body as the id, as the hub answers with the stored message's id."""

    protocol_version = "HTTP/1.1"
    seen: list[str]
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        with self.lock:
            self.seen.append(body)
        status = 202 if self.headers.get("Authorization") == "Bearer secret-token" else 401
        out = json.dumps({"id": body}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def echo() -> Iterator[tuple[str, list[str]]]:
    if shutil.which("wrk") is None:
        pytest.skip(wrk_load.MISSING)
    seen: list[str] = []
    handler = type("Echo", (_Echo,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_every_envelope_once_at_its_scheduled_time(
    echo: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, seen = echo
    docs = [f"envelope-{i:03d}".encode() for i in range(60)]
    offered = wrk_load.offer(url, "secret-token", docs, 200.0, 8, tmp_path, timeout=60)

    assert sorted(seen) == sorted(d.decode() for d in docs)  # each sent once, none twice
    assert [a.index for a in offered.answers] == list(range(60))
    assert all(a.status == 202 for a in offered.answers)
    assert [a.message_id for a in offered.answers] == [d.decode() for d in docs]
    starts = [a.scheduled for a in offered.answers]
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert all(abs(g - 1 / 200) < 1e-4 for g in gaps)  # message i at t0 + i / rate
    assert all(a.sent >= a.scheduled - 0.001 for a in offered.answers)  # not early (ms timers)
    assert all(a.answered >= a.sent for a in offered.answers)
    assert offered.connections == 8
    assert offered.cpu_seconds >= 0


def test_closed_loop_and_refusals_are_reported(echo: tuple[str, list[str]], tmp_path: Path) -> None:
    url, seen = echo
    docs = [f"doc-{i}".encode() for i in range(25)]
    offered = wrk_load.offer(url, "wrong-token", docs, 0.0, 4, tmp_path, timeout=60)

    assert len(seen) == 25
    assert len(offered.refused) == 25  # each answer's status is kept, not assumed
    assert {a.status for a in offered.answers} == {401}
