"""``omsorgshub keys …``: per-district data key versions (list, rotate, rewrap, shred), audited."""

from __future__ import annotations

import sys

import click

from hub.cli.context import CliContext, pass_ctx
from hub.services.data_keys import list_keys, rewrap_keys, rotate_keys, shred_key


@click.group()
def keys() -> None:
    """Per-district data keys: list, rotate, re-wrap payloads, shred (crypto-shredding)."""


@keys.command("list")
@pass_ctx
def keys_list(obj: CliContext) -> None:
    """List key versions per district and their state."""
    infos = list_keys(obj.hub, obj.principal)
    if not infos:
        click.echo("no district keys yet (made on a district's first message)")
    for info in infos:
        click.echo(f"{info.district:<24} v{info.version:<4} {info.state:<9} {info.created_at:%F}")


@keys.command("rotate")
@click.option("--district", help="Only this district (default: every district with a key).")
@pass_ctx
def keys_rotate(obj: CliContext, district: str | None) -> None:
    """Make a new key version current; older versions still decrypt until re-wrapped."""
    for d, version in rotate_keys(obj.hub, obj.principal, district):
        click.echo(f"{d}: now version {version}")


def _progress_on_terminal(district: str, done: int, of: int) -> None:
    click.echo(f"\r{district:<24} {done}/{of}", nl=False, err=True)


@keys.command("rewrap")
@click.option("--district", help="Only this district (default: every district with a key).")
@click.option("--batch", type=click.IntRange(1, 10_000), default=500, show_default=True)
@pass_ctx
def keys_rewrap(obj: CliContext, district: str | None, batch: int) -> None:
    """Move stored payloads to the current key version (plaintext stays in memory).

    Progress is shown on a terminal only; piped or logged, the output is one line per district.
    """
    tty = sys.stderr.isatty()
    done = rewrap_keys(
        obj.hub,
        obj.principal,
        district,
        batch=batch,
        progress=_progress_on_terminal if tty else None,
    )
    if tty and done:
        click.echo("\r\033[K", nl=False, err=True)  # clear the progress line
    for d, total in done:
        click.echo(f"{d}: {total} payloads re-wrapped")


@keys.command("shred")
@click.option("--district", required=True)
@click.option("--version", "version", type=int, required=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
def keys_shred(obj: CliContext, district: str, version: int, yes: bool) -> None:
    """Destroy a key version: payloads under it become unreadable, for ever (retention end)."""
    if not yes:
        click.confirm(
            f"Shred key version {version} of {district}? Payloads under it can never be read again",
            abort=True,
        )
    shred_key(obj.hub, obj.principal, district, version)
    click.echo(f"{district}: key version {version} shredded")
