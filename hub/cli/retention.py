"""``omsorgshub retention …``: retention status, a run (``--dry-run``), legal holds."""

from __future__ import annotations

import sys

import click

from hub.cli.context import CliContext, pass_ctx
from hub.services.legal_holds import lift_hold, list_holds, place_hold
from hub.services.retention import retention_status, run_retention


@click.group()
def retention() -> None:
    """Payloads past their agreement's retention shredded (also on the relay's timer); legal
    holds that stop it."""


@retention.command("status")
@pass_ctx
def retention_status_command(obj: CliContext) -> None:
    """Per district, agreement and categories: rule, stored, shredded, due now, held."""
    status = retention_status(obj.hub, obj.principal)
    click.echo(f"as of {status.at:%F %T %Z}")
    if not status.rules:
        click.echo("no stored messages")
    for r in status.rules:
        rule = f"{r.retention_days} d" if r.retention_days is not None else "no rule (kept)"
        click.echo(
            f"{r.district:<20} {r.agreement_ref:<28} {','.join(r.categories):<28} {rule:>9}  "
            f"stored {r.stored}  shredded {r.shredded}  due {r.due}  held {r.held}"
        )


def _progress_on_terminal(district: str, agreement: str, done: int) -> None:
    click.echo(f"\r{district:<20} {agreement:<28} {done} shredded", nl=False, err=True)


@retention.command("run")
@click.option("--dry-run", is_flag=True, help="Count what a run would shred; change nothing.")
@click.option(
    "--batch",
    type=click.IntRange(1, 10_000),
    default=None,
    help="Payloads per transaction and audit entry (default: setting retention_batch).",
)
@pass_ctx
def retention_run(obj: CliContext, dry_run: bool, batch: int | None) -> None:
    """Shred every payload past its retention now (the relay does it on its timer too).

    Progress is shown on a terminal only; piped or logged, the output is a summary.
    """
    tty = sys.stderr.isatty() and not dry_run
    run = run_retention(
        obj.hub,
        obj.principal,
        dry_run=dry_run,
        batch=batch,
        progress=_progress_on_terminal if tty else None,
    )
    if tty and run.batches:
        click.echo("\r\033[K", nl=False, err=True)  # clear the progress line
    if dry_run:
        for r in run.rules:  # the same breakdown as the API's and the console's dry run
            if r.due or r.held:
                click.echo(
                    f"{r.district}: {r.due} due, {r.held} held ({r.agreement_ref}, "
                    f"{', '.join(r.categories) or 'no categories'})"
                )
        click.echo(f"dry run: {run.due} payloads past retention would be shredded")
        return
    for b in run.batches:
        click.echo(
            f"{b.district}: {b.count} shredded ({b.agreement_ref}, {b.retention_days} d, "
            f"ids {b.first_id}..{b.last_id})"
        )
    click.echo(f"{run.shredded} payloads shredded in {len(run.batches)} audited batches")


@retention.command("hold")
@click.argument("district")
@click.option("--reason", required=True, help="Why (audited).")
@click.option(
    "--person",
    default=None,
    help="Only this person's messages (identity number; stored as its keyed hash).",
)
@click.option("--scheme", type=click.Choice(["se", "dk"]), default="se", show_default=True)
@pass_ctx
def retention_hold(
    obj: CliContext, district: str, reason: str, person: str | None, scheme: str
) -> None:
    """Place a legal hold: retention stops for DISTRICT (or one person in it) until lifted."""
    hold = place_hold(
        obj.hub, obj.principal, district, reason=reason, subject=person, scheme=scheme
    )
    click.echo(
        f"legal hold {hold.id} placed on {hold.district}"
        + (" (one person)" if hold.subject_ref else "")
    )


@retention.command("lift")
@click.argument("hold_id")
@click.option("--reason", required=True, help="Why (audited).")
@pass_ctx
def retention_lift(obj: CliContext, hold_id: str, reason: str) -> None:
    """Lift a legal hold: its messages past retention go at the next run."""
    hold = lift_hold(obj.hub, obj.principal, hold_id, reason=reason)
    click.echo(f"legal hold {hold.id} on {hold.district} lifted")


@retention.command("holds")
@click.option("--all", "include_lifted", is_flag=True, help="Also holds already lifted.")
@pass_ctx
def retention_holds(obj: CliContext, include_lifted: bool) -> None:
    """List legal holds (a person only as the start of its keyed hash)."""
    holds = list_holds(obj.hub, obj.principal, include_lifted=include_lifted)
    if not holds:
        click.echo("no legal holds")
    for h in holds:
        who = f"person {h.subject_ref[:12]}…" if h.subject_ref else "whole district"
        state = "active" if h.active else f"lifted {h.lifted_at:%F}"
        click.echo(f"{h.id}  {h.district:<20} {who:<22} {state:<17} {h.placed_at:%F}  {h.reason}")
