"""``omsorgshub agreements …``: data-processing agreements, every change a new audited version."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from contracts.fileformat import dump_agreements
from hub.cli.context import CliContext, pass_ctx
from hub.errors import InputError
from hub.services.agreements import (
    add_new_agreements,
    agreement_history,
    export_agreements,
    get_agreement,
    import_agreement_file,
    list_agreements,
    revoke_agreement,
)


@click.group()
def agreements() -> None:
    """Data-processing agreements of the districts (append-only versions)."""


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc


@agreements.command("add")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@pass_ctx
def agreements_add(obj: CliContext, file: Path) -> None:
    """Add the new agreements in FILE (TOML); an existing id is an error (use import)."""
    for a in add_new_agreements(obj.hub, obj.principal, _read(file), str(file)):
        click.echo(f"added {a.ref} ({a.district})")


@agreements.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@pass_ctx
def agreements_import(obj: CliContext, file: Path) -> None:
    """Add or amend (as new versions) the agreements in FILE (TOML)."""
    for a in import_agreement_file(obj.hub, obj.principal, _read(file), str(file)):
        click.echo(f"stored {a.ref} ({a.district}, {a.status})")


def _calendar_date(moment: datetime, zone: ZoneInfo) -> str:
    """The date as the agreement states it: midnight 1 January in Stockholm is 2026-01-01,
    although it is 31 December in UTC."""
    return f"{moment.astimezone(zone):%Y-%m-%d}"


@agreements.command("list")
@pass_ctx
def agreements_list(obj: CliContext) -> None:
    """The latest version of every agreement (dates in the districts' time zone)."""
    items = list_agreements(obj.hub, obj.principal)
    if not items:
        click.echo("no agreements: every message is refused (default deny)")
    zone = ZoneInfo(obj.settings.time_zone)
    for a in items:
        until = _calendar_date(a.valid_to, zone) if a.valid_to else "open"
        click.echo(
            f"{a.ref:<32} {a.district:<20} {a.status:<8} {_calendar_date(a.valid_from, zone)} → "
            f"{until}  {', '.join(sorted(a.message_types))}"
        )


@agreements.command("show")
@click.argument("agreement_id")
@click.option("--history", is_flag=True, help="Every version, oldest first.")
@pass_ctx
def agreements_show(obj: CliContext, agreement_id: str, history: bool) -> None:
    """Show an agreement in its file format."""
    if history:
        items = agreement_history(obj.hub, obj.principal, agreement_id)
    else:
        items = [get_agreement(obj.hub, obj.principal, agreement_id)]
    click.echo(dump_agreements(items))


@agreements.command("revoke")
@click.argument("agreement_id")
@click.option("--reason", required=True, help="Why (required; recorded in a new version).")
@pass_ctx
def agreements_revoke(obj: CliContext, agreement_id: str, reason: str) -> None:
    """Revoke an agreement: waiting deliveries under it are stopped (refused)."""
    revoked = revoke_agreement(obj.hub, agreement_id, reason, obj.principal)
    click.echo(f"revoked: {revoked.ref}")


@agreements.command("export")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), help="Default: stdout.")
@pass_ctx
def agreements_export(obj: CliContext, output: Path | None) -> None:
    """Write the latest version of every agreement in the import format."""
    text = export_agreements(obj.hub, obj.principal)
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        click.echo(text)
