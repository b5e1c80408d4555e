"""MedCom's inbound side: a CareCommunication at ``POST /api/v1/fhir/$process-message``.

The bundle is checked against MedCom's rules (``schemas.medcom.reading``), mapped into the
hub's neutral ``care.communication`` document and handed to the one ingest pipeline inside an
envelope (type ``care.communication`` v1, the district and purpose its receiver's SOR/EAN maps
to in the routing table's ``[medcom]`` part, MessageId = MessageHeader.id), so validation, the
CPR check, routing, the agreement check, encryption, storage, audit and delivery are the same
path as for any message. The answer is MedCom's synchronous acknowledgement bundle.

Receiver-side de-duplication, as MedCom's reliable messaging prescribes:

- MessageHeader.id seen before (with the same or a new Bundle.id): the response was lost, or
  the sender resent: the acknowledgement answered the first time, the same bytes (kept in
  ``medcom_acknowledgements``), and no second message (the envelope's MessageId makes the
  pipeline's idempotency answer the stored message even if the acknowledgement was not kept);
- a Bundle.id seen before with another MessageHeader.id: an error (bundle ids are never
  reused): ``fatal-error``, ``MSG_DUPLICATE_ID``;
- a bundle that breaks a rule, an unknown receiver, an invalid CPR number or a refused agreement:
  ``fatal-error`` naming what is wrong with a MedCom acknowledgement error code; nothing is
  stored (a refusal is audited by the pipeline, as every refusal is);
- the hub's guards cannot be reached just now: ``transient-error`` (the sender resends).

HTTP status (FHIR messaging, ``$process-message``): a message the hub could read far enough to
acknowledge is answered ``200`` with the acknowledgement, whatever its code — the
acknowledgement is the answer; a body that is no message bundle with a MessageHeader cannot be
acknowledged and is answered ``400`` with an OperationOutcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lxml import etree

from hub.errors import ContractRefusal, GuardUnavailable, InputError, InvalidIdentityNumber
from hub.ingest.identity import parse_identity
from hub.ingest.medcom_routing import MedcomReceiver, receiver_for
from hub.storage import medcom as rows
from schemas.medcom import codes
from schemas.medcom.acknowledgement import build_acknowledgement, outcome_json
from schemas.medcom.document import Organisation, to_xml
from schemas.medcom.reading import Invalid, Issue, ReadMessage, read_message
from schemas.registry import ENVELOPE_NS

if TYPE_CHECKING:
    from hub.bootstrap import Hub

MESSAGE_TYPE = "care.communication"


@dataclass(frozen=True)
class FhirAnswer:
    status: int
    body: bytes
    outcome: str  # ok | duplicate | transient-error | fatal-error | unreadable
    message_id: str | None = None
    reason: str | None = None


def process_message(hub: Hub, sender: str, body: bytes) -> FhirAnswer:
    """Check, store and route one CareCommunication of ``sender``; its acknowledgement."""
    try:
        message = read_message(body)
    except Invalid as exc:
        if exc.header_id is None:
            return FhirAnswer(
                400, outcome_json(tuple(exc.issues)), "unreadable", reason="unreadable"
            )
        return _negative(
            hub, exc.header_id, exc.bundle_id, tuple(exc.issues), exc.receiver, exc.sender
        )
    header, bundle, doc = message.header_id, message.bundle_id, message.document
    with hub.reader.connect() as conn:
        known_header = rows.header_of_bundle(conn, bundle)
        kept = rows.acknowledgement(conn, header)
    if known_header is not None and known_header != header:
        issue = Issue(codes.DUPLICATE_ID, "Bundle.id was already used by another message")
        return _negative(hub, header, bundle, (issue,), doc.receiver, doc.sender)
    if kept is not None:
        if kept[0] != sender:
            issue = Issue(codes.DUPLICATE_ID, "MessageHeader.id was already used by another sender")
            return _negative(hub, header, bundle, (issue,), doc.receiver, doc.sender)
        with hub.engine.begin() as conn:
            rows.remember_bundle(conn, bundle, header, sender, hub.clock())
        return FhirAnswer(200, kept[1], "duplicate")
    return _ingest(hub, sender, message)


def _ingest(hub: Hub, sender: str, message: ReadMessage) -> FhirAnswer:
    header, bundle, doc = message.header_id, message.bundle_id, message.document
    receiver = receiver_for(hub.routing.medcom_receivers, doc.receiver.sor, doc.receiver.ean)
    if receiver is None:
        issue = Issue(codes.RECEIVER_UNKNOWN, "the receiver's SOR/EAN is not a unit of this hub")
        return _negative(hub, header, bundle, (issue,), doc.receiver, doc.sender)
    try:
        parse_identity(doc.cpr, "dk")
        envelope = _envelope(receiver, header, to_xml(doc))
        result = hub.ingestor.ingest(sender, envelope)
    except InvalidIdentityNumber as exc:
        issue = Issue(codes.DATATYPE_WRONG, f"Patient.identifier: {exc.detail}")
        return _negative(hub, header, bundle, (issue,), doc.receiver, doc.sender, exc.reason)
    except ContractRefusal as exc:
        issue = Issue(codes.UNABLE_TO_RECEIVE_TYPE, f"no agreement allows it ({exc.reason})")
        return _negative(hub, header, bundle, (issue,), doc.receiver, doc.sender, exc.reason)
    except InputError as exc:
        issue = Issue(codes.VALUESET_VALUE_UNKNOWN, f"{exc.reason}: {exc.detail}")
        return _negative(hub, header, bundle, (issue,), doc.receiver, doc.sender, exc.reason)
    except GuardUnavailable as exc:
        issue = Issue(codes.MAILBOX_OUT_OF_OPERATION, "the hub cannot take messages just now")
        ack = _ack(hub, header, bundle, codes.ACK_TRANSIENT, (issue,), doc.receiver, doc.sender)
        return FhirAnswer(200, ack, codes.ACK_TRANSIENT, reason=exc.reason)
    now = hub.clock()
    ack = _ack(hub, header, bundle, codes.ACK_OK, (), doc.receiver, doc.sender)
    with hub.engine.begin() as conn:
        ack = rows.remember_acknowledgement(conn, header, sender, result.message_id, ack, now)
        rows.remember_bundle(conn, bundle, header, sender, now)
    outcome = "duplicate" if result.duplicate else codes.ACK_OK
    return FhirAnswer(200, ack, outcome, message_id=result.message_id)


def _envelope(receiver: MedcomReceiver, header_id: str, body: bytes) -> bytes:
    ns = f"{{{ENVELOPE_NS}}}"
    envelope = etree.Element(f"{ns}Envelope", nsmap={"h": ENVELOPE_NS})
    head = etree.SubElement(envelope, f"{ns}Header")
    for name, value in (
        ("Type", MESSAGE_TYPE),
        ("Version", "1"),
        ("District", receiver.district),
        ("Purpose", receiver.purpose),
        ("MessageId", header_id),
    ):
        etree.SubElement(head, f"{ns}{name}").text = value
    if receiver.recipients:
        listing = etree.SubElement(head, f"{ns}Recipients")
        for recipient in receiver.recipients:
            etree.SubElement(listing, f"{ns}Recipient").text = recipient
    etree.SubElement(envelope, f"{ns}Body").append(etree.fromstring(body))
    return etree.tostring(envelope, encoding="UTF-8", xml_declaration=True)


def _ack(
    hub: Hub,
    header: str,
    bundle: str | None,
    code: str,
    issues: tuple[Issue, ...],
    us: Organisation | None,
    them: Organisation | None,
) -> bytes:
    return build_acknowledgement(
        acked_header_id=header,
        acked_bundle_id=bundle,
        code=code,
        timestamp=hub.clock().isoformat(timespec="seconds"),
        issues=issues,
        sender=us,
        receiver=them,
    )


def _negative(
    hub: Hub,
    header: str,
    bundle: str | None,
    issues: tuple[Issue, ...],
    us: Organisation | None,
    them: Organisation | None,
    reason: str | None = None,
) -> FhirAnswer:
    ack = _ack(hub, header, bundle, codes.ACK_FATAL, issues, us, them)
    return FhirAnswer(200, ack, codes.ACK_FATAL, reason=reason or issues[0].code)
