"""IVO tracking: each decision's reporting state, fed from the stored execution events.

Design: a follow-up job over stored messages, not a port on the message path. The execution
events are already stored sealed, with their subjects and their audit entries, by the
ordinary ingest; this job (``track_events``) reads the ``case.execution_event`` messages (v1
and v2) it has not applied yet, decrypts each (audited ``decrypted``, purpose
``ivo_purpose``), folds it into its decision's state and seals that again under the
district's current data key, marking the message applied in the same transaction. Why:

- the message path stays as it is, on ports only, and a tracking failure can never refuse or
  slow down a message: ingest answers the case system whatever IVO reporting needs;
- it is exactly-once without a second write on the hot path: ``ivo_tracked_messages`` names
  the events applied, in the transaction that seals the new state, and batches of concurrent
  jobs are serialized (SQLite's write lock; a PostgreSQL advisory lock), so running the job
  twice, or two at once, applies nothing twice and loses nothing;
- events that arrive out of order, late or again are handled by the state, not by their
  arrival: a decision keeps its events and the due rules (``hub.ivo.due``) read them by date;
- it only reads what an agreement allows: an event is tracked only if an agreement of its
  district allows its sender, type and categories for the purpose ``ivo_purpose``; one that
  none allows is left untracked (and counted) and is tracked once an agreement allows it.

The reports (``hub.services.ivo_reports``) run the job first, so a worklist is always as
current as the stored events; ``omsorgshub ivo track`` runs it alone (e.g. from cron).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from hub.errors import ContractRefusal, KeyShredded
from hub.guards import AuditAction
from hub.ingest.identity import parse_identity
from hub.ingest.records import StoredMessage
from hub.ivo.codes import full_personnummer, gender_of, ivo_code
from hub.ivo.events import EVENT_TYPE, ReadEvent, read_event
from hub.ivo.model import Decision, Person
from hub.ivo.state import Tracked, dump, load
from hub.keys import crypto
from hub.services.principal import Kind, Principal
from hub.storage import ivo as ivo_rows
from hub.storage.ivo import DecisionRow

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from hub.bootstrap import Hub

SEALED_TYPE = "ivo.tracked_decision"


@dataclass
class TrackResult:
    applied: int = 0  # events folded into their decision
    refused: int = 0  # events no agreement allows for IVO reporting: left untracked
    skipped: int = 0  # events that cannot be applied (shredded key, another person)
    changed: set[tuple[str, str]] = field(default_factory=set)  # (district, decision id)

    @property
    def decisions(self) -> int:
        """Decisions whose state changed."""
        return len(self.changed)


def _aad(district: str, decision_id: str, key_version: int) -> bytes:
    return crypto.payload_aad(f"ivo:{decision_id}", district, SEALED_TYPE, key_version)


def open_tracked(hub: Hub, conn: Connection, row: DecisionRow) -> Tracked:
    """Unseal a tracked decision (the caller audits the read)."""
    key = hub.guards.key(conn, row.district, row.key_version)
    plain = crypto.unseal(key.key, row.ciphertext, _aad(row.district, row.decision_id, key.version))
    return load(plain)


def track_events(
    hub: Hub,
    principal: Principal,
    *,
    batch: int = 500,
    progress: Callable[[TrackResult], None] | None = None,
) -> TrackResult:
    """Apply every stored execution event not applied yet (of the principal's districts); see
    the module's docstring."""
    principal.require(Kind.OPERATOR, Kind.DISTRICT_ADMIN)
    result = TrackResult()
    after: tuple[datetime, str] | None = None
    while True:
        with hub.engine.begin() as conn:
            ivo_rows.lock_tracking(conn)  # read and write each decision's state as one
            found = ivo_rows.untracked(conn, EVENT_TYPE, after, batch)
            if not found:
                break
            after = (found[-1][0].received_at, found[-1][0].id)
            by_district: dict[str, list[tuple[StoredMessage, bytes]]] = defaultdict(list)
            for message, ciphertext in found:
                if principal.covers(message.district):
                    by_district[message.district].append((message, ciphertext))
            for district, items in by_district.items():
                _apply(hub, principal, conn, district, items, result)
        if progress is not None:
            progress(result)
    return result


def _allowed(hub: Hub, conn: Connection, message: StoredMessage, at: datetime) -> bool:
    try:
        hub.guards.check_ingest(
            conn,
            district=message.district,
            sender=message.sender,
            purpose=hub.settings.ivo_purpose,
            message_type=message.message_type,
            categories=message.categories,
            consent=False,
            recipients=(),
            at=at,
        )
    except ContractRefusal:
        return False
    return True


def _apply(
    hub: Hub,
    principal: Principal,
    conn: Connection,
    district: str,
    items: list[tuple[StoredMessage, bytes]],
    result: TrackResult,
) -> None:
    now = hub.clock()
    readings: list[tuple[StoredMessage, ReadEvent]] = []
    done: list[str] = []
    for message, ciphertext in items:
        if not _allowed(hub, conn, message, now):
            result.refused += 1
            continue
        done.append(message.id)
        try:
            key = hub.guards.key(conn, district, message.key_version)
        except KeyShredded:
            result.skipped += 1
            continue
        aad = crypto.payload_aad(message.id, district, message.message_type, key.version)
        readings.append(
            (message, read_event(crypto.unseal(key.key, ciphertext, aad), message.version))
        )
    ids = {r.decision_id for _, r in readings}
    rows = ivo_rows.decisions(conn, district, ids) if ids else []
    existing = {row.decision_id for row in rows}
    states = {row.decision_id: open_tracked(hub, conn, row) for row in rows}
    refs: dict[str, str] = {row.decision_id: row.subject_ref for row in rows}
    events = []
    for message, reading in readings:
        identity = parse_identity(reading.subject, reading.scheme)
        ref = hub.guards.hmacs.subject_ref(identity.canonical)
        if refs.setdefault(reading.decision_id, ref) != ref:
            result.skipped += 1  # the case system named another person for this decision
            continue
        states[reading.decision_id] = _fold(hub, district, states.get(reading.decision_id), reading)
        result.applied += 1
        events.append(
            principal.did(
                AuditAction.DECRYPTED,
                purpose=hub.settings.ivo_purpose,
                district=district,
                agreement=message.agreement_ref,
                message_id=message.id,
                subject_ref=ref,
                reason=f"IVO tracking: event applied to decision {reading.decision_id}",
            )
        )
    key = hub.guards.current_key(conn, district, principal.name)
    sealed = [
        DecisionRow(
            district=district,
            decision_id=decision_id,
            subject_ref=refs[decision_id],
            key_version=key.version,
            ciphertext=crypto.seal(
                key.key, dump(tracked), _aad(district, decision_id, key.version)
            ),
            events=len(tracked.decision.events),
        )
        for decision_id, tracked in states.items()
        if decision_id in {r.decision_id for _, r in readings}
    ]
    ivo_rows.save(conn, sealed, existing, now)
    ivo_rows.mark_tracked(conn, done, now)
    hub.guards.record(conn, events)
    result.changed.update((district, row.decision_id) for row in sealed)


def _fold(hub: Hub, district: str, tracked: Tracked | None, reading: ReadEvent) -> Tracked:
    """The decision's state with ``reading`` applied (the same event id again changes nothing)."""
    identity = parse_identity(reading.subject, reading.scheme)
    before = tracked.decision if tracked else None
    if before is not None and any(e.event_id == reading.event.event_id for e in before.events):
        return tracked  # type: ignore[return-value]
    gender = reading.gender or (before.person.gender if before else None) or gender_of(identity)
    protected = (
        reading.protected
        if reading.protected is not None
        else (before.person.protected if before else None)
    )
    number = hub.guards.hmacs.person_code(identity.canonical, district)
    person = Person(
        birth_date=identity.birth_date,
        gender=gender,
        protected=protected,
        code=ivo_code(identity.birth_date, gender, full_personnummer(identity), number),
    )
    decision = Decision(
        district=district,
        decision_id=reading.decision_id,
        law=reading.law,
        person=person,
        events=(*(before.events if before else ()), reading.event),
    )
    return Tracked(decision, reading.scheme, reading.subject)


def reseal_tracked(hub: Hub, conn: Connection, district: str) -> int:
    """Seal the district's tracked decisions still under an older key version under the current
    one (``keys rewrap`` calls it, so an old version can be shredded); returns how many moved.
    A state under a shredded version stays as it is: it can never be read again."""
    current = hub.guards.keys.current(conn, district)
    moved: list[DecisionRow] = []
    for row in ivo_rows.decisions(conn, district, not_version=current.version):
        try:
            tracked = open_tracked(hub, conn, row)
        except KeyShredded:
            continue
        sealed = crypto.seal(
            current.key, dump(tracked), _aad(district, row.decision_id, current.version)
        )
        moved.append(replace(row, key_version=current.version, ciphertext=sealed))
    ivo_rows.save(conn, moved, {r.decision_id for r in moved}, hub.clock())
    return len(moved)
