"""``omsorgshub atl …``: working-time checks (ATL) of personal assistance before UBW (issue 13).

A ``finance.payment`` voucher whose period breaks a working-time rule for an assistant of its
client is ``held`` at ingest; an officer releases it (it goes to UBW once) or rejects it
(``rejected`` with the reason: final, never sent), a reason required, audited. ``atl report``
lists a month's violations per provider and assistant (the assistant as the start of the HMAC of
their employee id).
"""

from __future__ import annotations

import csv
import sys

import click

from hub.cli.context import CliContext, pass_ctx
from hub.services.atl import decide_payment, held_payments, violations_report


@click.group()
def atl() -> None:
    """Working-time checks (arbetstidslagen, lag 1970:943, collective agreements) that hold
    personal-assistance payments before they reach UBW."""


@atl.command("held")
@click.option("--all", "show_all", is_flag=True, help="Also the payments already decided.")
@pass_ctx
def atl_held(obj: CliContext, show_all: bool) -> None:
    """List the payments held by the working-time check, with the rules and hours concerned."""
    rows = held_payments(obj.hub, obj.principal, open_only=not show_all)
    if not rows:
        click.echo("no held payments")
        return
    for r in rows:
        decided = f"{r.decision} by {r.decided_by}: {r.reason}" if r.decision else "awaiting"
        click.echo(
            f"{r.delivery_id}  {r.district}  {r.period_from}..{r.period_to}  "
            f"state={r.state}  {decided}"
        )
        for v in r.violations:
            limit = f" (limit {v['limit']} h)" if "limit" in v else ""
            window = f" {v['from']} – {v['to']}" if "from" in v else ""
            click.echo(
                f"    {v['rule']}: {v['hours']} h{limit}{window}  provider {v['provider']} "
                f"assistant {v['assistant']}  [{v['source']}]"
            )


def _decide(obj: CliContext, delivery_id: str, decision: str, reason: str) -> None:
    row = decide_payment(obj.hub, obj.principal, delivery_id, decision=decision, reason=reason)
    click.echo(f"{row.delivery_id}: {row.decision} (now {row.state})")


@atl.command("release")
@click.argument("delivery_id")
@click.option("--reason", required=True, help="Why it may go (recorded in the audit trail).")
@pass_ctx
def atl_release(obj: CliContext, delivery_id: str, reason: str) -> None:
    """Release a held payment: it becomes pending and is delivered to UBW once."""
    _decide(obj, delivery_id, "release", reason)


@atl.command("reject")
@click.argument("delivery_id")
@click.option("--reason", required=True, help="Why it may not go (recorded in the audit trail).")
@pass_ctx
def atl_reject(obj: CliContext, delivery_id: str, reason: str) -> None:
    """Reject a held payment: it is rejected with the reason and never reaches UBW."""
    _decide(obj, delivery_id, "reject", reason)


@atl.command("report")
@click.option("--period", required=True, metavar="YYYY-MM", help="The month to check.")
@click.option("--district", help="Only this district (default: every district in scope).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv"]), default="table")
@pass_ctx
def atl_report(obj: CliContext, period: str, district: str | None, fmt: str) -> None:
    """List the month's working-time violations per provider and assistant (audited: the
    shift reports are decrypted to check them)."""
    rows = violations_report(obj.hub, obj.principal, period=period, district=district)
    rows.sort(key=lambda r: (r.district, r.provider, r.assistant, r.start, r.rule))
    columns = ["district", "provider", "assistant", "rule", "hours", "limit", "start", "end"]
    columns.append("source")
    if fmt == "csv":
        out = csv.writer(sys.stdout)
        out.writerow(columns)
        for r in rows:
            out.writerow([getattr(r, c) if getattr(r, c) is not None else "" for c in columns])
        return
    if not rows:
        click.echo(f"no working-time violations in {period}")
        return
    click.echo(f"{len(rows)} violation(s) in {period}")
    for r in rows:
        limit = f"{r.limit:g}" if r.limit is not None else "-"
        click.echo(
            f"{r.district:<16} {r.provider:<12} {r.assistant:<16} {r.rule:<15} "
            f"{r.hours:>8.2f} h / {limit:>5} h  {r.start} – {r.end}  [{r.source}]"
        )
