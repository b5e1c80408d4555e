"""Message and delivery ids: UUID version 7 (RFC 9562), ordered by time, unique, canonical."""

from __future__ import annotations

import uuid

import pytest

from hub.ingest.ids import new_id, uuid7_from
from hub.services.messages import made_by_hub

# 2026-12-08T02:30:00.123456789Z in nanoseconds since the epoch.
NOW_NS = 1_796_697_000_123_456_789


def test_version_variant_and_timestamp_bits() -> None:
    made = uuid7_from(NOW_NS, 0)
    assert made.version == 7
    assert made.variant == uuid.RFC_4122
    assert made.int >> 80 == NOW_NS // 1_000_000  # the 48-bit Unix time in milliseconds
    assert (made.int >> 64) & 0xFFF == 456_789 * 4096 // 1_000_000  # rand_a: the fraction
    assert made.int & ((1 << 62) - 1) == 0


def test_random_bits_fill_the_tail_only() -> None:
    ones = (1 << 62) - 1
    made = uuid7_from(NOW_NS, ones)
    assert made.int & ones == ones
    assert made.version == 7
    assert made.variant == uuid.RFC_4122


@pytest.mark.parametrize("random_bits", [-1, 1 << 62])
def test_random_bits_out_of_range_are_refused(random_bits: int) -> None:
    with pytest.raises(ValueError, match="62 bits"):
        uuid7_from(NOW_NS, random_bits)


def test_later_times_sort_later_whatever_the_random_bits() -> None:
    # ns after NOW_NS, each at least one rand_a step (1e6 / 4096 ≈ 244 ns) after the one before
    steps = [0, 250, 1_000, 999_000, 1_000_000, 60 * 10**9]
    ids = [str(uuid7_from(NOW_NS + step, (1 << 62) - 1 - i)) for i, step in enumerate(steps)]
    assert ids == sorted(ids)  # the string order is the order an index keeps them in


def test_new_ids_are_canonical_unique_and_in_creation_order() -> None:
    made = [new_id() for _ in range(10_000)]
    assert len(set(made)) == len(made)
    assert all(made_by_hub(i) and uuid.UUID(i).version == 7 for i in made)
    # Sorted to within the clock's resolution: a later millisecond always sorts later.
    millis = [uuid.UUID(i).int >> 80 for i in made]
    assert millis == sorted(millis)
