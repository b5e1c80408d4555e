"""Generic HTTP adapter: POST the message's document to one URL.

System: any destination that takes a document by HTTP POST and answers with a JSON receipt, such
as a provider's own time-reporting backend or a municipal service without a richer protocol; the
local double is ``adapters.doubles.http_double``. Systems with their own protocol (SOAP case
management, UBW finance, the SDK mailbox) get their own adapter.

Protocol: HTTP/1.1 (urllib3, one keep-alive connection pool per adapter, made by ``open``),
``POST <url>`` with the document bytes exactly as given and the headers ``Content-Type``,
``Idempotency-Key: <delivery_id>``, ``X-Omsorgshub-Message-Id``, ``X-Omsorgshub-Message-Type``,
``X-Omsorgshub-District`` and ``X-Omsorgshub-Attempt``. Header values outside visible ASCII
(and ``%`` itself) are percent-encoded as UTF-8, so "Södermalm" arrives as "S%C3%B6dermalm". A
2xx answer may carry JSON ``{"reference": str, "duplicate": bool}``; a 2xx without it is still a
delivery. The answer is read whole (no size limit, as before). Redirects are not followed, and
urllib3's own retries are off (``redirect=False, retries=False``): a 3xx is a refusal, and the
one in-call retry below is the only one. Proxy and netrc settings from the environment are
never read (urllib3's pool reads none): a stray ``HTTPS_PROXY`` must not reroute personal data.
The pool keeps up to ``POOL_CONNECTIONS`` connections alive, more than the hub's delivery
threads (``workers``, 4 by default); a thread beyond that is never made to wait: it opens a
connection of its own, closed after its request.

Why urllib3 and not httpx: measured on this machine (issue 16, docs/BENCHMARKS.md, ``python -m
bench --only http-delivery``), one ``deliver`` cost 530-557 µs of client CPU on httpx and
297-313 µs on urllib3 (bare clients: httpx 470-509 µs, urllib3 232-258 µs per POST), and in
the embedded hub at 100 msg/s the delivery threads spend about 0.35 ms less per message. What it
costs: a second HTTP client in the product (the SDK, MedCom, Combine and IVO adapters stay on
httpx) and so a second error mapping, kept beside the first in ``adapters.http_errors`` and
naming failures as httpx did (``ConnectError``, ``ConnectTimeout``, ``ReadTimeout``,
``RemoteProtocolError``); urllib3 logs a warning when it discards a connection its pool is full
for; no HTTP/2 (httpx's was off).

Authentication: an optional static bearer token (option ``token``), never logged or shown in
``repr``. TLS certificates and host names are verified against certifi's bundle, as httpx did.

Retry and idempotency: ``Idempotency-Key`` is the hub's stable delivery id, so the destination
can de-duplicate repeats. Inside one call, the adapters' one tenacity retry
(``adapters.transience``, built once per adapter) tries a few times (option ``retries``,
backoff 50-200 ms plus jitter, well under a second in total) only where the request surely did
no harm to repeat: connect errors, dropped connections and HTTP 503 (``Retry-After`` is not
read: the hub's database schedules anything longer). ``map_outcome`` is the one place where HTTP
answers and urllib3 errors become a ``Receipt``, ``TransientDeliveryError`` (408, 425, 429,
5xx, no answer) or ``PermanentDeliveryError`` (any other 3xx/4xx, other urllib3 errors); it and
the in-call retry both read the one declaration ``TRANSIENCE``. Error details carry the status
and a short reason, never the document or the response body.

Data categories: whatever the routed message type carries (e.g. identity, decisions, fees); the
adapter holds the document only for the duration of the call.
"""

from __future__ import annotations

import json
import math
import string
from collections.abc import Callable, Mapping
from http import HTTPStatus
from urllib.parse import quote

import certifi
import urllib3
from urllib3.exceptions import ClosedPoolError, LocationParseError
from urllib3.util import Url, parse_url

from adapters import StrictOptions
from adapters.http_errors import (
    TRANSIENT_STATUSES,
    URLLIB3_RETRY_IN_CALL_ERRORS,
    URLLIB3_TRANSIENT_ERRORS,
    map_urllib3_errors,
)
from adapters.transience import MAX_RETRIES, Transience, in_call_retrying
from hub.envelope import OutboundDelivery, Receipt
from hub.errors import PermanentDeliveryError, TransientDeliveryError

__all__ = [
    "POOL_CONNECTIONS",
    "TRANSIENCE",
    "TRANSIENT_ERRORS",
    "TRANSIENT_STATUSES",
    "HttpAdapter",
    "map_outcome",
]

# What makes an attempt transient, and the subset worth repeating inside one call (the request
# never arrived or the answer was lost): read by map_outcome and the in-call retry.
TRANSIENT_ERRORS = URLLIB3_TRANSIENT_ERRORS
TRANSIENCE = Transience(
    statuses=TRANSIENT_STATUSES,
    errors=TRANSIENT_ERRORS,
    retry_in_call=lambda error: isinstance(error, URLLIB3_RETRY_IN_CALL_ERRORS),
    retry_statuses=frozenset({503}),
)
POOL_CONNECTIONS = 16  # kept alive per adapter; see the module docstring

_HEADER_SAFE = "".join(c for c in string.printable if c not in "%" + string.whitespace) + " "


