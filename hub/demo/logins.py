"""``omsorgshub demo --serve``: the console's address and one demo login per role, then serving
until Ctrl-C or SIGTERM.

The accounts are made in the demo's own data folder (``<home>/demo``, made afresh by every
demo run), through the same service as ``omsorgshub users add|grant``, so they are audited like
any other (actor ``demo``). Each password is generated for this run and printed once; nothing
is written elsewhere. The roles cover the console's four kinds of user: a district
administrator of Södermalm (agreements), a data-protection officer and an operator of the
demo's three districts, and a hub administrator.
"""

from __future__ import annotations

import secrets
import signal
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from types import FrameType

import click

from hub.bootstrap import Hub
from hub.demo.scenario import DISTRICTS
from hub.services.users import Role, add_user, grant

_ACTOR = "demo"


@dataclass(frozen=True)
class DemoLogin:
    role: Role
    name: str
    display_name: str
    districts: tuple[str, ...]  # () for the hub-wide hub_admin
    password: str


_ACCOUNTS: tuple[tuple[Role, str, str, tuple[str, ...]], ...] = (
    (Role.DISTRICT_ADMIN, "demo.admin", "Demo Förvaltningsadministratör", DISTRICTS[:1]),
    (Role.DPO, "demo.dpo", "Demo Dataskyddsombud", DISTRICTS),
    (Role.OPERATOR, "demo.operator", "Demo Driftoperatör", DISTRICTS),
    (Role.HUB_ADMIN, "demo.hubadmin", "Demo Hubbadministratör", ()),
)


def create_demo_logins(hub: Hub) -> list[DemoLogin]:
    """One account per role, each with a password generated now."""
    made = []
    for role, name, display_name, districts in _ACCOUNTS:
        password = secrets.token_urlsafe(12)  # 16 characters, ~96 bits
        add_user(hub, _ACTOR, name, display_name, password)
        grant(hub, _ACTOR, name, role.value, list(districts))
        made.append(DemoLogin(role, name, display_name, districts, password))
    return made


def show_console(url: str, logins: Sequence[DemoLogin]) -> None:
    """The lines a person (and the e2e test) reads: the address, then ``role: name password``."""
    click.echo(f"\nConsole: {url}/console/")
    click.echo("Demo logins (made for this run, in the demo's data folder only):")
    for login in logins:
        scope = ", ".join(login.districts) or "the whole hub"
        click.echo(f"  {login.role.value:<15} {login.name:<15} {login.password}   ({scope})")


def wait_until_stopped() -> None:
    """Block until Ctrl-C or SIGTERM (systemd, a test stopping the process): either returns
    here, so the demo stops its servers, worker and doubles in order and exits."""
    stop = threading.Event()

    def stopped(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, stopped) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(1.0):  # a timeout keeps the main thread able to take signals
            pass
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
