"""Generic HTTP adapter: POST the message's document to one URL.

System: any destination that takes a document by HTTP POST and answers with a JSON receipt, such
as a provider's own time-reporting backend or a municipal service without a richer protocol; the
local double is ``adapters.doubles.http_double``. Systems with their own protocol (SOAP case
management, UBW finance, the SDK mailbox) get their own adapter.

Protocol: HTTP/1.1 (httpx, keep-alive connection pool), ``POST <url>`` with the document bytes
exactly as given and the headers ``Content-Type``, ``Idempotency-Key: <delivery_id>``,
``X-Omsorgshub-Message-Id``, ``X-Omsorgshub-Message-Type``, ``X-Omsorgshub-District`` and
``X-Omsorgshub-Attempt``. Header values outside visible ASCII (and ``%`` itself) are
percent-encoded as UTF-8, so "Södermalm" arrives as "S%C3%B6dermalm". A 2xx answer may carry
JSON ``{"reference": str, "duplicate": bool}``; a 2xx without it is still a delivery.
Redirects are not followed. Proxy and netrc settings from the environment are ignored
(``trust_env=False``): a stray ``HTTPS_PROXY`` must not reroute personal data.

Authentication: an optional static bearer token (option ``token``), never logged or shown in
``repr``. TLS certificates are verified (httpx default).

Retry and idempotency: ``Idempotency-Key`` is the hub's stable delivery id, so the destination
can de-duplicate repeats. Inside one call, the adapters' one tenacity retry
(``adapters.transience``) tries a few times (option ``retries``, backoff 50-200 ms plus jitter,
well under a second in total) only where the request surely did no harm to repeat: connect
errors, connection resets and HTTP 503. Every longer schedule lives in the hub's database, not
here. ``map_outcome`` is the one place where HTTP answers and httpx errors become a
``Receipt``, ``TransientDeliveryError`` or ``PermanentDeliveryError`` (any other 3xx/4xx, other
httpx errors); it and the in-call retry both read the one declaration ``TRANSIENCE``.
Error details carry the status and a short reason, never the document or the response body.

Data categories: whatever the routed message type carries (e.g. identity, decisions, fees); the
adapter holds the document only for the duration of the call.
"""

from __future__ import annotations

import math
import string
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from urllib.parse import quote

import httpx

from adapters import StrictOptions
from adapters.transience import MAX_RETRIES, Transience, in_call_retrying
from hub.envelope import OutboundDelivery, Receipt
from hub.errors import PermanentDeliveryError, TransientDeliveryError

# What makes an attempt transient, and the subset worth repeating inside one call (the request
# never arrived or the answer was lost): read by map_outcome and the in-call retry.
TRANSIENT_STATUSES: frozenset[int] = frozenset({408, 425, 429, *range(500, 600)})
TRANSIENT_ERRORS: frozenset[type[httpx.HTTPError]] = frozenset(
    {httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError, httpx.ProxyError}
)
RETRY_IN_CALL_ERRORS: tuple[type[httpx.HTTPError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)
TRANSIENCE = Transience(
    statuses=TRANSIENT_STATUSES,
    errors=tuple(TRANSIENT_ERRORS),
    retry_in_call=lambda error: isinstance(error, RETRY_IN_CALL_ERRORS),
    retry_statuses=frozenset({503}),
)

_HEADER_SAFE = "".join(c for c in string.printable if c not in "%" + string.whitespace) + " "


class HttpAdapter:
    """Options: ``url`` (required), ``timeout`` (s, 10), ``token`` (bearer), ``retries`` (2)."""

    kind = "http"
    transience = TRANSIENCE

    def __init__(self, name: str, options: Mapping[str, object]) -> None:
        opts = StrictOptions(self.kind, name, options, ("url", "timeout", "token", "retries"))
        url = opts.required("url", str)
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
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
        # Built once, not per delivery (issue 16 measured the construction on the hot path):
        # tenacity keeps each call's state per thread, so the delivery threads may share it.
        self._retrying = in_call_retrying(TRANSIENCE, retries)
        self._token = token
        self._client: httpx.Client | None = None

    def __repr__(self) -> str:
        auth = ", token=***" if self._token else ""
        return f"HttpAdapter(name={self.name!r}, url={self.url!r}, timeout={self.timeout}{auth})"

    def open(self) -> None:
        if self._client is not None:
            return
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        self._client = httpx.Client(
            timeout=httpx.Timeout(self.timeout),
            headers=headers,
            follow_redirects=False,
            trust_env=False,
        )

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def deliver(self, delivery: OutboundDelivery) -> Receipt:
        client = self._client
        if client is None:
            raise TransientDeliveryError(
                f"adapter {self.name!r} is not open", reason="adapter_closed"
            )
        headers = _headers_for(delivery)
        retrying = self._retrying

        def post() -> httpx.Response:
            return retrying(client.post, self.url, content=delivery.document, headers=headers)

        try:
            return map_outcome(self.name, post)
        except RuntimeError as exc:  # httpx: "the client has been closed" (close() raced us)
            if client.is_closed:
                raise TransientDeliveryError(
                    f"adapter {self.name!r} was closed during delivery", reason="adapter_closed"
                ) from exc
            raise


@contextmanager
def map_http_errors(destination: str, transience: Transience = TRANSIENCE) -> Iterator[None]:
    """httpx errors raised inside as hub errors: transient where ``transience`` says so,
    any other permanent (shared with the SDK adapter, whose declaration is the same)."""
    try:
        yield
    except transience.errors as exc:
        raise TransientDeliveryError(
            f"{destination}: no HTTP answer ({type(exc).__name__})", error=type(exc).__name__
        ) from exc
    except httpx.HTTPError as exc:
        raise PermanentDeliveryError(
            f"{destination}: request failed ({type(exc).__name__})", error=type(exc).__name__
        ) from exc


def map_outcome(destination: str, send: Callable[[], httpx.Response]) -> Receipt:
    """The one place where an HTTP exchange becomes a ``Receipt`` or a hub delivery error."""
    with map_http_errors(destination):
        response = send()
    status = response.status_code
    if 200 <= status < 300:
        return _receipt_from(response)
    detail = f"{destination}: HTTP {status} {response.reason_phrase}".rstrip()
    if TRANSIENCE.is_transient_status(status):
        raise TransientDeliveryError(detail, status=status)
    raise PermanentDeliveryError(detail, status=status)


def _receipt_from(response: httpx.Response) -> Receipt:
    details = {"http_status": str(response.status_code)}
    try:
        body = response.json()
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
