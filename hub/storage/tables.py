"""The hub's own tables (SQLAlchemy Core). ``audit/`` and ``contracts/`` own theirs.

Times are stored as timezone-aware UTC. No column holds personal data in plain text: payloads
are ciphertext, identity numbers appear only as keyed HMACs (``message_subjects``).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

# The compliance tables live in a module of their own (this one would pass 400 lines); they are
# on the same ``metadata`` and re-exported here, so ``hub.storage.tables`` names every table.
from hub.storage.columns import UtcDateTime as UtcDateTime
from hub.storage.columns import metadata as metadata
from hub.storage.compliance_tables import legal_holds as legal_holds
from hub.storage.compliance_tables import protected_identities as protected_identities
from hub.storage.compliance_tables import protected_syncs as protected_syncs
from hub.storage.compliance_tables import review_items as review_items
from hub.storage.compliance_tables import review_samples as review_samples
from hub.storage.compliance_tables import review_verdicts as review_verdicts

systems = Table(
    "systems",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("token_hash", String(128), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    # "system" sends messages and asks lookups; "admin" manages agreements through the API.
    Column("role", String(20), nullable=False, default="system"),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UtcDateTime(), nullable=False),
    # Administrators only: the districts they act for, space-separated (never empty for one).
    Column("districts", Text, nullable=False, default="", server_default=""),
    # None: a token issued before tokens expired (migration 0002); new tokens always expire.
    Column("expires_at", UtcDateTime(), nullable=True),
    # After ``systems rotate-token``: the replaced token, accepted until the overlap ends.
    Column("previous_token_hash", String(128), nullable=True),
    Column("previous_expires_at", UtcDateTime(), nullable=True),
)
Index("uq_systems_previous_token_hash", systems.c.previous_token_hash, unique=True)

messages = Table(
    "messages",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("sender", String(100), nullable=False),
    Column("message_type", String(100), nullable=False),
    Column("version", String(20), nullable=False),
    Column("district", String(100), nullable=False),
    Column("purpose", String(100), nullable=False),
    # The sender's own message id: the idempotency key, unique per sender.
    Column("idempotency_key", String(200), nullable=True),
    # Keyed HMAC of the document: tells a repeated key with the same content from a conflict.
    Column("content_digest", String(64), nullable=False),
    Column("categories", String(400), nullable=False),
    Column("agreement_ref", String(200), nullable=True),
    Column("key_version", Integer, nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("size", Integer, nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
    # Set by the retention job when it destroyed the payload's key (hub.services.retention).
    Column("shredded_at", UtcDateTime(), nullable=True),
    UniqueConstraint("sender", "idempotency_key", name="uq_messages_sender_key"),
)
Index("ix_messages_received_at", messages.c.received_at)
Index("ix_messages_district_key", messages.c.district, messages.c.key_version)
Index(
    "ix_messages_retention",
    messages.c.agreement_ref,
    messages.c.shredded_at,
    messages.c.received_at,
)
# The console's overview counts a window's messages from this index alone (hub.storage.overview);
# the operators' message search (hub.storage.message_search) seeks a district's time window in it.
Index(
    "ix_messages_overview",
    messages.c.district,
    messages.c.received_at,
    messages.c.message_type,
    messages.c.id,  # the deliveries' join key: the messages' table is not read at all
)
# The message search by the sender's message id without the sender (the unique key leads with
# the sender).
Index("ix_messages_idempotency_key", messages.c.idempotency_key)

message_subjects = Table(
    "message_subjects",
    metadata,
    Column("message_id", String(36), ForeignKey("messages.id"), primary_key=True),
    Column("subject_ref", String(64), primary_key=True),
)
Index("ix_message_subjects_ref", message_subjects.c.subject_ref)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("message_id", String(36), ForeignKey("messages.id"), nullable=False),
    Column("destination", String(100), nullable=False),
    Column("state", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    # Incremented at every claim; a worker holding an older claim may not record an outcome.
    Column("claim", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("lease_until", UtcDateTime(), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("last_reason", String(100), nullable=True),
    Column("receipt_ref", String(200), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("delivered_at", UtcDateTime(), nullable=True),
    # When it was handed to a destination that acknowledges later (awaiting_receipt, SDK).
    Column("sent_at", UtcDateTime(), nullable=True),
    # The message's district, copied at ingest (migration 0011 filled older rows): the
    # console's counts and dead letters of one's districts read the index below alone, where a
    # join to each delivery's message took a second at a million messages.
    Column("district", String(100), nullable=True),
)
Index("ix_deliveries_due", deliveries.c.state, deliveries.c.next_attempt_at)
Index("ix_deliveries_scope", deliveries.c.state, deliveries.c.district, deliveries.c.destination)
Index("ix_deliveries_message", deliveries.c.message_id)
Index("ix_deliveries_destination_state", deliveries.c.destination, deliveries.c.state)
# When a destination last took a delivery, in one seek (the overview's "destination down").
Index("ix_deliveries_destination_delivered", deliveries.c.destination, deliveries.c.delivered_at)
# The deliveries that became dead in a window (a delivery's last change is its death).
Index("ix_deliveries_state_updated", deliveries.c.state, deliveries.c.updated_at)
# A district's deliveries of a window with what the overview and the statistics count of them
# (covering: the table is not read).
Index(
    "ix_deliveries_overview",
    deliveries.c.district,
    deliveries.c.created_at,
    deliveries.c.destination,
    deliveries.c.state,
    deliveries.c.delivered_at,
    deliveries.c.attempts,
)

# Per-district data keys, wrapped by the master key. Shredding clears ``wrapped_key``: payloads
# sealed under that version can then never be decrypted again (crypto-shredding).
district_keys = Table(
    "district_keys",
    metadata,
    Column("district", String(100), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("wrapped_key", LargeBinary, nullable=True),
    Column("state", String(20), nullable=False),  # active | retired | shredded
    Column("created_at", UtcDateTime(), nullable=False),
    Column("retired_at", UtcDateTime(), nullable=True),
    Column("shredded_at", UtcDateTime(), nullable=True),
)

# MedCom's receiver-side de-duplication (hub/services/medcom_inbound.py). Every Bundle.id a
# sender used, with the MessageHeader.id it carried: a Bundle.id seen again with another header
# is an error. And the acknowledgement answered to each MessageHeader.id, kept to answer a
# repeat with the same bytes. Ids, organisation codes and codes only: no personal data.
medcom_bundles = Table(
    "medcom_bundles",
    metadata,
    Column("bundle_id", String(64), primary_key=True),
    Column("header_id", String(64), nullable=False),
    Column("sender", String(100), nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
)
Index("ix_medcom_bundles_header", medcom_bundles.c.header_id)

medcom_acknowledgements = Table(
    "medcom_acknowledgements",
    metadata,
    Column("header_id", String(64), primary_key=True),
    Column("sender", String(100), nullable=False),
    Column("message_id", String(36), ForeignKey("messages.id"), nullable=False),
    Column("acknowledgement", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

# A message's business keys (``schemas.business_keys``): one row per key with a value. A
# protected key's value is its keyed HMAC, never the plain value; search is exact match on
# (name, value), which the primary key's order serves without a second index (written for
# every message: each index is one more B-tree insert). The referral follow-up also writes here
# the ``sdk_message_id`` of each delivery of a referral, which a reply names.
business_keys = Table(
    "business_keys",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("value", String(200), primary_key=True),
    Column("message_id", String(36), ForeignKey("messages.id"), primary_key=True),
    sqlite_with_rowid=False,  # SQLite: the primary key is the table, one B-tree, not two
)

# Callback deadlines of referrals to districts (``hub.referrals``). Metadata only: the case
# number stays in ``business_keys`` as an HMAC, the person in ``message_subjects``.
referrals = Table(
    "referrals",
    metadata,
    Column("message_id", String(36), ForeignKey("messages.id"), primary_key=True),
    Column("district", String(100), nullable=False),
    Column("urgency", String(20), nullable=False),
    Column("registered_at", UtcDateTime(), nullable=True),  # the contact centre's own time
    Column("received_at", UtcDateTime(), nullable=False),  # the deadline counts from here
    Column("deadline", UtcDateTime(), nullable=False),
    Column("closed_at", UtcDateTime(), nullable=True),
    Column("closed_how", String(40), nullable=True),  # the answering message's key name
    Column("closed_by", String(36), nullable=True),  # the answering message's hub id
    # From the referral's plain business keys, for the monthly statistics and the chargeback
    # (``hub.services.service_stats``); None for referrals stored before migration 0014.
    Column("ordering_unit", String(200), nullable=True),
    Column("main_category", String(40), nullable=True),
    Column("case_type", String(40), nullable=True),
    Column("case_class", String(40), nullable=True),
)
# Overdue lists and counts read the open ones by deadline; a district is a filter on those.
Index("ix_referrals_open", referrals.c.closed_at, referrals.c.deadline)
Index("ix_referrals_received", referrals.c.received_at)
# IVO reporting (``hub.services.ivo_tracking``): one row per tracked decision, its state (events,
# the person's birth date, gender and IVO code, the identity number) sealed under the district's
# data key like a payload; the person only as a keyed HMAC in clear. ``ivo_tracked_messages``
# names the execution events already applied, so the tracking job applies each exactly once.
ivo_decisions = Table(
    "ivo_decisions",
    metadata,
    Column("district", String(100), primary_key=True),
    Column("decision_id", String(64), primary_key=True),
    Column("subject_ref", String(64), nullable=False),
    Column("key_version", Integer, nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("events", Integer, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)
Index("ix_ivo_decisions_subject_ref", ivo_decisions.c.subject_ref)

ivo_tracked_messages = Table(
    "ivo_tracked_messages",
    metadata,
    Column("message_id", String(36), ForeignKey("messages.id"), primary_key=True),
    Column("tracked_at", UtcDateTime(), nullable=False),
)

# Payments held by the working-time check (``hub.atl``): one row per held delivery of a
# ``finance.payment`` voucher, with the violations found (rule, source, window, hours: no
# person in them, the assistant only as the HMAC of their employee id) and the officer's
# decision. The delivery itself is in state ``held`` until then.
atl_holds = Table(
    "atl_holds",
    metadata,
    Column("delivery_id", String(36), ForeignKey("deliveries.id"), primary_key=True),
    Column("message_id", String(36), ForeignKey("messages.id"), nullable=False),
    Column("district", String(100), nullable=False),
    Column("period_from", String(10), nullable=False),
    Column("period_to", String(10), nullable=False),
    Column("violations", Text, nullable=False),  # JSON list
    Column("held_at", UtcDateTime(), nullable=False),
    Column("decision", String(20), nullable=True),  # released | rejected
    Column("decided_by", String(200), nullable=True),
    Column("decided_at", UtcDateTime(), nullable=True),
    Column("reason", Text, nullable=True),
)
Index("ix_atl_holds_district", atl_holds.c.district, atl_holds.c.decision)
# Time reports (hub/timereports): the providers whose systems report visits, their batches
# (held until the provider approves or rejects them) and the periods an officer reopened after
# their lock date. Metadata only: the visits are messages (sealed payloads, business keys).
timereport_providers = Table(
    "timereport_providers",
    metadata,
    Column("provider", String(64), primary_key=True),
    Column("system", String(100), nullable=False),
    Column("district", String(100), nullable=False),
    Column("lock_day", Integer, nullable=True),  # None: the setting timereport_lock_day
    Column("created_at", UtcDateTime(), nullable=False),
)
Index("ix_timereport_providers_system", timereport_providers.c.system)
timereport_batches = Table(
    "timereport_batches",
    metadata,
    Column("provider", String(64), primary_key=True),
    Column("batch_id", String(64), primary_key=True),
    Column("sender", String(100), nullable=False),
    Column("district", String(100), nullable=False),
    Column("state", String(20), nullable=False),  # held | approved | rejected
    Column("visits", Integer, nullable=False),
    Column("warnings", Text, nullable=True),  # JSON: the checks' warnings (no personal data)
    Column("received_at", UtcDateTime(), nullable=False),
    Column("decided_at", UtcDateTime(), nullable=True),
    Column("decided_by", String(100), nullable=True),
    Column("reason", Text, nullable=True),
)
timereport_reopened = Table(
    "timereport_reopened",
    metadata,
    Column("provider", String(64), primary_key=True),
    Column("period", String(7), primary_key=True),  # YYYY-MM
    Column("reason", Text, nullable=False),
    Column("reopened_by", String(100), nullable=False),
    Column("reopened_at", UtcDateTime(), nullable=False),
    Column("until", UtcDateTime(), nullable=False),
)

# People of the console (``hub.services.users``, ``hub.services.sessions``): accounts with an
# argon2id hash (None: signs in through an external identity provider only), roles granted per
# district (``*`` for the hub-wide hub_admin), sessions known by the SHA-256 of their cookie, and
# the wrong-password counters of accounts and client addresses.
users = Table(
    "users",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("display_name", String(200), nullable=False),
    Column("password_hash", String(200), nullable=True),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("password_changed_at", UtcDateTime(), nullable=True),
)

user_roles = Table(
    "user_roles",
    metadata,
    Column("user_name", String(100), ForeignKey("users.name"), primary_key=True),
    Column("role", String(30), primary_key=True),
    Column("district", String(100), primary_key=True),
    Column("granted_at", UtcDateTime(), nullable=False),
    Column("granted_by", String(200), nullable=False),
)

user_sessions = Table(
    "user_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_name", String(100), ForeignKey("users.name"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("last_seen_at", UtcDateTime(), nullable=False),
    Column("ended_at", UtcDateTime(), nullable=True),
)
Index("ix_user_sessions_user_name", user_sessions.c.user_name)

login_failures = Table(
    "login_failures",
    metadata,
    # "user:<name>" or "address:<client address>"
    Column("key", String(200), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("locked_until", UtcDateTime(), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# An operator's saved message searches (``hub.services.saved_filters``): per person, by name.
# The filter is JSON of metadata fields only (state, destination, type, key name, hours): a
# business key's value is never saved, so no case or invoice number lies here in plain text.
saved_filters = Table(
    "saved_filters",
    metadata,
    Column("user_name", String(100), ForeignKey("users.name"), primary_key=True),
    Column("name", String(100), primary_key=True),
    Column("filter", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)
