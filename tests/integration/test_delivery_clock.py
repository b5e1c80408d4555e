"""A clock stepped ahead and back again delays deliveries by seconds, not by the step.

Found by ``python -m proof chaos --faults clock-step`` with the hub's system clock stepped
(libfaketime): what the hub stamped while its clock stood 600 s ahead was due, or leased, only
when the real time reached the wrong one. The sweeper now moves such rows back by how far ahead
they were written (``hub.storage.deliveries.pull_back_future``). SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

from tests.integration.spine import LEASE, Spine

STEP = 600.0


def test_deliveries_accepted_while_the_clock_was_ahead_are_due_once_it_is_set_back(
    spine: Spine,
) -> None:
    spine.dispatcher.drop = True  # accepted, but the relay's passes carry nothing yet
    spine.clock.advance(STEP)
    ids = spine.send(3)
    spine.clock.advance(-STEP)  # NTP steps the clock back
    spine.dispatcher.drop = False
    result = spine.hub.relay.run_once()
    assert result.claimed == 3  # due now, not in ten minutes
    assert spine.states(ids) == ["delivered"] * 3
    assert spine.double.stats()["unique"] == 3


def test_a_lease_taken_while_the_clock_was_ahead_lasts_a_lease_not_a_lease_plus_the_step(
    spine: Spine,
) -> None:
    spine.dispatcher.drop = True  # claimed under a lease, and the batch lost
    spine.clock.advance(STEP)
    ids = spine.send(2)
    assert spine.hub.relay.run_once().claimed == 2
    spine.clock.advance(-STEP)
    assert spine.hub.relay.run_once().swept == 0  # moved back, yet still held
    (d,) = spine.deliveries(ids[0])
    assert d.lease_until is not None
    assert d.lease_until - spine.clock() <= timedelta(seconds=LEASE + 1)  # not LEASE + STEP
    spine.dispatcher.drop = False
    spine.clock.advance(LEASE + 1)
    result = spine.hub.relay.run_once()
    assert (result.swept, result.claimed) == (2, 2)
    assert spine.states(ids) == ["delivered"] * 2


def test_rows_written_by_the_same_clock_are_left_as_they_are(spine: Spine) -> None:
    spine.dispatcher.drop = True
    (mid,) = spine.send(1)
    spine.hub.relay.run_once()
    (before,) = spine.deliveries(mid)
    spine.hub.relay.run_once()
    (after,) = spine.deliveries(mid)
    assert (after.lease_until, after.updated_at) == (before.lease_until, before.updated_at)
