"""Walking the hash chain: the check ``verify.verify`` runs over every entry, resumable.

A walk carries its position (``Walk``) and compares the entries with the signatures
(``Signatures``, checked once before). Because the walk's whole state is those few values, a
long trail can be walked in pieces: ``segments`` walks each seq range in its own process,
assuming the range's first entry links correctly, and this process then walks each range's
first entry with the real state, which is exactly the check a single walk makes there. The
findings are the same, named the same, whichever way the trail was read.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

from audit.checkpoint import Checkpoint
from audit.entry import GENESIS_HASH, EntryRow, canonical_bytes


class ChainBrokenError(Exception):
    def __init__(self, seq: int, problem: str, bad_range: tuple[int, int] | None = None) -> None:
        super().__init__(problem)
        self.seq = seq
        self.problem = problem
        self.bad_range = bad_range


@dataclass(frozen=True)
class Signatures:
    """The checkpoints whose signature was checked (``by_seq``) or failed (``forged``),
    ``order`` their seqs sorted, ``covered`` the last validly signed seq, ``cutoff`` the stored
    time before which an entry no signature covers is overdue (None: never)."""

    by_seq: dict[int, Checkpoint]
    forged: dict[int, Checkpoint]
    order: list[int]
    cutoff: str | None

    @property
    def covered(self) -> int:
        return max(self.by_seq, default=0)

    def last_ok_after(self, seq: int) -> int:
        """The last checkpoint a walk that reached ``seq`` intact has matched (0: none)."""
        index = bisect_right(self.order, seq)
        return self.order[index - 1] if index else 0


@dataclass(slots=True)
class Walk:
    """Where a walk stands: the seq it expects next, the last two hashes it computed, the
    last checkpoint it matched and the first overdue entry it met (0: none)."""

    expected: int = 1
    prev: str = GENESIS_HASH
    prev2: str = ""
    last_ok_cp: int = 0
    overdue: int = 0


def walk(entries: Iterable[EntryRow], state: Walk, sigs: Signatures) -> None:
    """Check ``entries`` (seq order, from ``state.expected``) and advance ``state``; raises
    ``ChainBrokenError`` at the first problem, with ``state`` where it stopped."""
    expected, prev, prev2 = state.expected, state.prev, state.prev2
    last_ok_cp, overdue = state.last_ok_cp, state.overdue
    order, by_seq, forged, cutoff = sigs.order, sigs.by_seq, sigs.forged, sigs.cutoff
    cp_index = bisect_right(order, expected - 1)
    next_cp = order[cp_index] if cp_index < len(order) else -1
    covered = sigs.covered
    sha256 = hashlib.sha256
    try:
        # By position (``EntryRow``: 0 seq, 1 at, 13 prev_hash, 14 hash), not by name: a plain
        # row tuple has no names, and an index is cheaper than a field look-up.
        for e in entries:
            seq = e[0]
            if seq != expected:
                if seq > expected:
                    raise ChainBrokenError(
                        expected, f"entry {expected} is missing (next present: {seq})"
                    )
                raise ChainBrokenError(
                    seq, f"entry {seq} appears again or out of order after entry {expected - 1}"
                )
            if e[13] != prev:
                if e[13] == prev2:
                    raise ChainBrokenError(
                        seq - 1,
                        f"entry {seq - 1} was inserted: entry {seq} links past it to "
                        f"entry {seq - 2}",
                    )
                raise ChainBrokenError(
                    seq,
                    f"entry {seq} does not link to entry {seq - 1}: entries were deleted, "
                    f"inserted or reordered here, or entry {seq - 1} was altered and re-hashed",
                    (max(seq - 1, 1), seq),
                )
            # ``chain_hash`` written out: one call less per entry on the hot path.
            h = sha256(canonical_bytes(prev, e)).hexdigest()
            if h != e[14]:
                raise ChainBrokenError(
                    seq, f"entry {seq} was altered: its content does not match its hash"
                )
            if seq == next_cp:
                check_checkpoint(seq, h, by_seq, forged, last_ok_cp)
                last_ok_cp = seq
                cp_index += 1
                next_cp = order[cp_index] if cp_index < len(order) else -1
            if cutoff is not None and seq > covered and not overdue and e[1] < cutoff:
                overdue = seq
            prev2 = prev
            prev = h
            expected += 1
    finally:
        state.expected, state.prev, state.prev2 = expected, prev, prev2
        state.last_ok_cp, state.overdue = last_ok_cp, overdue


def check_checkpoint(
    seq: int,
    chain_hash_at_seq: str,
    by_seq: dict[int, Checkpoint],
    forged: dict[int, Checkpoint],
    previous_ok: int,
) -> None:
    if seq in forged:  # even beside a valid one: someone wrote a checkpoint without the key
        raise ChainBrokenError(
            seq,
            f"checkpoint at seq {seq} has an invalid signature (key {forged[seq].key_id})",
            (previous_ok + 1, seq),
        )
    cp = by_seq[seq]
    if cp.hash != chain_hash_at_seq:
        raise ChainBrokenError(
            previous_ok + 1,
            f"the chain was rewritten between entries {previous_ok + 1} and {seq}: the hash "
            f"signed at checkpoint {seq} no longer matches",
            (previous_ok + 1, seq),
        )


def finish(state: Walk, sigs: Signatures, unsigned_grace: float | None) -> int:
    """After the last entry: raise if a checkpoint covers entries that are missing or an entry
    no signature covers is overdue. Returns the last seq."""
    last = state.expected - 1
    beyond = sigs.order[bisect_right(sigs.order, last) :]
    if beyond:
        bad_cps = [s for s in beyond if s in sigs.forged]
        if bad_cps:
            raise ChainBrokenError(
                bad_cps[0], f"checkpoint at seq {bad_cps[0]} has an invalid signature"
            )
        raise ChainBrokenError(
            last + 1,
            f"entries {last + 1}..{beyond[-1]} are missing: the trail was truncated after "
            f"entry {last}, but a checkpoint covers seq {beyond[-1]}",
            (last + 1, beyond[-1]),
        )
    if state.overdue:
        raise ChainBrokenError(
            state.overdue,
            f"entries {state.overdue}..{last} are covered by no signature (the last signed "
            f"entry is {sigs.covered}) and entry {state.overdue} is older than "
            f"{unsigned_grace:g} s: the hub did not write them, or their signed head was removed",
            (state.overdue, last),
        )
    return last
