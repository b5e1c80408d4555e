"""The art. 30 record's rows, one per agreement in force, from the agreement alone (pure).

GDPR art. 30(1) asks the controller (each city district) to record, per processing: the
controller and its data-protection officer, the purposes, the categories of data subjects and
of personal data, the recipients, the time limits for erasure and a general description of the
technical and organisational security measures; art. 30(2) asks the processor for the
categories of processing carried out on behalf of each controller and its sub-processors. Every
one of these is a term of the agreement (``contracts.model.Agreement``), except the security
measures, which are the hub's own and the same for every agreement (``SECURITY_MEASURES``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from contracts.model import Agreement

# What the hub does for every message, whatever the agreement (docs/ARCHITECTURE.md, Guarantees).
SECURITY_MEASURES = (
    "default deny: each message and lookup checked against the agreement at ingest and at "
    "every delivery",
    "payloads encrypted with AES-256-GCM under per-district keys; retention ends by "
    "crypto-shredding",
    "identity numbers stored only as keyed HMACs",
    "every access to personal data audited in a hash-chained, signed trail anchored at witnesses",
    "systems authenticated by expiring bearer tokens; people by argon2id passwords and "
    "sessions with timeouts",
    "persons with protected identity refused unless the agreement allows the purpose",
)

COLUMNS = (
    "district", "controller", "dpo_contact", "agreement", "processor", "sub_processors",
    "purposes", "data_categories", "consent_required", "subject_categories", "senders",
    "recipients", "message_types", "retention_days", "legal_reference", "valid_from",
    "valid_to", "protected_identity_purposes", "security_measures",
)  # fmt: skip


@dataclass(frozen=True)
class RecordRow:
    district: str
    controller: str
    dpo_contact: str
    agreement: str  # id@version
    processor: str
    sub_processors: str
    purposes: str
    data_categories: str
    consent_required: str
    subject_categories: str
    senders: str
    recipients: str
    message_types: str
    retention_days: int
    legal_reference: str
    valid_from: str
    valid_to: str
    protected_identity_purposes: str
    security_measures: str

    def values(self) -> list[object]:
        return [getattr(self, c) for c in COLUMNS]


def in_force(agreements: Iterable[Agreement], at: datetime) -> list[Agreement]:
    """The agreements active and valid at ``at`` (those the hub lets data through under)."""
    return [a for a in agreements if a.status == "active" and a.is_valid_at(at)]


def record_rows(agreements: Iterable[Agreement]) -> list[RecordRow]:
    return [
        RecordRow(
            district=a.district,
            controller=a.controller_name,
            dpo_contact=a.dpo_contact,
            agreement=a.ref,
            processor=a.processor,
            sub_processors=_listed(a.sub_processors),
            purposes=_listed(a.purposes),
            data_categories=_listed(a.categories),
            consent_required=_listed(a.consent_required & a.categories),
            subject_categories=_listed(a.subject_categories),
            senders=_listed(a.senders),
            recipients=_listed(a.recipients),
            message_types=_listed(a.message_types),
            retention_days=a.retention_days,
            legal_reference=a.legal_reference,
            valid_from=a.valid_from.isoformat(),
            valid_to="" if a.valid_to is None else a.valid_to.isoformat(),
            protected_identity_purposes=_listed(a.protected_identity_purposes),
            security_measures="; ".join(SECURITY_MEASURES),
        )
        for a in sorted(agreements, key=lambda a: (a.district, a.id))
    ]


def _listed(values: Iterable[str]) -> str:
    return ", ".join(sorted(values))
