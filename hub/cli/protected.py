"""``omsorgshub protected sync``: the hub's protected-identity marks from the case systems."""

from __future__ import annotations

import sys

import click

from hub.cli.context import CliContext, pass_ctx
from hub.services.protected_sync import DistrictSync, sync_protected


@click.group()
def protected() -> None:
    """Persons with protected identity (skyddade personuppgifter), as the case systems mark
    them: the confidentiality check refuses messages and lookups about them."""


def _line(d: DistrictSync) -> str:
    if d.error is not None:
        return f"{d.district:<20} {d.destination:<24} FAILED {d.error} (marks kept as they were)"
    return f"{d.district:<20} {d.destination:<24} {d.counts_text()}"


@protected.command("sync")
@click.option("--district", default=None, help="Only this district (default: every one).")
@pass_ctx
def protected_sync(obj: CliContext, district: str | None) -> None:
    """Ask each district's case system for the persons it marks now and keep the hub's marks
    in step (the relay does it every protected_sync_interval_seconds too).

    Per district: new and changed marks recorded, marks no longer listed lifted, every change
    audited. A district whose case system fails keeps its marks and is reported; the command
    then exits with status 1.
    """
    if sys.stderr.isatty():
        click.echo("asking the case systems…", err=True)
    run = sync_protected(obj.hub, obj.principal, district=district, progress=_echo)
    if not run.districts:
        click.echo("no district has a case system that lists protected persons")
        return
    synced = len(run.districts) - len(run.failed)
    click.echo(f"{synced} of {len(run.districts)} districts synced")
    if run.failed:
        sys.exit(1)


def _echo(d: DistrictSync) -> None:
    click.echo(_line(d))
