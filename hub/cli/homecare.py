"""``omsorgshub timereports compensation`` and ``omsorgshub stats …``: home care's monthly
compensation basis back to the providers, and its follow-up (continuity, reported time).

Statistics are CSV on standard output (or ``--output FILE``). Aggregates name no one; a
listing per client shows pseudonymous references only and is audited; one client's figures
need the identity number and a reason (audited).
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TextIO

import click

from hub.cli.context import CliContext, pass_ctx
from hub.services.compensation import deliver_compensation
from hub.services.homecare_stats import client_continuity, continuity, reported_time

_PERIOD_HELP = "FIRST..LAST, inclusive (the measure's period is 14 days): 2026-11-01..2026-11-14"


@click.command("compensation")
@click.option("--month", required=True, metavar="YYYY-MM", help="The month of the fee run.")
@click.option("--district", required=True, help="The district whose agreement it runs under.")
@click.option(
    "--provider", "providers", multiple=True, help="Only this provider (repeatable; default all)."
)
@pass_ctx
def compensation(obj: CliContext, month: str, district: str, providers: Sequence[str]) -> None:
    """Fetch each provider's compensation basis for MONTH from Pulsen Combine and deliver it to
    that provider's own system only (setting compensation_receivers), through the hub."""
    with ExitStack() as stack:
        bars: list[Any] = []

        def progress(done: int, total: int) -> None:
            if not bars:  # made at the first provider: a refused run shows no bar
                bar = click.progressbar(length=total, label="providers", file=sys.stderr)
                bars.append(stack.enter_context(bar))
            bars[0].update(1)

        run = deliver_compensation(
            obj.hub, obj.principal, district=district, month=month, providers=providers,
            progress=progress,
        )  # fmt: skip
    click.echo(
        f"{'provider':<24} {'to':<24} {'state':<9} {'clients':>7} {'hours':>8} {'amount':>12}  run"
    )
    for o in run.outcomes:
        hours = f"{o.minutes / 60:.2f}"
        click.echo(
            f"{o.provider:<24} {o.destination:<24} {o.state:<9} {o.clients:>7} {hours:>8} "
            f"{o.amount:>12}  {o.run_id or o.reason or '-'}"
        )
    failed = [o for o in run.outcomes if o.state == "failed"]
    if failed:
        raise click.ClickException(f"{len(failed)} provider(s) got no basis: see the reasons above")


@click.group()
def stats() -> None:
    """Statistics without personal data (CSV): the service's month and its chargeback; home
    care's continuity and reported time."""


def _writer(output: Path | None) -> tuple[TextIO, bool]:
    if output is None:
        return sys.stdout, False
    return output.open("w", newline="", encoding="utf-8"), True


@stats.command("continuity")
@click.option("--period", required=True, help=_PERIOD_HELP)
@click.option("--district", help="Only this district (default: every district in scope).")
@click.option(
    "--per",
    type=click.Choice(["district", "provider", "client"]),
    default="district",
    show_default=True,
    help="Aggregate per district or provider (no personal data), or list clients "
    "(pseudonymous references; audited).",
)
@click.option("--client", "client_number", help="One client's figures by identity number.")
@click.option("--reason", default="", help="Why (needed with --client; audited).")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="CSV file.")
@pass_ctx
def stats_continuity(
    obj: CliContext,
    period: str,
    district: str | None,
    per: str,
    client_number: str | None,
    reason: str,
    output: Path | None,
) -> None:
    """Personnel continuity: the number of different staff a client met in the period
    (Socialstyrelsen's measure for home care), from stored visits without decrypting them."""
    stream, close = _writer(output)
    try:
        out = csv.writer(stream)
        if client_number is not None:
            figures = client_continuity(
                obj.hub, obj.principal, period, client_number, reason=reason
            )
            out.writerow(["period", "district", "provider", "staff"])
            for f in figures:
                out.writerow([period, f.district, f.provider, f.staff])
            return
        result = continuity(obj.hub, obj.principal, period, per=per, district=district)
        if per == "client":
            out.writerow(["period", "district", "provider", "client_ref", "staff"])
            for c in result.clients:
                out.writerow([str(result.period), c.district, c.provider, c.client_ref, c.staff])
            return
        out.writerow(["period", "district", "provider", "clients", "mean", "median", "max"])
        for g in result.groups:
            shown = ["", "", ""] if g.suppressed else [str(g.mean), str(g.median), str(g.max)]
            out.writerow([str(result.period), g.district, g.provider, g.clients, *shown])
    finally:
        if close:
            stream.close()


@stats.command("followup")
@click.option("--month", required=True, metavar="YYYY-MM")
@click.option("--district", help="Only this district (default: every district in scope).")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="CSV file.")
@pass_ctx
def stats_followup(obj: CliContext, month: str, district: str | None, output: Path | None) -> None:
    """Per provider and month: planned vs reported minutes, manual confirmations, late reports
    (setting timereport_late_days). Decrypts the month's visits (audited)."""
    stream, close = _writer(output)
    try:
        out = csv.writer(stream)
        out.writerow(
            [
                "month", "district", "provider", "visits", "planned_minutes", "reported_minutes",
                "reported_of_planned_percent", "manual_percent", "late", "late_percent",
            ]
        )  # fmt: skip
        for r in reported_time(obj.hub, obj.principal, month, district=district):
            ratio = (
                "" if r.reported_of_planned_percent is None else str(r.reported_of_planned_percent)
            )
            out.writerow(
                [
                    month, r.district, r.provider, r.visits, r.planned_minutes,
                    r.reported_minutes, ratio, r.manual_percent, r.late, r.late_percent,
                ]
            )  # fmt: skip
    finally:
        if close:
            stream.close()
