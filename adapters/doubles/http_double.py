"""A local double of a generic HTTP destination, for the tests, the demo and the benchmarks.

It is a real HTTP/1.1 server (``ThreadingHTTPServer``, keep-alive, Nagle off) in a background
thread, or in its own process with ``python -m adapters.doubles.http_double --port N``, which
prints its delivery URL on one line; tests that kill other processes need a destination that
outlives them.

``POST /messages`` stores the body under its ``Idempotency-Key`` the way MedCom and SDK services
do: the first time 201 ``{"reference": ..., "duplicate": false}``, again 200 with the same
reference and ``"duplicate": true``. A missing key is 400; a wrong bearer token (when the double
has one) is 401. Modes make it misbehave on purpose, set from Python (``set_mode``) or over HTTP
(``POST /_control`` with ``{"mode": ..., "delay": s, "times": n}``):

    up            answer normally
    down          read the request, close the connection without an HTTP answer
    unavailable   503 (Retry-After: 1)
    slow          sleep ``delay`` seconds, then answer normally (the document is stored even if
                  the client gave up: a lost answer, as in real life)
    reject        422

``times`` makes a mode last for the next ``n`` delivery requests only, then return to ``up``.
``GET /_stats`` answers the mode and the counters ``requests`` (delivery requests received),
``unique`` (distinct keys stored), ``duplicates`` and ``connections`` (TCP connections accepted).
``POST /_reset`` forgets documents and counters and goes back ``up``. The control endpoints work
in every mode. The double keeps documents in memory only; feed it fictional data.
"""

from __future__ import annotations

import argparse
import contextlib
import hmac
import json
import signal
import socket
import socketserver
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any, Literal, TypeAlias, cast, get_args
from urllib.parse import urlsplit

Mode = Literal["up", "down", "unavailable", "slow", "reject"]
MODES: tuple[str, ...] = get_args(Mode)
DELIVERY_PATH = "/messages"
MAX_BODY_BYTES = 16 * 1024 * 1024

_Request: TypeAlias = socket.socket | tuple[bytes, socket.socket]  # as socketserver has it


@dataclass(frozen=True)
class StoredDocument:
    reference: str
    body: bytes
    headers: dict[str, str]


