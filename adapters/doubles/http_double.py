"""A local double of a generic HTTP destination, for the tests, the demo and the benchmarks.

It is a real HTTP/1.1 server (keep-alive, Nagle off; ``adapters.doubles.wsgi_server``) in a
background thread, or in its own process with ``python -m adapters.doubles.http_double --port
N``, which prints its delivery URL on one line; tests that kill other processes need a
destination that outlives them.

``POST /messages`` stores the body under its ``Idempotency-Key`` the way MedCom and SDK services
do: the first time 201 ``{"reference": ..., "duplicate": false}``, again 200 with the same
reference and ``"duplicate": true``. A missing key is 400; a wrong bearer token (when the double
has one) is 401. Modes make it misbehave on purpose, set from Python (``set_mode``) or over HTTP
(``POST /_control`` with ``{"mode": ..., "delay": s, "times": n}``):

    up            answer normally
    down          read the request, close the connection without an HTTP answer
    unavailable   503 (Retry-After: 1)
    throttled     429 (Retry-After: 1)
    moved         307 to ``/moved`` (a client that follows it gets 404 and stores nothing)
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

import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Literal, get_args
from wsgiref.types import StartResponse, WSGIEnvironment

from adapters.doubles.wsgi_server import (
    ServedDouble,
    argument_parser,
    json_answer,
    request_body,
    run_until_signalled,
)

Mode = Literal["up", "down", "unavailable", "throttled", "moved", "slow", "reject"]
MODES: tuple[str, ...] = get_args(Mode)
DELIVERY_PATH = "/messages"
MAX_BODY_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class StoredDocument:
    reference: str
    body: bytes
    headers: dict[str, str]


class HttpDouble(ServedDouble):
    """A generic HTTP destination on ``host:port`` (port 0 picks a free one)."""

    modes = MODES
    counters = ("duplicates",)
    path = DELIVERY_PATH  # the delivery endpoint
    software = "OmsorgshubHttpDouble/1"
    max_body_bytes = MAX_BODY_BYTES

    _stored: dict[str, StoredDocument]

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, token: str | None = None):
        self._token = token
        super().__init__(host, port)

    # -- observation --------------------------------------------------------------------------

    @property
    def requests(self) -> int:
        with self._lock:
            return self._counts["requests"]

    @property
    def unique(self) -> int:
        with self._lock:
            return len(self._stored)

    @property
    def duplicates(self) -> int:
        with self._lock:
            return self._counts["duplicates"]

    @property
    def connections(self) -> int:
        with self._lock:
            return self._counts["connections"]

    def documents(self) -> dict[str, bytes]:
        """The stored bodies by idempotency key, exactly as received."""
        with self._lock:
            return {key: doc.body for key, doc in self._stored.items()}

    def headers_of(self, key: str) -> dict[str, str]:
        """The request headers (lower-case names) of the first delivery with this key."""
        with self._lock:
            return dict(self._stored[key].headers)

    def _observations(self) -> dict[str, object]:
        return {"unique": len(self._stored)}

    def _forget(self) -> None:
        self._stored = {}

    # -- the WSGI application -----------------------------------------------------------------

    def app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        control = self._control_endpoints(environ, start_response)
        if control is not None:
            return control
        if environ.get("PATH_INFO") != DELIVERY_PATH:
            return json_answer(start_response, HTTPStatus.NOT_FOUND, {"error": "not found"})
        if environ["REQUEST_METHOD"] != "POST":
            return json_answer(
                start_response, HTTPStatus.METHOD_NOT_ALLOWED, {"error": "use POST"},
                [("Allow", "POST")],
            )  # fmt: skip
        return self._deliver(environ, start_response)

    def _deliver(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        mode = self._meet_mode()
        if mode == "unavailable":
            return json_answer(
                start_response, HTTPStatus.SERVICE_UNAVAILABLE, {"error": "unavailable"},
                [("Retry-After", "1")],
            )  # fmt: skip
        if mode == "throttled":
            return json_answer(
                start_response, HTTPStatus.TOO_MANY_REQUESTS, {"error": "too many requests"},
                [("Retry-After", "1")],
            )  # fmt: skip
        if mode == "moved":
            return json_answer(
                start_response, HTTPStatus.TEMPORARY_REDIRECT, {"error": "moved"},
                [("Location", "/moved")],
            )  # fmt: skip
        if not self._authorized(environ.get("HTTP_AUTHORIZATION")):
            return json_answer(
                start_response, HTTPStatus.UNAUTHORIZED, {"error": "unauthorized"},
                [("WWW-Authenticate", "Bearer")],
            )  # fmt: skip
        key = environ.get("HTTP_IDEMPOTENCY_KEY")
        if not key:
            problem = {"error": "Idempotency-Key header is required"}
            return json_answer(start_response, HTTPStatus.BAD_REQUEST, problem)
        if mode == "reject":
            return json_answer(
                start_response, HTTPStatus.UNPROCESSABLE_ENTITY, {"error": "rejected"}
            )
        headers = {
            name.removeprefix("HTTP_").replace("_", "-").lower(): value
            for name, value in environ.items()
            if name.startswith("HTTP_") or name in ("CONTENT_TYPE", "CONTENT_LENGTH")
        }
        reference, duplicate = self._store(key, request_body(environ), headers)
        status = HTTPStatus.OK if duplicate else HTTPStatus.CREATED
        return json_answer(start_response, status, {"reference": reference, "duplicate": duplicate})

    def _store(self, key: str, body: bytes, headers: dict[str, str]) -> tuple[str, bool]:
        """Store once per key; return the reference and whether it was a duplicate."""
        with self._lock:
            if key in self._stored:
                self._counts["duplicates"] += 1
                return self._stored[key].reference, True
            reference = f"DBL-{len(self._stored) + 1:06d}"
            self._stored[key] = StoredDocument(reference, body, headers)
            return reference, False

    def _authorized(self, header: str | None) -> bool:
        if self._token is None:
            return True
        expected = f"Bearer {self._token}".encode()
        return hmac.compare_digest((header or "").encode(), expected)


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(
        "adapters.doubles.http_double",
        "Run the generic HTTP destination double until SIGTERM or Ctrl-C.",
    )
    parser.add_argument("--token", default=None, help="require this bearer token")
    args = parser.parse_args(argv)
    return run_until_signalled(HttpDouble(args.host, args.port, token=args.token))


if __name__ == "__main__":
    raise SystemExit(main())
