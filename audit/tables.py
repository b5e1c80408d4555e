"""The audit trail's own tables (SQLAlchemy Core), kept apart from the hub's ``metadata`` so
the audit schema can be created, exported and reasoned about on its own.

Timestamps are ISO-8601 *text* (see ``entry.format_at``), not ``DateTime``: the hash covers
the exact stored text, and text survives SQLite and PostgreSQL byte for byte.

``audit_head`` holds the one row (id 1) that every append locks: it serializes writers and
names the last sequence number and hash, so an append needs no ``max(seq)`` scan. Each append
also signs the new head in the same statement (``at``, ``key_id``, ``signature``: the signed
head, see ``head.py``), so a head the hub did not write stands out at the next append.
``anchored_seq`` is the last seq a required witness (RFC 3161 time-stamping) confirmed and
``unanchored_since`` when the oldest entry after it was written: appends refuse once that is
older than the configured limit (X-Road's rule for its message log).

``audit_checkpoints`` keeps a copy of the signed head every few seconds (what the relay
publishes to the witnesses), so a verification can name the span a rewrite touched.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
)

from audit.entry import AT_WIDTH, ENTRY_FIELDS, FIELD_LIMITS

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

HEAD_ID = 1

audit_entries = Table(
    "audit_entries",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", String(AT_WIDTH), nullable=False),
    Column("actor", String(FIELD_LIMITS["actor"]), nullable=False),
    Column("action", String(40), nullable=False),
    Column("purpose", String(FIELD_LIMITS["purpose"]), nullable=True),
    Column("district", String(FIELD_LIMITS["district"]), nullable=True),
    Column("agreement", String(FIELD_LIMITS["agreement"]), nullable=True),
    Column("message_id", String(FIELD_LIMITS["message_id"]), nullable=True),
    Column("subject_ref", String(FIELD_LIMITS["subject_ref"]), nullable=True),
    Column("source", String(FIELD_LIMITS["source"]), nullable=True),
    Column("destination", String(FIELD_LIMITS["destination"]), nullable=True),
    Column("outcome", String(16), nullable=False),
    Column("reason", String(FIELD_LIMITS["reason"]), nullable=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
Index("ix_audit_entries_subject_ref", audit_entries.c.subject_ref)
Index("ix_audit_entries_actor", audit_entries.c.actor)
Index("ix_audit_entries_district", audit_entries.c.district)
Index("ix_audit_entries_message_id", audit_entries.c.message_id)
Index("ix_audit_entries_at", audit_entries.c.at)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    # The signed head (null only in a trail from before signed heads, or the genesis row).
    Column("at", String(AT_WIDTH), nullable=True),
    Column("key_id", String(100), nullable=True),
    Column("signature", LargeBinary, nullable=True),
    Column("anchored_seq", BigInteger, nullable=True),
    Column("unanchored_since", String(AT_WIDTH), nullable=True),
)

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", String(64), nullable=False),
    Column("at", String(AT_WIDTH), nullable=False),
    Column("key_id", String(100), nullable=False),
    Column("signature", LargeBinary, nullable=False),
)

# The entry columns in ``AuditEntry`` field order: ``AuditEntry(*row)`` builds an entry from a
# row selected with these.
ENTRY_COLUMNS = tuple(audit_entries.c[name] for name in ENTRY_FIELDS)
