"""Retention that ends by itself: status, and a run that shreds every payload past its rule.

The rule of a stored message is the ``retention_days`` of its agreement (the one named in
``agreement_ref``), read from that agreement's **latest** version: a district that shortens its
retention shortens it for what is already stored, as the controller's instruction requires.
A message is past retention when ``received_at + retention_days`` lies before now (the hub's
clock). Messages stored without an agreement (none reach storage today) are kept.

A run goes through (district, agreement, categories) groups, shreds ``batch`` messages at a
time in one transaction each (``hub.storage.retention``: per-message key destroyed, metadata
kept) and writes one ``retention_ended`` audit entry per batch in that transaction: district,
agreement, categories, count, id range and rule. It is idempotent (a shredded message is never
a candidate again) and safe with several hubs at once (each row is shredded and counted by one
of them). A legal hold (``hub.services.legal_holds``) keeps its messages out of every run
until it is lifted. ``dry_run`` counts what a run would shred and changes nothing.

Every run, dry or not, the relay's included, ends with one ``retention_run`` entry per district
it covered (the principal's districts and those with stored messages): counts only, so a run
that shreds nothing still says it ran and found nothing. Reading the status is audited too
(``retention_reported``, one entry per district shown). Neither names a person or a message.

The relay runs it every ``retention_interval_seconds`` (``run_scheduled``); the command line
(``omsorgshub retention status|run``) and the API (``/api/v1/retention``) call the same
functions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from contracts.errors import AgreementNotFoundError
from hub.guards import AuditAction
from hub.services.principal import Kind, Principal
from hub.storage import retention as rows

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from hub.bootstrap import Hub

__all__ = [
    "RetentionRun",
    "RetentionStatus",
    "RuleStatus",
    "ShredBatch",
    "retention_status",
    "run_retention",
    "run_scheduled",
    "schedule_retention",
]

log = logging.getLogger(__name__)

_NEVER = datetime(1970, 1, 1, tzinfo=UTC)  # the cutoff of a rule not known: nothing is due
SCHEDULER = Principal.operator("retention-job")  # the relay's own runs, hub-wide

# (district, agreement ref, payloads shredded so far in this run)
Progress = Callable[[str, str, int], None]


@dataclass(frozen=True)
class RuleStatus:
    district: str
    agreement_ref: str
    categories: tuple[str, ...]
    retention_days: int | None  # None: the agreement is not in the store (kept, reported)
    cutoff: datetime | None  # messages received before this are past retention
    stored: int
    shredded: int
    due: int
    held: int
    oldest: datetime | None

    @property
    def key(self) -> tuple[str, str, tuple[str, ...]]:
        return (self.district, self.agreement_ref, self.categories)


@dataclass(frozen=True)
class RetentionStatus:
    at: datetime
    rules: list[RuleStatus]


@dataclass(frozen=True)
class ShredBatch:
    district: str
    agreement_ref: str
    categories: tuple[str, ...]
    count: int
    first_id: str
    last_id: str
    retention_days: int

    @property
    def key(self) -> tuple[str, str, tuple[str, ...]]:
        """The rule it was shredded under (``RuleStatus.key``)."""
        return (self.district, self.agreement_ref, self.categories)


@dataclass(frozen=True)
class RetentionRun:
    at: datetime
    dry_run: bool
    batches: list[ShredBatch]  # what this run shredded (empty for a dry run)
    due: int  # payloads past retention and not held when the run began
    rules: list[RuleStatus]  # the status when the run began: per rule what was due, held

    @property
    def shredded(self) -> int:
        return sum(b.count for b in self.batches)

    def batches_of(self, rules: list[RuleStatus]) -> list[ShredBatch]:
        """The batches this run shredded under ``rules``."""
        keys = {r.key for r in rules}
        return [b for b in self.batches if b.key in keys]


def _retention_days(hub: Hub, conn: Connection, agreement_ref: str) -> int | None:
    agreement_id = agreement_ref.rsplit("@", 1)[0]
    try:
        return hub.agreement_store.get(conn, agreement_id).retention_days
    except AgreementNotFoundError:
        return None


def _categories(group: rows.Group) -> tuple[str, ...]:
    return tuple(c for c in group.categories.split(",") if c)


def retention_status(hub: Hub, principal: Principal) -> RetentionStatus:
    """Per district, agreement and categories: the rule, what is stored, shredded, due, held.
    Counts only, no personal data: every role that looks after a district may read it. The
    read is audited, ``retention_reported`` per district shown."""
    principal.require(Kind.OPERATOR, Kind.HUB_ADMIN, Kind.DPO, Kind.DISTRICT_ADMIN)
    status = _status(hub, principal)
    _audit(hub, principal, AuditAction.RETENTION_REPORTED, status.rules, _status_reason)
    return status


def _status(hub: Hub, principal: Principal) -> RetentionStatus:
    now = hub.clock()
    out: list[RuleStatus] = []
    with hub.reader.connect() as conn:
        for group in rows.groups(conn, principal.districts):
            days = _retention_days(hub, conn, group.agreement_ref)
            cutoff = now - timedelta(days=days) if days is not None else None
            c = rows.counts(conn, group, cutoff if cutoff is not None else _NEVER)
            out.append(
                RuleStatus(
                    district=group.district,
                    agreement_ref=group.agreement_ref,
                    categories=_categories(group),
                    retention_days=days,
                    cutoff=cutoff,
                    stored=c.stored,
                    shredded=c.shredded,
                    due=c.due,
                    held=c.held,
                    oldest=c.oldest,
                )
            )
    return RetentionStatus(at=now, rules=out)


def run_retention(
    hub: Hub,
    principal: Principal,
    *,
    dry_run: bool = False,
    batch: int | None = None,
    progress: Progress | None = None,
) -> RetentionRun:
    """Shred every payload past its retention in the principal's districts (see the module
    docstring); with ``dry_run`` only count them. A district administrator (the controller's
    own instruction) may run it for its districts, as an operator may."""
    principal.require(Kind.OPERATOR, Kind.HUB_ADMIN, Kind.DISTRICT_ADMIN)
    size = batch if batch is not None else hub.settings.retention_batch
    status = _status(hub, principal)
    due = sum(r.due for r in status.rules)
    done = [] if dry_run else _shred_due(hub, principal, status.rules, size, progress)
    run = RetentionRun(at=status.at, dry_run=dry_run, batches=done, due=due, rules=status.rules)
    _audit(hub, principal, AuditAction.RETENTION_RUN, run.rules, lambda rs: _run_reason(run, rs))
    return run


def _shred_due(
    hub: Hub,
    principal: Principal,
    rules: list[RuleStatus],
    size: int,
    progress: Progress | None,
) -> list[ShredBatch]:
    """Shred what ``rules`` found due, batch by batch; the batches made."""
    done: list[ShredBatch] = []
    for rule in rules:
        if rule.due == 0 or rule.retention_days is None or rule.cutoff is None:
            continue
        group = rows.Group(rule.district, rule.agreement_ref, ",".join(rule.categories))
        shredded = 0
        while True:
            made = _shred_batch(hub, principal, group, rule.cutoff, rule.retention_days, size)
            if made is None:
                break
            done.append(made)
            shredded += made.count
            if progress is not None:
                progress(rule.district, rule.agreement_ref, shredded)
    return done


def _shred_batch(
    hub: Hub,
    principal: Principal,
    group: rows.Group,
    cutoff: datetime,
    retention_days: int,
    size: int,
) -> ShredBatch | None:
    """One transaction: up to ``size`` due payloads shredded and their audit entry; ``None``
    when none is left (another hub may have taken the rest)."""
    with hub.engine.begin() as conn:
        ids = rows.shred(conn, rows.due_ids(conn, group, cutoff, size), hub.clock())
        if not ids:
            return None
        made = ShredBatch(
            district=group.district,
            agreement_ref=group.agreement_ref,
            categories=_categories(group),
            count=len(ids),
            first_id=ids[0],
            last_id=ids[-1],
            retention_days=retention_days,
        )
        hub.guards.record(
            conn,
            [
                principal.did(
                    AuditAction.RETENTION_ENDED,
                    district=group.district,
                    agreement=group.agreement_ref,
                    reason=_audit_reason(made),
                )
            ],
        )
    return made


_REASON_WIDTH = 200  # the audit trail's reason column


def _audit_reason(b: ShredBatch) -> str:
    """``count``, id range, rule and categories, within the audit's reason column."""
    head = f"{b.count} payloads shredded, ids {b.first_id}..{b.last_id}, rule {b.retention_days} d"
    categories = ",".join(b.categories)
    text = f"{head}, categories {categories}"
    if len(text) > _REASON_WIDTH:
        text = text[: _REASON_WIDTH - 1] + "…"
    return text