class HttpAdapter:
    """Options: ``url`` (required), ``timeout`` (s, 10), ``token`` (bearer), ``retries`` (2)."""

    kind = "http"
    transience = TRANSIENCE

    def __init__(self, name: str, options: Mapping[str, object]) -> None:
        opts = StrictOptions(self.kind, name, options, ("url", "timeout", "token", "retries"))
        url = opts.required("url", str)
        try:
            parsed = parse_url(url)
        except LocationParseError as exc:
            raise opts.fail("url", "is not a valid URL") from exc
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise opts.fail("url", "must be an absolute http:// or https:// URL")
        timeout = opts.get("timeout", float, 10.0)
        if not (math.isfinite(timeout) and timeout > 0):
            raise opts.fail("timeout", "must be a positive number of seconds")
        token = opts.optional("token", str)
        if token is not None and (not token or any(c.isspace() for c in token)):
            raise opts.fail("token", "must be non-empty and without whitespace")
        retries = opts.get("retries", int, 2)
        if not 0 <= retries <= MAX_RETRIES:
            raise opts.fail("retries", f"must be between 0 and {MAX_RETRIES}")
        self.name = name
        self.url = url
        self.timeout = timeout
        self.retries = retries
        self._host: str = parsed.host
        self._target: Url = parsed
        # Built once, not per delivery (issue 16 measured the construction on the hot path):
        # tenacity keeps each call's state per thread, so the delivery threads may share it.
        self._retrying = in_call_retrying(TRANSIENCE, retries)
        self._token = token
        self._pool: urllib3.HTTPConnectionPool | None = None

    def __repr__(self) -> str:
        auth = ", token=***" if self._token else ""
        return f"HttpAdapter(name={self.name!r}, url={self.url!r}, timeout={self.timeout}{auth})"

    def open(self) -> None:
        if self._pool is not None:
            return
        port, timeout = self._target.port, urllib3.Timeout(connect=self.timeout, read=self.timeout)
        if self._target.scheme == "https":
            self._pool = urllib3.HTTPSConnectionPool(
                self._host, port, timeout, POOL_CONNECTIONS, block=False, retries=False,
                cert_reqs="CERT_REQUIRED", ca_certs=certifi.where(),
            )  # fmt: skip
        else:
            self._pool = urllib3.HTTPConnectionPool(
                self._host, port, timeout, POOL_CONNECTIONS, block=False, retries=False
            )

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def deliver(self, delivery: OutboundDelivery) -> Receipt:
        pool = self._pool
        if pool is None:
            raise TransientDeliveryError(
                f"adapter {self.name!r} is not open", reason="adapter_closed"
            )
        headers = _headers_for(delivery)
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        target = self._target.request_uri
        retrying = self._retrying

        def post() -> urllib3.BaseHTTPResponse:
            try:
                return retrying(
                    pool.urlopen, "POST", target, body=delivery.document, headers=headers,
                    redirect=False, retries=False, assert_same_host=False,
                )  # fmt: skip
            except ClosedPoolError as exc:  # close() raced us
                raise TransientDeliveryError(
                    f"adapter {self.name!r} was closed during delivery", reason="adapter_closed"
                ) from exc

        return map_outcome(self.name, post)


def map_outcome(destination: str, send: Callable[[], urllib3.BaseHTTPResponse]) -> Receipt:
    """The one place where an HTTP exchange becomes a ``Receipt`` or a hub delivery error."""
    with map_urllib3_errors(destination, TRANSIENCE):
        response = send()
    status = response.status
    if 200 <= status < 300:
        return _receipt_from(response)
    detail = f"{destination}: HTTP {status} {_reason_phrase(response)}".rstrip()
    if TRANSIENCE.is_transient_status(status):
        raise TransientDeliveryError(detail, status=status)
    raise PermanentDeliveryError(detail, status=status)


def _reason_phrase(response: urllib3.BaseHTTPResponse) -> str:
    """The server's reason phrase in ASCII, else the standard one (as httpx gave it)."""
    if response.reason:
        return response.reason.encode("ascii", "ignore").decode("ascii")
    try:
        return HTTPStatus(response.status).phrase
    except ValueError:
        return ""


def _receipt_from(response: urllib3.BaseHTTPResponse) -> Receipt:
    details = {"http_status": str(response.status)}
    try:
        body = json.loads(response.data or b"")  # bytes, as httpx's ``json()`` reads them
    except ValueError:  # empty or not JSON: accepted all the same
        return Receipt(details=details)
    if not isinstance(body, dict):
        return Receipt(details=details)
    reference = body.get("reference")
    return Receipt(
        reference=None if reference is None or isinstance(reference, bool) else str(reference),
        duplicate=body.get("duplicate") is True,
        details=details,
    )


def _headers_for(delivery: OutboundDelivery) -> dict[str, str]:
    headers = {
        "Content-Type": delivery.content_type,
        "Idempotency-Key": delivery.delivery_id,
        "X-Omsorgshub-Message-Id": delivery.message_id,
        "X-Omsorgshub-Message-Type": delivery.message_type,
        "X-Omsorgshub-District": delivery.district,
        "X-Omsorgshub-Attempt": str(delivery.attempt),
    }
    return {key: quote(value, safe=_HEADER_SAFE) for key, value in headers.items()}
