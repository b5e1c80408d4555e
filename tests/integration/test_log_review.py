"""Log review through the service on a real hub and database (spine): the rules find the
seeded suspicious accesses among thousands of ordinary ones and nothing else; a verdict is
never changed, only amended by a new revision with its own audit entry; scope and audit.

The referrals are real ingests (the pipeline writes their ``received`` entries). The lookups
and views are appended through the hub's own audit trail (``hub.guards.record``: chained and
signed like every entry) with the fields the lookup service and the console write, at chosen
times: thousands of real lookups would need a case system answering each, which adds nothing
to what is tested here.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from audit.entry import AuditAction, AuditEvent, Outcome
from audit.search import AuditQuery, search
from hub.errors import Conflict, InputError, NotFound
from hub.referrals.calendar import CallbackCalendar
from hub.services import log_review
from hub.services.principal import Principal
from hub.services.users import add_user, grant
from hub.storage.tables import review_verdicts
from tests.integration.spine import DISTRICT, SENDER, Spine, close_spine, open_spine

ZONE = ZoneInfo("Europe/Stockholm")
DPO = Principal.dpo("user:dpo.sodermalm", [DISTRICT])
NORR = Principal.dpo("user:dpo.norr", ["sdn-norr"])
OPERATOR = Principal.operator("operator:test")
OFFICERS = 20
VIEWS_PER_DAY = 30  # per officer, one every 20 minutes from 07:30
REFERRALS = 200


@pytest.fixture
def spine(tmp_path: Path, database_url: str) -> Iterator[Spine]:
    s = open_spine(tmp_path, database_url)
    add_user(s.hub, "test", "dpo.sodermalm", "DPO Södermalm (fictional)", None)
    grant(s.hub, "test", "dpo.sodermalm", "dpo", [DISTRICT])
    add_user(s.hub, "test", "officer.one", "Officer (fictional)", None)
    yield s
    close_spine(s)


def working_week(after: datetime) -> list[date]:
    """Monday to Friday of the first week after ``after`` without a holiday."""
    calendar = CallbackCalendar()
    day = after.astimezone(ZONE).date() + timedelta(days=1)
    while True:
        day += timedelta(days=(7 - day.weekday()) % 7)
        week = [day + timedelta(days=i) for i in range(5)]
        if all(calendar.is_working_day(d) for d in week):
            return week
        day += timedelta(days=1)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), ZONE).astimezone(UTC)


def viewed(actor: str, at: datetime, ref: str, reason: str | None = None) -> AuditEvent:
    """What the console writes when a person views a message about someone."""
    return AuditEvent(
        action=AuditAction.VIEWED,
        actor=actor,
        district=DISTRICT,
        subject_ref=ref,
        reason=reason,
        at=at,
    )


def queried(at: datetime, ref: str, refusal: str | None = None) -> AuditEvent:
    """What the lookup service writes for the contact centre's client summary lookup."""
    return AuditEvent(
        action=AuditAction.REFUSED if refusal else AuditAction.QUERIED,
        actor=SENDER,
        purpose="case_referral",
        district=DISTRICT,
        subject_ref=ref,
        source=SENDER,
        destination="case-sodermalm",
        outcome=Outcome.REFUSED if refusal else Outcome.OK,
        reason=refusal or "client_summary r-1",
        at=at,
    )


def record(spine: Spine, events: list[AuditEvent]) -> list[int]:
    """Append through the hub's trail; the seqs the events got, in order."""
    with spine.hub.engine.begin() as conn:
        spine.hub.guards.record(conn, events)
        (last,) = search(conn, AuditQuery(newest_first=True, limit=1))
    return list(range(last.seq - len(events) + 1, last.seq + 1))


