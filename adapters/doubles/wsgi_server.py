"""What every local double shares: a threaded keep-alive WSGI server, modes and controls.

A double is a WSGI application (its ``app`` method) on a subclass of :class:`ServedDouble`,
which serves it on ``host:port`` (port 0 picks a free one; an IPv6 host works too) from a
background thread: HTTP/1.1 with keep-alive, Nagle off, no reverse DNS lookup, every answer
with a Content-Length, idle connections dropped after 120 s. A request body must come with a
Content-Length of at most ``max_body_bytes``: a chunked one is answered 411 and a larger one
413, and the connection is closed, since such a body cannot be skipped reliably. ``stop`` cuts
every open connection, kept-alive ones too, and wakes requests sleeping in mode ``slow``.

The app raises :class:`DropConnection` to close the connection without an answer. An exception
in the app is a bug of the double: its traceback goes to stderr and the client gets a 500
plain-text answer, never one of the protocol's own.

Beside the wire, the doubles share:

- modes that make them misbehave on purpose: ``set_mode(mode, delay, times)`` (``times``
  limits a mode to the next ``n`` service requests, then the double is ``up`` again) and
  ``_meet_mode()``, called once per service request: it counts the request, drops the
  connection in mode ``down`` and sleeps ``delay`` seconds in mode ``slow``;
- counters (``requests``, ``connections`` and the double's own), ``stats()`` and ``reset()``;
- the control endpoints, answered in every mode (``_control_endpoints``): ``GET /_stats``,
  ``POST /_control`` with ``{"mode": ..., "delay": s, "times": n}`` (400 for anything else)
  and ``POST /_reset``;
- :func:`run_until_signalled`, the ``python -m adapters.doubles.<double>`` entry point: it
  prints the double's URL on one line and serves until SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import signal
import socket
import socketserver
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any, ClassVar, Self, TypeAlias, cast
from urllib.parse import unquote, urlsplit
from wsgiref.types import StartResponse, WSGIEnvironment

_Request: TypeAlias = socket.socket | tuple[bytes, socket.socket]  # as socketserver has it
_Headers: TypeAlias = list[tuple[str, str]]
_CONTROL_FIELDS = frozenset({"mode", "delay", "times"})


class DropConnection(Exception):
    """Raised by a double's app to make the server close the connection without an answer."""


class ServedDouble:
    """A double's WSGI ``app`` served on ``host:port``, with modes, counters and controls.

    A subclass sets the class attributes below, writes ``app`` (which starts with
    ``_control_endpoints``) and sets up its own state before calling ``super().__init__``. It
    may extend ``_forget`` (what ``reset`` drops), ``_observations`` (its part of ``stats``) and
    ``_started`` (runs once the port is bound, before the first request is served).
    """

    modes: ClassVar[tuple[str, ...]]  # every mode the double knows, "up" among them
    counters: ClassVar[tuple[str, ...]] = ()  # its own, beside "requests" and "connections"
    path: ClassVar[str]  # of ``url``, the endpoint a client is given
    software: ClassVar[str]  # the Server header
    max_body_bytes: ClassVar[int] = 1024 * 1024

    _mode: str
    _delay: float
    _times_left: int | None

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._counts = dict.fromkeys(("requests", *self.counters, "connections"), 0)
        self._reset_state()

    def app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        raise NotImplementedError

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError(f"{type(self).__name__} is already started")
        self._stopping.clear()
        server = _Server((self.host, self.port), self)
        self.port = server.server_address[1]
        self._server = server
        try:
            self._started()
        except BaseException:
            self._server = None
            server.server_close()
            raise
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
            name=f"{type(self).__name__}-{self.port}",
        )  # fmt: skip
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

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """The endpoint a client is given (``base_url`` and ``path``)."""
        return self.base_url + self.path

    def _started(self) -> None:
        """Called by ``start`` once the port is bound, before any request is served."""

    # -- behaviour and observation ------------------------------------------------------------

    def set_mode(self, mode: str, delay: float = 0.0, times: int | None = None) -> None:
        if mode not in self.modes:
            raise ValueError(f"mode must be one of {', '.join(self.modes)}, not {mode!r}")
        if isinstance(delay, bool) or not isinstance(delay, int | float) or not delay >= 0:
            raise ValueError("delay must be a number of seconds >= 0")
        if times is not None and (isinstance(times, bool) or not isinstance(times, int)):
            raise ValueError("times must be a whole number >= 1")
        if times is not None and times < 1:
            raise ValueError("times must be a whole number >= 1")
        with self._lock:
            self._mode, self._delay, self._times_left = mode, float(delay), times

    @property
    def mode(self) -> str:
        with self._lock:
            return self._mode

    def stats(self) -> dict[str, object]:
        with self._lock:
            return {
                "mode": self._mode, "delay": self._delay, "times": self._times_left,
                **self._counts, **self._observations(),
            }  # fmt: skip

    def reset(self) -> None:
        """Forget what was stored and counted, and go back ``up``."""
        with self._lock:
            self._reset_state()

    def _observations(self) -> dict[str, object]:
        """The double's own part of ``stats``; called under the lock."""
        return {}

    def _forget(self) -> None:
        """Drop what the double stored; called under the lock (and by the constructor)."""

    def _reset_state(self) -> None:
        self._mode, self._delay, self._times_left = "up", 0.0, None
        self._counts = dict.fromkeys(self._counts, 0)
        self._forget()

    def _count(self, counter: str) -> None:
        with self._lock:
            self._counts[counter] += 1

    def _meet_mode(self) -> str:
        """Count one service request and return the mode it meets.

        In mode ``down`` the connection is dropped without an answer; in mode ``slow`` the
        request sleeps ``delay`` seconds first (and is dropped if the double stops meanwhile).
        """
        with self._lock:
            self._counts["requests"] += 1
            mode, delay = self._mode, self._delay
            if self._times_left is not None:
                self._times_left -= 1
                if self._times_left == 0:
                    self._mode, self._delay, self._times_left = "up", 0.0, None
        if mode == "down":
            raise DropConnection
        if mode == "slow" and self._stopping.wait(delay):
            raise DropConnection  # stopped while sleeping
        return mode

    def _control_endpoints(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> list[bytes] | None:
        """Answer ``GET /_stats``, ``POST /_control`` and ``POST /_reset``; None to others."""
        route = (environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""))
        if route == ("POST", "/_reset"):
            self.reset()
        elif route == ("POST", "/_control"):
            try:
                command = json.loads(request_body(environ))
                if not isinstance(command, dict):
                    raise ValueError("expected a JSON object")
                unknown = set(command) - _CONTROL_FIELDS
                if unknown:
                    raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
                self.set_mode(
                    command.get("mode", "up"), command.get("delay", 0.0), command.get("times")
                )
            except ValueError as exc:  # json.JSONDecodeError is a ValueError
                return json_answer(start_response, HTTPStatus.BAD_REQUEST, {"error": str(exc)})
        elif route != ("GET", "/_stats"):
            return None
        return json_answer(start_response, HTTPStatus.OK, self.stats())


