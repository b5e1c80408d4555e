"""Checking the audit chain, online or fully offline.

``verify`` walks entries in sequence order once, in constant memory, recomputing every hash and
comparing the chain with the signed checkpoints. It needs no database and no private key: an
export file (``write_export``), the published ``checkpoints.jsonl`` and the public key PEM are
enough (the walk itself is ``chain.walk``, which ``stored.verify_stored`` may run in seq ranges,
one process each). It reports the first problem it meets, naming the first bad sequence number:

==========================  ===========================================================
what was done               what is reported
==========================  ===========================================================
an entry altered            its content no longer matches its hash: that seq
an entry deleted            a gap: the missing seq
an entry inserted           its successor links to its predecessor: the inserted seq
entries reordered           an entry out of place: the first seq out of order
chain re-hashed after a     the next checkpoint's signed hash differs: the range since the
change (no private key)     previous good checkpoint, ``first_bad_seq`` its start
a checkpoint forged         its signature fails: the checkpoint's seq
the end cut off             a checkpoint covers entries that are missing: the first of them
                            (against a witness: the tail cut together with the local copies)
an entry no key covers      no signature (checkpoint or signed head) covers it and it is
                            older than ``unsigned_grace``: the hub did not write it
==========================  ===========================================================

Each append signs the new head, so in the database no entry is ever legitimately uncovered;
in an export or against the published checkpoints, entries newer than the last publication
are, for a few seconds (``VerifyReport.unsigned_tail`` says how many). ``unsigned_grace``
bounds that: an uncovered entry older than it is an error, not a note.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection

from audit.chain import ChainBrokenError, Signatures, Walk, finish, walk
from audit.checkpoint import Checkpoint
from audit.entry import ENTRY_FIELDS, AuditEntry, EntryRow, format_at
from audit.head import read_head
from audit.signing import Verifier

EXPORT_FORMAT = "omsorgshub-audit-export"
EXPORT_VERSION = 1
# Rows fetched from the cursor at a time: large enough that a fetch costs nothing per row,
# small enough that memory stays flat however long the trail is. On SQLite a fetch is no round
# trip, and 500 rows (still in the CPU's caches when walked) read faster than 5,000 (measured:
# 1.6-1.9 µs against 1.9-2.8 µs a row); PostgreSQL fetches ten times as many per round trip.
_FETCH_ROWS = 500
# Server-side cursors are named per connection: one name per read, so two reads open at once
# on one connection (an export beside a verification) never collide.
_READS = itertools.count(1)  # next() on a count is atomic: safe from any thread


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    entries_checked: int
    checkpoints_checked: int
    first_bad_seq: int | None
    problem: str
    # Where only a span can be named (a consistent rewrite between two checkpoints).
    bad_range: tuple[int, int] | None = None
    last_seq: int = 0
    last_checkpoint_seq: int = 0

    @property
    def unsigned_tail(self) -> int:
        """Entries after the last checkpoint: chained, but not yet vouched for by a key."""
        return max(0, self.last_seq - self.last_checkpoint_seq)


def signatures(
    checkpoints: Iterable[Checkpoint],
    verifier: Verifier,
    *,
    unsigned_grace: float | None = None,
    now: datetime | None = None,
) -> tuple[Signatures, int, ChainBrokenError | None]:
    """Check every checkpoint's signature once: the signatures a walk compares with, how many
    checkpoints were read, and the conflict among them that fails the trail before any entry
    (None when there is none)."""
    by_seq: dict[int, Checkpoint] = {}
    forged: dict[int, Checkpoint] = {}
    checked = 0
    conflict: ChainBrokenError | None = None
    for cp in checkpoints:
        checked += 1
        if by_seq.get(cp.seq) == cp or forged.get(cp.seq) == cp:
            # The very same signed head again, byte for byte (the database's copy and the
            # published file's): its signature was checked already and would check the same.
            continue
        if not verifier.verify(cp.message(), cp.signature):
            forged.setdefault(cp.seq, cp)
            continue
        seen = by_seq.setdefault(cp.seq, cp)
        if seen.hash != cp.hash and conflict is None:
            conflict = ChainBrokenError(
                cp.seq, f"two validly signed checkpoints disagree at seq {cp.seq}"
            )
    order = sorted(set(by_seq) | set(forged))
    if order and order[0] < 1 and conflict is None:
        conflict = ChainBrokenError(1, f"a checkpoint names impossible seq {order[0]}")
    cutoff = (
        None
        if unsigned_grace is None
        else format_at((now or datetime.now(UTC)) - timedelta(seconds=unsigned_grace))
    )
    return Signatures(by_seq, forged, order, cutoff), checked, conflict


def verify(
    entries: Iterable[EntryRow],
    checkpoints: Iterable[Checkpoint],
    verifier: Verifier,
    *,
    unsigned_grace: float | None = None,
    now: datetime | None = None,
) -> VerifyReport:
    """Verify ``entries`` (``AuditEntry`` or plain row tuples in ``ENTRY_FIELDS`` order; in the
    order given, which must be seq order from 1) against ``checkpoints`` (any order;
    duplicates allowed) with ``verifier``. With
    ``unsigned_grace``, an entry that no valid signature covers and whose time is more than
    that many seconds before ``now`` is an error."""
    sigs, checked, conflict = signatures(
        checkpoints, verifier, unsigned_grace=unsigned_grace, now=now
    )
    return verify_walk(
        lambda state: walk(entries, state, sigs), sigs, checked, conflict, unsigned_grace
    )


def verify_walk(
    walk_all: Callable[[Walk], None],
    sigs: Signatures,
    checked: int,
    conflict: ChainBrokenError | None,
    unsigned_grace: float | None,
) -> VerifyReport:
    """The report of ``walk_all`` (which walks every entry from a fresh ``Walk``)."""
    state = Walk()
    try:
        if conflict is not None:
            raise conflict
        walk_all(state)
        last = finish(state, sigs, unsigned_grace)
    except ChainBrokenError as bad:
        return VerifyReport(
            ok=False,
            entries_checked=state.expected - 1,
            checkpoints_checked=checked,
            first_bad_seq=bad.seq,
            problem=bad.problem,
            bad_range=bad.bad_range,
            last_seq=state.expected - 1,
            last_checkpoint_seq=state.last_ok_cp,
        )
    return VerifyReport(
        ok=True,
        entries_checked=last,
        checkpoints_checked=checked,
        first_bad_seq=None,
        problem="",
        last_seq=last,
        last_checkpoint_seq=sigs.covered,
    )


# -- reading and writing entries ----------------------------------------------------------------


_COLUMNS = ", ".join(ENTRY_FIELDS)
_SELECT_ROWS = f"SELECT {_COLUMNS} FROM audit_entries WHERE seq > {{after}} ORDER BY seq"  # noqa: S608


def load_rows(conn: Connection, *, after_seq: int = 0) -> Iterator[EntryRow]:
    """Entries from the database in seq order as plain tuples in ``ENTRY_FIELDS`` order,
    streamed, so memory stays flat however long the trail is.

    Read with the driver's own cursor, in the caller's connection and transaction, below
    SQLAlchemy's result layer on purpose: verifying a trail is mostly reading it, and a
    ``Row`` per entry cost about as much as checking the entry (measured: 250k rows/s through
    the result against 400k/s from the cursor). The columns are plain text and integers, which
    both drivers return as ``str`` and ``int`` with no type processing to skip."""
    # Chained in C: a generator resumed for every row costs 70 ns more per entry.
    return itertools.chain.from_iterable(_fetched(conn, after_seq))


def _fetched(conn: Connection, after_seq: int) -> Iterator[Sequence[EntryRow]]:
    sql = _SELECT_ROWS.format(after=int(after_seq))  # an int, never text, in the SQL
    dbapi = conn.connection.dbapi_connection
    if dbapi is None:
        raise RuntimeError("the connection is closed")
    # PostgreSQL hands an ordinary cursor the whole result at once: a named (server-side)
    # cursor sends it as it is fetched. SQLite steps through the rows as they are fetched.
    named = conn.dialect.name == "postgresql"
    cursor = dbapi.cursor(f"omsorgshub_audit_rows_{next(_READS)}") if named else dbapi.cursor()
    try:
        cursor.execute(sql)
        size = _FETCH_ROWS * 10 if named else _FETCH_ROWS
        while rows := cursor.fetchmany(size):
            yield rows
    finally:
        cursor.close()


def load_entries(conn: Connection, *, after_seq: int = 0) -> Iterator[AuditEntry]:
    """Entries from the database in seq order, streamed, as ``AuditEntry``."""
    return map(AuditEntry._make, load_rows(conn, after_seq=after_seq))


def write_export(conn: Connection, path: Path) -> int:
    """Write every entry to ``path`` as JSON lines after a header line; returns the number of
    entries. The header carries the signed head (read before the entries), so the export
    verifies offline up to its last entry without waiting for a published checkpoint. Written
    to a side file, fsynced and renamed, so a reader never sees half a file."""
    part = path.with_name(path.name + ".part")
    count = 0
    head = read_head(conn, lock=False)
    signed = None if head is None else head.signed
    header: dict[str, object] = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": format_at(datetime.now(UTC)),
    }
    if signed is not None:
        header["signed_head"] = json.loads(signed.to_json_line())
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    with part.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write(encode(header) + "\n")
        for entry in load_entries(conn):
            fh.write(encode(entry.as_dict()) + "\n")
            count += 1
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(part, path)
    return count


def read_export_head(path: Path) -> Checkpoint | None:
    """The signed head an export's header carries (None for an older export without one)."""
    with path.open(encoding="utf-8") as fh:
        try:
            meta = json.loads(fh.readline())
        except ValueError as exc:
            raise ValueError(f"{path}:1: not an audit export header") from exc
    if not isinstance(meta, dict) or meta.get("format") != EXPORT_FORMAT:
        raise ValueError(f"{path}:1: not an audit export")
    head = meta.get("signed_head")
    if head is None:
        return None
    try:
        return Checkpoint.from_json_line(json.dumps(head))
    except ValueError as exc:
        raise ValueError(f"{path}:1: the signed head is malformed: {exc}") from exc


def read_export(path: Path) -> Iterator[AuditEntry]:
    """Entries from an export file, streamed. A malformed line raises ``ValueError`` naming
    its line number; a well-formed but tampered line is left for ``verify`` to report."""
    decode = json.JSONDecoder().decode
    with path.open(encoding="utf-8") as fh:
        header = fh.readline()
        try:
            meta = decode(header)
        except ValueError as exc:
            raise ValueError(f"{path}:1: not an audit export header") from exc
        if not isinstance(meta, dict) or meta.get("format") != EXPORT_FORMAT:
            raise ValueError(f"{path}:1: not an audit export")
        if meta.get("version") != EXPORT_VERSION:
            raise ValueError(f"{path}:1: unsupported export version {meta.get('version')!r}")
        for number, line in enumerate(fh, start=2):
            if not line.strip():
                continue
            try:
                data = decode(line)
                if not isinstance(data, dict):
                    raise ValueError("not a JSON object")
                yield AuditEntry.from_mapping(data)
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: {exc}") from exc
