"""What ingest's checks hand its write (``Prepared``), what a stored message answers
(``IngestResult``), and a refusal's log line and audit entries."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from audit.entry import AuditAction, AuditEvent, Outcome
from hub.errors import HubError, audit_reason
from hub.ports import PersonsNamed, per_subject
from schemas.envelope import ParsedEnvelope

log = logging.getLogger("hub.ingest.pipeline")  # where operators have always found refusals


@dataclass(frozen=True)
class IngestResult:
    message_id: str
    deliveries: tuple[tuple[str, str], ...]  # (delivery id, destination)
    duplicate: bool = False


@dataclass(frozen=True)
class Prepared:
    """A message that passed every check that needs no write: ready to be stored."""

    sender: str
    envelope: ParsedEnvelope
    destinations: tuple[str, ...]
    subject_refs: tuple[str, ...]
    digest: str
    agreement_ref: str | None
    received_at: datetime
    business_keys: tuple[tuple[str, str], ...] = ()
    protected_identity: bool = False  # names a person with protected identity (allowed)

    def persons(self) -> PersonsNamed:
        """Its part in the confidentiality check, which runs in the write."""
        e = self.envelope
        return PersonsNamed(e.district, self.sender, e.purpose, e.message_type,
                            self.received_at, self.subject_refs)  # fmt: skip


def log_refusal(sender: str, envelope: ParsedEnvelope, exc: HubError) -> None:
    """One log line for a refused message (without the persons it names)."""
    log.info(
        "refused %s from %s for %s: %s", envelope.message_type, sender, envelope.district,
        exc.reason,
    )  # fmt: skip


def refusal_events(
    sender: str, envelope: ParsedEnvelope, subject_refs: Sequence[str], exc: HubError
) -> list[AuditEvent]:
    """The audit entries of a refused message that names a district and data subjects
    (personal data), one per person."""
    return per_subject(
        AuditEvent(
            actor=sender,
            action=AuditAction.REFUSED,
            purpose=envelope.purpose,
            district=envelope.district,
            source=sender,
            outcome=Outcome.REFUSED,
            reason=audit_reason(exc),
        ),
        subject_refs,
    )
