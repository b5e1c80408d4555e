"""What every local double shares: a threaded keep-alive WSGI server, modes and controls.

A double is a WSGI application (its ``app`` method) on a subclass of :class:`ServedDouble`,
which serves it on ``host:port`` (port 0 picks a free one; an IPv6 host works too) from a
background thread with cheroot, CherryPy's maintained HTTP/1.1 server: a thread pool,
keep-alive connections, Nagle off, idle connections dropped after 120 s, a request body over
``max_body_bytes`` answered 413. ``stop`` closes the listening socket and every kept-alive
connection, and wakes requests sleeping in mode ``slow``.

Why cheroot and not werkzeug's ``make_server``: werkzeug's development server sends
``Connection: close`` with every answer and drains the socket after each one, so it cannot keep
a connection alive, and the doubles must (the adapters' connection pooling is tested against
them, and the benchmarks count connections). What cheroot leaves to us is small and kept here:
counting accepted connections (:class:`_CountedConnection`), closing a connection without an
answer when the app raises :class:`DropConnection` (:class:`_DroppingGateway`: mode ``down``
simulates a lost answer), and keeping routine client hang-ups off stderr
(``_Server.error_log``). An exception in the app is a bug of the double: its traceback goes to
stderr and the client gets a 500 plain-text answer, never one of the protocol's own.

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
import json
import logging
import signal
import socket
import threading
from collections.abc import Iterable, Sequence
from http import HTTPStatus
from types import FrameType
from typing import Any, ClassVar, Self, cast
from wsgiref.types import StartResponse, WSGIEnvironment

from cheroot import wsgi
from cheroot.server import HTTPConnection

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
        server = _Server(self)
        server.prepare()  # binds; with port 0 the system picks the port
        self.port = server.bind_addr[1]
        self._server = server
        try:
            self._started()
        except BaseException:
            self._server = None
            server.stop()
            raise
        self._thread = threading.Thread(
            target=server.serve, daemon=True, name=f"{type(self).__name__}-{self.port}"
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop listening and cut every open connection (keep-alive ones too)."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes requests sleeping in "slow" mode
        server.stop()  # closes the listening socket and every kept-alive connection
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
    """The whole request body (sent with a Content-Length or chunked)."""
    length = environ.get("CONTENT_LENGTH")
    stream = environ["wsgi.input"]
    return cast(bytes, stream.read(int(length)) if length else stream.read())


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


# -- the server: cheroot, and the three pieces it leaves to us ---------------------------------


class _CountedConnection(HTTPConnection):
    """cheroot's connection, counted once when accepted (the doubles report ``connections``)."""

    def __init__(self, server: _Server, sock: socket.socket, *args: Any) -> None:
        super().__init__(server, sock, *args)
        server.double._count("connections")


class _DroppingGateway(wsgi.Gateway_10):
    """cheroot's WSGI gateway; a :class:`DropConnection` from the app closes the connection
    without an answer (cheroot would answer 500)."""

    def respond(self) -> None:
        try:
            super().respond()
        except DropConnection:
            self.req.rfile.read()  # read the request first: the client sees a close, not a reset
            self.req.close_connection = True
            self.req.ready = False  # nothing more is written on this connection


class _Server(wsgi.Server):
    ConnectionClass = _CountedConnection
    expiration_interval = 0.05  # how often the connection loop wakes: stop() waits for it

    def __init__(self, double: ServedDouble) -> None:
        self.double = double
        super().__init__(
            (double.host, double.port), double.app, numthreads=32,
            server_name=double.software, request_queue_size=256, timeout=120,
            shutdown_timeout=2,
        )  # fmt: skip
        self.gateway = _DroppingGateway
        self.max_request_body_size = double.max_body_bytes

    def error_log(self, msg: str = "", level: int = logging.INFO, traceback: bool = False) -> None:
        """Only errors (a bug of the double): a client that hung up is normal traffic here."""
        if level >= logging.ERROR:
            super().error_log(msg, level, traceback)
