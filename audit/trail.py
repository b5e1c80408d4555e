"""Appending to the audit trail and sealing it with signed checkpoints.

Every append happens in the *caller's* transaction, so an action and its audit entries commit
or roll back together; this module never commits. An append costs three statements whatever the
batch size: lock and read the head row, insert the entries in one executemany, update the head.

Locking: the one ``audit_head`` row is read ``FOR UPDATE`` on PostgreSQL, so concurrent appends
queue on it and each sees the head the previous one committed (this needs READ COMMITTED, the
PostgreSQL default; under REPEATABLE READ or SERIALIZABLE a waiting append fails with a
serialization error and must be retried by the caller). On SQLite the caller's
``BEGIN IMMEDIATE`` transaction already holds the database's single write lock.

Typical use::

    with engine.begin() as conn:            # the action's own transaction
        ...                                 # the action
        trail.append(conn, [AuditEvent(...)])
    # later, e.g. from the sweeper every few seconds:
    with engine.begin() as conn:
        cp = trail.checkpoint(conn) if trail.checkpoint_due(conn) else None
    if cp is not None:
        trail.publish_checkpoint(cp)        # only after the commit, see there
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from audit.checkpoint import Checkpoint, checkpoint_message, read_checkpoints
from audit.entry import GENESIS_HASH, AuditEntry, AuditEvent, chain_hash, format_at, parse_at
from audit.signing import Signer
from audit.tables import HEAD_ID, audit_checkpoints, audit_entries, audit_head

CHECKPOINT_FILE_NAME = "checkpoints.jsonl"


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AuditTrail:
    """Settings only; every method takes the caller's ``Connection``.

    ``checkpoint_every``: a checkpoint is due once this many entries are unsigned.
    ``checkpoint_interval``: ... or once the oldest unsigned entry is this many seconds old.
    """

    def __init__(
        self,
        signer: Signer,
        checkpoint_folder: Path,
        *,
        checkpoint_every: int = 1000,
        checkpoint_interval: float = 60.0,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if checkpoint_every < 1:
            raise ValueError("checkpoint_every must be at least 1")
        if checkpoint_interval <= 0:
            raise ValueError("checkpoint_interval must be positive")
        self._signer = signer
        self._folder = checkpoint_folder
        self._every = checkpoint_every
        self._interval = checkpoint_interval
        self._clock = clock

    @property
    def checkpoint_file(self) -> Path:
        return self._folder / CHECKPOINT_FILE_NAME

    # -- appending --------------------------------------------------------------------------

    def append(self, conn: Connection, events: Sequence[AuditEvent]) -> list[AuditEntry]:
        """Record ``events`` in order, in the caller's open transaction, and return them as
        stored. Events without ``at`` are stamped with one common "now"."""
        if not events:
            return []
        _require_transaction(conn)
        seq, prev = _lock_head(conn, create=True)
        now = format_at(self._clock())
        entries: list[AuditEntry] = []
        rows: list[dict[str, Any]] = []
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
            rows.append(entry.as_dict())
        conn.execute(insert(audit_entries), rows)
        conn.execute(
            update(audit_head).where(audit_head.c.id == HEAD_ID).values(seq=seq, hash=prev)
        )
        return entries

    # -- checkpoints ------------------------------------------------------------------------

    def checkpoint_due(self, conn: Connection) -> bool:
        """True when entries are unsigned and either ``checkpoint_every`` of them are, or the
        oldest of them is older than ``checkpoint_interval``. One query, no lock."""
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
        """Sign the current head and store the checkpoint, in the caller's transaction.
        Returns None when there is nothing new to sign. Locks the head like an append does,
        so the signed hash is the head of a committed-or-ours chain, never a stale one."""
        _require_transaction(conn)
        seq, hash_ = _lock_head(conn, create=False)
        if seq == 0:
            return None
        last = conn.execute(select(func.max(audit_checkpoints.c.seq))).scalar()
        if last is not None and int(last) >= seq:
            return None
        at = format_at(self._clock())
        key_id = self._signer.key_id
        signature = self._signer.sign(checkpoint_message(seq, hash_, at, key_id))
        cp = Checkpoint(seq=seq, hash=hash_, at=at, key_id=key_id, signature=signature)
        conn.execute(
            insert(audit_checkpoints).values(
                seq=cp.seq, hash=cp.hash, at=cp.at, key_id=cp.key_id, signature=cp.signature
            )
        )
        return cp

    def publish_checkpoint(self, cp: Checkpoint) -> None:
        """Append ``cp`` as one JSON line to ``<folder>/checkpoints.jsonl``, durably.

        Call this only after the transaction that stored ``cp`` has committed. The file is what
        an offline verifier trusts: a checkpoint published from a transaction that then rolled
        back would sign a head that does not exist, and the next real entries at those sequence
        numbers would look like tampering. If the process dies between commit and publish, the
        checkpoint is still in the database and ``publish_missing`` copies it out later.
        """
        self._folder.mkdir(parents=True, exist_ok=True)
        path = self.checkpoint_file
        created = not path.exists()
        data = (cp.to_json_line() + "\n").encode("utf-8")
        # One write() on an O_APPEND descriptor, under an exclusive lock: lines from several
        # processes never interleave.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            with _exclusive(fd):
                os.write(fd, data)
                os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            _fsync_dir(self._folder)

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


def _lock_head(conn: Connection, *, create: bool) -> tuple[int, str]:
    query = (
        select(audit_head.c.seq, audit_head.c.hash)
        .where(audit_head.c.id == HEAD_ID)
        .with_for_update()
    )
    row = conn.execute(query).first()
    if row is None:
        if not create:
            return 0, GENESIS_HASH
        _insert_genesis_head(conn)
        row = conn.execute(query).one()
    return int(row[0]), str(row[1])


def _insert_genesis_head(conn: Connection) -> None:
    """First append ever: create the head row. Two first appends racing on PostgreSQL both
    reach here; ON CONFLICT DO NOTHING lets the loser wait for and then lock the winner's row."""
    values = {"id": HEAD_ID, "seq": 0, "hash": GENESIS_HASH}
    name = conn.dialect.name
    if name == "postgresql":
        conn.execute(postgresql.insert(audit_head).values(values).on_conflict_do_nothing())
    elif name == "sqlite":
        conn.execute(sqlite.insert(audit_head).values(values).on_conflict_do_nothing())
    else:
        conn.execute(insert(audit_head).values(values))


@contextlib.contextmanager
def _exclusive(fd: int) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: O_APPEND alone
        yield
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":  # pragma: no cover
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
