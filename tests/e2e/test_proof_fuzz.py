"""``python -m proof fuzz``, short: a few thousand hostile requests against a hub it starts,
and the same command against a server built to fail, to show it notices.

The long run (100,000 requests) is by hand; its figures are in docs/RELIABILITY.md.
"""

from __future__ import annotations

import argparse
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import proof.fuzz as fuzz_command

SHORT_RUN = 3_000


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    fuzz_command.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_a_short_run_against_a_hub_keeps_every_promise(capsys: pytest.CaptureFixture[str]) -> None:
    code = fuzz_command.run(
        _args("--requests", str(SHORT_RUN), "--memory-every", "500", "--seed", "2026")
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"requests: {SHORT_RUN:,} in" in out
    assert "5xx: 0\n" in out
    assert "echoes: 0\n" in out
    assert "memory: levels off" in out, out
    for kind in ("entities_dtd", "xinclude", "broken_token", "invalid_identity", "unicode"):
        assert f"  {kind} " in out, f"no {kind} requests were sent"
    assert "202 ×" in out, "no mutated document was valid enough to be accepted"


class _CarelessHandler(BaseHTTPRequestHandler):
    """Answers 500 to anything with a DOCTYPE, and quotes every other body back."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status = 500 if b"DOCTYPE" in body else 400
        answer = b'{"detail": "' + body[:4000].replace(b'"', b"'") + b'"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        return None


for _verb in ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
    setattr(_CarelessHandler, f"do_{_verb}", _CarelessHandler._answer)


@pytest.fixture
def careless_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CarelessHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_careless_server_fails_the_run(
    careless_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = fuzz_command.run(
        _args(
            "--url",
            careless_server,
            "--token",
            "osh_fictional-token-for-the-careless-server",
            "--pid",
            str(os.getpid()),
            "--requests",
            "400",
            "--memory-every",
            "100",
        )
    )
    out = capsys.readouterr().out
    assert code == 1, out
    assert "5xx: 0\n" not in out
    assert "echoes: 0\n" not in out
    assert "entities_dtd" in out
    assert "result: FAILED" in out
