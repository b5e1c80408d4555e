"""The ``omsorgshub`` command line (also ``python -m hub``).

The root group and the commands that set up and run the hub; each other group lives in a module
of its own beside this one (``systems``, ``messages``, ``keys``, ``agreements``, ``audit``,
``ivo``) and imports only ``hub.cli.context``.

Errors are printed as one line with their reason code and exit with status 2 (usage, settings,
input the user can fix) or 1 (anything else); no traceback for an expected failure.
"""

from __future__ import annotations

import signal
import threading
from typing import TYPE_CHECKING

import click

from hub.cli.context import CliContext, HubGroup, pass_ctx
from hub.errors import ConfigError
from hub.settings import LOG_FORMATS, SETTINGS, Settings

if TYPE_CHECKING:
    from hub.bootstrap import Hub


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
    from hub.services.initialize import initialize

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
    from hub.settings.docs import settings_markdown

    click.echo(settings_markdown(), nl=False)


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_ctx
def db_upgrade(obj: CliContext) -> None:
    """Apply the Alembic migrations up to the newest (safe to run again)."""
    from hub.services.schema import upgrade_schema

    click.echo(f"database at revision {upgrade_schema(obj.settings)}")


@db.command("current")
@click.option("--check", is_flag=True, help="Exit with status 1 unless the schema is at head.")
@pass_ctx
def db_current(obj: CliContext, check: bool) -> None:
    """Show the database's schema revision against the newest this hub ships (changes nothing)."""
    from hub.services.schema import state as schema_state

    state = schema_state(obj.settings)
    where = obj.settings.shown()["database_url"]
    if not state.exists:
        click.echo(f"no database at {where} yet; `omsorgshub init` creates it")
    elif state.current is None:
        click.echo(
            f"database has no schema yet (head is {state.head}); run `omsorgshub db upgrade`"
        )
    elif state.at_head:
        click.echo(f"database at revision {state.current} (head)")
    elif not state.known:
        click.echo(
            f"database at revision {state.current}, which this hub does not know (head is "
            f"{state.head}): was it migrated by a newer version?"
        )
    else:
        click.echo(
            f"database at revision {state.current}, head is {state.head}; "
            "run `omsorgshub db upgrade`"
        )
    if check and not state.at_head:
        raise SystemExit(1)


@db.command("history")
def db_history() -> None:
    """List the migrations this hub ships, newest first (needs no database)."""
    from hub.services.schema import shipped_revisions

    for revision in shipped_revisions():
        head = " (head)" if revision.is_head else ""
        click.echo(f"{revision.down_revision or '<base>'} -> {revision.revision}{head}, ", nl=False)
        click.echo(revision.message.strip().splitlines()[0] if revision.message else "")


# -- running ----------------------------------------------------------------------------------
_log_format_option = click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    default=None,
    help="Log lines as text or as JSON objects (default: setting log_format).",
)


@cli.command()
@click.option("--host", default=None, help="Listen address (default: setting api_host).")
@click.option("--port", type=int, default=None, help="Listen port (default: setting api_port).")
@click.option(
    "--no-worker",
    is_flag=True,
    help="API only: deliveries are run by `omsorgshub relay` and Celery workers.",
)
@_log_format_option
@pass_ctx
def serve(
    obj: CliContext, host: str | None, port: int | None, no_worker: bool, log_format: str | None
) -> None:
    """Run the HTTP API, with the embedded relay and delivery worker unless --no-worker."""
    import uvicorn

    from hub.api.app import create_app
    from hub.api.logs import log_outcomes
    from hub.services.delivery_process import DeliveryProcess
    from hub.services.ivo_summaries import start_tracking
    from hub.services.mailbox_inbox import start_inbox_polling

    _configure_logging(obj.settings, log_format)
    hub = obj.hub
    log_outcomes(hub)
    app = create_app(hub)
    deliveries = None
    if not no_worker and obj.settings.delivery_process:
        deliveries = DeliveryProcess(obj.settings, start_delivering, log_format)
        deliveries.start()
        hub.relay.forward_wakes(deliveries.wake)
    elif not no_worker:
        _deliver_here(hub)
    # The hub's SDK mailboxes are pulled by the serving process (ingest, not delivery).
    stop_inboxes = threading.Event()
    start_inbox_polling(hub, stop_inboxes)
    start_tracking(hub, stop_inboxes)  # IVO tracking every ivo_track_seconds (0: off)
    uvicorn.run(
        app,
        host=host or obj.settings.api_host,
        port=port if port is not None else obj.settings.api_port,
        log_level=obj.settings.log_level.lower(),
        log_config=None,  # uvicorn's loggers go through the hub's handler (text or JSON)
    )
    stop_inboxes.set()
    if deliveries is not None:
        deliveries.stop()


