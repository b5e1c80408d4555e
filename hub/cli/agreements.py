"""``omsorgshub agreements …``: data-processing agreements, every change a new audited version."""

from __future__ import annotations

from pathlib import Path

import click

from contracts.errors import AgreementNotFoundError
from contracts.fileformat import dump_agreements
from hub.cli.context import CliContext, pass_ctx
from hub.errors import InputError
from hub.services.agreements import (
    add_agreements,
    contracts_errors,
    parse_agreements,
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
    hub = obj.hub
    items = parse_agreements(hub, _read(file), str(file))
    with contracts_errors(), hub.reader.connect() as conn:
        for a in items:
            try:
                hub.agreement_store.get(conn, a.id)
            except AgreementNotFoundError:
                continue
            raise InputError(f"agreement {a.id} exists; use `agreements import` to amend it")
    for a in add_agreements(hub, items, obj.actor_name):
        click.echo(f"added {a.ref} ({a.district})")


@agreements.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@pass_ctx
def agreements_import(obj: CliContext, file: Path) -> None:
    """Add or amend (as new versions) the agreements in FILE (TOML)."""
    hub = obj.hub
    for a in add_agreements(hub, parse_agreements(hub, _read(file), str(file)), obj.actor_name):
        click.echo(f"stored {a.ref} ({a.district}, {a.status})")


@agreements.command("list")
@pass_ctx
def agreements_list(obj: CliContext) -> None:
    """The latest version of every agreement."""
    hub = obj.hub
    with contracts_errors(), hub.reader.connect() as conn:
        items = hub.agreement_store.list_current(conn)
    if not items:
        click.echo("no agreements: every message is refused (default deny)")
    for a in items:
        until = f"{a.valid_to:%F}" if a.valid_to else "open"
        click.echo(
            f"{a.ref:<32} {a.district:<20} {a.status:<8} {a.valid_from:%F} → {until}  "
            f"{', '.join(sorted(a.message_types))}"
        )


@agreements.command("show")
@click.argument("agreement_id")
@click.option("--history", is_flag=True, help="Every version, oldest first.")
@pass_ctx
def agreements_show(obj: CliContext, agreement_id: str, history: bool) -> None:
    """Show an agreement in its file format."""
    hub = obj.hub
    with contracts_errors(), hub.reader.connect() as conn:
        store = hub.agreement_store
        items = store.history(conn, agreement_id) if history else [store.get(conn, agreement_id)]
    click.echo(dump_agreements(items))


@agreements.command("revoke")
@click.argument("agreement_id")
@click.option("--reason", required=True, help="Why (required; recorded in a new version).")
@pass_ctx
def agreements_revoke(obj: CliContext, agreement_id: str, reason: str) -> None:
    """Revoke an agreement: waiting deliveries under it are stopped (refused)."""
    revoked = revoke_agreement(obj.hub, agreement_id, reason, obj.actor_name)
    click.echo(f"revoked: {revoked.ref}")


@agreements.command("export")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), help="Default: stdout.")
@pass_ctx
def agreements_export(obj: CliContext, output: Path | None) -> None:
    """Write the latest version of every agreement in the import format."""
    hub = obj.hub
    with contracts_errors(), hub.reader.connect() as conn:
        text = dump_agreements(hub.agreement_store.list_current(conn))
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        click.echo(text)
