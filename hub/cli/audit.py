"""``omsorgshub audit …``: verify the trail, search it (a DPO's searches are audited too), export,
and a person's art. 15 access report."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import cast

import click

from audit.checkpoint import read_checkpoints
from audit.report import subject_report, to_csv, to_pdf
from audit.search import AuditQuery, OutputFormat, format_entries, search
from audit.signing import load_verifier
from audit.trail import load_checkpoints
from audit.verify import load_entries, read_export, verify, write_export
from hub.cli.context import CliContext, pass_ctx
from hub.errors import AuditIntegrityError, InputError
from hub.guards import AuditAction, AuditEvent, Outcome
from hub.ingest.identity import parse_identity


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
@pass_ctx
def audit_verify(
    obj: CliContext, public_key: Path | None, entries: Path | None, checkpoints: Path | None
) -> None:
    """Check the hash chain and the signed checkpoints; exit 1 naming the first bad entry."""
    s = obj.settings
    verifier = load_verifier(public_key or s.audit_public_key_file)
    cp_file = checkpoints or (s.checkpoint_dir / "checkpoints.jsonl")
    external = list(read_checkpoints(cp_file)) if cp_file.exists() else []
    if entries is not None:
        report = verify(read_export(entries), external, verifier)
    else:
        hub = obj.hub
        with hub.reader.connect() as conn:
            report = verify(load_entries(conn), [*load_checkpoints(conn), *external], verifier)
        with hub.engine.begin() as conn:
            hub.guards.record(
                conn,
                [
                    AuditEvent(
                        actor=obj.actor_name,
                        action=AuditAction.AUDIT_VERIFIED,
                        outcome=Outcome.OK if report.ok else Outcome.FAILED,
                        reason=report.problem or None,
                    )
                ],
            )
    click.echo(
        f"{report.entries_checked} entries, {report.checkpoints_checked} checkpoints checked; "
        f"{report.unsigned_tail} entries after the last checkpoint"
    )
    if not report.ok:
        where = f"entry {report.first_bad_seq}" if report.first_bad_seq else "the trail"
        raise AuditIntegrityError(f"{where}: {report.problem}")
    click.echo("the audit trail verifies")


def _when(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InputError(f"not an ISO 8601 time: {value!r}") from exc
    if moment.tzinfo is None:
        raise InputError(f"give a time zone (e.g. {value}+00:00 or Z): {value!r}")
    return moment


def _subject_ref(obj: CliContext, subject: str, scheme: str) -> str:
    return str(obj.hub.guards.hmacs.subject_ref(parse_identity(subject, scheme).canonical))


@audit_group.command("search")
@click.option("--subject", help="An identity number (searched by its keyed HMAC).")
@click.option("--scheme", type=click.Choice(["se", "dk"]), default="se", show_default=True)
@click.option("--actor")
@click.option("--district")
@click.option("--message", "message_id")
@click.option("--since", help="ISO 8601 with time zone, inclusive.")
@click.option("--until", help="ISO 8601 with time zone, exclusive.")
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
    since: str | None,
    until: str | None,
    limit: int,
    fmt: str,
) -> None:
    """Search the audit trail. The search itself is audited."""
    if not any([subject, actor, district, message_id, since, until]):
        raise InputError("give at least one filter (--subject, --actor, --district, …)")
    hub = obj.hub
    query = AuditQuery(
        subject_ref=_subject_ref(obj, subject, scheme) if subject else None,
        actor=actor,
        district=district,
        message_id=message_id,
        since=_when(since),
        until=_when(until),
        limit=limit,
    )
    with hub.engine.begin() as conn:
        found = search(conn, query)
        hub.guards.record(
            conn,
            [
                AuditEvent(
                    actor=obj.actor_name,
                    action=AuditAction.AUDIT_SEARCHED,
                    district=district,
                    message_id=message_id,
                    subject_ref=query.subject_ref,
                    outcome=Outcome.OK,
                    reason=f"{len(found)} entries",
                )
            ],
        )
    click.echo(format_entries(found, cast(OutputFormat, fmt)))


@audit_group.command("report")
@click.option("--subject", required=True, help="The person's identity number.")
@click.option("--scheme", type=click.Choice(["se", "dk"]), default="se", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["csv", "pdf"]), default="csv")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), help="Default: stdout.")
@pass_ctx
def audit_report(obj: CliContext, subject: str, scheme: str, fmt: str, output: Path | None) -> None:
    """The GDPR art. 15 extract: who received or accessed the person's data, when, why."""
    hub = obj.hub
    ref = _subject_ref(obj, subject, scheme)
    with hub.engine.begin() as conn:
        report = subject_report(conn, ref)
        hub.guards.record(
            conn,
            [
                AuditEvent(
                    actor=obj.actor_name,
                    action=AuditAction.EXPORTED,
                    subject_ref=ref,
                    outcome=Outcome.OK,
                    reason=f"art. 15 subject report ({fmt}, {len(report.accesses)} accesses)",
                )
            ],
        )
    data = to_pdf(report) if fmt == "pdf" else to_csv(report).encode()
    if output:
        output.write_bytes(data)
        click.echo(f"wrote {output}", err=True)
    elif fmt == "pdf" and sys.stdout.isatty():
        raise InputError("a PDF needs --output FILE")
    else:
        sys.stdout.buffer.write(data)


@audit_group.command("export")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), required=True)
@pass_ctx
def audit_export(obj: CliContext, output: Path) -> None:
    """Export the whole trail (JSON lines) for offline verification with the public key."""
    hub = obj.hub
    with hub.engine.begin() as conn:
        hub.guards.record(
            conn,
            [
                AuditEvent(
                    actor=obj.actor_name, action=AuditAction.AUDIT_EXPORTED, outcome=Outcome.OK
                )
            ],
        )
    with hub.reader.connect() as conn:
        count = write_export(conn, output)
    click.echo(f"exported {count} entries to {output}")
