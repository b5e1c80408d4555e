"""``omsorgshub timereports …``: providers' time reports (issue 13 §1).

``provider`` lets a registered system report time for a provider; ``import`` reads a
provider's CSV export as one batch (all or nothing, problems by line); ``approve`` / ``reject``
decide a held batch for the provider's user; ``show`` a batch's state; ``reopen`` a period
after its lock date (an officer, with a reason; audited).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from hub.cli.context import CliContext, pass_ctx
from hub.errors import TimeReportRefused
from hub.services.timereport_approval import (
    BatchStatus,
    batch_status,
    decide_batch,
    register_provider,
    reopen_period,
)
from hub.services.timereport_import import import_csv
from hub.services.timereports import Progress


@click.group()
def timereports() -> None:
    """Time reports from providers' apps: import, approve or reject, reopen a locked period.

    Reported visits are held until the provider approves their batch; only approved time is
    forwarded (to the destinations of timereport.visit v2, e.g. Pulsen Combine).
    """


@timereports.command("provider")
@click.argument("provider")
@click.option("--system", required=True, help="The registered system that reports for it.")
@click.option("--district", required=True, help="The district its clients' orders are in.")
@click.option("--lock-day", type=int, help="Its own lock day (default: timereport_lock_day).")
@pass_ctx
def provider_command(
    obj: CliContext, provider: str, system: str, district: str, lock_day: int | None
) -> None:
    """Let SYSTEM report time for PROVIDER (the municipality's provider id)."""
    register_provider(
        obj.hub, obj.principal, provider, system=system, district=district, lock_day=lock_day
    )
    click.echo(f"{system} reports time for {provider} in {district}")


@contextmanager
def _progress() -> Iterator[Progress]:
    """One bar over the batch's visits on a terminal; nothing when piped or logged."""
    bar: Any = None

    def update(stage: str, n: int) -> None:
        nonlocal bar
        if not sys.stderr.isatty():
            return
        if stage == "rows":
            bar = click.progressbar(length=n, label="checking visits", file=sys.stderr)
            bar.__enter__()
        elif stage == "checked" and bar is not None:
            bar.update(n)

    try:
        yield update
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


@timereports.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--provider", required=True, help="The provider whose export this is.")
@click.option("--batch", "batch_id", help="The batch id (default: a new one).")
@pass_ctx
def import_command(obj: CliContext, file: Path, provider: str, batch_id: str | None) -> None:
    """Import FILE, a CSV export of actual visits, as one batch held for approval.

    Columns (header line, `;` or `,`): visit_id, staff_id, second_staff_id, client,
    client_scheme, order_id, interventions (`personal_care:20|meal`), planned_start,
    planned_end, actual_start, actual_end (local time unless an offset is given),
    confirmation (nfc_tag, rfid_tag, digital_lock, code, manual). One bad row refuses the
    whole file: every problem is listed with its line, nothing is stored.
    """
    try:
        with _progress() as progress:
            receipt = import_csv(
                obj.hub, obj.principal, file, provider=provider, batch_id=batch_id,
                progress=progress,
            )  # fmt: skip
    except TimeReportRefused as exc:
        findings = exc.context.get("findings")
        for f in findings if isinstance(findings, list) else ():
            click.echo(f"{f['detail']} [{f['reason']}]", err=True)
        raise
    click.echo(
        f"batch {receipt.batch_id}: {receipt.visits} visits of {receipt.provider} held for approval"
    )
    for w in receipt.warnings:
        click.echo(f"warning: {w.detail} [{w.reason}]")


def _echo_status(s: BatchStatus) -> None:
    b = s.batch
    click.echo(f"batch {b.batch_id} of {b.provider} ({b.district}): {b.state}, {b.visits} visits")
    if b.decided_by:
        click.echo(f"  decided by {b.decided_by} at {b.decided_at}")
    if b.reason:
        click.echo(f"  reason: {b.reason}")
    for w in b.warnings:
        click.echo(f"  warning: {w.get('detail')} [{w.get('reason')}]")
    states = ", ".join(f"{n} {state}" for state, n in sorted(s.deliveries.items()))
    click.echo(f"  deliveries: {states or 'none'}")


@timereports.command("show")
@click.argument("batch_id")
@click.option("--provider", required=True)
@pass_ctx
def show_command(obj: CliContext, batch_id: str, provider: str) -> None:
    """A batch's state, who decided it and why, and its deliveries."""
    _echo_status(batch_status(obj.hub, obj.principal, batch_id, provider))


@timereports.command("approve")
@click.argument("batch_id")
@click.option("--provider", required=True)
@click.option("--by", required=True, help="The provider's user who signs the time.")
@pass_ctx
def approve_command(obj: CliContext, batch_id: str, provider: str, by: str) -> None:
    """Approve a held batch for the provider: its time is forwarded (once)."""
    _echo_status(
        decide_batch(obj.hub, obj.principal, batch_id, "approve", provider=provider, by=by)
    )


@timereports.command("reject")
@click.argument("batch_id")
@click.option("--provider", required=True)
@click.option("--by", required=True, help="The provider's user who rejects it.")
@click.option("--reason", required=True, help="Why, for the provider's system.")
@pass_ctx
def reject_command(obj: CliContext, batch_id: str, provider: str, by: str, reason: str) -> None:
    """Reject a held batch for the provider: never forwarded; the reason goes back."""
    _echo_status(
        decide_batch(
            obj.hub, obj.principal, batch_id, "reject", provider=provider, by=by, reason=reason
        )
    )


@timereports.command("reopen")
@click.option("--provider", required=True)
@click.option("--period", required=True, help="YYYY-MM, e.g. 2026-11.")
@click.option("--reason", required=True, help="Why (recorded in the audit trail).")
@pass_ctx
def reopen_command(obj: CliContext, provider: str, period: str, reason: str) -> None:
    """Reopen a period after its lock date (spärrdatum) for timereport_reopen_days days."""
    reopen_period(obj.hub, obj.principal, provider, period, reason)
    click.echo(f"{period} of {provider} reopened for {obj.settings.timereport_reopen_days} days")
