"""``omsorgshub referrals …``: the districts' callback deadlines on referrals (issue 11).

Listings show metadata only (hub message id, district, urgency, times, how late), never a
name, an identity number or a case number; every referral shown is audited as ``viewed``.
Times are shown in the districts' time zone (setting ``time_zone``).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import click

from hub.cli.context import CliContext, pass_ctx
from hub.errors import InputError
from hub.services.referrals import (
    ReferralView,
    overdue_referrals,
    referral_summary,
    referrals_for_case,
    show_referral,
)

_AT_HELP = (
    "The moment to judge deadlines at, ISO 8601 (default: now); without an offset it is "
    "read in the districts' time zone."
)


@click.group()
def referrals() -> None:
    """Referrals to districts and their callback deadlines (urgent: same day; otherwise two
    working days, Swedish holidays excluded). Closed when the district answers."""


def _at(obj: CliContext, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InputError(
            f"--at: not an ISO 8601 time: {value!r} (e.g. 2026-12-09T08:00 or "
            "2026-12-09T08:00:00+01:00)",
            reason="time_invalid",
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(obj.settings.time_zone))
    return moment


def _local(obj: CliContext, moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(ZoneInfo(obj.settings.time_zone)).strftime("%Y-%m-%d %H:%M")


def _late(seconds: float) -> str:
    minutes = int(seconds // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    return f"{days}d {hours:02d}h{minutes:02d}m" if days else f"{hours}h{minutes:02d}m"


def _table(obj: CliContext, rows: list[ReferralView]) -> None:
    click.echo(
        f"{'referral (hub message id)':<36}  {'district':<18} {'urgency':<7}  "
        f"{'registered':<16}  {'deadline':<16}  {'state':<7}  late"
    )
    for r in rows:
        click.echo(
            f"{r.id:<36}  {r.district:<18} {r.urgency:<7}  {_local(obj, r.registered_at):<16}  "
            f"{_local(obj, r.deadline):<16}  {r.state:<7}  "
            + (_late(r.late_seconds) if r.late_seconds else "-")
        )


@referrals.command("overdue")
@click.option("--district", help="Only this district (default: every district in scope).")
@click.option("--at", "at_text", metavar="TIME", help=_AT_HELP)
@pass_ctx
def referrals_overdue(obj: CliContext, district: str | None, at_text: str | None) -> None:
    """List open referrals past their callback deadline, per district, most overdue first."""
    rows = overdue_referrals(obj.hub, obj.principal, district=district, at=_at(obj, at_text))
    if not rows:
        click.echo("no overdue referrals")
        return
    by_district: dict[str, list[ReferralView]] = {}
    for r in rows:
        by_district.setdefault(r.district, []).append(r)
    for name, items in sorted(by_district.items()):
        click.echo(f"{name}: {len(items)} overdue")
    _table(obj, rows)


@referrals.command("show")
@click.argument("referral_id", required=False)
@click.option("--case", "case_id", help="Find by the contact centre's case number instead.")
@click.option("--at", "at_text", metavar="TIME", help=_AT_HELP)
@pass_ctx
def referrals_show(
    obj: CliContext, referral_id: str | None, case_id: str | None, at_text: str | None
) -> None:
    """Show one referral's follow-up by its hub message id (or --case NUMBER)."""
    at = _at(obj, at_text)
    if (referral_id is None) == (case_id is None):
        raise InputError("give a referral's hub message id, or --case NUMBER")
    if case_id is not None:
        found = referrals_for_case(obj.hub, obj.principal, case_id, at=at)
        if not found:
            click.echo("no referral of that case number")
            return
    else:
        assert referral_id is not None
        found = [show_referral(obj.hub, obj.principal, referral_id, at=at)]
    for r in found:
        for label, value in [
            ("referral", r.id),
            ("district", r.district),
            ("urgency", r.urgency),
            ("registered", _local(obj, r.registered_at)),
            ("received", _local(obj, r.received_at)),
            ("deadline", _local(obj, r.deadline)),
            ("state", r.state),
            ("late", _late(r.late_seconds) if r.late_seconds else "-"),
            ("closed", _local(obj, r.closed_at)),
            ("closed how", r.closed_how or "-"),
            ("closed by", r.closed_by or "-"),
        ]:
            click.echo(f"{label:<11} {value}")


@referrals.command("summary")
@click.option("--at", "at_text", metavar="TIME", help=_AT_HELP)
@pass_ctx
def referrals_summary(obj: CliContext, at_text: str | None) -> None:
    """Count open, overdue and closed referrals per district."""
    counts = referral_summary(obj.hub, obj.principal, at=_at(obj, at_text))
    if not counts:
        click.echo("no referrals")
        return
    click.echo(f"{'district':<24} {'open':>6} {'overdue':>8} {'closed':>7}")
    for district, c in counts.items():
        click.echo(f"{district:<24} {c['open']:>6} {c['overdue']:>8} {c['closed']:>7}")