def ordinary_traffic(spine: Spine, week: list[date]) -> None:
    """Officers viewing during office hours; contact-centre lookups each followed by the real
    referral of that person twenty minutes later."""
    views = [
        viewed(f"user:officer-{k}", local(day, 7, 30) + timedelta(minutes=20 * j), f"h{k}x{d}x{j}")
        for k in range(OFFICERS)
        for d, day in enumerate(week)
        for j in range(VIEWS_PER_DAY)
    ]
    for chunk in range(0, len(views), 500):
        record(spine, views[chunk : chunk + 500])
    for i in range(REFERRALS):
        person = next(spine.people)
        ref = spine.hub.guards.hmacs.subject_ref(person.identity.canonical)
        at = local(week[i % 5], 8 + i % 9, (7 * i) % 40)
        record(spine, [queried(at, str(ref))])
        spine.clock.now = at + timedelta(minutes=20)
        spine.hub.ingestor.ingest(SENDER, spine.envelope(f"ordinary-{i}", person))


def seeded_suspicious(spine: Spine, week: list[date]) -> dict[str, set[int]]:
    """The accesses the rules must find, by rule."""
    mon, tue, wed, thu, _ = week
    late = record(spine, [viewed("user:officer-3", local(wed, 22, 30), "hlate1")])
    early = record(spine, [viewed("user:officer-4", local(thu, 5, 10), "hearly1")])
    snoop = record(
        spine,
        [
            viewed("user:snoop", local(tue, 10) + timedelta(seconds=10 * i), f"hsnoop{i}")
            for i in range(35)
        ],
    )
    protected_refused = record(spine, [queried(local(mon, 10), "hprot1", "protected_identity")])
    protected_viewed = record(
        spine, [viewed("user:officer-5", local(mon, 11), "hprot2", "protected_identity allowed")]
    )
    refused = record(spine, [queried(local(tue, 14), "hrefused", "purpose_not_allowed")])
    lonely = record(
        spine, [queried(local(wed, 11), "hlonely1"), queried(local(thu, 14), "hlonely2")]
    )
    return {
        "off_hours": {*late, *early},
        "burst": {snoop[29]},  # the 30th lookup within ten minutes completes the burst
        "protected_identity": {*protected_refused, *protected_viewed},
        "refused": {*protected_refused, *refused},
        "no_referral": set(lonely),
    }


def test_the_rules_find_the_seeded_accesses_among_thousands_and_verdicts_stay(
    spine: Spine,
) -> None:
    week = working_week(spine.clock.now)
    ordinary_traffic(spine, week)
    expected = seeded_suspicious(spine, week)
    spine.clock.now = local(week[-1], 12) + timedelta(days=3)
    since, until = log_review.local_period(spine.hub, first=week[0], last=week[-1])

    result = log_review.sample(
        spine.hub,
        DPO,
        district=DISTRICT,
        since=since,
        until=until,
        assign_to="dpo.sodermalm",
        random_count=25,
        rng=random.Random(15),
    )
    ordinary = OFFICERS * VIEWS_PER_DAY * 5 + REFERRALS
    assert result.accesses == ordinary + 2 + 35 + 2 + 1 + 2
    found: dict[str, set[int]] = {}
    for item in result.items:
        for rule in item.rules.split(","):
            found.setdefault(rule, set()).add(item.entry_seq)
    assert {r: s for r, s in found.items() if r != "random"} == expected
    assert len(found["random"]) == 25
    assert not found["random"] & set().union(*expected.values())
    assert result.sample.assigned_to == "user:dpo.sodermalm"

    # The coverage before and after verdicts.
    before = log_review.coverage_report(spine.hub, DPO, district=DISTRICT, since=since, until=until)
    picked = len(result.items)
    assert (before.accesses, before.picked, before.open, before.decided) == (
        result.accesses,
        picked,
        picked,
        0,
    )
    burst = next(i for i in result.items if "burst" in i.rules)
    calm = next(i for i in result.items if i.rules == "random")
    log_review.decide(spine.hub, DPO, calm.id, verdict="ok")
    with pytest.raises(InputError, match="needs a note"):
        log_review.decide(spine.hub, DPO, burst.id, verdict="follow_up")
    log_review.decide(spine.hub, DPO, burst.id, verdict="follow_up", note="ask the manager")

    # A verdict is not changed: a second one is refused unless it says why it amends the first.
    with pytest.raises(Conflict, match="a verdict is not changed"):
        log_review.decide(spine.hub, DPO, calm.id, verdict="follow_up", note="on second thought")
    amended = log_review.decide(
        spine.hub,
        DPO,
        calm.id,
        verdict="follow_up",
        note="same actor as the burst",
        amend_reason="seen together with the burst",
    )
    assert [(v.revision, v.verdict) for v in amended.verdicts] == [(1, "ok"), (2, "follow_up")]
    with spine.hub.reader.connect() as conn:
        stored = conn.execute(
            select(review_verdicts.c.revision, review_verdicts.c.verdict)
            .where(review_verdicts.c.item_id == calm.id)
            .order_by(review_verdicts.c.revision)
        ).all()
    assert [tuple(r) for r in stored] == [(1, "ok"), (2, "follow_up")]

    after = log_review.coverage_report(spine.hub, DPO, district=DISTRICT, since=since, until=until)
    assert (after.ok, after.follow_up, after.open, after.amended) == (0, 2, picked - 2, 1)
    assert (after.by_rule["burst"], after.by_rule["random"]) == (1, 25)

    # Every step is in the trail, with the officer as actor; each verdict its own entry.
    with spine.hub.reader.connect() as conn:
        mine = search(conn, AuditQuery(actor=DPO.name))
    assert [e.action for e in mine] == [
        AuditAction.REVIEW_SAMPLED,
        AuditAction.REVIEW_REPORTED,
        AuditAction.REVIEW_DECIDED,
        AuditAction.REVIEW_DECIDED,
        AuditAction.REVIEW_DECIDED,
        AuditAction.REVIEW_REPORTED,
    ]
    decided = [e.reason for e in mine if e.action == AuditAction.REVIEW_DECIDED]
    assert decided == [
        f"item {calm.id} rev 1: ok",
        f"item {burst.id} rev 1: follow_up; ask the manager",
        f"item {calm.id} rev 2: follow_up (amends rev 1: seen together with the burst); "
        "same actor as the burst",
    ]
    assert all(e.district == DISTRICT for e in mine)