# -- answering from an app -----------------------------------------------------------------------


def answer(
    start_response: StartResponse,
    status: HTTPStatus | str,
    content_type: str,
    data: bytes,
    headers: Sequence[tuple[str, str]] = (),
) -> list[bytes]:
    """Start a response with a Content-Length and return its body."""
    if isinstance(status, HTTPStatus):
        status = f"{status.value} {status.phrase}"
    start_response(
        status,
        [("Content-Type", content_type), ("Content-Length", str(len(data))), *headers],
    )
    return [data]


def json_answer(
    start_response: StartResponse,
    status: HTTPStatus | str,
    payload: object,
    headers: Sequence[tuple[str, str]] = (),
) -> list[bytes]:
    return answer(start_response, status, "application/json", json.dumps(payload).encode(), headers)


def request_body(environ: WSGIEnvironment) -> bytes:
    return cast(bytes, environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))


# -- running a double as its own process ---------------------------------------------------------


def argument_parser(module: str, description: str) -> argparse.ArgumentParser:
    """The command line of ``python -m <module>``: ``--host`` and ``--port``, then the double's."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    return parser


def run_until_signalled(double: ServedDouble) -> int:
    """Start ``double``, print its URL on one line, serve until SIGTERM or SIGINT, stop."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    double.start()
    print(double.url, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        double.stop()
    return 0


# -- the server ----------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], double: ServedDouble) -> None:
        self.double = double
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._open: set[_Request] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Gateway)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn); a double needs none.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    def process_request(self, request: _Request, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        self.double._count("connections")
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


class _Gateway(BaseHTTPRequestHandler):
    """Runs the double's WSGI app for each request, with keep-alive and Content-Length."""

    protocol_version = "HTTP/1.1"  # keep-alive; every answer carries Content-Length
    disable_nagle_algorithm = True
    timeout = 120  # idle keep-alive connections are dropped after this

    def version_string(self) -> str:
        return cast(_Server, self.server).double.software

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._run()

    def do_POST(self) -> None:
        self._run()

    def _run(self) -> None:
        server = cast(_Server, self.server)
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._refuse(HTTPStatus.LENGTH_REQUIRED, "send Content-Length")
            return
        if not 0 <= length <= server.double.max_body_bytes:
            self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "bad Content-Length")
            return
        environ = self._environ(length)  # reads the body (a client hanging up is no bug here)
        started: list[tuple[str, _Headers]] = []
        written: list[bytes] = []  # what the app passed to WSGI's legacy write()

        def start_response(
            status: str, headers: _Headers, exc_info: Any = None, /
        ) -> Callable[[bytes], object]:
            started.append((status, headers))
            return written.append

        try:
            data = b"".join([*server.double.app(environ, start_response)])
            data = b"".join(written) + data
        except DropConnection:
            self.close_connection = True
            return
        except Exception:  # a bug in the double: say so loudly, never as a protocol answer
            traceback.print_exc()
            self.close_connection = True
            data = f"{type(server.double).__name__} failed; see its stderr\n".encode()
            started = [("500 Internal Server Error", [("Content-Type", "text/plain")])]
        if not started:
            self.close_connection = True  # the app gave no answer at all
            return
        self._send(*started[-1], data)

    def _environ(self, length: int) -> dict[str, Any]:
        server, url = cast(_Server, self.server), urlsplit(self.path)
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command, "PATH_INFO": unquote(url.path),
            "QUERY_STRING": url.query, "CONTENT_LENGTH": str(length),
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "SERVER_NAME": server.server_name, "SERVER_PORT": str(server.server_port),
            "SERVER_PROTOCOL": self.request_version, "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(self.rfile.read(length)),
            "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }  # fmt: skip
        for name, value in self.headers.items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        return environ

    def _refuse(self, status: HTTPStatus, problem: str) -> None:
        self.close_connection = True  # the body cannot be skipped reliably
        body = json.dumps({"error": problem}).encode()
        self._send(f"{status.value} {status.phrase}", [("Content-Type", "application/json")], body)

    def _send(self, status: str, headers: _Headers, data: bytes) -> None:
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
