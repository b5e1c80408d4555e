"""The compliance tables: legal holds that stop retention, the log review's samples, items and
verdicts, the persons with protected identity and the last sync of their marks (issue 15).
Declared on the hub's ``metadata``; ``hub.storage.tables`` re-exports them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from hub.storage.columns import UtcDateTime, metadata

# Legal holds (``hub.services.legal_holds``): while a hold is not lifted, the retention job
# leaves its district's messages (``subject_ref`` None) or one person's messages in that
# district (``subject_ref``: the keyed HMAC of the identity number, as the audit trail keeps it).
legal_holds = Table(
    "legal_holds",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("district", String(100), nullable=False),
    Column("subject_ref", String(64), nullable=True),
    Column("reason", Text, nullable=False),
    Column("placed_by", String(200), nullable=False),
    Column("placed_at", UtcDateTime(), nullable=False),
    Column("lifted_at", UtcDateTime(), nullable=True),
    Column("lifted_by", String(200), nullable=True),
    Column("lift_reason", Text, nullable=True),
)
Index("ix_legal_holds_district", legal_holds.c.district, legal_holds.c.lifted_at)

# Log review (``hub.services.log_review``): a sample of one district's accesses in a period,
# assigned to a data-protection officer; its items (audit entries a rule or the random draw
# picked); the verdicts on them. Verdicts are only ever inserted: a changed verdict is a new
# row with the next revision and its own audit entry, the earlier one stays as it was.
review_samples = Table(
    "review_samples",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("district", String(100), nullable=False),
    Column("since", UtcDateTime(), nullable=False),
    Column("until", UtcDateTime(), nullable=False),
    Column("rules", String(200), nullable=False),  # comma-separated rule names
    Column("random_count", Integer, nullable=False),
    Column("assigned_to", String(200), nullable=False),  # user:<name>, a dpo of the district
    Column("drawn_by", String(200), nullable=False),
    Column("drawn_at", UtcDateTime(), nullable=False),
)
Index("ix_review_samples_district", review_samples.c.district, review_samples.c.since)

review_items = Table(
    "review_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sample_id", String(36), ForeignKey("review_samples.id"), nullable=False),
    Column("entry_seq", BigInteger, nullable=False),  # audit_entries.seq
    Column("rules", String(200), nullable=False),  # every rule that picked it, or random
    Column("note", String(400), nullable=False),
    UniqueConstraint("sample_id", "entry_seq", name="uq_review_items_sample_entry"),
)
Index("ix_review_items_entry_seq", review_items.c.entry_seq)

review_verdicts = Table(
    "review_verdicts",
    metadata,
    Column("item_id", Integer, ForeignKey("review_items.id"), primary_key=True),
    Column("revision", Integer, primary_key=True),  # 1, then 2 for an amendment, …
    Column("verdict", String(20), nullable=False),  # ok | follow_up
    Column("note", Text, nullable=True),
    Column("amend_reason", Text, nullable=True),  # why revision > 1 replaced the one before
    Column("decided_by", String(200), nullable=False),
    Column("decided_at", UtcDateTime(), nullable=False),
)


# Persons the case system marked as having protected identity (sekretessmarkering, skyddad
# folkbokföring), per district, as their keyed HMAC only: recorded when a client summary says
# so (``hub.services.lookups``), read by the confidentiality check at ingest (``hub.guards``).
protected_identities = Table(
    "protected_identities",
    metadata,
    Column("district", String(100), primary_key=True),
    Column("subject_ref", String(64), primary_key=True),
    Column("kind", String(40), nullable=False),  # confidentiality_marking | protected_registration
    Column("marked_at", UtcDateTime(), nullable=False),  # when the case system last said so
    Column("source", String(100), nullable=False),  # the destination that answered
)

# The last sync of each district's marks from its case system (``hub.services.protected_sync``),
# written in the sync's own transaction beside its ``protection_synced`` audit entry, so the
# status (``hub.services.protected_status``) is one small read instead of a search of the
# audit trail. Counts and reason codes only.
protected_syncs = Table(
    "protected_syncs",
    metadata,
    Column("district", String(100), primary_key=True),
    Column("destination", String(100), nullable=False),  # the case system asked
    Column("synced_at", UtcDateTime(), nullable=False),  # the last run, ok or failed
    Column("outcome", String(20), nullable=False),  # ok | failed
    Column("detail", String(200), nullable=False),  # its counts, or the failure's reason
    Column("last_ok_at", UtcDateTime(), nullable=True),  # the last run that succeeded
    Column("failures", Integer, nullable=False),  # failed runs since the last success
)
