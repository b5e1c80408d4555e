"""``omsorgshub audit …``: verify the trail (read-only, against the witnesses), acknowledge an
integrity alarm, search it (a DPO's searches are audited too), export, and a person's art. 15
access report. Every command says what is missing when the folder is not an initialized hub."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import cast

import click

from hub.cli.context import CliContext, pass_ctx
from hub.errors import AuditIntegrityError, InputError
from hub.services import audit_integrity, audit_queries


@click.group("audit")
def audit_group() -> None:
    """The audit trail: verify it, search it, extract a person's accesses (art. 15)."""


@audit_group.command("verify")
@click.option(
    "--public-key",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Verify with this public key alone (default: the hub's own public key file).",
)
@click.option(
    "--entries",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Verify an export file offline instead of the database.",
)
@click.option(
    "--checkpoints",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="The checkpoints file kept outside the database (default: the hub's own).",
)
@click.option(
    "--witness",
    "witnesses",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Heads kept outside the host (a witness file, a syslog extract, the time-stamp "
    "tokens); the first entry cut from the tail is named. Repeatable. Default: the configured "
    "witness file, when readable.",
)
@click.option(
    "--tsa-root",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="The time-stamping authority's root certificate (PEM): check every token in the "
    "time-stamp file too.",
)
@pass_ctx
def audit_verify(
    obj: CliContext,
    public_key: Path | None,
    entries: Path | None,
    checkpoints: Path | None,
    witnesses: tuple[Path, ...],
    tsa_root: Path | None,
) -> None:
    """Check the chain, the signatures and the witnesses, read-only; exit 1 naming the first
    bad entry. The verification is recorded in the trail afterwards, when it can be."""
    checked = audit_integrity.verify_trail(
        obj.settings,
        public_key=public_key,
        export=entries,
        checkpoints=checkpoints,
        witnesses=witnesses,
        tsa_root=tsa_root,
    )
    report, stamps = checked.report, checked.stamps
    click.echo(
        f"{report.entries_checked} entries, {report.checkpoints_checked} signatures checked "
        f"({checked.witness_files} witness file(s)); {report.unsigned_tail} entries after the "
        "last published checkpoint"
    )
    if stamps is not None and stamps.checked:
        click.echo(
            f"{stamps.checked} time-stamps checked; the latest covers entry {stamps.latest_seq}"
            + (f" at {stamps.latest_time.isoformat()}" if stamps.latest_time else "")
        )
    if entries is None:
        failed = audit_integrity.record_verification(
            obj.settings, lambda: obj.hub, obj.principal, checked
        )
        if failed:
            click.echo(
                f"note: this verification could not be recorded in the trail: {failed}", err=True
            )
    if not report.ok:
        where = f"entry {report.first_bad_seq}" if report.first_bad_seq else "the trail"
        raise AuditIntegrityError(f"{where}: {report.problem}")
    if stamps is not None and stamps.problem:
        raise AuditIntegrityError(f"time-stamps: {stamps.problem}")
    click.echo("the audit trail verifies")


@audit_group.command("acknowledge")
@click.option(
    "--reason",
    required=True,
    help="What the investigation found and did (recorded in the trail).",
)
@pass_ctx
def audit_acknowledge(obj: CliContext, reason: str) -> None:
    """Lift an audit integrity alarm after investigating it: records who and why, and signs
    the trail's head as it stands. Run `omsorgshub audit verify` first."""
    audit_integrity.require_hub_keys(obj.settings)
    seq, recorded = audit_integrity.acknowledge(obj.hub, obj.principal, reason)
    click.echo(f"acknowledged as entry {seq}: {recorded}")


def _when(value: str | None) -> datetime | None:
    """A date (midnight UTC) or an ISO 8601 date and time with a time zone."""
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        pass
    else:
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InputError(
            f"not a date or an ISO 8601 time: {value!r} (e.g. 2026-01-01 or "
            "2026-01-01T08:00:00+01:00)"
        ) from exc
    if moment.tzinfo is None:
        raise InputError(f"give a time zone (e.g. {value}+00:00 or {value}Z): {value!r}")
    return moment


@audit_group.command("search")
@click.option("--subject", help="An identity number (searched by its keyed HMAC).")
@click.option("--scheme", type=click.Choice(["se", "dk"]), default="se", show_default=True)
@click.option("--actor")
@click.option("--district")
@click.option("--message", "message_id")
@click.option("--action", help="An audit action (received, delivered, viewed, exported, …).")
@click.option("--since", help="A date (from midnight UTC) or ISO 8601 time with zone; inclusive.")
@click.option("--until", help="A date (from midnight UTC) or ISO 8601 time with zone; exclusive.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=1000, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
@pass_ctx
def audit_search(
    obj: CliContext,
    subject: str | None,
    scheme: str,
    actor: str | None,
    district: str | None,
    message_id: str | None,
    action: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    fmt: str,
) -> None:
    """Search the audit trail. The search itself is audited."""
    if not any([subject, actor, district, message_id, action, since, until]):
        raise InputError("give at least one filter (--subject, --actor, --district, …)")
    audit_integrity.require_hub_keys(obj.settings)
    found = audit_queries.search_audit(
        obj.hub,
        obj.principal,
        audit_queries.AuditFilter(
            subject=subject,
            scheme=scheme,
            actor=actor,
            district=district,
            message_id=message_id,
            action=action,
            since=_when(since),
            until=_when(until),
            limit=limit,
        ),
    )
    click.echo(audit_queries.render_entries(found, cast(audit_queries.OutputFormat, fmt)))


@audit_group.command("report")
@click.option("--subject", required=True, help="The person's identity number.")
@click.option("--scheme", type=click.Choice(["se", "dk"]), default="se", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["csv", "pdf"]), default="csv")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), help="Default: stdout.")
@pass_ctx
def audit_report(obj: CliContext, subject: str, scheme: str, fmt: str, output: Path | None) -> None:
    """The GDPR article 15 extract: who received or accessed the person's data, when, why."""
    if fmt == "pdf" and output is None and sys.stdout.isatty():
        raise InputError("a PDF needs --output FILE")
    audit_integrity.require_hub_keys(obj.settings)
    data = audit_queries.report_document(obj.hub, obj.principal, subject, scheme, fmt)
    if output:
        output.write_bytes(data)
        click.echo(f"wrote {output}", err=True)
    else:
        sys.stdout.buffer.write(data)


@audit_group.command("export")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), required=True)
@pass_ctx
def audit_export(obj: CliContext, output: Path) -> None:
    """Export the whole trail (JSON lines) for offline verification with the public key."""
    audit_integrity.require_hub_keys(obj.settings)
    count = audit_queries.export_audit(obj.hub, obj.principal, output)
    click.echo(f"exported {count} entries to {output}")
