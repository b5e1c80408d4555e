"""``omsorgshub sdk …``: the hub's own SDK functional mailboxes."""

from __future__ import annotations

import click

from hub.cli.context import CliContext, pass_ctx
from hub.services.mailbox_inbox import poll_inboxes


@click.group()
def sdk() -> None:
    """SDK (säker digital kommunikation) mailboxes of the hub."""


@sdk.command("poll")
@pass_ctx
def sdk_poll(obj: CliContext) -> None:
    """Ingest the new messages of every inbox once (``serve`` does it every
    ``inbox_poll_seconds``). A message already ingested is not ingested again."""
    results = poll_inboxes(obj.hub)
    if not results:
        click.echo("no destination has an inbox (option inbox_functional_address)")
        return
    for name, result in results.items():
        failed = ", ".join(f"{key}: {reason}" for key, reason in sorted(result.failed.items()))
        click.echo(
            f"{name}: {len(result.ingested)} ingested, {result.repeats} already known"
            + (f", refused: {failed}" if failed else "")
        )
