"""``omsorgshub systems …``: registered systems (senders, administrators) and their tokens."""

from __future__ import annotations

import click

from hub.cli.context import CliContext, pass_ctx


@click.group()
def systems() -> None:
    """Registered systems (senders) and their tokens."""


@systems.command("add")
@click.argument("name")
@click.option("--description", default="", help="What the system is (shown in listings).")
@click.option(
    "--role",
    type=click.Choice(["system", "admin"]),
    default="system",
    show_default=True,
    help="system: sends messages and asks lookups; admin: manages agreements over the API.",
)
@pass_ctx
def systems_add(obj: CliContext, name: str, description: str, role: str) -> None:
    """Register a system and print its bearer token (shown only this once)."""
    from hub.services.agreements import register_system

    token = register_system(obj.hub, name, description, obj.actor_name, role)
    click.echo(token)
    click.echo(f"system {name!r} registered; keep the token above secret", err=True)


@systems.command("deactivate")
@click.argument("name")
@click.option("--reason", required=True, help="Why (required; recorded in the audit trail).")
@pass_ctx
def systems_deactivate(obj: CliContext, name: str, reason: str) -> None:
    """Refuse a system's token from now on (a leaked token, a retired system)."""
    from hub.services.agreements import set_system_active

    set_system_active(obj.hub, name, False, obj.actor_name, reason)
    click.echo(f"system {name!r} deactivated; its token is refused within 5 s everywhere")


@systems.command("activate")
@click.argument("name")
@click.option("--reason", required=True, help="Why (required; recorded in the audit trail).")
@pass_ctx
def systems_activate(obj: CliContext, name: str, reason: str) -> None:
    """Accept a deactivated system's token again."""
    from hub.services.agreements import set_system_active

    set_system_active(obj.hub, name, True, obj.actor_name, reason)
    click.echo(f"system {name!r} active again")


@systems.command("list")
@pass_ctx
def systems_list(obj: CliContext) -> None:
    """List registered systems."""
    from hub.services.systems import list_systems

    with obj.hub.reader.connect() as conn:
        for s in list_systems(conn):
            state = "active" if s.active else "inactive"
            click.echo(
                f"{s.name:<30} {s.role:<7} {state:<9} {s.created_at:%Y-%m-%d}  {s.description}"
            )
