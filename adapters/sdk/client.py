"""The SDK REST client: OAuth2 client credentials, one HTTP connection pool, error mapping.

The token is fetched from ``token_url`` (``grant_type=client_credentials`` with the client id
and secret as form fields, and the API's scopes), cached until shortly before it expires, and
fetched again once when the API answers 401 (the service may have revoked it early); a second
401 with a fresh token is a permanent error (the credentials are wrong). ``map_sdk_errors`` is
the one place where httpx errors and SDK answers become hub errors, reading the one declaration
``TRANSIENCE``; a ``400`` becomes a ``PermanentDeliveryError`` carrying the ``eventIssues``'
titles and places (``sdk_bad_request``). Identity numbers are masked in whatever text of the
service's the error carries: an error detail is stored and shown, a personnummer must not be.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import httpx

from adapters.http_errors import (
    HTTPX_RETRY_IN_CALL_ERRORS,
    HTTPX_TRANSIENT_ERRORS,
    TRANSIENT_STATUSES,
    map_http_errors,
)
from adapters.transience import Transience, in_call_retrying
from hub.errors import PermanentDeliveryError, TransientDeliveryError

SCOPES = (
    "urn:sdk.api:sendMessage",
    "urn:sdk.api:getMessage",
    "urn:sdk.api:getMessageByFilter",
    "urn:sdk.api:deleteMessage",
)
TRANSIENCE = Transience(
    statuses=TRANSIENT_STATUSES,
    errors=HTTPX_TRANSIENT_ERRORS,
    retry_in_call=lambda error: isinstance(error, HTTPX_RETRY_IN_CALL_ERRORS),
    retry_statuses=frozenset({503}),
)
_IDENTITY_NUMBER = re.compile(r"(?<!\d)\d{6}(\d{2})?[-+]?\d{4}(?!\d)")
_MAX_DETAIL = 300


def masked(text: str) -> str:
    """``text`` with anything shaped like a personnummer, samordningsnummer or CPR masked."""
    return _IDENTITY_NUMBER.sub("[identity number]", text)[:_MAX_DETAIL]


class SdkClient:
    """A thread-safe client of one SDK message service (made by ``open``, never at import)."""

    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        token_url: str,
        client_id: str,
        client_secret: Callable[[], str],
        timeout: float,
        retries: int,
    ) -> None:
        self.name = name
        self._base = base_url.rstrip("/")
        self._token_url = token_url
        self._client_id = client_id
        self._secret = client_secret
        self._retries = retries
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout), follow_redirects=False, trust_env=False
        )
        self._lock = threading.Lock()
        self._token: tuple[str, float] | None = None  # (token, monotonic expiry)
        self.tokens_fetched = 0

    def close(self) -> None:
        self._http.close()

    @property
    def is_closed(self) -> bool:
        return self._http.is_closed

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One API call with a valid token; once more with a new token after a 401."""
        retrying = in_call_retrying(TRANSIENCE, self._retries)
        url = self._base + path
        with map_sdk_errors(self.name):
            response = retrying(self._http.request, method, url, headers=self._auth(), **kwargs)
            if response.status_code == 401:
                self._forget_token()
                response = retrying(self._http.request, method, url, headers=self._auth(), **kwargs)
                if response.status_code == 401:
                    raise PermanentDeliveryError(
                        f"{self.name}: the SDK service refuses a fresh token (HTTP 401)",
                        reason="sdk_unauthorized",
                        status=401,
                    )
        return response

    def _auth(self) -> dict[str, str]:
        with self._lock:
            token = self._token
            if token is None or token[1] <= time.monotonic():
                token = self._fetch_token()
                self._token = token
        return {"Authorization": f"Bearer {token[0]}"}

    def _forget_token(self) -> None:
        with self._lock:
            self._token = None

    def _fetch_token(self) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._secret(),
            "scope": " ".join(SCOPES),
        }
        started = time.monotonic()
        response = self._http.post(self._token_url, data=form)
        if response.status_code != 200:
            detail = f"{self.name}: the token endpoint answered HTTP {response.status_code}"
            if TRANSIENCE.is_transient_status(response.status_code):
                raise TransientDeliveryError(detail, status=response.status_code)
            raise PermanentDeliveryError(detail, reason="sdk_token_refused")
        try:
            body = response.json()
            token, lifetime = str(body["access_token"]), float(body.get("expires_in", 60))
        except (ValueError, KeyError, TypeError) as exc:
            raise PermanentDeliveryError(
                f"{self.name}: the token endpoint's answer has no access_token",
                reason="sdk_token_refused",
            ) from exc
        self.tokens_fetched += 1
        # Renewed a little before it runs out (a tenth of its life, at most 30 s).
        return token, started + lifetime - min(30.0, lifetime / 10)


def map_sdk_errors(destination: str) -> AbstractContextManager[None]:
    """httpx errors as hub errors (transient per ``TRANSIENCE``, the rest permanent)."""
    return map_http_errors(destination, TRANSIENCE)


def raise_for_answer(destination: str, response: httpx.Response) -> None:
    """Nothing for a 2xx; else the hub error the answer means."""
    status = response.status_code
    if 200 <= status < 300:
        return
    if status == 400:
        raise PermanentDeliveryError(
            f"{destination}: the SDK service refused the message: {issues_of(response)}",
            reason="sdk_bad_request",
            status=400,
        )
    detail = f"{destination}: HTTP {status} {response.reason_phrase}".rstrip()
    if TRANSIENCE.is_transient_status(status):
        raise TransientDeliveryError(detail, status=status)
    raise PermanentDeliveryError(detail, status=status)


def issues_of(response: httpx.Response) -> str:
    """The problem's ``eventIssues`` as one readable line (masked)."""
    try:
        problem = response.json()
        issues = problem.get("eventIssues") or []
        parts = [
            f"{issue.get('title', '?')} ({issue.get('detail', '')}) at {issue.get('in', '?')}"
            for issue in issues[:3]
            if isinstance(issue, dict)
        ]
        return masked("; ".join(parts) or str(problem.get("detail", "no detail")))
    except (ValueError, AttributeError):
        return "no problem details"
