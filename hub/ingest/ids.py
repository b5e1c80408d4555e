"""Time-ordered ids for the rows ingest writes: UUID version 7 (RFC 9562, section 5.7).

Message and delivery ids are primary keys, and foreign keys in the subjects', deliveries',
business keys', referrals' and audit entries' indexes. Random ids (version 4) put each insert
at a random leaf of each of those B-trees, so every batch dirties about one page per row per
index: at a large store those pages are rarely in SQLite's page cache, and every one of them is
written to the WAL at commit. Ids that grow with time land at the right-hand edge of each
index, where the batch's rows share a few pages (issue 16: ingest at a large store).

Layout (RFC 9562, method 3 of section 6.2 for ``rand_a``): 48 bits of Unix time in
milliseconds, the version (7), 12 bits of the sub-millisecond fraction (so ids of one process
sort by creation to about a quarter of a microsecond), the variant (``10``) and 62 random bits
from the operating system's CSPRNG. No state is kept: two ids made in the same quarter
microsecond, or after the clock stepped back, are still unique (62 random bits), only not in
order, which costs locality, nothing else.

The ids are not secrets and never were: every read of a message or delivery is checked against
the caller's token (its own messages) or the operator's districts. What a version 7 id adds is
its creation time to the millisecond, which ``received_at`` says anyway to whoever may see it.

Our own 20 lines rather than a package: Python 3.11 has no ``uuid.uuid7`` (3.14 has), and a
dependency for one bit layout is more to vet than the layout itself.
"""

from __future__ import annotations

import secrets
import time
import uuid

_VERSION = 0x7
_VARIANT = 0b10
_RANDOM_BITS = 62
_FRACTION_STEPS = 1 << 12  # rand_a: the sub-millisecond fraction in 4096 steps


def uuid7_from(unix_ns: int, random_bits: int) -> uuid.UUID:
    """The version 7 UUID for a time in nanoseconds since the Unix epoch and 62 random bits."""
    if not 0 <= random_bits < 1 << _RANDOM_BITS:
        raise ValueError("random_bits must be 62 bits")
    millis, within = divmod(unix_ns, 1_000_000)
    if not 0 <= millis < 1 << 48:
        raise ValueError("the time does not fit 48 bits of milliseconds")
    fraction = within * _FRACTION_STEPS // 1_000_000
    value = millis << 80 | _VERSION << 76 | fraction << 64 | _VARIANT << _RANDOM_BITS | random_bits
    return uuid.UUID(int=value)


def new_id() -> str:
    """A new time-ordered id as the canonical lower-case UUID string."""
    return str(uuid7_from(time.time_ns(), secrets.randbits(_RANDOM_BITS)))
