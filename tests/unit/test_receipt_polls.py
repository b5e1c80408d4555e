"""When the relay asks again for a receipt: backing off, never past the deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub.envelope import DeliveryState
from hub.outbox.retry import RetryPolicy

SENT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _delay(policy: RetryPolicy, waited: float, timeout: float = 86_400) -> float:
    now = SENT + timedelta(seconds=waited)
    return (policy.next_receipt_poll(SENT, now, timeout) - now).total_seconds()


def test_polls_back_off_with_the_time_waited_between_base_and_cap() -> None:
    policy = RetryPolicy(base_seconds=2, cap_seconds=300)
    assert _delay(policy, 0) == 2
    assert _delay(policy, 40) == 10
    assert _delay(policy, 400) == 100
    assert _delay(policy, 40_000) == 300


def test_the_last_poll_is_at_the_deadline_not_after_it() -> None:
    policy = RetryPolicy(base_seconds=2, cap_seconds=300)
    assert _delay(policy, 100, timeout=110) == 10
    assert _delay(policy, 200, timeout=110) == 0  # past it: due now, and then dead


def test_awaiting_receipt_is_not_final() -> None:
    assert not DeliveryState.AWAITING_RECEIPT.is_final
    assert DeliveryState("awaiting_receipt") is DeliveryState.AWAITING_RECEIPT
