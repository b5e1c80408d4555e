"""The ``omsorgshub`` command line (also ``python -m hub``).

The root group and the commands that set up and run the hub. Message, delivery, key,
agreement and audit commands live beside it (``hub.cli_messages``, ``hub.cli_guards``).
Errors are printed as one line with their reason code and exit with status 2 (usage, settings,
input the user can fix) or 1 (anything else); no traceback for an expected failure.
"""

from __future__ import annotations

import getpass
import logging
import signal
import sys
from dataclasses import dataclass, field
from typing import Any

import click

from hub.errors import ConfigError, HubError, InputError
from hub.settings import SETTINGS, Settings, load_settings


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


@click.group(cls=HubGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--as",
    "actor",
    metavar="NAME",
    help="Who is acting, for the audit trail (default: operator:<login name>).",
)
@click.version_option(package_name="omsorgshub")
@click.pass_context
def cli(ctx: click.Context, actor: str | None) -> None:
    """Omsorgshub: a secure integration hub for municipal elderly care.

    Backend systems send XML messages through the hub; it validates them, lets them through
    only under an active data-processing agreement of their district, encrypts every payload,
    audits every access to personal data and delivers them, retrying until delivered or dead.

    Start with `omsorgshub demo`. Settings come from OMSORGSHUB_* variables and an optional
    TOML file (`omsorgshub config show`); data lives in ./.omsorgshub unless OMSORGSHUB_HOME
    is set.
    """
    obj = CliContext()
    if actor:
        obj.actor_name = actor
    ctx.obj = obj
    ctx.call_on_close(obj.close)


# -- setup ------------------------------------------------------------------------------------
@cli.command()
@pass_ctx
def init(obj: CliContext) -> None:
    """Create the data folder, the master key, the audit signing key and the database.

    Safe to run again: an existing master key is never overwritten (that would make every
    stored payload unreadable) and migrations apply only what is missing.
    """
    from hub.initialize import initialize

    for line in initialize(obj.settings):
        click.echo(line)


@cli.group()
def config() -> None:
    """Inspect the settings."""


@config.command("show")
@click.option("--describe", is_flag=True, help="Also print each setting's meaning.")
@pass_ctx
def config_show(obj: CliContext, describe: bool) -> None:
    """Print the effective settings, secrets masked."""
    shown = obj.settings.shown()
    width = max(len(k) for k in shown)
    helps = {s.key: s.help for s in SETTINGS}
    for key, value in shown.items():
        click.echo(f"{key:<{width}}  {value}")
        if describe and key in helps:
            click.echo(f"{'':<{width}}  # {helps[key]}")


@config.command("docs")
def config_docs() -> None:
    """Print the documentation of every setting (docs/CONFIGURATION.md)."""
    from hub.settings import settings_markdown

    click.echo(settings_markdown(), nl=False)


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_ctx
def db_upgrade(obj: CliContext) -> None:
    """Apply the Alembic migrations up to the newest (safe to run again)."""
    from hub.storage.engine import make_engine
    from hub.storage.migrate import current_revision, upgrade

    engine = make_engine(obj.settings.database_url)
    upgrade(engine)
    click.echo(f"database at revision {current_revision(engine)}")
    engine.dispose()


# -- systems ----------------------------------------------------------------------------------
@cli.group()
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
    from hub.admin import register_system

    token = register_system(obj.hub, name, description, obj.actor_name, role)
    click.echo(token)
    click.echo(f"system {name!r} registered; keep the token above secret", err=True)


@systems.command("deactivate")
@click.argument("name")
@click.option("--reason", required=True, help="Why (required; recorded in the audit trail).")
@pass_ctx
def systems_deactivate(obj: CliContext, name: str, reason: str) -> None:
    """Refuse a system's token from now on (a leaked token, a retired system)."""
    from hub.admin import set_system_active

    set_system_active(obj.hub, name, False, obj.actor_name, reason)
    click.echo(f"system {name!r} deactivated; its token is refused within 5 s everywhere")


@systems.command("activate")
@click.argument("name")
@click.option("--reason", required=True, help="Why (required; recorded in the audit trail).")
@pass_ctx
def systems_activate(obj: CliContext, name: str, reason: str) -> None:
    """Accept a deactivated system's token again."""
    from hub.admin import set_system_active

    set_system_active(obj.hub, name, True, obj.actor_name, reason)
    click.echo(f"system {name!r} active again")


@systems.command("list")
@pass_ctx
def systems_list(obj: CliContext) -> None:
    """List registered systems."""
    from hub.systems import list_systems

    with obj.hub.reader.connect() as conn:
        for s in list_systems(conn):
            state = "active" if s.active else "inactive"
            click.echo(
                f"{s.name:<30} {s.role:<7} {state:<9} {s.created_at:%Y-%m-%d}  {s.description}"
            )


# -- running ----------------------------------------------------------------------------------
@cli.command()
@click.option("--host", default=None, help="Listen address (default: setting api_host).")
@click.option("--port", type=int, default=None, help="Listen port (default: setting api_port).")
@click.option(
    "--no-worker",
    is_flag=True,
    help="API only: deliveries are run by `omsorgshub relay` and Celery workers.",
)
@pass_ctx
def serve(obj: CliContext, host: str | None, port: int | None, no_worker: bool) -> None:
    """Run the HTTP API, with the embedded relay and delivery worker unless --no-worker."""
    import uvicorn

    from hub.api import create_app

    hub = obj.hub
    _configure_logging(obj.settings)
    if not no_worker:
        hub.start()
    uvicorn.run(
        create_app(hub),
        host=host or obj.settings.api_host,
        port=port if port is not None else obj.settings.api_port,
        log_level=obj.settings.log_level.lower(),
    )


@cli.command()
@pass_ctx
def relay(obj: CliContext) -> None:
    """Scaled out: run the relay/sweeper that hands due deliveries to Celery workers."""
    from hub.bootstrap import build_hub
    from hub.dispatch import CeleryDispatcher

    s = obj.settings
    if s.embedded:
        raise ConfigError("relay needs OMSORGSHUB_BROKER_URL (embedded mode runs it in `serve`)")
    import worker

    _configure_logging(s)
    worker.declare_dead_letter(worker.app)
    hub = build_hub(s, dispatcher=CeleryDispatcher(worker.app, worker.QUEUE))
    obj._hub = hub
    # SIGTERM (systemd, Kubernetes) ends the current pass cleanly, like Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: hub.relay.stop())
    click.echo("relay running; Ctrl-C or SIGTERM to stop", err=True)
    try:
        hub.relay.run_forever()
    except KeyboardInterrupt:
        hub.relay.stop()


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def register_subcommands() -> None:
    """Attach the commands defined beside this module (idempotent)."""
    from hub import cli_guards, cli_messages
    from hub.demo import demo_command

    cli_messages.register(cli)
    cli_guards.register(cli)
    cli.add_command(demo_command)


def main() -> None:
    register_subcommands()
    cli(prog_name="omsorgshub")


if __name__ == "__main__":
    main()