@cli.command()
@_log_format_option
@pass_ctx
def relay(obj: CliContext, log_format: str | None) -> None:
    """Scaled out: run the relay/sweeper that hands due deliveries to Celery workers."""
    from hub.bootstrap import build_hub
    from hub.outbox.dispatch import CeleryDispatcher
    from hub.services.upkeep import schedule_upkeep

    s = obj.settings
    if s.embedded:
        raise ConfigError("relay needs OMSORGSHUB_BROKER_URL (embedded mode runs it in `serve`)")
    import worker

    _configure_logging(s, log_format)
    worker.declare_dead_letter(worker.app)
    hub = build_hub(s, dispatcher=CeleryDispatcher(worker.app, worker.QUEUE))
    obj._hub = hub
    schedule_upkeep(hub)  # retention, planner statistics: on the relay's own timer
    # SIGTERM (systemd, Kubernetes) ends the current pass cleanly, like Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: hub.relay.stop())
    click.echo("relay running; Ctrl-C or SIGTERM to stop", err=True)
    try:
        hub.relay.run_forever()
    except KeyboardInterrupt:
        hub.relay.stop()


def start_delivering(settings: Settings, log_format: str | None) -> Hub:
    """The delivery process's hub (``delivery_process``): relay and delivery threads started,
    upkeep scheduled, outcomes logged, as ``serve`` runs them in its own process otherwise."""
    from hub.api.logs import log_outcomes
    from hub.bootstrap import build_hub

    _configure_logging(settings, log_format)
    hub = build_hub(settings)
    log_outcomes(hub)
    _deliver_here(hub)
    return hub


def _deliver_here(hub: Hub) -> None:
    """Start the relay and delivery threads in this process, with the upkeep (retention,
    planner statistics, protected-identity sync) in the relay's loop."""
    from hub.services.upkeep import schedule_upkeep

    schedule_upkeep(hub)
    hub.start()


def _configure_logging(settings: Settings, log_format: str | None) -> None:
    from hub.api.logs import configure_logging

    configure_logging(settings.log_level, log_format or settings.log_format)


def register_subcommands() -> None:
    """Attach the commands defined beside this module (idempotent)."""
    from hub.cli import (
        agreements,
        atl,
        audit,
        homecare,
        ivo,
        keys,
        messages,
        protected,
        records,
        referrals,
        retention,
        review,
        sdk,
        service_stats,
        systems,
        users,
    )
    from hub.cli.timereports import timereports
    from hub.demo.command import demo_command

    timereports.add_command(homecare.compensation)  # the basis back to providers (combine)
    homecare.stats.add_command(service_stats.stats_monthly)
    homecare.stats.add_command(service_stats.stats_chargeback)
    for command in (
        systems.systems,
        messages.messages,
        messages.deliveries,
        messages.lookup,
        keys.keys,
        retention.retention,
        protected.protected,
        agreements.agreements,
        audit.audit_group,
        referrals.referrals,
        review.review,
        sdk.sdk,
        ivo.ivo,
        atl.atl,
        timereports,
        users.users,
        homecare.stats,
        records.records,
        demo_command,
    ):
        cli.add_command(command)


def main() -> None:
    register_subcommands()
    cli(prog_name="omsorgshub")


if __name__ == "__main__":
    main()
