"""``omsorgshub systems …``: registered systems (senders, administrators) and their tokens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from hub.cli.context import CliContext, pass_ctx
from hub.services.systems import list_systems, register_system, rotate_token, set_system_active

_F = TypeVar("_F", bound=Callable[..., Any])


def _expires_in(token: str) -> Callable[[_F], _F]:
    """The ``--expires-in DAYS`` option of a command that issues ``token``."""
    return click.option(
        "--expires-in",
        "expires_in",
        type=click.IntRange(1, 3650),
        metavar="DAYS",
        help=f"Days {token} stays valid (default: setting token_expiry_days).",
    )


@click.group()
def systems() -> None:
    """Registered systems (senders, administrators) and their tokens."""


@systems.command("add")
@click.argument("name")
@click.option("--description", default="", help="What the system is (shown in listings).")
@click.option(
    "--role",
    type=click.Choice(["system", "admin", "dpo", "access_log"]),
    default="system",
    show_default=True,
    help="system: sends messages and asks lookups; admin: manages agreements over the API; "
    "dpo: log review over the API; "
    "access_log: an e-service that fetches the own access log of the person it identified, "
    "and nothing else.",
)
@click.option(
    "--district",
    "districts",
    multiple=True,
    metavar="DISTRICT",
    help="With --role admin or dpo (required, repeatable): a district the token acts for.",
)
@_expires_in("the token")
@pass_ctx
def systems_add(
    obj: CliContext,
    name: str,
    description: str,
    role: str,
    districts: tuple[str, ...],
    expires_in: int | None,
) -> None:
    """Register a system and print its bearer token (shown only this once)."""
    token = register_system(
        obj.hub,
        name,
        description,
        obj.principal,
        role,
        districts=districts,
        expires_in_days=expires_in,
    )
    click.echo(token)
    click.echo(f"system {name!r} registered; keep the token above secret", err=True)


@systems.command("rotate-token")
@click.argument("name")
@click.option(
    "--overlap",
    type=click.FloatRange(0, 24 * 90),
    metavar="HOURS",
    help="Hours the old token keeps working (default: setting token_overlap_hours).",
)
@_expires_in("the new token")
@pass_ctx
def systems_rotate_token(
    obj: CliContext, name: str, overlap: float | None, expires_in: int | None
) -> None:
    """Issue a new token for NAME and print it (shown only this once); the old token keeps
    working until the overlap ends."""
    rotation = rotate_token(
        obj.hub, obj.principal, name, overlap_hours=overlap, expires_in_days=expires_in
    )
    click.echo(rotation.token)
    click.echo(
        f"new token for {name!r} (expires {rotation.expires_at:%Y-%m-%d}); the old token works "
        f"until {rotation.old_valid_until:%Y-%m-%d %H:%M} UTC",
        err=True,
    )


@systems.command("deactivate")
@click.argument("name")
@click.option("--reason", required=True, help="Why (required; recorded in the audit trail).")
@pass_ctx
def systems_deactivate(obj: CliContext, name: str, reason: str) -> None:
    """Refuse a system's token from now on (a leaked token, a retired system)."""
    set_system_active(obj.hub, name, False, obj.principal, reason)
    click.echo(f"system {name!r} deactivated; its token is refused within 5 s everywhere")


@systems.command("activate")
@click.argument("name")
@click.option("--reason", required=True, help="Why (required; recorded in the audit trail).")
@pass_ctx
def systems_activate(obj: CliContext, name: str, reason: str) -> None:
    """Accept a deactivated system's token again."""
    set_system_active(obj.hub, name, True, obj.principal, reason)
    click.echo(f"system {name!r} active again")


@systems.command("list")
@pass_ctx
def systems_list(obj: CliContext) -> None:
    """List registered systems: role, state, token expiry, an administrator's districts."""
    now = obj.hub.clock()
    for s in list_systems(obj.hub, obj.principal):
        state = "active" if s.active else "inactive"
        expires = f"{s.expires_at:%Y-%m-%d}" if s.expires_at else "never"
        rotating = (
            f" (old token until {s.previous_expires_at:%Y-%m-%d %H:%M})"
            if s.previous_expires_at and s.previous_expires_at > now
            else ""
        )
        scope = f" [{', '.join(sorted(s.districts))}]" if s.districts else ""
        click.echo(
            f"{s.name:<30} {s.role:<10} {state:<9} {s.created_at:%Y-%m-%d}  "
            f"expires {expires}{rotating}  {s.description}{scope}"
        )
