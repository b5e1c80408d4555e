"""MedCom acknowledgement bundles (``medcomdk/dk-medcom-acknowledgement``): build and read.

An acknowledgement is a message bundle whose MessageHeader has the event
``acknowledgement-message`` and ``response {identifier: the acknowledged MessageHeader.id,
code: ok | transient-error | fatal-error, details → OperationOutcome}``; the OperationOutcome,
required when the code is not ``ok``, carries MedCom acknowledgement error codes. A Provenance
with activity ``acknowledgement`` targets the acknowledgement's MessageHeader and names the
acknowledged message as its entity. Here that entity also carries the acknowledged Bundle.id as
its identifier: when a receiver answers a resend with the original acknowledgement, the sender
sees that it names an earlier bundle, i.e. that the message was a duplicate.

Every id of an acknowledgement is derived (uuid5) from what it acknowledges and its code, so
the same acknowledgement is the same bytes when it is built again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.messageheader import (
    MessageHeader,
    MessageHeaderResponse,
    MessageHeaderSource,
)
from fhir.resources.R4B.operationoutcome import OperationOutcome, OperationOutcomeIssue
from fhir.resources.R4B.provenance import Provenance, ProvenanceAgent, ProvenanceEntity
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError

from schemas.medcom import codes
from schemas.medcom.document import Organisation
from schemas.medcom.message import (
    derived_id,
    entries,
    header_destination,
    meta,
    organization,
    ref,
    to_json,
    when,
)
from schemas.medcom.reading import Issue

HUB_ENDPOINT = "urn:omsorgshub:medcom"  # source.endpoint when the receiver's SOR is unknown


@dataclass(frozen=True)
class Acknowledgement:
    """What a sender reads from an acknowledgement."""

    header_id: str  # the acknowledgement's own MessageHeader.id
    bundle_id: str
    acked_header_id: str
    acked_bundle_id: str | None
    code: str
    issues: tuple[Issue, ...]


def build_acknowledgement(
    *,
    acked_header_id: str,
    acked_bundle_id: str | None,
    code: str,
    timestamp: str,
    issues: tuple[Issue, ...] = (),
    sender: Organisation | None = None,
    receiver: Organisation | None = None,
) -> bytes:
    """The acknowledgement bundle (FHIR JSON) of one message. ``sender`` is the acknowledging
    organisation (the message's receiver), ``receiver`` the message's sender."""
    if code not in codes.ACK_CODES:
        raise ValueError(f"unknown acknowledgement code {code!r}")
    if code != codes.ACK_OK and not issues:
        raise ValueError("an acknowledgement that is not ok needs its issues")
    seed = f"ack/{acked_bundle_id}/{code}"
    ack_id = derived_id(acked_header_id, seed + "/MessageHeader")
    resources: list[Resource] = []
    response = MessageHeaderResponse(identifier=acked_header_id, code=code)
    if issues:
        outcome_id = derived_id(acked_header_id, seed + "/OperationOutcome")
        resources.append(_outcome(outcome_id, issues))
        response.details = ref(outcome_id)
    endpoint = codes.SOR_ENDPOINT + sender.sor if sender is not None else HUB_ENDPOINT
    header = MessageHeader(
        id=ack_id,
        meta=meta(codes.PROFILE_ACK_HEADER),
        eventCoding=Coding(system=codes.EVENT_CODES, code=codes.EVENT_ACKNOWLEDGEMENT),
        source=MessageHeaderSource(endpoint=endpoint),
        response=response,
        definition=codes.ACK_DEFINITION,
    )
    agent = Reference(display="receiver")
    if sender is not None:
        sender_id = derived_id(acked_header_id, seed + "/Organization/sender")
        resources.append(organization(sender_id, sender))
        header.sender = agent = ref(sender_id)
    if receiver is not None:
        receiver_id = derived_id(acked_header_id, seed + "/Organization/receiver")
        resources.append(organization(receiver_id, receiver))
        header.destination = [header_destination(receiver_id, receiver)]
    acked = Reference(
        reference=f"urn:uuid:{acked_header_id}",
        identifier=None if acked_bundle_id is None else Identifier(value=acked_bundle_id),
    )
    provenance = Provenance(
        id=derived_id(acked_header_id, seed + "/Provenance"),
        meta=meta(codes.PROFILE_MESSAGING_PROVENANCE),
        target=[ref(ack_id)],
        occurredDateTime=when(timestamp),
        recorded=when(timestamp),
        activity=CodeableConcept(
            coding=[Coding(system=codes.ACTIVITY_CODES, code=codes.ACK_ACTIVITY)]
        ),
        agent=[ProvenanceAgent(who=agent)],
        entity=[ProvenanceEntity(role="revision", what=acked)],
    )
    bundle = Bundle(
        id=derived_id(acked_header_id, seed + "/Bundle"),
        meta=meta(codes.PROFILE_ACK_MESSAGE),
        type="message",
        timestamp=when(timestamp),
        entry=entries([header, *resources, provenance]),
    )
    return to_json(bundle)


def _outcome(outcome_id: str, issues: tuple[Issue, ...]) -> OperationOutcome:
    return OperationOutcome(
        id=outcome_id,
        meta=meta(codes.PROFILE_ACK_OUTCOME),
        issue=[
            OperationOutcomeIssue(
                severity="error",
                code="processing",
                details=CodeableConcept(
                    coding=[Coding(system=codes.error_code_system(i.code), code=i.code)],
                    text=i.text,
                ),
            )
            for i in issues
        ],
    )


def outcome_json(issues: tuple[Issue, ...]) -> bytes:
    """A bare OperationOutcome, for a body that cannot be acknowledged (no MessageHeader)."""
    outcome = _outcome("00000000-0000-0000-0000-000000000000", issues)
    outcome.id = None
    outcome.meta = None
    return outcome.model_dump_json(exclude_none=True).encode("utf-8")


def read_acknowledgement(data: bytes) -> Acknowledgement:
    """Read an acknowledgement; ``ValueError`` saying what is wrong when it is none."""
    try:
        bundle = Bundle.model_validate(json.loads(data))
    except (ValueError, ValidationError) as exc:  # JSONDecodeError is a ValueError
        raise ValueError(f"not a FHIR Bundle ({type(exc).__name__})") from None
    resources = [e.resource for e in bundle.entry or [] if e.resource is not None]
    header = resources[0] if resources else None
    if not isinstance(header, MessageHeader) or header.response is None:
        raise ValueError("the first entry is not a MessageHeader with a response")
    if header.eventCoding is None or header.eventCoding.code != codes.EVENT_ACKNOWLEDGEMENT:
        raise ValueError("the MessageHeader is not an acknowledgement-message")
    code = str(header.response.code)
    if code not in codes.ACK_CODES:
        raise ValueError(f"unknown response code {code!r}")
    issues: list[Issue] = []
    for resource in resources:
        if isinstance(resource, OperationOutcome):
            for issue in resource.issue:
                coding = issue.details.coding if issue.details and issue.details.coding else []
                text = issue.details.text if issue.details and issue.details.text else ""
                issues.append(Issue(str(coding[0].code) if coding else "unknown", str(text)))
    acked_bundle = None
    for resource in resources:
        if isinstance(resource, Provenance):
            for entity in resource.entity or []:
                if entity.what.identifier is not None and entity.what.identifier.value:
                    acked_bundle = str(entity.what.identifier.value)
    if code != codes.ACK_OK and not issues:
        raise ValueError(f"a {code} acknowledgement without an OperationOutcome")
    return Acknowledgement(
        header_id=str(header.id),
        bundle_id=str(bundle.id),
        acked_header_id=str(header.response.identifier),
        acked_bundle_id=acked_bundle,
        code=code,
        issues=tuple(issues),
    )