class HttpDouble:
    """A generic HTTP destination on ``host:port`` (port 0 picks a free one)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, token: str | None = None):
        self.host = host
        self.port = port
        self._token = token
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._mode: Mode = "up"
        self._delay = 0.0
        self._times_left: int | None = None
        self._requests = 0
        self._duplicates = 0
        self._connections = 0
        self._stored: dict[str, StoredDocument] = {}

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("HttpDouble is already started")
        self._stopping.clear()
        server = _Server((self.host, self.port), _Handler, self)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
            name=f"http-double-{self.port}",
        )  # fmt: skip
        self._thread.start()

    def stop(self) -> None:
        """Stop listening and cut every open connection (keep-alive ones too)."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes handlers sleeping in "slow" mode
        server.shutdown()
        server.cut_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> HttpDouble:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("HttpDouble is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """The delivery endpoint."""
        return self.base_url + DELIVERY_PATH

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
            self._mode = cast(Mode, mode)
            self._delay = float(delay)
            self._times_left = times

    @property
    def mode(self) -> str:
        with self._lock:
            return self._mode

    def stats(self) -> dict[str, object]:
        with self._lock:
            return {
                "mode": self._mode,
                "delay": self._delay,
                "times": self._times_left,
                "requests": self._requests,
                "unique": len(self._stored),
                "duplicates": self._duplicates,
                "connections": self._connections,
            }

    @property
    def requests(self) -> int:
        with self._lock:
            return self._requests

    @property
    def unique(self) -> int:
        with self._lock:
            return len(self._stored)

    @property
    def duplicates(self) -> int:
        with self._lock:
            return self._duplicates

    @property
    def connections(self) -> int:
        with self._lock:
            return self._connections

    def documents(self) -> dict[str, bytes]:
        """The stored bodies by idempotency key, exactly as received."""
        with self._lock:
            return {key: doc.body for key, doc in self._stored.items()}

    def headers_of(self, key: str) -> dict[str, str]:
        """The request headers (lower-case names) of the first delivery with this key."""
        with self._lock:
            return dict(self._stored[key].headers)

    def reset(self) -> None:
        with self._lock:
            self._reset_state()

    def _reset_state(self) -> None:
        self._mode, self._delay, self._times_left = "up", 0.0, None
        self._requests = self._duplicates = self._connections = 0
        self._stored = {}

    # -- used by the request handler ----------------------------------------------------------

    def _next_request(self) -> tuple[Mode, float]:
        """Count one delivery request and return the mode it meets."""
        with self._lock:
            self._requests += 1
            mode, delay = self._mode, self._delay
            if self._times_left is not None:
                self._times_left -= 1
                if self._times_left == 0:
                    self._mode, self._delay, self._times_left = "up", 0.0, None
            return mode, delay

    def _store(self, key: str, body: bytes, headers: dict[str, str]) -> tuple[str, bool]:
        """Store once per key; return the reference and whether it was a duplicate."""
        with self._lock:
            if key in self._stored:
                self._duplicates += 1
                return self._stored[key].reference, True
            reference = f"DBL-{len(self._stored) + 1:06d}"
            self._stored[key] = StoredDocument(reference, body, headers)
            return reference, False

    def _authorized(self, header: str | None) -> bool:
        if self._token is None:
            return True
        expected = f"Bearer {self._token}".encode()
        return hmac.compare_digest((header or "").encode(), expected)

    def _count_connection(self) -> None:
        with self._lock:
            self._connections += 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(
        self, address: tuple[str, int], handler: type[_Handler], double: HttpDouble
    ) -> None:
        self.double = double
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._open: set[_Request] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn); a double needs none.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    def process_request(self, request: _Request, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        self.double._count_connection()
        super().process_request(request, client_address)

    def shutdown_request(self, request: _Request) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def cut_connections(self) -> None:
        with self._open_lock:
            connections = [c for c in self._open if isinstance(c, socket.socket)]
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: _Request, client_address: Any) -> None:
        pass  # a client that hung up (timeout, stop) is normal traffic for a double


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer carries Content-Length
    disable_nagle_algorithm = True
    server_version = "OmsorgshubHttpDouble/1"
    sys_version = ""
    timeout = 120  # idle keep-alive connections are dropped after this

    @property
    def double(self) -> HttpDouble:
        return cast(_Server, self.server).double

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/_stats":
            self._answer(HTTPStatus.OK, self.double.stats())
        elif path == DELIVERY_PATH:
            self._answer(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "use POST"}, {"Allow": "POST"})
        else:
            self._answer(HTTPStatus.NOT_FOUND, {"error": "not found"})

    def do_POST(self) -> None:
        body = self._read_body()
        if body is None:
            return
        path = urlsplit(self.path).path
        if path == DELIVERY_PATH:
            self._deliver(body)
        elif path == "/_control":
            self._control(body)
        elif path == "/_reset":
            self.double.reset()
            self._answer(HTTPStatus.OK, self.double.stats())
        else:
            self._answer(HTTPStatus.NOT_FOUND, {"error": "not found"})

    def _deliver(self, body: bytes) -> None:
        double = self.double
        mode, delay = double._next_request()
        if mode == "down":
            self.close_connection = True  # no answer at all
            return
        if mode == "unavailable":
            self._answer(
                HTTPStatus.SERVICE_UNAVAILABLE, {"error": "unavailable"}, {"Retry-After": "1"}
            )
            return
        if mode == "slow" and double._stopping.wait(delay):
            self.close_connection = True  # stopped while sleeping
            return
        if not double._authorized(self.headers.get("Authorization")):
            self._answer(
                HTTPStatus.UNAUTHORIZED, {"error": "unauthorized"}, {"WWW-Authenticate": "Bearer"}
            )
            return
        key = self.headers.get("Idempotency-Key")
        if not key:
            self._answer(HTTPStatus.BAD_REQUEST, {"error": "Idempotency-Key header is required"})
            return
        if mode == "reject":
            self._answer(HTTPStatus.UNPROCESSABLE_ENTITY, {"error": "rejected"})
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        reference, duplicate = double._store(key, body, headers)
        status = HTTPStatus.OK if duplicate else HTTPStatus.CREATED
        self._answer(status, {"reference": reference, "duplicate": duplicate})

    def _control(self, body: bytes) -> None:
        try:
            command = json.loads(body)
            if not isinstance(command, dict):
                raise ValueError("expected a JSON object")
            unknown = set(command) - {"mode", "delay", "times"}
            if unknown:
                raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
            self.double.set_mode(
                command.get("mode", "up"), command.get("delay", 0.0), command.get("times")
            )
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            self._answer(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
            return
        self._answer(HTTPStatus.OK, self.double.stats())

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            self._answer(HTTPStatus.LENGTH_REQUIRED, {"error": "send Content-Length"})
            return None
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self.close_connection = True  # the body cannot be skipped reliably
            self._answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "bad Content-Length"})
            return None
        return self.rfile.read(length)

    def _answer(
        self, status: HTTPStatus, payload: object, headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m adapters.doubles.http_double",
        description="Run the generic HTTP destination double until SIGTERM or Ctrl-C.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--token", default=None, help="require this bearer token")
    args = parser.parse_args(argv)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    double = HttpDouble(args.host, args.port, token=args.token)
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
