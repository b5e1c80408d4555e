"""The demo's console: with ``--serve``, one account per role, and where to sign in.

Each run makes fresh passwords (printed once, like the systems' tokens): the demo's folder is a
playground, yet a fixed password would be one more to forget to change.
"""

from __future__ import annotations

import secrets

import click

from hub.bootstrap import Hub
from hub.demo.scenario import DISTRICTS
from hub.services.users import add_user, grant

# name, display name, role, districts
DEMO_PEOPLE = (
    ("demo-admin", "Demo Förvaltningsadmin", "district_admin", DISTRICTS[:1]),
    ("demo-dpo", "Demo Dataskyddsombud", "dpo", DISTRICTS[:2]),
    ("demo-operator", "Demo Driftoperatör", "operator", DISTRICTS),
    ("demo-hubadmin", "Demo Hubbadministratör", "hub_admin", ()),
)


def show_console(hub: Hub, url: str) -> None:
    """Add the demo's people (its folder is fresh each run) and print the console's address and a
    sign-in for each role."""
    click.echo(f"\nConsole on {url}/console/ — sign in as (fresh passwords each run):")
    for name, display, role, districts in DEMO_PEOPLE:
        password = f"demo-{secrets.token_urlsafe(9)}"
        add_user(hub, "demo", name, display, password)
        grant(hub, "demo", name, role, districts)
        where = ", ".join(districts) or "the whole hub"
        click.echo(f"  {role:<15} {name:<14} {password}   ({where})")
