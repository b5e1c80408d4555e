"""What one audit entry says, and the exact bytes its hash covers.

An entry records *that* personal data was touched (who, what, why, under which agreement, for
which keyed subject reference), never the data itself. Entries are chained: each entry's hash
covers its predecessor's hash, so changing, removing, inserting or reordering one breaks every
link after it unless the whole tail is re-hashed, which signed checkpoints then expose.

The canonical form is versioned and unambiguous without escaping: after a version line and the
sequence number, every field is written as ``<length>:<text>`` (length in code points) or ``~``
for a missing value, in a fixed order, and the whole text is UTF-8 encoded once. Timestamps are
part of it as the exact ISO-8601 text that is stored, so a hash never depends on how a database
round-trips a datetime.
"""

from __future__ import annotations

import hashlib
import operator
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import NamedTuple

CANONICAL_VERSION = "omsorgshub-audit/1"
GENESIS_HASH = "0" * 64

# Column widths, shared with tables.py so a too-long value fails the same way on every database.
FIELD_LIMITS: dict[str, int] = {
    "actor": 200,
    "purpose": 100,
    "district": 100,
    "agreement": 200,
    "message_id": 200,
    "subject_ref": 128,
    "source": 100,
    "destination": 100,
    "reason": 200,
}
AT_WIDTH = 32

# A raw Swedish personnummer/samordningsnummer or Danish CPR number, with or without separator.
_RAW_IDENTITY = re.compile(r"\d{6}(\d{2})?[-+]?\d{4}")


class AuditAction(StrEnum):
    RECEIVED = "received"
    REFUSED = "refused"
    DECRYPTED = "decrypted"
    DELIVERED = "delivered"
    SENT = "sent"  # handed to a message service; the recipient's receipt is awaited (SDK)
    DELIVERY_FAILED = "delivery_failed"
    DEAD = "dead"
    VIEWED = "viewed"
    EXPORTED = "exported"
    QUERIED = "queried"
    REPLAYED = "replayed"
    AGREEMENT_CHANGED = "agreement_changed"
    KEY_CREATED = "key_created"
    KEY_ROTATED = "key_rotated"
    KEY_REWRAPPED = "key_rewrapped"
    KEY_SHREDDED = "key_shredded"
    AUDIT_SEARCHED = "audit_searched"
    AUDIT_VERIFIED = "audit_verified"
    AUDIT_EXPORTED = "audit_exported"
    AUDIT_ACKNOWLEDGED = "audit_acknowledged"  # an operator lifted an integrity alarm
    SYSTEM_REGISTERED = "system_registered"
    SYSTEM_CHANGED = "system_changed"  # (de)activated
    HELD = "held"  # a payment stopped by the working-time check (hub.atl)
    RELEASED = "released"  # an officer let a held payment go
    REJECTED = "rejected"  # an officer refused a held payment
    TIME_APPROVED = "time_approved"  # a provider approved a batch of time reports: forwarded
    TIME_REJECTED = "time_rejected"  # ... rejected it: never forwarded, back with the reason
    PERIOD_REOPENED = "period_reopened"  # an officer reopened a period after its lock date
    USER_CHANGED = "user_changed"  # a console account: added, disabled, password, role
    SIGNED_IN = "signed_in"  # a console sign-in (refused: wrong password or throttled)
    SIGNED_OUT = "signed_out"
    RETENTION_ENDED = "retention_ended"  # a batch of payloads shredded (district, rule, ids)
    # A run of the retention job (or a dry run), one per district it covered, counts only: a
    # run that shreds nothing still says it ran. And a read of retention's status (counts).
    RETENTION_RUN = "retention_run"
    RETENTION_REPORTED = "retention_reported"
    LEGAL_HOLD_PLACED = "legal_hold_placed"  # retention stopped for a district or a person
    LEGAL_HOLD_LIFTED = "legal_hold_lifted"
    REVIEW_SAMPLED = "review_sampled"  # a log review's sample drawn and assigned to a DPO
    REVIEW_DECIDED = "review_decided"  # a verdict on one reviewed access (or its amendment)
    REVIEW_REPORTED = "review_reported"  # a log review's coverage report
    # A case system's list of protected persons (hub.services.protected_sync): one entry per
    # person whose mark it set, changed or lifted, and one per district and run (counts only).
    PROTECTION_CHANGED = "protection_changed"
    PROTECTION_SYNCED = "protection_synced"
    PROTECTION_REPORTED = "protection_reported"  # the marks' status read (counts per district)


