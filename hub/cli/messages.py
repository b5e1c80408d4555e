"""``omsorgshub messages …`` and ``omsorgshub deliveries …``: operators' view of the outbox.

Listings show metadata only. Showing a payload decrypts it and is audited as ``viewed`` with
the operator's stated reason; a replay is audited as ``replayed`` with its required reason.
"""

from __future__ import annotations

import click

from hub.cli.context import CliContext, pass_ctx
from hub.envelope import DeliveryState
from hub.errors import InputError
from hub.services.lookup_requests import ask_lookup
from hub.services.messages import list_messages, replay_deliveries, show_message, view_payload

_STATES = [s.value for s in DeliveryState]


@click.group()
def messages() -> None:
    """Messages the hub has accepted (metadata; payloads stay encrypted)."""


@messages.command("list")
@click.option("--state", type=click.Choice(_STATES), help="Only messages with a delivery in it.")
@click.option("--destination", help="Only messages with a delivery to this destination.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@pass_ctx
def messages_list(obj: CliContext, state: str | None, destination: str | None, limit: int) -> None:
    """List the newest messages with their delivery states."""
    rows = list_messages(obj.hub, obj.principal, state=state, destination=destination, limit=limit)
    if not rows:
        click.echo("no messages")
        return
    click.echo(f"{'id':<36}  {'received (UTC)':<19}  {'type':<18} {'district':<18} state")
    for row in rows:
        m = row.message
        counts = ", ".join(f"{k} {v}" for k, v in sorted(row.states.items()))
        click.echo(
            f"{m.id}  {m.received_at:%Y-%m-%d %H:%M:%S}  {m.message_type:<18} "
            f"{m.district:<18} {row.state} ({counts})"
        )


@messages.command("show")
@click.argument("message_id")
@click.option("--payload", is_flag=True, help="Decrypt and print the document (audited).")
@click.option("--reason", help="Why you view the payload (required with --payload; audited).")
@pass_ctx
def messages_show(obj: CliContext, message_id: str, payload: bool, reason: str | None) -> None:
    """Show a message's metadata and deliveries; with --payload, its document."""
    if payload and not reason:
        raise InputError("--payload needs --reason: every view of personal data is audited")
    detail = show_message(obj.hub, obj.principal, message_id)
    message = detail.message
    for label, value in [
        ("id", message.id),
        ("sender", message.sender),
        ("type", f"{message.message_type} v{message.version}"),
        ("district", message.district),
        ("purpose", message.purpose),
        ("message id", message.idempotency_key or "-"),
        ("agreement", message.agreement_ref or "-"),
        ("categories", ", ".join(message.categories)),
        ("key version", str(message.key_version)),
        ("size", f"{message.size} bytes (encrypted at rest)"),
        ("received", message.received_at.isoformat()),
    ]:
        click.echo(f"{label:<12} {value}")
    click.echo("deliveries:")
    for r in detail.deliveries:
        click.echo(
            f"  {r.id}  {r.destination:<24} {r.state:<16} attempts {r.attempts}"
            + (f"  last: {r.last_reason}: {r.last_error}" if r.last_error else "")
        )
    if payload:
        assert reason is not None
        click.echo("payload:")
        document = view_payload(obj.hub, message_id, actor=obj.principal, reason=reason)
        click.echo(document.decode())


@click.group()
def deliveries() -> None:
    """Deliveries (one per message and destination)."""


@deliveries.command("replay")
@click.argument("delivery_ids", nargs=-1)
@click.option("--dead", is_flag=True, help="Replay every dead delivery (of --destination).")
@click.option("--destination", help="With --dead: only deliveries to this destination.")
@click.option("--reason", required=True, help="Why (required; recorded in the audit trail).")
@pass_ctx
def deliveries_replay(
    obj: CliContext,
    delivery_ids: tuple[str, ...],
    dead: bool,
    destination: str | None,
    reason: str,
) -> None:
    """Make dead or refused deliveries pending again with a fresh attempt budget.

    A refused delivery is checked against the agreements again at its next attempt: a replay
    cannot bypass a revoked agreement.
    """
    done = replay_deliveries(
        obj.hub,
        obj.principal,
        delivery_ids,
        reason=reason,
        all_dead=dead,
        destination=destination,
    )
    for delivery_id, state in done.skipped:
        click.echo(f"skipped {delivery_id}: it is {state}, not dead or refused")
    click.echo(f"replayed {done.replayed} deliveries; the running hub picks them up")


@click.command("lookup")
@click.argument("kind", metavar="KIND")
@click.option(
    "--system", required=True, help="The system on whose behalf (the agreement's sender)."
)
@click.option("--district", required=True)
@click.option("--purpose", required=True)
@click.option("--subject", required=True, help="The person's identity number.")
@click.option("--scheme", type=click.Choice(["se", "dk"]), default="se", show_default=True)
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="E.g. invoice_number=… or ocr=… (invoice_status).",
)
@click.option("--consent", help="Reference to the person's recorded consent.")
@pass_ctx
def lookup(
    obj: CliContext,
    kind: str,
    system: str,
    district: str,
    purpose: str,
    subject: str,
    scheme: str,
    params: tuple[str, ...],
    consent: str | None,
) -> None:
    """Ask a district's system: KIND is client_summary or invoice_status (audited)."""
    import json

    parsed = {}
    for item in params:
        name, sep, value = item.partition("=")
        if not sep:
            raise InputError(f"--param takes NAME=VALUE, not {item!r}")
        parsed[name] = value
    result = ask_lookup(
        obj.hub,
        obj.principal,
        lookup=kind,
        district=district,
        purpose=purpose,
        subject=subject,
        scheme=scheme,
        params=parsed,
        consent=consent,
        on_behalf_of=system,
    )
    click.echo(json.dumps(result.data, indent=2, ensure_ascii=False, default=str))
