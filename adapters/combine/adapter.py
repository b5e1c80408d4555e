"""Pulsen Combine adapter: approved home-care visits into Combine's import; the monthly
compensation basis out of it.

System: Pulsen Combine, the municipality's case and fee system for home care under customer
choice (seed 004): officers review reported time there, run fees and compensation, and
providers receive their compensation basis from it. The local double is
``adapters.doubles.combine_double``.

**Combine's real API is not public.** What follows is a plausible REST/JSON import designed
from the seed's facts (approved time is reported on; the monthly fee and compensation run; a
compensation basis per provider), not Pulsen's interface. Swapping in the real one means
changing this package and its double, nothing else.

Protocol (designed):

- ``POST {base_url}/import/v1/visits`` with ``Idempotency-Key: <delivery id>`` and the JSON of
  ``adapters.combine.mapping`` (one approved visit, its ``importId`` = the hub's delivery id).
  ``201 {"importId", "visitRef", "duplicate": false}`` once; the same id again ``200`` with the
  same ``visitRef`` and ``"duplicate": true`` (Combine de-duplicates on the delivery id, so a
  retry after a lost answer is harmless). ``422 {"errors": [{"field", "code", "message"}]}``:
  the import is refused (dead, reason ``combine_rejected:<code>``); ``409 {"code":
  "period_closed"}``: the month's fee run is final (dead, ``combine_period_closed``).
- ``GET {base_url}/compensation/v1/{provider}/{month}``: the provider's compensation basis
  from the month's fee run (``LookupAdapter.lookup`` with lookup ``compensation_basis`` and
  parameters ``provider`` and ``month``); ``404`` for a provider Combine does not know
  (permanent, ``combine_unknown_provider``). The answer is returned as Combine sent it; the
  hub reads it in ``hub.homecare.basis``.

A visit not approved by its provider is never sent (permanent, ``visit_not_approved``): the
hub forwards approved time only, and this is the last line of that rule.

Errors: HTTP statuses and httpx errors are classified by ``TRANSIENCE``
(``adapters.transience``): 408/425/429/5xx and network errors transient, the rest permanent;
connection failures and 503 are retried in the call (``retries``).

Options (routes.toml): ``base_url`` (required), ``timeout`` (s, 10), ``retries`` (2),
``token`` (optional bearer token, never logged). Unknown options are errors.

Data categories: identity (the client's number), time; held in memory for the call only.
Error details carry statuses and codes, never the visit.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping

import httpx

from adapters import StrictOptions
from adapters.combine.mapping import NotAVisit, visit_import
from adapters.http_errors import map_http_errors
from adapters.transience import MAX_RETRIES, Transience, in_call_retrying
from hub.envelope import LookupRequest, LookupResult, OutboundDelivery, Receipt
from hub.errors import PermanentDeliveryError, TransientDeliveryError
from schemas.errors import SchemaError
from schemas.parser import parse_xml

IMPORT_PATH = "/import/v1/visits"
COMPENSATION_PATH = "/compensation/v1"
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
PROVIDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")

TRANSIENCE = Transience(
    statuses=frozenset({408, 425, 429, *range(500, 600)}),
    errors=(httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError),
    retry_in_call=lambda error: isinstance(
        error, httpx.ConnectError | httpx.ConnectTimeout | httpx.RemoteProtocolError
    ),
    retry_statuses=frozenset({503}),
)


class CombineAdapter:
    kind = "combine"
    transience = TRANSIENCE

    def __init__(self, name: str, options: Mapping[str, object]) -> None:
        opts = StrictOptions(self.kind, name, options, ("base_url", "timeout", "retries", "token"))
        base_url = opts.required("base_url", str).rstrip("/")
        try:
            parsed = httpx.URL(base_url)
        except httpx.InvalidURL as exc:
            raise opts.fail("base_url", "is not a valid URL") from exc
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise opts.fail("base_url", "must be an absolute http:// or https:// URL")
        self.timeout = opts.get("timeout", float, 10.0)
        if not (math.isfinite(self.timeout) and self.timeout > 0):
            raise opts.fail("timeout", "must be a positive number of seconds")
        self.retries = opts.get("retries", int, 2)
        if not 0 <= self.retries <= MAX_RETRIES:
            raise opts.fail("retries", f"must be between 0 and {MAX_RETRIES}")
        token = opts.optional("token", str)
        if token is not None and (not token or any(c.isspace() for c in token)):
            raise opts.fail("token", "must be non-empty and without whitespace")
        self.name = name
        self.base_url = base_url
        self._token = token
        self._client: httpx.Client | None = None

    def __repr__(self) -> str:
        auth = ", token=***" if self._token else ""
        return f"CombineAdapter(name={self.name!r}, base_url={self.base_url!r}{auth})"

    def open(self) -> None:
        if self._client is not None:
            return
        headers = {"Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
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

    # -- visits in ----------------------------------------------------------------------------

    def deliver(self, delivery: OutboundDelivery) -> Receipt:
        client = self._open_client()
        try:
            body = visit_import(
                parse_xml(delivery.document),
                delivery_id=delivery.delivery_id,
                message_id=delivery.message_id,
                district=delivery.district,
            )
        except NotAVisit as exc:
            raise PermanentDeliveryError(f"{self.name}: {exc}", reason=exc.reason) from None
        except SchemaError:
            raise PermanentDeliveryError(
                f"{self.name}: the document is no XML", reason="document_invalid"
            ) from None
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": delivery.delivery_id,
        }
        content = json.dumps(body, ensure_ascii=False).encode()
        response = self._exchange(
            client,
            lambda: client.post(f"{self.base_url}{IMPORT_PATH}", content=content, headers=headers),
        )
        answer = _json(response)
        if response.status_code in (200, 201):
            reference = answer.get("visitRef")
            return Receipt(
                reference=str(reference) if reference is not None else None,
                duplicate=answer.get("duplicate") is True,
                details={"http_status": str(response.status_code)},
            )
        raise self._refusal(response, answer)

    # -- the compensation basis out -----------------------------------------------------------

    def lookup(self, request: LookupRequest) -> LookupResult:
        if request.lookup != "compensation_basis":
            raise PermanentDeliveryError(
                f"{self.name}: Combine answers compensation_basis only, not {request.lookup}",
                reason="lookup_not_supported",
            )
        provider = request.params.get("provider", "")
        month = request.params.get("month", "")
        if not PROVIDER.match(provider) or not MONTH.match(month):
            raise PermanentDeliveryError(
                f"{self.name}: compensation_basis needs a provider id and a month YYYY-MM",
                reason="lookup_invalid",
            )
        client = self._open_client()
        url = f"{self.base_url}{COMPENSATION_PATH}/{provider}/{month}"
        response = self._exchange(client, lambda: client.get(url))
        answer = _json(response)
        if response.status_code == 200 and answer:
            return LookupResult(data=answer)
        if response.status_code == 404:
            raise PermanentDeliveryError(
                f"{self.name}: Combine knows no provider {provider!r}",
                reason="combine_unknown_provider",
            )
        raise self._refusal(response, answer)

    # -- shared -------------------------------------------------------------------------------

    def _open_client(self) -> httpx.Client:
        if self._client is None:
            raise TransientDeliveryError(
                f"adapter {self.name!r} is not open", reason="adapter_closed"
            )
        return self._client

    def _exchange(self, client: httpx.Client, send: Callable[[], httpx.Response]) -> httpx.Response:
        retrying = in_call_retrying(TRANSIENCE, self.retries)
        try:
            with map_http_errors(self.name, TRANSIENCE):
                return retrying(send)
        except RuntimeError as exc:  # httpx: "the client has been closed" (close() raced us)
            if client.is_closed:
                raise TransientDeliveryError(
                    f"adapter {self.name!r} was closed during the call", reason="adapter_closed"
                ) from exc
            raise

    def _refusal(
        self, response: httpx.Response, answer: Mapping[str, object]
    ) -> PermanentDeliveryError | TransientDeliveryError:
        status = response.status_code
        detail = f"{self.name}: HTTP {status} {response.reason_phrase}".rstrip()
        if TRANSIENCE.is_transient_status(status):
            return TransientDeliveryError(detail, status=status)
        if status == 409:
            return PermanentDeliveryError(
                f"{detail}: the month's fee run is final", reason="combine_period_closed"
            )
        errors = answer.get("errors")
        if status == 422 and isinstance(errors, list) and errors and isinstance(errors[0], dict):
            code = str(errors[0].get("code", "invalid"))
            field = str(errors[0].get("field", ""))
            return PermanentDeliveryError(
                f"{detail}: {code} ({field})", reason=f"combine_rejected:{code}", status=status
            )
        return PermanentDeliveryError(detail, status=status)


def _json(response: httpx.Response) -> dict[str, object]:
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}
