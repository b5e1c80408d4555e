"""The head row: the last entry's seq and hash, signed by the append that wrote it.

The chain hash is unkeyed SHA-256: anyone who can write the database can compute it, so a
chained entry proves nothing by itself. What proves the hub wrote an entry is the head's
Ed25519 signature, made in the same transaction as the entries (one signature per transaction;
group commit batches many requests into one). The signature covers the same message as a
checkpoint (``checkpoint.checkpoint_message``), so a signed head *is* a checkpoint: ``verify``
and the witnesses treat both alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from audit.checkpoint import Checkpoint, checkpoint_message
from audit.driver import execute, fetch_one, statements
from audit.entry import GENESIS_HASH
from audit.signing import Verifier
from audit.tables import HEAD_ID, audit_head

_HEAD_COLUMNS = (
    audit_head.c.seq,
    audit_head.c.hash,
    audit_head.c.at,
    audit_head.c.key_id,
    audit_head.c.signature,
    audit_head.c.anchored_seq,
    audit_head.c.unanchored_since,
)
# Built once, for a driver ``driver.py`` does not speak: every append runs the lock and the
# update, and building a statement (and its cache key) cost more than running it on SQLite.
_READ_HEAD = select(*_HEAD_COLUMNS).where(audit_head.c.id == HEAD_ID)
_LOCK_HEAD = _READ_HEAD.with_for_update()
_SIGN_HEAD = (
    update(audit_head)
    .where(audit_head.c.id == HEAD_ID)
    .values(
        seq=bindparam("new_seq"),
        hash=bindparam("new_hash"),
        at=bindparam("new_at"),
        key_id=bindparam("new_key_id"),
        signature=bindparam("new_signature"),
        unanchored_since=bindparam("new_unanchored_since"),
    )
)


@dataclass(frozen=True, slots=True)
class Head:
    seq: int
    hash: str
    at: str | None = None
    key_id: str | None = None
    signature: bytes | None = None
    anchored_seq: int | None = None
    unanchored_since: str | None = None

    @property
    def signed(self) -> Checkpoint | None:
        """The head as a checkpoint, or None when it carries no signature."""
        if self.at is None or self.key_id is None or self.signature is None:
            return None
        return Checkpoint(self.seq, self.hash, self.at, self.key_id, self.signature)

    def problem(self, verifier: Verifier) -> str | None:
        """Why this head is not one the hub signed, or None when it is."""
        if self.seq == 0 and self.hash == GENESIS_HASH:
            return None  # the empty trail: nothing to vouch for
        cp = self.signed
        if cp is None:
            return f"the head (entry {self.seq}) carries no signature"
        message = checkpoint_message(cp.seq, cp.hash, cp.at, cp.key_id)
        if not verifier.verify(message, cp.signature):
            return f"the head (entry {self.seq}) is not signed by the hub's key"
        return None

    @property
    def anchored(self) -> bool:
        return self.seq == 0 or (self.anchored_seq is not None and self.anchored_seq >= self.seq)


GENESIS = Head(seq=0, hash=GENESIS_HASH)


def read_head(conn: Connection, *, lock: bool) -> Head | None:
    """The head row (``FOR UPDATE`` with ``lock``), or None when nothing was ever appended."""
    sql = statements(conn)
    if sql is not None:
        row = fetch_one(conn, sql.lock_head if lock else sql.read_head)
    else:
        row = conn.execute(_LOCK_HEAD if lock else _READ_HEAD).first()
    if row is None:
        return None
    return Head(
        seq=int(row[0]),
        hash=str(row[1]),
        at=row[2],
        key_id=row[3],
        signature=None if row[4] is None else bytes(row[4]),
        anchored_seq=None if row[5] is None else int(row[5]),
        unanchored_since=row[6],
    )


def lock_head(conn: Connection, *, create: bool) -> Head:
    """Lock the head row, creating the genesis row first when ``create`` and it is missing."""
    head = read_head(conn, lock=True)
    if head is not None:
        return head
    if not create:
        return GENESIS
    _insert_genesis_head(conn)
    head = read_head(conn, lock=True)
    assert head is not None
    return head


def write_head(conn: Connection, signed: Checkpoint, unanchored_since: str | None) -> None:
    """Move the (locked) head row to ``signed``: the new last seq and hash with their
    signature, in the append's transaction."""
    sql = statements(conn)
    if sql is not None:
        execute(
            conn,
            sql.sign_head,
            (signed.seq, signed.hash, signed.at, signed.key_id, signed.signature, unanchored_since),
        )
        return
    conn.execute(
        _SIGN_HEAD,
        {
            "new_seq": signed.seq,
            "new_hash": signed.hash,
            "new_at": signed.at,
            "new_key_id": signed.key_id,
            "new_signature": signed.signature,
            "new_unanchored_since": unanchored_since,
        },
    )


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