def test_scope_assignment_and_listing(spine: Spine) -> None:
    week = working_week(spine.clock.now)
    record(spine, [viewed("user:officer-1", local(week[0], 23), "hnight")])
    spine.clock.now = local(week[-1], 12) + timedelta(days=3)
    since, until = log_review.local_period(spine.hub, first=week[0], last=week[-1])
    with pytest.raises(InputError, match="no active data-protection officer"):
        log_review.sample(
            spine.hub, DPO, district=DISTRICT, since=since, until=until, assign_to="officer.one"
        )
    with pytest.raises(NotFound):
        log_review.sample(
            spine.hub, NORR, district=DISTRICT, since=since, until=until, assign_to="dpo.sodermalm"
        )
    result = log_review.sample(
        spine.hub,
        OPERATOR,
        district=DISTRICT,
        since=since,
        until=until,
        assign_to="dpo.sodermalm",
        random_count=0,
    )
    (item,) = result.items
    assert item.rules == "off_hours"
    # A second sample of the same period does not pick the same access again.
    again = log_review.sample(
        spine.hub,
        DPO,
        district=DISTRICT,
        since=since,
        until=until,
        assign_to="dpo.sodermalm",
        random_count=5,
    )
    assert (again.accesses, again.items) == (0, [])
    assert [i.id for i in log_review.list_items(spine.hub, DPO, open_only=True)] == [item.id]
    assert log_review.list_items(spine.hub, NORR) == []
    with pytest.raises(NotFound):
        log_review.list_items(spine.hub, NORR, sample_id=result.sample.id)
    with pytest.raises(NotFound):
        log_review.decide(spine.hub, NORR, item.id, verdict="ok")
    # At the command line the operator records a verdict for a named officer.
    officer = log_review.acting_dpo(spine.hub, OPERATOR, "dpo.sodermalm")
    decided = log_review.decide(spine.hub, officer, item.id, verdict="ok")
    assert [v.decided_by for v in decided.verdicts] == ["user:dpo.sodermalm"]
    assert log_review.list_items(spine.hub, DPO, open_only=True) == []
    with pytest.raises(NotFound):
        log_review.acting_dpo(spine.hub, OPERATOR, "nobody")
