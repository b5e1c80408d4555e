"""``omsorgshub keys …``: per-district data key versions (list, rotate, rewrap, shred), audited."""

from __future__ import annotations

import click

from hub.cli.context import CliContext, pass_ctx
from hub.guards import AuditAction, AuditEvent, Outcome


@click.group()
def keys() -> None:
    """Per-district data keys: list, rotate, re-wrap payloads, shred (crypto-shredding)."""


@keys.command("list")
@pass_ctx
def keys_list(obj: CliContext) -> None:
    """List key versions per district and their state."""
    hub = obj.hub
    with hub.reader.connect() as conn:
        infos = hub.guards.keys.list(conn)
    if not infos:
        click.echo("no district keys yet (made on a district's first message)")
    for info in infos:
        click.echo(f"{info.district:<24} v{info.version:<4} {info.state:<9} {info.created_at:%F}")


def _districts(obj: CliContext, district: str | None) -> list[str]:
    if district:
        return [district]
    with obj.hub.reader.connect() as conn:
        return sorted({i.district for i in obj.hub.guards.keys.list(conn)})


def _key_event(obj: CliContext, action: AuditAction, district: str, reason: str) -> AuditEvent:
    return AuditEvent(
        actor=obj.actor_name, action=action, district=district, outcome=Outcome.OK, reason=reason
    )


@keys.command("rotate")
@click.option("--district", help="Only this district (default: every district with a key).")
@pass_ctx
def keys_rotate(obj: CliContext, district: str | None) -> None:
    """Make a new key version current; older versions still decrypt until re-wrapped."""
    hub = obj.hub
    for d in _districts(obj, district):
        with hub.engine.begin() as conn:
            version = hub.guards.keys.rotate(conn, d)
            hub.guards.record(conn, [_key_event(obj, AuditAction.KEY_ROTATED, d, f"v{version}")])
        click.echo(f"{d}: now version {version}")


@keys.command("rewrap")
@click.option("--district", help="Only this district (default: every district with a key).")
@click.option("--batch", type=click.IntRange(1, 10_000), default=500, show_default=True)
@pass_ctx
def keys_rewrap(obj: CliContext, district: str | None, batch: int) -> None:
    """Move stored payloads to the current key version (plaintext stays in memory)."""
    hub = obj.hub
    for d in _districts(obj, district):
        total = 0
        with click.progressbar(length=0, label=f"{d:<20}", show_pos=True) as bar:

            def progress(done: int, of: int) -> None:
                bar.length = of
                bar.update(done - bar.pos)

            while True:
                with hub.engine.begin() as conn:
                    moved = hub.guards.keys.rewrap(
                        conn, d, batch=batch, progress=progress, limit=batch * 10
                    )
                    if moved:
                        hub.guards.record(
                            conn,
                            [_key_event(obj, AuditAction.KEY_REWRAPPED, d, f"{moved} payloads")],
                        )
                total += moved
                if moved == 0:
                    break
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
    hub = obj.hub
    with hub.engine.begin() as conn:
        hub.guards.keys.shred(conn, district, version)
        hub.guards.record(
            conn, [_key_event(obj, AuditAction.KEY_SHREDDED, district, f"v{version}")]
        )
    click.echo(f"{district}: key version {version} shredded")
