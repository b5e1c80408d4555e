"""SDK adapter: a message to a district's functional mailbox over säker digital kommunikation.

System: an SDK message service (meddelandetjänst) with DIGG's REST API ("sdk api 1.0.0",
``diggsweden/sdk-docs`` ``API/sdk-api-restful.yml``); behind it the AS4/XHE transport to the
recipient's access point, which is the service's business. The local double is
``adapters.doubles.sdk_double``.

Protocol: ``POST {base_url}/sdk/messages`` with ``{"data": {"type": "messages", "attributes":
...}}`` (``adapters.sdk.outbound``): the hub document as a base64 file with a readable summary,
to the district's functional address, the person as ``referenceId`` (personnummer OID).
``201`` means received and validated only, so ``deliver`` answers
``Receipt(awaiting_receipt=True)`` and the relay polls ``GET /sdk/messages/{id}``
(``poll_receipt``): ``ACCEPTED`` is delivered; ``REJECTED``, ``MESSAGE_EXCHANGE_ERROR`` and
``ERROR`` are dead with the receipt's reason; anything else is still pending.

Authentication: OAuth2 client credentials (``adapters.sdk.client``), the API's scopes, the
token cached until it expires and fetched again once on a 401. The secret comes from
``client_secret`` or, better, the environment variable ``client_secret_env`` names; it is
never logged or shown in ``repr``.

Retry and idempotency: the SDK ``messageId`` is derived from the delivery id
(``adapters.sdk.ids``), so every attempt is the same message; an attempt after the first asks
the service first (``GET``) and does not send again what it already has (the double is also
idempotent on ``messageId``). In-call retry and transient/permanent classification come from
``adapters.transience`` (``TRANSIENCE`` in ``adapters.sdk.client``); a ``400`` with
``eventIssues`` is permanent (``sdk_bad_request``).

Inbound: with ``inbox_functional_address`` set, ``poll_inbox`` lists the messages to the hub's
own mailbox (``GET /sdk/messages?filter[recipientAttention.subOrganization.extension]=...``),
fetches each one not yet ingested, and makes it a ``mailbox.message`` envelope
(``adapters.sdk.mailbox``) from the registered system ``inbox_system``, for the district whose
functional address sent it (``recipients``), with purpose ``inbox_purpose``.

Data categories: whatever the routed type carries (``case.referral``: identity, contact, case);
inbound ``mailbox.message``: identity, case. Documents live in memory for the call only.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from adapters import StrictOptions
from adapters.sdk.client import SdkClient, masked, raise_for_answer
from adapters.sdk.ids import sdk_message_id
from adapters.sdk.mailbox import inbound_envelope
from adapters.sdk.outbound import Party, message_attributes
from adapters.transience import MAX_RETRIES
from hub.envelope import (
    InboundDocument,
    OutboundDelivery,
    Receipt,
    ReceiptState,
    ReceiptStatus,
)
from hub.errors import PermanentDeliveryError, TransientDeliveryError

MESSAGES = "/sdk/messages"
_PENDING = frozenset(
    {"NEW", "SCHEDULED", "SUBMITTED", "SCHEDULED_FOR_RESEND", "ACKNOWLEDGE", "WAITING_FOR_RECEIPT"}
)
_FAILED = {
    "REJECTED": "receipt_rejected",
    "MESSAGE_EXCHANGE_ERROR": "message_exchange_error",
    "ERROR": "message_exchange_error",
}
_OPTIONS = (
    "base_url", "token_url", "client_id", "client_secret", "client_secret_env", "sender",
    "sender_functional_address", "receipt_timeout_seconds", "recipients", "timeout", "retries",
    "inbox_functional_address", "inbox_system", "inbox_purpose", "inbox_poll_seconds",
)  # fmt: skip


class SdkAdapter:
    """Options: see ``docs/examples/routes.toml`` (``[destinations.sdk-stockholm]``)."""

    kind = "sdk"

    def __init__(self, name: str, options: Mapping[str, object]) -> None:
        opts = StrictOptions(self.kind, name, options, _OPTIONS)
        self.name = name
        self.base_url = _url(opts, "base_url")
        self.token_url = _url(opts, "token_url")
        self.client_id = opts.required("client_id", str)
        self._secret = opts.optional("client_secret", str)
        self._secret_env = opts.optional("client_secret_env", str)
        if (self._secret is None) == (self._secret_env is None):
            raise opts.fail("client_secret", "or 'client_secret_env' is required (one of them)")
        self.sender = Party(
            opts.required("sender", str), opts.required("sender_functional_address", str)
        )
        self.receipt_timeout_seconds = opts.get("receipt_timeout_seconds", float, 3600.0)
        self.timeout = opts.get("timeout", float, 10.0)
        for key, value in (("receipt_timeout_seconds", self.receipt_timeout_seconds),
                           ("timeout", self.timeout)):  # fmt: skip
            if not (math.isfinite(value) and value > 0):
                raise opts.fail(key, "must be a positive number of seconds")
        self.retries = opts.get("retries", int, 2)
        if not 0 <= self.retries <= MAX_RETRIES:
            raise opts.fail("retries", f"must be between 0 and {MAX_RETRIES}")
        self.recipients = _recipients(opts, opts.required("recipients", dict))
        self.inbox = opts.optional("inbox_functional_address", str)
        self.inbox_system = opts.get("inbox_system", str, "sdk-inbox")
        self.inbox_purpose = opts.get("inbox_purpose", str, "case-referral")
        poll = opts.get("inbox_poll_seconds", float, 30.0)
        if not (math.isfinite(poll) and poll > 0):
            raise opts.fail("inbox_poll_seconds", "must be a positive number of seconds")
        self.inbox_interval: float | None = poll if self.inbox else None
        self._client: SdkClient | None = None

    def __repr__(self) -> str:
        return f"SdkAdapter(name={self.name!r}, base_url={self.base_url!r}, client_secret=***)"

    # -- life cycle ---------------------------------------------------------------------------

    def open(self) -> None:
        if self._client is None:
            self._client = SdkClient(
                name=self.name, base_url=self.base_url, token_url=self.token_url,
                client_id=self.client_id, client_secret=self._client_secret,
                timeout=self.timeout, retries=self.retries,
            )  # fmt: skip

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def _client_secret(self) -> str:
        if self._secret is not None:
            return self._secret
        value = os.environ.get(self._secret_env or "")
        if not value:
            raise PermanentDeliveryError(
                f"{self.name}: environment variable {self._secret_env} is not set",
                reason="sdk_secret_missing",
            )
        return value

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        client = self._client
        if client is None:
            raise TransientDeliveryError(
                f"adapter {self.name!r} is not open", reason="adapter_closed"
            )
        try:
            return client.request(method, path, **kwargs)
        except RuntimeError as exc:  # httpx: the client was closed while we used it
            if client.is_closed:
                raise TransientDeliveryError(
                    f"adapter {self.name!r} was closed during delivery", reason="adapter_closed"
                ) from exc
            raise

    # -- sending ------------------------------------------------------------------------------

    def deliver(self, delivery: OutboundDelivery) -> Receipt:
        recipient = self.recipients.get(delivery.district)
        if recipient is None:
            raise PermanentDeliveryError(
                f"{self.name}: no SDK recipient for district {delivery.district!r}",
                reason="sdk_no_recipient",
            )
        message_id = sdk_message_id(delivery.delivery_id)
        if delivery.attempt > 1 and self._known(message_id):
            return Receipt(reference=message_id, duplicate=True, awaiting_receipt=True)
        body = {
            "data": {
                "type": "messages",
                "attributes": message_attributes(delivery, self.sender, recipient),
            }
        }
        response = self._call("POST", MESSAGES, json=body)
        raise_for_answer(self.name, response)
        return Receipt(
            reference=message_id,
            awaiting_receipt=True,
            details={"http_status": str(response.status_code)},
        )

    def _known(self, message_id: str) -> bool:
        response = self._call("GET", f"{MESSAGES}/{message_id}")
        if response.status_code == 404:
            return False
        raise_for_answer(self.name, response)
        return True

    # -- receipts -----------------------------------------------------------------------------

    def poll_receipt(self, reference: str) -> ReceiptStatus:
        response = self._call("GET", f"{MESSAGES}/{reference}")
        if response.status_code == 404:
            return ReceiptStatus(
                ReceiptState.REJECTED, "UNKNOWN", "sdk_message_unknown",
                f"{self.name}: the SDK service does not know message {reference}",
            )  # fmt: skip
        raise_for_answer(self.name, response)
        attributes = _attributes(self.name, response)
        status = str(attributes.get("messageStatus", ""))
        if status == "ACCEPTED":
            return ReceiptStatus(ReceiptState.ACCEPTED, status)
        if status in _FAILED:
            return ReceiptStatus(
                ReceiptState.REJECTED, status, _FAILED[status], _receipt_reason(attributes, status)
            )
        if status in _PENDING:
            return ReceiptStatus(ReceiptState.PENDING, status)
        raise PermanentDeliveryError(
            f"{self.name}: unknown messageStatus {masked(status)!r}", reason="sdk_bad_answer"
        )

    # -- inbound ------------------------------------------------------------------------------

    def poll_inbox(self, known: Callable[[str, str], bool]) -> list[InboundDocument]:
        if self.inbox is None:
            return []
        filter_key = "filter[recipientAttention.subOrganization.extension]"
        response = self._call("GET", MESSAGES, params={filter_key: self.inbox})
        raise_for_answer(self.name, response)
        documents: list[InboundDocument] = []
        for message_id in _listed_ids(self.name, response):
            if known(self.inbox_system, message_id):
                continue
            full = self._call("GET", f"{MESSAGES}/{message_id}")
            raise_for_answer(self.name, full)
            attributes = _attributes(self.name, full)
            district = self._district_of(attributes)
            if district is None:
                continue  # from a mailbox no district of ours has: nobody to attribute it to
            envelope = inbound_envelope(attributes, district, self.inbox_purpose)
            documents.append(InboundDocument(self.inbox_system, message_id, envelope))
        return documents

    def _district_of(self, attributes: Mapping[str, Any]) -> str | None:
        attention = attributes.get("senderAttention") or {}
        address = (attention.get("subOrganization") or {}).get("extension")
        for district, party in self.recipients.items():
            if party.functional_address == address:
                return district
        return None


def _attributes(destination: str, response: httpx.Response) -> dict[str, Any]:
    data = _json_at(destination, response, "data", "attributes")
    if not isinstance(data, dict):
        raise PermanentDeliveryError(f"{destination}: bad data.attributes", reason="sdk_bad_answer")
    return data


def _listed_ids(destination: str, response: httpx.Response) -> list[str]:
    """The message ids of a ``GET /sdk/messages`` answer (``data[].id``)."""
    listed = _json_at(destination, response, "data")
    if not isinstance(listed, list):
        raise PermanentDeliveryError(f"{destination}: bad data list", reason="sdk_bad_answer")
    ids = []
    for item in listed:
        if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"]:
            ids.append(item["id"])
    return ids


def _json_at(destination: str, response: httpx.Response, *path: str) -> Any:
    try:
        value: Any = response.json()
        for key in path:
            value = value[key]
    except (ValueError, KeyError, TypeError) as exc:
        raise PermanentDeliveryError(
            f"{destination}: the SDK answer has no {'.'.join(path)}", reason="sdk_bad_answer"
        ) from exc
    return value


def _receipt_reason(attributes: Mapping[str, Any], status: str) -> str:
    events = attributes.get("events") or {}
    issues = events.get("eventIssues") if isinstance(events, dict) else None
    parts = [
        f"{issue.get('typeCode', status)}: {issue.get('title', '')} ({issue.get('detail', '')})"
        for issue in (issues or [])
        if isinstance(issue, dict)
    ]
    return masked("; ".join(parts) or f"the SDK service reports {status}")


def _url(opts: StrictOptions, key: str) -> str:
    url = opts.required(key, str)
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise opts.fail(key, "is not a valid URL") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise opts.fail(key, "must be an absolute http:// or https:// URL")
    return url


def _recipients(opts: StrictOptions, table: dict[str, Any]) -> dict[str, Party]:
    """``recipients = { sdn-x = { organization = "0203:...", functional_address = "sdk:..." } }``"""
    parties: dict[str, Party] = {}
    for district, entry in table.items():
        where = f"recipients.{district}"
        if not isinstance(entry, dict):
            raise opts.fail(where, "must be a table with organization and functional_address")
        unknown = sorted(set(entry) - {"organization", "functional_address", "label"})
        if unknown:
            raise opts.fail(where, f"has unknown key {unknown[0]!r}")
        organization, address = entry.get("organization"), entry.get("functional_address")
        if not isinstance(organization, str) or not isinstance(address, str):
            raise opts.fail(where, "needs organization and functional_address (strings)")
        label = entry.get("label")
        parties[district] = Party(organization, address, label if isinstance(label, str) else None)
    if not parties:
        raise opts.fail("recipients", "must name at least one district")
    return parties
