"""Appending to the audit trail, each append signing the new head; checkpoints and witnesses.

Every append happens in the *caller's* transaction, so an action and its audit entries commit
or roll back together; this module never commits. An append costs three statements whatever the
batch size: lock and read the head row, insert the entries in one executemany, update the head
with its new seq, hash and Ed25519 signature (one signature per transaction, some tens of µs).
The three run through the driver's own cursor (``driver.py``): at one entry per transaction
SQLAlchemy's statement overhead cost more than the statements and the signature together.

Before it appends, the trail checks that the head it locked is one a hub signed: an entry
someone added with database access alone chains correctly (the chain is unkeyed SHA-256) but
cannot carry a signature, so it is caught at the next append and never signed over. The same
check catches a head that went backwards in this process's sight (a cut tail) and an entry
beyond the head (the insert collides). Any of these trips the ``alarm.IntegrityAlarm`` and the
trail refuses every append (fail closed) until an operator acknowledges (``acknowledge``).

Locking: the one ``audit_head`` row is read ``FOR UPDATE`` on PostgreSQL, so concurrent appends
of every process queue on it and each sees the head the previous one committed (this needs READ
COMMITTED, the PostgreSQL default). On SQLite the caller's ``BEGIN IMMEDIATE`` transaction
already holds the database's single write lock.

Typical use::

    with engine.begin() as conn:            # the action's own transaction
        ...                                 # the action
        trail.append(conn, [AuditEvent(...)])
    # the relay, every few seconds:
    with engine.begin() as conn:
        cp = trail.checkpoint(conn) if trail.checkpoint_due(conn) else None
    if cp is not None:
        trail.publish_checkpoint(cp)        # only after the commit, see there
    anchored = trail.publish_to_witnesses()
    if anchored is not None:
        with engine.begin() as conn:
            trail.record_anchor(conn, anchored)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from audit.alarm import AnchorOverdueError, IntegrityAlarm, IntegrityAlarmError
from audit.checkpoint import Checkpoint, checkpoint_message, read_checkpoints
from audit.checkpoint_file import CHECKPOINT_FILE_NAME, append_checkpoint
from audit.driver import execute_many, statements
from audit.entry import (
    AuditAction,
    AuditEntry,
    AuditEvent,
    Outcome,
    chain_hash,
    format_at,
    parse_at,
)
from audit.head import Head, lock_head, read_head, write_head
from audit.signing import Signer, Verifier
from audit.tables import HEAD_ID, audit_checkpoints, audit_entries, audit_head
from audit.witness import Witness, WitnessPublisher

__all__ = ["CHECKPOINT_FILE_NAME", "AuditTrail", "load_checkpoints"]

_INSERT_ENTRIES = insert(audit_entries)  # built once, as head.py's statements are


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AuditTrail:
    """Settings only; every method takes the caller's ``Connection``.

    ``checkpoint_every``: a checkpoint (a copy of the signed head, published to the witnesses)
    is due once this many entries are not yet in one, ``checkpoint_interval``: or once the
    oldest of them is this many seconds old. ``witnesses``: where checkpoints are kept outside
    the host. ``anchor_within``: seconds a required witness (time-stamping) may keep failing
    before appends refuse; None when no witness is required.
    """

    def __init__(
        self,
        signer: Signer,
        checkpoint_folder: Path,
        *,
        verifier: Verifier | None = None,
        checkpoint_every: int = 1000,
        checkpoint_interval: float = 60.0,
        clock: Callable[[], datetime] = _utc_now,
        witnesses: Sequence[Witness] = (),
        alarm: IntegrityAlarm | None = None,
        anchor_within: float | None = None,
    ) -> None:
        if checkpoint_every < 1:
            raise ValueError("checkpoint_every must be at least 1")
        if checkpoint_interval <= 0:
            raise ValueError("checkpoint_interval must be positive")
        self._signer = signer
        self._verifier = verifier if verifier is not None else signer.verifier()
        self._folder = checkpoint_folder
        self._every = checkpoint_every
        self._interval = checkpoint_interval
        self._clock = clock
        self._witnesses = WitnessPublisher(witnesses)
        self.alarm = alarm if alarm is not None else IntegrityAlarm()
        self._anchor_within = anchor_within
        self._trusted: tuple[int, str, bytes | None] | None = None  # a head known good
        self._highest_seen = 0  # the highest committed head this process has seen
        # The transaction this process appended in last and the head it wrote: a later append
        # in the same transaction reads that head uncommitted, and it is not yet "seen" (the
        # transaction may still roll back). Appends hold the database's write lock until they
        # commit, so no other transaction appends in between.
        self._open: tuple[object, int] | None = None
        self._first_use: datetime | None = None

    @property
    def checkpoint_file(self) -> Path:
        return self._folder / CHECKPOINT_FILE_NAME

    # -- appending --------------------------------------------------------------------------

    def append(self, conn: Connection, events: Sequence[AuditEvent]) -> list[AuditEntry]:
        """Record ``events`` in order, in the caller's open transaction, and return them as
        stored. Events without ``at`` are stamped with one common "now". Raises
        ``IntegrityAlarmError`` or ``AnchorOverdueError`` instead of appending (fail closed)."""
        if not events:
            return []
        _require_transaction(conn)
        moment = self._clock()
        head = lock_head(conn, create=True)
        self._check_head(conn, head, moment)
        self._check_anchor(head, moment)
        return self._write(conn, head, events, moment)

    def acknowledge(self, conn: Connection, actor: str, reason: str) -> AuditEntry:
        """After an operator investigated an alarm: record who lifted it and why, and sign the
        head as it stands (the acknowledgement is its last entry). Lifts the alarm here; every
        other process lifts its own when it next sees this signed acknowledgement."""
        _require_transaction(conn)
        moment = self._clock()
        head = lock_head(conn, create=True)
        found = head.problem(self._verifier) or "the head is signed"
        event = AuditEvent(
            action=AuditAction.AUDIT_ACKNOWLEDGED,
            actor=actor,
            outcome=Outcome.OK,
            reason=f"{reason} [found: {found}]"[:200],
        )
        (entry,) = self._write(conn, head, [event], moment)
        self.alarm.clear()
        self._highest_seen = head.seq
        return entry

    def _write(
        self, conn: Connection, head: Head, events: Sequence[AuditEvent], moment: datetime
    ) -> list[AuditEntry]:
        now = format_at(moment)
        seq, prev = head.seq, head.hash
        entries: list[AuditEntry] = []
        for event in events:
            seq += 1
            draft = AuditEntry(
                seq=seq,
                at=now if event.at is None else format_at(event.at),
                actor=event.actor,
                action=event.action.value,
                purpose=event.purpose,
                district=event.district,
                agreement=event.agreement,
                message_id=event.message_id,
                subject_ref=event.subject_ref,
                source=event.source,
                destination=event.destination,
                outcome=event.outcome.value,
                reason=event.reason,
                prev_hash=prev,
                hash="",
            )
            prev = chain_hash(prev, draft)
            entry = draft._replace(hash=prev)
            entries.append(entry)
        sql = statements(conn)
        try:
            if sql is not None:
                execute_many(conn, sql.insert_entries, entries)
            else:
                conn.execute(_INSERT_ENTRIES, [entry.as_dict() for entry in entries])
        except IntegrityError as exc:
            raise self.alarm.trip(
                f"an entry after the head (entry {head.seq}) exists: it was written without "
                "the hub",
                moment,
            ) from exc
        key_id = self._signer.key_id
        signature = self._signer.sign(checkpoint_message(seq, prev, now, key_id))
        unanchored_since = head.unanchored_since
        if head.anchored or unanchored_since is None:
            unanchored_since = now
        write_head(conn, Checkpoint(seq, prev, now, key_id, signature), unanchored_since)
        self._trusted = (seq, prev, signature)
        self._open = (conn.get_transaction(), seq)
        return entries

    # -- checking the head ------------------------------------------------------------------

    def _check_head(self, conn: Connection, head: Head, moment: datetime) -> None:
        """Raise (and alarm) unless ``head`` is one a hub signed and not behind what this
        process saw. While the alarm is up, refuse unless an acknowledgement is the head."""
        if self.alarm.raised:
            if not self._acknowledged(conn, head):
                raise self.alarm.error()
            self.alarm.clear()
            self._highest_seen = head.seq
        if (head.seq, head.hash, head.signature) != self._trusted:
            problem = head.problem(self._verifier)
            if problem is not None:
                raise self.alarm.trip(problem, moment)
            self._trusted = (head.seq, head.hash, head.signature)
        if self._open is not None and self._open == (conn.get_transaction(), head.seq):
            return  # this transaction's own head, uncommitted
        if head.seq < self._highest_seen:
            raise self.alarm.trip(
                f"the head went back from entry {self._highest_seen} to entry {head.seq}: "
                "entries were cut",
                moment,
            )
        self._highest_seen = head.seq

    def _acknowledged(self, conn: Connection, head: Head) -> bool:
        state = self.alarm.state
        if state is None or head.at is None or head.problem(self._verifier) is not None:
            return False
        if head.at < format_at(state.since):
            return False
        row = conn.execute(
            select(audit_entries.c.action, audit_entries.c.hash).where(
                audit_entries.c.seq == head.seq
            )
        ).first()
        return row is not None and (row[0], row[1]) == (
            AuditAction.AUDIT_ACKNOWLEDGED.value,
            head.hash,
        )

    def check_head(self, conn: Connection) -> str | None:
        """Read-only: is the stored head one a hub signed, and not behind the local checkpoint
        file? Trips the alarm when not (start-up and readiness call this). Returns the problem."""
        head = read_head(conn, lock=False)
        if head is None:
            return None
        problem = head.problem(self._verifier)
        if problem is None and self.checkpoint_file.exists():
            published = max((cp.seq for cp in read_checkpoints(self.checkpoint_file)), default=0)
            if head.seq < published:
                problem = (
                    f"the head (entry {head.seq}) is behind the published checkpoint "
                    f"{published}: entries were cut"
                )
        if problem is not None:
            self.alarm.trip(problem, self._clock())
        return problem

    def _check_anchor(self, head: Head, moment: datetime) -> None:
        if self._first_use is None:
            self._first_use = moment
        limit = self._anchor_within
        if limit is None or head.anchored or head.unanchored_since is None:
            return
        since = max(parse_at(head.unanchored_since), self._first_use)
        if moment - since > timedelta(seconds=limit):
            raise AnchorOverdueError(
                f"entries since {head.unanchored_since} (after entry {head.anchored_seq or 0}) "
                f"have not been time-stamped for over {limit:g} s; the trail refuses until the "
                "time-stamping authority answers again"
            )

    # -- checkpoints and witnesses ----------------------------------------------------------

    def checkpoint_due(self, conn: Connection) -> bool:
        """True when entries are not yet in a checkpoint and either ``checkpoint_every`` of
        them are, or the oldest of them is older than ``checkpoint_interval``. One query."""
        last_cp = select(func.coalesce(func.max(audit_checkpoints.c.seq), 0)).scalar_subquery()
        first_pending_at = (
            select(audit_entries.c.at).where(audit_entries.c.seq == last_cp + 1).scalar_subquery()
        )
        row = conn.execute(
            select(audit_head.c.seq, last_cp, first_pending_at).where(audit_head.c.id == HEAD_ID)
        ).first()
        if row is None:
            return False
        head_seq, cp_seq, first_at = int(row[0]), int(row[1]), row[2]
        pending = head_seq - cp_seq
        if pending <= 0:
            return False
        if pending >= self._every or first_at is None:
            return True
        age = (self._clock() - parse_at(first_at)).total_seconds()
        return age >= self._interval

    def checkpoint(self, conn: Connection) -> Checkpoint | None:
        """Store the signed head as a checkpoint, in the caller's transaction, after checking
        that a hub signed it (a forged head is never copied: the alarm trips instead). Returns
        None when there is nothing new, or while the alarm is up."""
        _require_transaction(conn)
        head = lock_head(conn, create=False)
        if head.seq == 0:
            return None
        try:
            self._check_head(conn, head, self._clock())
        except IntegrityAlarmError:
            return None  # logged when it tripped; appends refuse meanwhile
        last = conn.execute(select(func.max(audit_checkpoints.c.seq))).scalar()
        if last is not None and int(last) >= head.seq:
            return None
        cp = head.signed
        assert cp is not None  # _check_head passed
        conn.execute(
            insert(audit_checkpoints).values(
                seq=cp.seq, hash=cp.hash, at=cp.at, key_id=cp.key_id, signature=cp.signature
            )
        )
        return cp

    def publish_checkpoint(self, cp: Checkpoint) -> None:
        """Append ``cp`` to ``<folder>/checkpoints.jsonl`` and offer it to the witnesses.

        Call this only after the transaction that stored ``cp`` has committed: a checkpoint
        published from a transaction that then rolled back would vouch for a head that does not
        exist. If the process dies between commit and publish, ``publish_missing`` copies it
        out later."""
        append_checkpoint(self._folder, cp)
        self._witnesses.offer(cp)

    def publish_to_witnesses(self) -> int | None:
        """Give the newest checkpoint to every witness that lacks it (a failed witness is
        retried at the next call). Returns the seq now anchored by every required witness, for
        ``record_anchor``, or None."""
        return self._witnesses.publish_due()

    def record_anchor(self, conn: Connection, seq: int) -> None:
        """Note that required witnesses hold the trail up to ``seq`` (lifts the anchor limit)."""
        _require_transaction(conn)
        head = lock_head(conn, create=False)
        if head.anchored_seq is not None and head.anchored_seq >= seq:
            return
        since = None if seq >= head.seq else format_at(self._clock())
        conn.execute(
            update(audit_head)
            .where(audit_head.c.id == HEAD_ID)
            .values(anchored_seq=seq, unanchored_since=since)
        )

    def publish_missing(self, conn: Connection) -> int:
        """Publish every stored checkpoint that the file lacks (after a crash between commit
        and publish). Returns how many were written. Run it at start-up."""
        known: set[int] = set()
        if self.checkpoint_file.exists():
            known = {cp.seq for cp in read_checkpoints(self.checkpoint_file)}
        written = 0
        for cp in load_checkpoints(conn):
            if cp.seq not in known:
                self.publish_checkpoint(cp)
                written += 1
            else:
                self._witnesses.offer(cp)
        return written


def load_checkpoints(conn: Connection) -> list[Checkpoint]:
    """The checkpoints stored in the database, by sequence number."""
    rows = conn.execute(select(audit_checkpoints).order_by(audit_checkpoints.c.seq))
    return [
        Checkpoint(
            seq=int(r.seq), hash=r.hash, at=r.at, key_id=r.key_id, signature=bytes(r.signature)
        )
        for r in rows
    ]


def _require_transaction(conn: Connection) -> None:
    if not conn.in_transaction():
        raise RuntimeError(
            "the audit trail writes only inside the caller's open transaction (conn.begin())"
        )
