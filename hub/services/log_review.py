"""Log review (loggkontroll, HSLF-FS 2016:40 4 kap. 9 §): draw a sample of a district's
accesses, assign it to a data-protection officer of the district, record verdicts, report
coverage per period. One service for ``omsorgshub review …``, ``/api/v1/review/…`` and the
console.

- **Sample**: every access a rule picks (``hub.review.rules``) and ``random`` more at random,
  among the district's accesses in [since, until); assigned to a console user who holds the
  ``dpo`` role in that district; an access an earlier sample picked is not picked again.
  Audited ``review_sampled``.
- **Verdicts** are ``ok`` or ``follow_up`` (a note required). A verdict is never changed: a
  second decision on a decided item is refused unless it says why it amends the first
  (``amend_reason``), and then it is a new revision beside the first, with its own
  ``review_decided`` audit entry (which names the verdict, so the trail alone tells the history
  even if someone rewrote the table).
- **Report**: per district and period, the accesses, the items picked (by rule), decided (ok,
  follow-up) and open. Audited ``review_reported``. Listing items is audited as a search.

Who: a data-protection officer (its districts) or the operator at the command line (every
district; a verdict at the command line is recorded for a named DPO, ``--by``). A district
outside the scope is absent (404), as everywhere.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError

from hub.errors import Conflict, InputError, NotFound
from hub.guards import AuditAction
from hub.referrals.calendar import CallbackCalendar
from hub.review.rules import RANDOM, RULES, Thresholds, apply_rules, draw_random
from hub.services import users
from hub.services.audit_queries import require_reader
from hub.services.principal import Kind, Principal
from hub.storage import review as rows
from hub.storage.review import ItemRow, SampleRow, VerdictRow

if TYPE_CHECKING:
    from hub.bootstrap import Hub

__all__ = [
    "RULES",
    "VERDICTS",
    "Coverage",
    "ItemRow",
    "SampleResult",
    "acting_dpo",
    "coverage_report",
    "decide",
    "list_items",
    "local_period",
    "sample",
]

VERDICTS = ("ok", "follow_up")


@dataclass(frozen=True)
class SampleResult:
    sample: SampleRow
    items: list[ItemRow]
    accesses: int  # reviewable accesses in the period that no earlier sample picked
    by_rule: dict[str, int]


@dataclass(frozen=True)
class Coverage:
    district: str
    since: datetime
    until: datetime
    accesses: int
    picked: int
    by_rule: dict[str, int]
    ok: int
    follow_up: int
    open: int
    amended: int

    @property
    def decided(self) -> int:
        return self.ok + self.follow_up

    @property
    def share_picked(self) -> float:
        return self.picked / self.accesses if self.accesses else 0.0

    @property
    def share_decided(self) -> float:
        return self.decided / self.picked if self.picked else 0.0


def _absent(district: str) -> NotFound:
    return NotFound(f"no district {district!r} in your scope", reason="district_not_found")


def _period(since: datetime, until: datetime) -> None:
    if since.tzinfo is None or until.tzinfo is None:
        raise InputError("give the period's times with a time zone")
    if since >= until:
        raise InputError("the period ends before it begins")


def local_period(
    hub: Hub, *, month: str | None = None, first: date | None = None, last: date | None = None
) -> tuple[datetime, datetime]:
    """[since, until) in UTC of a month (``YYYY-MM``) or of local days ``first``..``last``
    (inclusive), in the hub's time_zone."""
    zone = ZoneInfo(hub.settings.time_zone)
    if month is not None:
        try:
            start = datetime.strptime(month, "%Y-%m").date()
        except ValueError:
            raise InputError(f"a month is YYYY-MM, not {month!r}") from None
        first = start
        last = (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    if first is None or last is None:
        raise InputError("give a month, or the first and the last day")
    if last < first:
        raise InputError("the period ends before it begins")
    since = datetime.combine(first, time(), zone).astimezone(UTC)
    until = datetime.combine(last + timedelta(days=1), time(), zone).astimezone(UTC)
    return since, until


def thresholds(hub: Hub) -> Thresholds:
    s = hub.settings
    if s.review_office_start_hour >= s.review_office_end_hour:
        raise InputError("review_office_start_hour must be before review_office_end_hour")
    calendar = CallbackCalendar(time_zone=s.time_zone)
    return Thresholds(
        office_start=time(s.review_office_start_hour),
        office_end=time(s.review_office_end_hour),
        zone=ZoneInfo(s.time_zone),
        is_working_day=calendar.is_working_day,
        burst_lookups=s.review_burst_lookups,
        burst_minutes=s.review_burst_minutes,
        referral_hours=s.review_referral_hours,
    )


def _assignee(hub: Hub, name: str, district: str) -> str:
    """``user:<name>`` of an active console user holding ``dpo`` in the district."""
    person = users.find_person(hub, name.removeprefix("user:"))
    if person is None or not person.active or district not in person.roles.get("dpo", ()):
        raise InputError(
            f"{name!r} is no active data-protection officer of {district}: a sample is "
            "assigned to a user holding the dpo role there",
            reason="assignee_not_dpo",
        )
    return person.actor


def sample(
    hub: Hub,
    principal: Principal,
    *,
    district: str,
    since: datetime,
    until: datetime,
    assign_to: str,
    random_count: int | None = None,
    rules: Sequence[str] = RULES,
    rng: random.Random | None = None,
) -> SampleResult:
    """Draw a sample of the district's accesses in [since, until) and assign it."""
    require_reader(principal)
    principal.visible(district, _absent(district).detail, "district_not_found")
    _period(since, until)
    count = hub.settings.review_random_size if random_count is None else random_count
    if not 0 <= count <= 10_000:
        raise InputError("draw 0 to 10000 accesses at random")
    unknown = sorted(set(rules) - set(RULES))
    if unknown:
        raise InputError(f"no review rule {unknown[0]!r}; known: {', '.join(RULES)}")
    assignee = _assignee(hub, assign_to, district)
    limits = thresholds(hub)
    now = hub.clock()
    with hub.engine.begin() as conn:
        # An access an earlier sample picked is not picked again (one verdict per access).
        earlier = rows.already_picked(conn, district, since, until)
        seen = [a for a in rows.accesses(conn, district, since, until) if a.seq not in earlier]
        # A lookup late in the period may be answered by a referral after it.
        window = timedelta(hours=limits.referral_hours)
        referrals = rows.referrals_received(conn, district, since, until + window)
        findings = apply_rules(seen, referrals, limits, judged_until=now, rules=rules)
        picked: dict[int, list[tuple[str, str]]] = {}
        for f in findings:
            picked.setdefault(f.seq, []).append((f.rule, f.note))
        chance = draw_random(seen, set(picked), count, rng or random.SystemRandom())
        for f in chance:
            picked[f.seq] = [(f.rule, f.note)]
        row = SampleRow(
            id=str(uuid.uuid4()),
            district=district,
            since=since,
            until=until,
            rules=",".join(rules),
            random_count=count,
            assigned_to=assignee,
            drawn_by=principal.name,
            drawn_at=now,
        )
        rows.insert_sample(
            conn,
            row,
            (
                (seq, ",".join(r for r, _ in why), "; ".join(n for _, n in why))
                for seq, why in sorted(picked.items())
            ),
        )
        by_rule = Counter(r for why in picked.values() for r, _ in why)
        hub.guards.record(
            conn,
            [
                principal.did(
                    AuditAction.REVIEW_SAMPLED,
                    district=district,
                    reason=(
                        f"sample {row.id}: {len(picked)} of {len(seen)} new accesses "
                        f"{since:%Y-%m-%d}..{until:%Y-%m-%d} for {assignee}"
                    )[:200],
                )
            ],
        )
        found = rows.items(conn, districts=None, sample_id=row.id)
    return SampleResult(row, found, len(seen), {r: by_rule[r] for r in (*RULES, RANDOM)})


def list_items(
    hub: Hub,
    principal: Principal,
    *,
    sample_id: str | None = None,
    district: str | None = None,
    open_only: bool = False,
) -> list[ItemRow]:
    """Items in the principal's scope, with their verdicts (listing is audited as a search)."""
    require_reader(principal)
    if district is not None:
        principal.visible(district, _absent(district).detail, "district_not_found")
    with hub.engine.begin() as conn:
        if sample_id is not None:
            found_sample = rows.get_sample(conn, sample_id)
            if found_sample is None or not principal.covers(found_sample.district):
                raise NotFound(f"no review sample {sample_id}", reason="sample_not_found")
        found = rows.items(
            conn, districts=principal.districts, sample_id=sample_id, district=district
        )
        if open_only:
            found = [i for i in found if i.verdict is None]
        hub.guards.record(
            conn,
            [
                principal.did(
                    AuditAction.AUDIT_SEARCHED,
                    district=district,
                    reason=f"review items: {len(found)}"
                    + (f" of sample {sample_id}" if sample_id else ""),
                )
            ],
        )
    return found


def acting_dpo(hub: Hub, principal: Principal, user: str) -> Principal:
    """The operator at the command line records a verdict for a named data-protection officer:
    the verdict and its audit entry name that person (``user:<name>``), in that person's
    districts."""
    principal.require_hub_wide(Kind.OPERATOR)
    person = users.find_person(hub, user.removeprefix("user:"))
    if person is None or not person.active:
        raise NotFound(f"no active user named {user!r}", reason="user_not_found")
    return users.principal_for(person, "dpo")


def decide(
    hub: Hub,
    principal: Principal,
    item_id: int,
    *,
    verdict: str,
    note: str | None = None,
    amend_reason: str | None = None,
) -> ItemRow:
    """Record a verdict on an item: once, or as an amendment that says why (a new revision)."""
    principal.require(Kind.DPO)
    if verdict not in VERDICTS:
        raise InputError(f"a verdict is {' or '.join(VERDICTS)}, not {verdict!r}")
    note = (note or "").strip() or None
    if verdict == "follow_up" and note is None:
        raise InputError("a follow-up needs a note: what is to be followed up")
    amend_reason = (amend_reason or "").strip() or None
    absent = NotFound(f"no review item {item_id}", reason="review_item_not_found")
    try:
        with hub.engine.begin() as conn:
            found = rows.items(conn, districts=principal.districts, item_id=item_id)
            if not found:
                raise absent
            item = found[0]
            last = item.verdict
            if last is not None and amend_reason is None:
                raise Conflict(
                    f"item {item_id} was decided {last.verdict} by {last.decided_by} at "
                    f"{last.decided_at:%Y-%m-%d %H:%M} UTC; a verdict is not changed: record a "
                    "new one with the reason it amends the first",
                    reason="review_item_decided",
                )
            if last is None and amend_reason is not None:
                raise InputError(f"item {item_id} has no verdict to amend")
            revision = 1 if last is None else last.revision + 1
            rows.insert_verdict(
                conn,
                item_id,
                VerdictRow(revision, verdict, note, amend_reason, principal.name, hub.clock()),
            )
            what = f"item {item_id} rev {revision}: {verdict}"
            if amend_reason:
                what += f" (amends rev {revision - 1}: {amend_reason})"
            if note:
                what += f"; {note}"
            hub.guards.record(
                conn,
                [
                    principal.did(
                        AuditAction.REVIEW_DECIDED,
                        district=item.district,
                        subject_ref=item.subject_ref,
                        reason=what[:200],
                    )
                ],
            )
            return rows.items(conn, districts=None, item_id=item_id)[0]
    except IntegrityError as exc:  # another decision took this revision first
        raise Conflict(
            f"item {item_id} was decided at the same moment by someone else; look again",
            reason="review_item_decided",
        ) from exc


def coverage_report(
    hub: Hub, principal: Principal, *, district: str, since: datetime, until: datetime
) -> Coverage:
    """How much of the district's accesses in [since, until) was picked and decided."""
    require_reader(principal)
    principal.visible(district, _absent(district).detail, "district_not_found")
    _period(since, until)
    with hub.engine.begin() as conn:
        total = rows.count_accesses(conn, district, since, until)
        found = rows.items_in_period(conn, district, since, until)
        verdicts = Counter(i.verdict.verdict if i.verdict else "open" for i in found)
        by_rule = Counter(r for i in found for r in i.rules.split(","))
        cover = Coverage(
            district=district,
            since=since,
            until=until,
            accesses=total,
            picked=len(found),
            by_rule={r: by_rule[r] for r in (*RULES, RANDOM)},
            ok=verdicts["ok"],
            follow_up=verdicts["follow_up"],
            open=verdicts["open"],
            amended=sum(1 for i in found if len(i.verdicts) > 1),
        )
        hub.guards.record(
            conn,
            [
                principal.did(
                    AuditAction.REVIEW_REPORTED,
                    district=district,
                    reason=(
                        f"coverage {since:%Y-%m-%d}..{until:%Y-%m-%d}: {cover.decided} of "
                        f"{cover.picked} decided, {cover.accesses} accesses"
                    ),
                )
            ],
        )
    return cover
