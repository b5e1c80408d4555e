"""``omsorgshub review …``: log review (loggkontroll, HSLF-FS 2016:40 4 kap. 9 §).

``sample`` draws a district's accesses of a period (every rule's picks and a random share) and
assigns them to a data-protection officer; ``list`` shows items and verdicts; ``decide``
records a verdict for a named officer (``--by``), once, or as an amendment with its reason;
``report`` gives the coverage of a month. Every command is audited.
"""

from __future__ import annotations

import json
from datetime import date, datetime

import click

from hub.cli.context import CliContext, pass_ctx
from hub.services import log_review
from hub.services.log_review import RULES, Coverage, ItemRow


def _day(value: datetime | None) -> date | None:
    return None if value is None else value.date()


def _period(
    obj: CliContext, month: str | None, first: datetime | None, last: datetime | None
) -> tuple[datetime, datetime]:
    return log_review.local_period(obj.hub, month=month, first=_day(first), last=_day(last))


def _echo_item(i: ItemRow) -> None:
    v = i.verdict
    decided = "open" if v is None else f"{v.verdict} by {v.decided_by} (rev {v.revision})"
    subject = (i.subject_ref or "-")[:12]
    click.echo(
        f"{i.id:>6}  {i.at[:16].replace('T', ' ')}  {i.actor:<24} {i.action:<14} "
        f"{subject:<12}  {i.rules:<22} {decided}"
    )
    click.echo(f"        {i.note}")
    if v is not None and v.note:
        click.echo(f"        verdict note: {v.note}")


@click.group()
def review() -> None:
    """Log review (loggkontroll): samples of the audit trail for data-protection officers."""


_DAY = click.DateTime(["%Y-%m-%d"])


@review.command("sample")
@click.option("--district", required=True)
@click.option("--month", metavar="YYYY-MM", help="The period: a month (time_zone).")
@click.option("--from", "first", type=_DAY, help="Or the period's first day.")
@click.option("--to", "last", type=_DAY, help="And its last day (inclusive).")
@click.option("--assign", "assign", required=True, help="A user holding dpo in the district.")
@click.option("--random", "random_count", type=int, help="Drawn at random (review_random_size).")
@click.option(
    "--rule", "rules", multiple=True, type=click.Choice(RULES), help="Only these rules (all)."
)
@pass_ctx
def review_sample(
    obj: CliContext,
    district: str,
    month: str | None,
    first: datetime | None,
    last: datetime | None,
    assign: str,
    random_count: int | None,
    rules: tuple[str, ...],
) -> None:
    """Draw a sample of the district's accesses and assign it to a data-protection officer."""
    since, until = _period(obj, month, first, last)
    result = log_review.sample(
        obj.hub,
        obj.principal,
        district=district,
        since=since,
        until=until,
        assign_to=assign,
        random_count=random_count,
        rules=rules or RULES,
    )
    picked = ", ".join(f"{r} {n}" for r, n in result.by_rule.items() if n)
    click.echo(
        f"sample {result.sample.id}: {len(result.items)} of {result.accesses} accesses "
        f"for {result.sample.assigned_to} ({picked or 'nothing picked'})"
    )
    for i in result.items:
        _echo_item(i)


@review.command("list")
@click.option("--sample", "sample_id", help="Only this sample.")
@click.option("--district", help="Only this district.")
@click.option("--open", "open_only", is_flag=True, help="Only the undecided items.")
@pass_ctx
def review_list(
    obj: CliContext, sample_id: str | None, district: str | None, open_only: bool
) -> None:
    """List review items with their verdicts."""
    found = log_review.list_items(
        obj.hub, obj.principal, sample_id=sample_id, district=district, open_only=open_only
    )
    if not found:
        click.echo("no review items")
    for i in found:
        _echo_item(i)


@review.command("decide")
@click.argument("item_id", type=int)
@click.option("--verdict", required=True, type=click.Choice(log_review.VERDICTS))
@click.option("--note", help="What to follow up (required with follow_up).")
@click.option("--by", "by", required=True, help="The data-protection officer deciding.")
@click.option("--amend", "amend_reason", help="Why this verdict amends an earlier one.")
@pass_ctx
def review_decide(
    obj: CliContext,
    item_id: int,
    verdict: str,
    note: str | None,
    by: str,
    amend_reason: str | None,
) -> None:
    """Record a verdict on one item (a decided item only with --amend: a new revision)."""
    officer = log_review.acting_dpo(obj.hub, obj.principal, by)
    found = log_review.decide(
        obj.hub, officer, item_id, verdict=verdict, note=note, amend_reason=amend_reason
    )
    _echo_item(found)


def _coverage_lines(c: Coverage) -> list[str]:
    rules = ", ".join(f"{r} {n}" for r, n in c.by_rule.items())
    return [
        f"district {c.district}, {c.since:%Y-%m-%d %H:%M}..{c.until:%Y-%m-%d %H:%M} UTC",
        f"accesses:  {c.accesses}",
        f"picked:    {c.picked} ({c.share_picked:.1%} of the accesses): {rules}",
        f"decided:   {c.decided} ({c.share_decided:.1%}): ok {c.ok}, follow-up {c.follow_up}",
        f"open:      {c.open}",
        f"amended:   {c.amended}",
    ]


@review.command("report")
@click.option("--district", required=True)
@click.option("--month", metavar="YYYY-MM", help="The period: a month (time_zone).")
@click.option("--from", "first", type=_DAY, help="Or the period's first day.")
@click.option("--to", "last", type=_DAY, help="And its last day (inclusive).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@pass_ctx
def review_report(
    obj: CliContext,
    district: str,
    month: str | None,
    first: datetime | None,
    last: datetime | None,
    fmt: str,
) -> None:
    """Coverage of the district's log review in a period."""
    since, until = _period(obj, month, first, last)
    c = log_review.coverage_report(
        obj.hub, obj.principal, district=district, since=since, until=until
    )
    if fmt == "json":
        data = {**c.__dict__, "since": c.since.isoformat(), "until": c.until.isoformat()}
        click.echo(json.dumps({**data, "decided": c.decided}, indent=2))
        return
    for line in _coverage_lines(c):
        click.echo(line)
