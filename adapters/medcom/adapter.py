"""MedCom adapter: send a ``care.communication`` document as a FHIR CareCommunication message.

System: a Danish municipality's, hospital's or GP's system on MedCom's network; the local
double is ``adapters.doubles.medcom_double``.

Protocol: the document is mapped to a MedCom CareCommunication message bundle
(``schemas.medcom.message``) and POSTed as ``application/fhir+json`` to
``{base_url}/$process-message``. MedCom's reliable messaging always asks for an
acknowledgement; this adapter takes it **synchronously**, as the answer to the POST (a
simplification: on the real network messages and acknowledgements travel separately through
VANS or the MedCom message broker, and the acknowledgement arrives as a message of its own;
asynchronous acknowledgements are out of scope). Then:

- ``ok`` → delivered; the receipt's reference is the acknowledgement's MessageHeader.id, and an
  acknowledgement naming an earlier Bundle.id than the one just sent (the receiver answered a
  resend with the original acknowledgement) marks the receipt a duplicate;
- ``transient-error`` → ``TransientDeliveryError``: the hub resends on the destination's retry
  schedule (``retry.max_attempts`` is MedCom's "configured number of times"), then dead;
- ``fatal-error`` → ``PermanentDeliveryError``, dead at once, the reason
  ``medcom_fatal_error:<MedCom acknowledgement error code>``;
- no acknowledgement (no answer in ``timeout`` seconds, an empty or unreadable answer, one for
  another message) → transient, resent likewise.

A resend keeps its MessageHeader.id — derived from the hub's delivery id (uuid5), so it is the
same on every attempt, in every process — and gets a new Bundle.id and Bundle.timestamp.
HTTP failures are classified by ``TRANSIENCE`` (``adapters.transience``), as for every adapter.

Options (routes.toml): ``base_url`` (the receiver's FHIR base, required), ``sender_sor`` and
``sender_ean`` (the sending organisation this destination is configured for, required: a
document naming another sender is refused, permanently), ``timeout`` (s, 10), ``retries`` (in-call
retries of connection failures, 2), ``token`` (an optional bearer token). Unknown options are
errors.

Data categories: identity (the CPR number), health (the texts), contact; held in memory for the
call only. Error details carry codes and ids, never the message's content.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

import httpx

from adapters import StrictOptions
from adapters.transience import MAX_RETRIES, Transience, in_call_retrying
from hub.envelope import OutboundDelivery, Receipt
from hub.errors import PermanentDeliveryError, TransientDeliveryError
from schemas.errors import SchemaError
from schemas.medcom import codes
from schemas.medcom.acknowledgement import Acknowledgement, read_acknowledgement
from schemas.medcom.document import CareCommunication, from_element
from schemas.medcom.message import FHIR_JSON, build_message, to_json
from schemas.parser import ParseLimits, parse_xml

# The namespace of MessageHeader ids derived from delivery ids: fixed forever, or a resend
# after an upgrade would be a new message to the receiver.
HEADER_NAMESPACE = uuid.UUID("6f1c3c1e-5b7a-4f0e-9f3a-0c7d2b8e4a51")
_LIMITS = ParseLimits(max_bytes=32 * 1024 * 1024)

TRANSIENCE = Transience(
    statuses=frozenset({408, 425, 429, *range(500, 600)}),
    errors=(httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError),
    retry_in_call=lambda error: isinstance(
        error, httpx.ConnectError | httpx.ConnectTimeout | httpx.RemoteProtocolError
    ),
    retry_statuses=frozenset({503}),
)


def header_id_for(delivery_id: str) -> str:
    """The MessageHeader.id of a delivery: the same on every attempt."""
    return str(uuid.uuid5(HEADER_NAMESPACE, delivery_id))


class MedcomAdapter:
    kind = "medcom"
    transience = TRANSIENCE

    def __init__(self, name: str, options: Mapping[str, object]) -> None:
        allowed = ("base_url", "sender_sor", "sender_ean", "timeout", "retries", "token")
        opts = StrictOptions(self.kind, name, options, allowed)
        base_url = opts.required("base_url", str).rstrip("/")
        try:
            parsed = httpx.URL(base_url)
        except httpx.InvalidURL as exc:
            raise opts.fail("base_url", "is not a valid URL") from exc
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise opts.fail("base_url", "must be an absolute http:// or https:// URL")
        self.sender_sor = opts.required("sender_sor", str)
        if not (self.sender_sor.isdigit() and 6 <= len(self.sender_sor) <= 18):
            raise opts.fail("sender_sor", "must be a SOR code (6-18 digits)")
        self.sender_ean = opts.required("sender_ean", str)
        if not (self.sender_ean.isdigit() and len(self.sender_ean) == 13):
            raise opts.fail("sender_ean", "must be an EAN/GLN number (13 digits)")
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
        self.url = f"{base_url}/$process-message"
        self._token = token
        self._client: httpx.Client | None = None

    def __repr__(self) -> str:
        auth = ", token=***" if self._token else ""
        return f"MedcomAdapter(name={self.name!r}, url={self.url!r}{auth})"

    def open(self) -> None:
        if self._client is not None:
            return
        headers = {"Accept": FHIR_JSON}
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

    def deliver(self, delivery: OutboundDelivery) -> Receipt:
        client = self._client
        if client is None:
            raise TransientDeliveryError(
                f"adapter {self.name!r} is not open", reason="adapter_closed"
            )
        doc = self._document(delivery)
        header_id = header_id_for(delivery.delivery_id)
        bundle_id = str(uuid.uuid4())
        timestamp = datetime.now(UTC).isoformat(timespec="seconds")
        body = to_json(build_message(doc, header_id, bundle_id, timestamp))
        retrying = in_call_retrying(TRANSIENCE, self.retries)
        headers = {"Content-Type": FHIR_JSON}
        try:
            response = retrying(client.post, self.url, content=body, headers=headers)
        except TRANSIENCE.errors as exc:
            raise TransientDeliveryError(
                f"{self.name}: no acknowledgement ({type(exc).__name__})",
                reason="no_acknowledgement",
                error=type(exc).__name__,
            ) from exc
        except httpx.HTTPError as exc:
            raise PermanentDeliveryError(
                f"{self.name}: request failed ({type(exc).__name__})", error=type(exc).__name__
            ) from exc
        except RuntimeError as exc:  # httpx: "the client has been closed" (close() raced us)
            if client.is_closed:
                raise TransientDeliveryError(
                    f"adapter {self.name!r} was closed during delivery", reason="adapter_closed"
                ) from exc
            raise
        ack = self._acknowledgement(response, header_id)
        return self._outcome(ack, header_id, bundle_id)

    def _document(self, delivery: OutboundDelivery) -> CareCommunication:
        try:
            doc = from_element(parse_xml(delivery.document, _LIMITS))
        except (SchemaError, ValueError, AssertionError) as exc:
            raise PermanentDeliveryError(
                f"{self.name}: the document is no care.communication v1 ({type(exc).__name__})",
                reason="document_invalid",
            ) from None
        if (doc.sender.sor, doc.sender.ean) != (self.sender_sor, self.sender_ean):
            raise PermanentDeliveryError(
                f"{self.name}: the document's sender (SOR {doc.sender.sor}) is not the "
                f"organisation this destination sends for (SOR {self.sender_sor})",
                reason="sender_mismatch",
            )
        return doc

    def _acknowledgement(self, response: httpx.Response, header_id: str) -> Acknowledgement:
        status = response.status_code
        if not 200 <= status < 300:
            detail = f"{self.name}: HTTP {status} {response.reason_phrase}".rstrip()
            if TRANSIENCE.is_transient_status(status):
                raise TransientDeliveryError(detail, status=status)
            raise PermanentDeliveryError(detail, status=status)
        if not response.content:
            raise TransientDeliveryError(
                f"{self.name}: HTTP {status} without an acknowledgement",
                reason="no_acknowledgement",
            )
        try:
            ack = read_acknowledgement(response.content)
        except ValueError as exc:
            raise TransientDeliveryError(
                f"{self.name}: the answer is no acknowledgement: {exc}",
                reason="no_acknowledgement",
            ) from None
        if ack.acked_header_id != header_id:
            raise TransientDeliveryError(
                f"{self.name}: the acknowledgement answers message {ack.acked_header_id}, "
                f"not {header_id}",
                reason="no_acknowledgement",
            )
        return ack

    def _outcome(self, ack: Acknowledgement, header_id: str, bundle_id: str) -> Receipt:
        issues = ", ".join(i.code for i in ack.issues) or "no code"
        if ack.code == codes.ACK_OK:
            duplicate = ack.acked_bundle_id is not None and ack.acked_bundle_id != bundle_id
            return Receipt(
                reference=ack.header_id,
                duplicate=duplicate,
                details={"message_header_id": header_id, "bundle_id": bundle_id},
            )
        if ack.code == codes.ACK_TRANSIENT:
            raise TransientDeliveryError(
                f"{self.name}: transient-error acknowledgement ({issues}) of {header_id}",
                reason="medcom_transient_error",
                code=issues,
            )
        first = ack.issues[0].code if ack.issues else "unknown"
        raise PermanentDeliveryError(
            f"{self.name}: fatal-error acknowledgement ({issues}) of {header_id}",
            reason=f"medcom_fatal_error:{first}",
            code=issues,
        )