def _audit(
    hub: Hub,
    principal: Principal,
    action: AuditAction,
    rules: list[RuleStatus],
    reason: Callable[[list[RuleStatus]], str],
) -> None:
    """One ``action`` entry per district covered: the principal's districts and those with
    stored messages; hub-wide with nothing stored, one entry without a district. ``reason``
    turns a district's rules into its counts (never a person, never a message id)."""
    covered = {r.district for r in rules} | set(principal.districts or ())
    named: list[str | None] = [*sorted(covered)] or [None]
    events = [
        principal.did(
            action, district=d, reason=reason([r for r in rules if d in (None, r.district)])
        )
        for d in named
    ]
    with hub.engine.begin() as conn:
        hub.guards.record(conn, events)


def _status_reason(rules: list[RuleStatus]) -> str:
    stored, shredded, due, held = (sum(getattr(r, f) for r in rules) for f in _COUNTED)
    return (
        f"status: {stored} stored, {shredded} shredded, {due} due, {held} held "
        f"under {len(rules)} rules"
    )


_COUNTED = ("stored", "shredded", "due", "held")


def _run_reason(run: RetentionRun, rules: list[RuleStatus]) -> str:
    due, held = sum(r.due for r in rules), sum(r.held for r in rules)
    if run.dry_run:
        return f"dry run: {due} due, {held} held under {len(rules)} rules; nothing changed"
    if not due:
        return f"run: nothing due, {held} held under {len(rules)} rules; nothing shredded"
    batches = run.batches_of(rules)
    shredded = sum(b.count for b in batches)
    return f"run: {shredded} of {due} due shredded in {len(batches)} batches, {held} held"


def run_scheduled(hub: Hub) -> int:
    """One run by the hub itself, hub-wide; returns the payloads shredded."""
    run = run_retention(hub, SCHEDULER)
    if run.shredded:
        log.info("retention: %d payloads shredded in %d batches", run.shredded, len(run.batches))
    return run.shredded


def schedule_retention(hub: Hub) -> None:
    """Put the retention job on the relay's own timer, every ``retention_interval_seconds``
    (0: off). ``serve`` (embedded relay) and ``omsorgshub relay`` call it before starting."""
    hub.relay.every(
        hub.settings.retention_interval_seconds, lambda: run_scheduled(hub), name="retention"
    )
