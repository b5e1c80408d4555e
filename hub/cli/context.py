"""What every ``omsorgshub`` command shares: the lazily built hub, who acts, error output.

Command modules import this, never each other or ``hub.cli.main``, so the command line has no
import loop: ``main`` imports the command modules, they import ``context``.
"""

from __future__ import annotations

import getpass
import sys
from dataclasses import dataclass, field
from typing import Any

import click

from hub.errors import ConfigError, HubError, InputError
from hub.services.principal import Principal
from hub.settings import Settings, load_settings


@dataclass
class CliContext:
    """Lazily built: ``--help`` and ``config show`` must work without a master key."""

    _settings: Settings | None = None
    _hub: Any = None
    actor_name: str = field(default_factory=lambda: f"operator:{_user()}")

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    @property
    def principal(self) -> Principal:
        """At the command line one holds the hub's keys: an operator, every district."""
        return Principal.operator(self.actor_name)

    @property
    def hub(self) -> Any:
        if self._hub is None:
            from hub.bootstrap import build_hub

            self._hub = build_hub(self.settings)
        return self._hub

    def close(self) -> None:
        if self._hub is not None:
            self._hub.close()
            self._hub = None


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


pass_ctx = click.make_pass_decorator(CliContext)


class HubGroup(click.Group):
    """Turns hub errors into one readable line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (ConfigError, InputError) as exc:  # the user's to fix: settings, arguments, files
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except HubError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