class Outcome(StrEnum):
    OK = "ok"
    REFUSED = "refused"
    FAILED = "failed"
    ERROR = "error"


def format_at(moment: datetime) -> str:
    """The stored text of a timestamp: UTC, always with microseconds, e.g.
    ``2025-03-01T09:30:00.000000+00:00``. Fixed width, so text order is time order."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def parse_at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@dataclass(frozen=True)
class AuditEvent:
    """One thing to record, as the caller states it. ``subject_ref`` is the caller's keyed
    HMAC of an identity number, never the number itself. One subject per event: a message that
    concerns several people is recorded once per subject."""

    action: AuditAction
    actor: str
    outcome: Outcome = Outcome.OK
    purpose: str | None = None
    district: str | None = None
    agreement: str | None = None
    message_id: str | None = None
    subject_ref: str | None = None
    source: str | None = None
    destination: str | None = None
    reason: str | None = None
    at: datetime | None = field(default=None)

    def __post_init__(self) -> None:
        # Coerce plain strings ("received") to the enums, rejecting unknown values.
        object.__setattr__(self, "action", AuditAction(self.action))
        object.__setattr__(self, "outcome", Outcome(self.outcome))
        if not self.actor:
            raise ValueError("an audit event needs an actor")
        for name, limit in FIELD_LIMITS.items():
            value = getattr(self, name)
            if value is not None and len(value) > limit:
                raise ValueError(f"audit field {name} is longer than {limit} characters")
        if self.subject_ref is not None and _RAW_IDENTITY.fullmatch(self.subject_ref):
            raise ValueError("subject_ref looks like a raw identity number; pass its keyed HMAC")
        if self.at is not None:
            format_at(self.at)  # rejects naive datetimes now rather than at append time


class AuditEntry(NamedTuple):
    """An entry as stored: ``at`` is the exact stored ISO-8601 text (see ``format_at``);
    ``action`` and ``outcome`` are plain strings so that a tampered value can still be read
    and reported by ``verify`` instead of failing to load.

    A NamedTuple rather than a frozen dataclass: entries are built by the hundred thousand
    when a trail is loaded or verified, and a tuple is built five times faster."""

    seq: int
    at: str
    actor: str
    action: str
    purpose: str | None
    district: str | None
    agreement: str | None
    message_id: str | None
    subject_ref: str | None
    source: str | None
    destination: str | None
    outcome: str
    reason: str | None
    prev_hash: str
    hash: str

    @property
    def at_datetime(self) -> datetime:
        return parse_at(self.at)

    def as_dict(self) -> dict[str, str | int | None]:
        return self._asdict()

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> AuditEntry:
        """Build an entry from a JSON object with exactly the entry's fields, checking types.
        Runs once per line of an export, so the common (valid) case is checked in bulk."""
        try:
            values = _GET_FIELDS(data)
        except KeyError as exc:
            raise ValueError(f"audit entry lacks field {exc.args[0]}") from exc
        if (
            len(data) != len(ENTRY_FIELDS)
            or type(values[0]) is not int
            or not _TEXT_OR_NONE.issuperset(map(type, values[1:]))
            or None in _GET_REQUIRED(data)
        ):
            raise ValueError(_explain(data))
        return cls(*values)


def _explain(data: Mapping[str, object]) -> str:
    """Why ``from_mapping`` refused ``data`` (the slow path, for the error message)."""
    unknown = sorted(set(data) - set(ENTRY_FIELDS))
    if unknown:
        return f"audit entry has unknown fields: {', '.join(unknown)}"
    for name in ENTRY_FIELDS:
        value = data[name]
        if name == "seq":
            if type(value) is not int:
                return f"audit entry field seq is not an integer: {value!r}"
        elif value is None and name in _REQUIRED_TEXT:
            return f"audit entry field {name} is missing"
        elif value is not None and type(value) is not str:
            return f"audit entry field {name} is not text: {value!r}"
    return "audit entry is malformed"  # pragma: no cover


ENTRY_FIELDS: tuple[str, ...] = AuditEntry._fields
_REQUIRED_TEXT = ("at", "actor", "action", "outcome", "prev_hash", "hash")
_GET_FIELDS = operator.itemgetter(*ENTRY_FIELDS)
_GET_REQUIRED = operator.itemgetter(*_REQUIRED_TEXT)
_TEXT_OR_NONE = frozenset({str, type(None)})


# An entry as a plain tuple in ``ENTRY_FIELDS`` order, as a database cursor hands it back. An
# ``AuditEntry`` is one too: the chain hash and ``verify`` take either, so verifying a stored
# trail builds no object per entry beyond the driver's own row tuple.
EntryRow = tuple[
    int,  # seq
    str,  # at
    str,  # actor
    str,  # action
    str | None,  # purpose
    str | None,  # district
    str | None,  # agreement
    str | None,  # message_id
    str | None,  # subject_ref
    str | None,  # source
    str | None,  # destination
    str,  # outcome
    str | None,  # reason
    str,  # prev_hash as stored; the hash covers the predecessor's hash as computed
    str,  # hash
]


# "<length>:" for every length a field the hub writes can have (the widest column is 200), so
# the canonical form looks the prefix up instead of formatting an integer per field: 0.5 µs of
# the ~1.4 µs an entry's canonical bytes cost (measured). A longer value (a tampered row, or an
# export) takes ``_canonical_any``, which writes the very same bytes.
_PREFIX = tuple(f"{n}:" for n in range(1024))


def canonical_bytes(prev_hash: str, entry: EntryRow) -> bytes:
    """The exact bytes ``chain_hash`` digests: ``entry``'s fields but its own two hashes, after
    ``prev_hash``. Written out field by field from one tuple unpacking: this runs once per
    entry on every verification, so it avoids loops, attribute look-ups and per-field
    encoding."""
    (
        seq,
        at,
        actor,
        action,
        purpose,
        district,
        agreement,
        message_id,
        subject_ref,
        source,
        destination,
        outcome,
        reason,
        _,
        _,
    ) = entry
    p = _PREFIX
    try:
        text = (
            f"{CANONICAL_VERSION}\n{seq}\n"
            f"{p[len(prev_hash)]}{prev_hash}"
            f"{p[len(at)]}{at}"
            f"{p[len(actor)]}{actor}"
            f"{p[len(action)]}{action}"
            f"{'~' if purpose is None else p[len(purpose)] + purpose}"
            f"{'~' if district is None else p[len(district)] + district}"
            f"{'~' if agreement is None else p[len(agreement)] + agreement}"
            f"{'~' if message_id is None else p[len(message_id)] + message_id}"
            f"{'~' if subject_ref is None else p[len(subject_ref)] + subject_ref}"
            f"{'~' if source is None else p[len(source)] + source}"
            f"{'~' if destination is None else p[len(destination)] + destination}"
            f"{p[len(outcome)]}{outcome}"
            f"{'~' if reason is None else p[len(reason)] + reason}"
        )
    except IndexError:  # a value longer than any the hub writes
        return _canonical_any(prev_hash, entry)
    # surrogatepass: a tampered export with a lone surrogate must still hash (and mismatch),
    # not crash the verifier.
    return text.encode("utf-8", "surrogatepass")


def _canonical_any(prev_hash: str, entry: EntryRow) -> bytes:
    """``canonical_bytes`` for values of any length, each length formatted."""
    fields = [prev_hash, *entry[1:13]]
    parts = [f"{CANONICAL_VERSION}\n{entry[0]}\n"]
    parts += ["~" if v is None else f"{len(v)}:{v}" for v in fields]
    return "".join(parts).encode("utf-8", "surrogatepass")


def chain_hash(prev_hash: str, entry: EntryRow) -> str:
    """SHA-256 (hex) over ``canonical_bytes``: the hash stored in ``entry.hash``."""
    return hashlib.sha256(canonical_bytes(prev_hash, entry)).hexdigest()
