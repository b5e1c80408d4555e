"""HTTP client libraries' errors as hub errors: httpx's and urllib3's, side by side.

Two clients speak HTTP for the adapters. The generic HTTP adapter (``adapters.http``) uses
urllib3, measured leaner per request (issue 16); the SDK, MedCom, Combine and IVO adapters use
httpx. Both mappings say the same thing in their library's words, and a failure carries the
same name in its detail and its ``error`` context whichever client met it: httpx's exception
names (``ConnectError``, ``ConnectTimeout``, ``ReadTimeout``, ``RemoteProtocolError``), which
is what operators and the tests have always seen.

    what happened                               httpx                 urllib3
    nothing listens / name unknown / TLS fails  ConnectError          NewConnectionError, SSLError
    no connection within the timeout            ConnectTimeout        ConnectTimeoutError
    no answer within the timeout                ReadTimeout           ReadTimeoutError
    connection dropped, cut or not HTTP         RemoteProtocolError,  ProtocolError
                                                ReadError, WriteError

All of these are transient (the request never arrived or its answer was lost); the connect
errors and the dropped connection are also worth repeating at once inside the call, a timeout
is not (the destination may still be working on it). Any other error of the library is
permanent. ``TRANSIENT_STATUSES`` are the HTTP answers that are transient for every HTTP
adapter.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import urllib3.exceptions as u3

from adapters.transience import Transience
from hub.errors import PermanentDeliveryError, TransientDeliveryError

__all__ = [
    "HTTPX_RETRY_IN_CALL_ERRORS",
    "HTTPX_TRANSIENT_ERRORS",
    "TRANSIENT_STATUSES",
    "URLLIB3_RETRY_IN_CALL_ERRORS",
    "URLLIB3_TRANSIENT_ERRORS",
    "map_http_errors",
    "map_urllib3_errors",
]

TRANSIENT_STATUSES: frozenset[int] = frozenset({408, 425, 429, *range(500, 600)})

# -- httpx ---------------------------------------------------------------------------------------

HTTPX_TRANSIENT_ERRORS: tuple[type[httpx.HTTPError], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.ProxyError,
)
HTTPX_RETRY_IN_CALL_ERRORS: tuple[type[httpx.HTTPError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)


@contextmanager
def map_http_errors(destination: str, transience: Transience) -> Iterator[None]:
    """httpx errors raised inside as hub errors: transient where ``transience`` says so,
    any other permanent (the SDK, Combine and MedCom adapters)."""
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


# -- urllib3 -------------------------------------------------------------------------------------

# Most specific first: urllib3's NewConnectionError is a ConnectTimeoutError.
_URLLIB3_AS_HTTPX: tuple[tuple[type[u3.HTTPError], str], ...] = (
    (u3.NewConnectionError, "ConnectError"),
    (u3.ConnectTimeoutError, "ConnectTimeout"),
    (u3.ReadTimeoutError, "ReadTimeout"),
    (u3.TimeoutError, "TimeoutException"),
    (u3.SSLError, "ConnectError"),
    (u3.ProtocolError, "RemoteProtocolError"),
    (u3.ProxyError, "ProxyError"),
    (u3.DecodeError, "DecodingError"),
)
URLLIB3_TRANSIENT_ERRORS: tuple[type[u3.HTTPError], ...] = (
    u3.TimeoutError,
    u3.SSLError,
    u3.ProtocolError,
    u3.ProxyError,
)
URLLIB3_RETRY_IN_CALL_ERRORS: tuple[type[u3.HTTPError], ...] = (
    u3.ConnectTimeoutError,  # and NewConnectionError, its subclass
    u3.SSLError,
    u3.ProtocolError,
)


def httpx_name(error: BaseException) -> str:
    """The name httpx gives the failure urllib3 raised as ``error`` (see the table above)."""
    for kind, name in _URLLIB3_AS_HTTPX:
        if isinstance(error, kind):
            return name
    return type(error).__name__


@contextmanager
def map_urllib3_errors(destination: str, transience: Transience) -> Iterator[None]:
    """urllib3 errors raised inside as hub errors, named as httpx names them: transient where
    ``transience`` says so, any other permanent (the generic HTTP adapter)."""
    try:
        yield
    except transience.errors as exc:
        name = httpx_name(exc)
        raise TransientDeliveryError(f"{destination}: no HTTP answer ({name})", error=name) from exc
    except u3.HTTPError as exc:
        name = httpx_name(exc)
        raise PermanentDeliveryError(f"{destination}: request failed ({name})", error=name) from exc
