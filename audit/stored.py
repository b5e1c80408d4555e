"""Verifying the trail as the database holds it, read-only, against what was kept elsewhere.

``verify_stored`` reads the signed head, the stored checkpoints and every entry, and checks them
together with checkpoints kept outside the database (``checkpoints.jsonl``, witnesses): a head
no hub signed, an entry no signature covers, or a tail cut below what a witness holds is
reported with the first bad seq. It writes nothing, so a trail too damaged to append to can
still be reported on; recording the verification is the caller's separate step.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from sqlalchemy import Connection

from audit.chain import ChainBrokenError, Walk, walk
from audit.checkpoint import Checkpoint
from audit.head import read_head
from audit.segments import PARALLEL_FROM, Source, usable_cpus, walk_in_parallel
from audit.signing import Verifier
from audit.timestamping import TimestampError, read_stamps, verify_stamp
from audit.trail import load_checkpoints
from audit.verify import VerifyReport, load_rows, signatures, verify_walk


def verify_stored(
    conn: Connection,
    verifier: Verifier,
    *,
    kept_elsewhere: Iterable[Checkpoint] = (),
    unsigned_grace: float | None = None,
    now: datetime | None = None,
    processes: int | None = None,
    parallel_from: int = PARALLEL_FROM,
) -> VerifyReport:
    """Verify the stored trail. The head is read first: an entry a concurrent append commits
    meanwhile is newer than the grace and never reported. A trail of ``parallel_from``
    entries or more is read and walked in ``processes`` (at most, and by default, the usable
    CPUs) seq ranges at once (``segments``), with the same findings."""
    head = read_head(conn, lock=False)
    checkpoints = [*load_checkpoints(conn), *kept_elsewhere]
    if head is not None and head.signed is not None:
        checkpoints.append(head.signed)
    sigs, checked, conflict = signatures(
        checkpoints, verifier, unsigned_grace=unsigned_grace, now=now
    )
    last = 0 if head is None else head.seq
    count = min(processes or usable_cpus(), usable_cpus())
    source = Source.of(conn) if count > 1 and last >= parallel_from else None

    def walk_all(state: Walk) -> None:
        if source is not None:
            try:
                walk_in_parallel(
                    source, sigs, state, lambda after: load_rows(conn, after_seq=after), last, count
                )
                return
            except ChainBrokenError:
                raise
            except Exception:  # noqa: S110  # a process or its connection failed:
                pass  # the single walk below reads everything again and reports what it finds
        walk(load_rows(conn), state, sigs)

    return verify_walk(walk_all, sigs, checked, conflict, unsigned_grace)


@dataclass(frozen=True)
class StampCheck:
    checked: int
    latest_seq: int
    latest_time: datetime | None
    problem: str | None


def check_stamps(path: Path, roots: Sequence[x509.Certificate], verifier: Verifier) -> StampCheck:
    """Check every time-stamp token in ``path``: the TSA's signature (to ``roots``), that it
    covers its head's signed message, and that the head itself is signed by the hub's key."""
    checked, latest_seq, latest_time = 0, 0, None
    for stamp in read_stamps(path):
        checked += 1
        if not verifier.verify(stamp.head.message(), stamp.head.signature):
            return StampCheck(
                checked, latest_seq, latest_time, f"head {stamp.head.seq}: invalid signature"
            )
        try:
            verify_stamp(stamp, roots)
        except TimestampError as exc:
            return StampCheck(checked, latest_seq, latest_time, str(exc))
        if stamp.head.seq >= latest_seq:
            latest_seq, latest_time = stamp.head.seq, stamp.gen_time
    return StampCheck(checked, latest_seq, latest_time, None)
