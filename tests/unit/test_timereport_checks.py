"""The time-report checks at their boundaries (pure: no database, no case system)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hub.demo.fictional import FictionalPeople
from hub.timereports.checks import (
    Busy,
    Finding,
    Order,
    Rules,
    check_orders,
    check_staff,
    check_times,
    lock_moment,
    manual_share_warning,
)
from hub.timereports.model import Intervention, Visit
from hub.timereports.orders import OrderCache, orders_of

ZONE = ZoneInfo("Europe/Stockholm")
CLIENT = FictionalPeople(11, kind="personnummer").take(1)[0].identity
START = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def visit(index: int = 0, start: datetime = START, minutes: float = 30, **changes: object) -> Visit:
    fields: dict[str, object] = {
        "index": index,
        "visit_id": f"v-{index}",
        "staff_id": "st-1",
        "client": CLIENT,
        "order_id": "B-1",
        "interventions": (Intervention("personal_care"),),
        "actual_start": start,
        "actual_end": start + timedelta(minutes=minutes),
        "confirmation": "code",
    }
    fields.update(changes)
    return Visit(**fields)  # type: ignore[arg-type]


def rules(now: datetime = NOW, reopened: frozenset[str] = frozenset()) -> Rules:
    return Rules(zone=ZONE, now=now, lock_day=5, reopened=reopened, manual_share_warning=0.25)


def reasons(findings: list[Finding]) -> list[str]:
    return [f.reason for f in findings]


def test_end_must_be_after_start_to_the_second() -> None:
    assert reasons(check_times([visit(minutes=0)], rules())) == ["end_not_after_start"]
    assert check_times([visit(minutes=1 / 60)], rules()) == []
    planned = visit(planned_start=START, planned_end=START)
    assert reasons(check_times([planned], rules())) == ["end_not_after_start"]


def test_a_visit_ending_in_the_future_is_refused_beyond_the_clock_skew() -> None:
    at_skew = visit(start=NOW, minutes=5)  # ends 5 minutes after the hub's clock
    assert check_times([at_skew], rules()) == []
    beyond = visit(start=NOW, minutes=5 + 1 / 60)
    assert reasons(check_times([beyond], rules())) == ["visit_in_future"]


def test_the_same_visit_twice_in_a_batch() -> None:
    found = check_times([visit(0), visit(1, visit_id="v-0")], rules())
    assert [(f.index, f.reason) for f in found] == [(1, "duplicate_visit")]


def test_the_lock_date_is_midnight_local_time_on_the_lock_day() -> None:
    locked_at = lock_moment("2026-11", 5, ZONE)
    assert locked_at == datetime(2026, 12, 5, tzinfo=ZONE)
    november = visit(start=datetime(2026, 11, 30, 22, 0, tzinfo=UTC))  # 23:00 local, November
    just_before = locked_at - timedelta(microseconds=1)
    assert check_times([november], rules(now=just_before)) == []
    assert reasons(check_times([november], rules(now=locked_at))) == ["period_locked"]
    assert check_times([november], rules(now=locked_at, reopened=frozenset({"2026-11"}))) == []
    # 23:30 UTC on 30 November is 1 December in Stockholm: not November's time
    december = visit(start=datetime(2026, 11, 30, 23, 30, tzinfo=UTC))
    assert check_times([december], rules(now=locked_at)) == []
    assert lock_moment("2026-12", 5, ZONE) == datetime(2027, 1, 5, tzinfo=ZONE)


CODES = frozenset({"personal_care", "meal"})
ORDER = Order("B-1", "prov-a", CODES, date(2026, 1, 1), None, "executed")


def order(
    provider: str = "prov-a",
    valid: tuple[date | None, date | None] = (None, None),
    state: str | None = "executed",
    codes: frozenset[str] = CODES,
) -> Order:
    return Order("B-1", provider, codes, valid[0], valid[1], state)


@pytest.mark.parametrize(
    ("order", "changes", "expected"),
    [
        (ORDER, {}, []),
        (ORDER, {"order_id": "B-2"}, ["no_active_order"]),
        (order("prov-b"), {}, ["order_other_provider"]),
        (order(valid=(date(2026, 12, 3), None)), {}, ["order_not_active"]),
        (order(valid=(date(2026, 12, 2), None)), {}, []),
        (order(valid=(None, date(2026, 12, 1))), {}, ["order_not_active"]),
        (order(valid=(None, date(2026, 12, 2))), {}, []),
        (order(state="interrupted"), {}, ["order_not_active"]),
        (order(state="closed"), {}, ["order_not_active"]),
        (order(state="pending"), {}, []),
        (ORDER, {"interventions": (Intervention("cleaning"),)}, ["intervention_not_ordered"]),
        (ORDER, {"second_staff_id": "st-2"}, ["double_staffing_not_ordered"]),
        (order(codes=CODES | {"double_staffing"}), {"second_staff_id": "st-2"}, []),
    ],
)
def test_orders(order: Order, changes: dict[str, Any], expected: list[str]) -> None:
    found = check_orders([visit(**changes)], "prov-a", {CLIENT.canonical: {"B-1": order}}, ZONE)
    assert reasons(found) == expected


def test_overlaps_within_the_batch_and_against_stored_visits() -> None:
    a = visit(0, staff_id="st-1")
    touching = visit(1, start=START + timedelta(minutes=30), staff_id="st-1")
    assert check_staff([a, touching], [], {}) == []
    overlapping = visit(1, start=START + timedelta(minutes=29), staff_id="st-1")
    assert [(f.index, f.reason) for f in check_staff([a, overlapping], [], {})] == [
        (1, "staff_overlap")
    ]
    as_second = visit(
        1, start=START + timedelta(minutes=10), staff_id="st-9", second_staff_id="st-1"
    )
    assert reasons(check_staff([a, as_second], [], {})) == ["staff_overlap"]
    stored = [Busy("ref-1", START - timedelta(minutes=30), START + timedelta(seconds=1))]
    assert reasons(check_staff([a], stored, {"st-1": "ref-1"})) == ["staff_overlap"]
    assert check_staff([a], stored, {"st-1": "ref-other"}) == []
    same = visit(0, second_staff_id="st-1")
    assert reasons(check_staff([same], [], {})) == ["double_staffing_same_staff"]


def test_manual_share_is_flagged_only_above_the_setting() -> None:
    at_share = [visit(i, confirmation="manual" if i == 0 else "nfc_tag") for i in range(4)]
    assert manual_share_warning(at_share, 0.25) is None
    above = [visit(i, confirmation="manual" if i < 2 else "nfc_tag") for i in range(4)]
    warning = manual_share_warning(above, 0.25)
    assert warning is not None
    assert (warning.reason, warning.refuses) == ("manual_share_high", False)


def test_orders_of_a_client_summary_and_the_cache_ttl() -> None:
    summary = {
        "found": True,
        "provider": {"id": "prov-a", "name": "A"},
        "decisions": [
            {
                "decision_id": "B-1",
                "interventions": [{"code": "meal", "display_name": "Måltid"}],
                "valid_from": "2026-01-01",
                "valid_to": None,
                "execution_state": "executed",
            }
        ],
    }
    assert orders_of(summary) == {
        "B-1": Order("B-1", "prov-a", frozenset({"meal"}), date(2026, 1, 1), None, "executed")
    }
    assert orders_of({"found": False}) == {}
    now = [0.0]
    cache = OrderCache(60, clock=lambda: now[0])
    asked: list[int] = []

    def fetch() -> dict[str, Order]:
        asked.append(1)
        return orders_of(summary)

    cache.get("d", "ref", fetch)
    now[0] = 59.9
    cache.get("d", "ref", fetch)
    assert len(asked) == 1
    now[0] = 60.0
    cache.get("d", "ref", fetch)
    assert len(asked) == 2
