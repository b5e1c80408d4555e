"""``omsorgshub users …``: people of the web console, their passwords and roles per district."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from hub.cli.context import CliContext, pass_ctx
from hub.services.users import (
    HUB_WIDE,
    ROLES,
    add_user,
    grant,
    list_users,
    reset_password,
    revoke,
    set_user_active,
)

_F = TypeVar("_F", bound=Callable[..., Any])


def _password_stdin(command: _F) -> _F:
    return click.option(
        "--password-stdin",
        is_flag=True,
        help="Read the password from the first line of standard input (for scripts) instead "
        "of asking for it.",
    )(command)


def _password(name: str, from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    value: str = click.prompt(
        f"password for {name}", hide_input=True, confirmation_prompt=True, err=True
    )
    return value


_districts = click.option(
    "--district",
    "districts",
    multiple=True,
    metavar="DISTRICT",
    help="A district where the role holds (repeatable); none for hub_admin.",
)


@click.group()
def users() -> None:
    """People of the web console (/console): accounts and their roles per district.

    Roles: district_admin (agreements), dpo (audit trail), operator (messages, deliveries)
    are granted per district; hub_admin (systems, people, keys) is hub-wide.
    """


@users.command("add")
@click.argument("name")
@click.option("--display-name", required=True, help="The person's name as the console shows it.")
@click.option("--no-password", is_flag=True, help="No password yet (set one with reset-password).")
@_password_stdin
@pass_ctx
def users_add(
    obj: CliContext, name: str, display_name: str, no_password: bool, password_stdin: bool
) -> None:
    """Add an account (asks for its password twice unless --password-stdin)."""
    password = None if no_password else _password(name, password_stdin)
    add_user(obj.hub, obj.principal, name, display_name, password)
    click.echo(f"user {name!r} added; grant a role with `omsorgshub users grant {name} ROLE`")


@users.command("list")
@pass_ctx
def users_list(obj: CliContext) -> None:
    """Every account, whether it is active, and its roles with their districts."""
    people = list_users(obj.hub, obj.principal)
    if not people:
        click.echo("no users yet; add one with `omsorgshub users add NAME --display-name ...`")
        return
    width = max(len(p.name) for p in people)
    for p in people:
        roles = "; ".join(
            f"{role} {'(hub-wide)' if HUB_WIDE in ds else ' '.join(sorted(ds))}"
            for role, ds in sorted(p.roles.items())
        )
        state = "active  " if p.active else "disabled"
        click.echo(f"{p.name:<{width}}  {state}  {p.display_name}  [{roles or 'no role'}]")


@users.command("disable")
@click.argument("name")
@click.option("--reason", required=True, help="Why (recorded in the audit trail).")
@pass_ctx
def users_disable(obj: CliContext, name: str, reason: str) -> None:
    """Disable an account; its sessions end at once."""
    set_user_active(obj.hub, obj.principal, name, False, reason)
    click.echo(f"user {name!r} disabled")


@users.command("enable")
@click.argument("name")
@click.option("--reason", required=True, help="Why (recorded in the audit trail).")
@pass_ctx
def users_enable(obj: CliContext, name: str, reason: str) -> None:
    """Enable a disabled account again."""
    set_user_active(obj.hub, obj.principal, name, True, reason)
    click.echo(f"user {name!r} enabled")


@users.command("reset-password")
@click.argument("name")
@_password_stdin
@pass_ctx
def users_reset_password(obj: CliContext, name: str, password_stdin: bool) -> None:
    """Set a new password; every session of the account ends."""
    ended = reset_password(obj.hub, obj.principal, name, _password(name, password_stdin))
    click.echo(f"password of {name!r} set; {ended} sessions ended")


@users.command("grant")
@click.argument("name")
@click.argument("role", type=click.Choice(ROLES))
@_districts
@pass_ctx
def users_grant(obj: CliContext, name: str, role: str, districts: tuple[str, ...]) -> None:
    """Grant ROLE to NAME in each --district (hub_admin: hub-wide, no district)."""
    added = grant(obj.hub, obj.principal, name, role, districts)
    where = ", ".join(d for d in added if d != HUB_WIDE) or "the whole hub"
    click.echo(f"{name!r} holds {role} in {where}" if added else f"{name!r} held it already")


@users.command("revoke")
@click.argument("name")
@click.argument("role", type=click.Choice(ROLES))
@_districts
@pass_ctx
def users_revoke(obj: CliContext, name: str, role: str, districts: tuple[str, ...]) -> None:
    """Revoke ROLE from NAME in each --district (in every district when none is given)."""
    removed = revoke(obj.hub, obj.principal, name, role, districts)
    if not removed:
        click.echo(f"{name!r} did not hold {role} there")
        return
    where = ", ".join(d for d in removed if d != HUB_WIDE) or "the whole hub"
    click.echo(f"{role} of {name!r} revoked in {where}")
