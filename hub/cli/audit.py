"""``omsorgshub audit …``: verify the trail (read-only, against the witnesses), acknowledge an
integrity alarm, search it (a DPO's searches are audited too), export, and a person's art. 15
access report. Every command says what is missing when the folder is not an initialized hub."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import cast

import click
from cryptography import x509
from sqlalchemy.exc import SQLAlchemyError

from audit.checkpoint import Checkpoint
from audit.report import subject_report, to_csv, to_pdf
from audit.search import AuditQuery, OutputFormat, format_entries, search
from audit.signing import Ed25519Verifier, load_verifier
from audit.stored import check_stamps, verify_stored
from audit.verify import VerifyReport, read_export, read_export_head, verify, write_export
from audit.witness import read_witness
from hub.cli.context import CliContext, pass_ctx
from hub.errors import AuditIntegrityError, ConfigError, HubError, InputError
from hub.guards import AuditAction, AuditEvent, Outcome
from hub.ingest.identity import parse_identity
from hub.settings import Settings
from hub.storage.engine import make_engine


@click.group("audit")
def audit_group() -> None:
    """The audit trail: verify it, search it, extract a person's accesses (art. 15)."""


def _require_hub(settings: Settings, *, public_key: Path | None = None) -> None:
    """Say plainly what is missing when the folder is not an initialized hub (no traceback)."""
    missing: list[str] = []
    if public_key is None and not settings.audit_public_key_file.exists():
        missing.append(f"the audit public key {settings.audit_public_key_file}")
    url = settings.database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        missing.append(f"the database {url.removeprefix('sqlite:///')}")
    if missing:
        raise ConfigError(
            f"{settings.home} is not an initialized hub: {' and '.join(missing)} "
            f"{'does' if len(missing) == 1 else 'do'} not exist. Create the hub with "
            "`omsorgshub init` (or set OMSORGSHUB_HOME to an existing one)"
        )


def _require_hub_keys(settings: Settings) -> None:
    _require_hub(settings)
    if not settings.audit_private_key_file.exists():
        raise ConfigError(
            f"the audit signing key {settings.audit_private_key_file} does not exist: run "
            "`omsorgshub init` on the hub's own data folder"
        )


def _verifier(path: Path) -> Ed25519Verifier:
    try:
        return load_verifier(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot use the public key {path}: {exc}") from exc


def _kept_elsewhere(paths: Sequence[Path]) -> list[Checkpoint]:
    try:
        return [cp for path in paths for cp in read_witness(path)]
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the checkpoints or witness file: {exc}") from exc


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
    s = obj.settings
    if entries is None:
        _require_hub(s, public_key=public_key)
    elif public_key is None and not s.audit_public_key_file.exists():
        _require_hub(s)
    verifier = _verifier(public_key or s.audit_public_key_file)
    cp_file = checkpoints or (s.checkpoint_dir / "checkpoints.jsonl")
    kept = [*witnesses]
    if not witnesses and s.audit_witness_file is not None and s.audit_witness_file.is_file():
        kept.append(s.audit_witness_file)
    elsewhere = _kept_elsewhere([cp_file, *kept] if cp_file.exists() else kept)
    grace = s.audit_unsigned_grace_seconds
    try:
        if entries is not None:
            head = read_export_head(entries)
            report = verify(
                read_export(entries),
                [*elsewhere, *([head] if head else [])],
                verifier,
                unsigned_grace=grace,
            )
        else:
            engine = make_engine(s.database_url)
            try:
                with engine.connect() as conn:
                    report = verify_stored(
                        conn, verifier, kept_elsewhere=elsewhere, unsigned_grace=grace
                    )
            finally:
                engine.dispose()
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the audit trail: {exc}") from exc
    except SQLAlchemyError as exc:
        raise ConfigError(f"cannot read the audit trail from the database: {exc}") from exc
    click.echo(
        f"{report.entries_checked} entries, {report.checkpoints_checked} signatures checked "
        f"({len(kept)} witness file(s)); {report.unsigned_tail} entries after the last "
        "published checkpoint"
    )
    stamps_problem = _check_stamps(s, tsa_root, verifier) if tsa_root else None
    if entries is None:
        _record_verification(obj, report, stamps_problem)
    if not report.ok:
        where = f"entry {report.first_bad_seq}" if report.first_bad_seq else "the trail"
        raise AuditIntegrityError(f"{where}: {report.problem}")
    if stamps_problem:
        raise AuditIntegrityError(f"time-stamps: {stamps_problem}")
    click.echo("the audit trail verifies")


def _check_stamps(s: Settings, tsa_root: Path, verifier: Ed25519Verifier) -> str | None:
    try:
        roots = x509.load_pem_x509_certificates(tsa_root.read_bytes())
    except ValueError as exc:
        raise InputError(f"{tsa_root} holds no PEM certificate: {exc}") from exc
    if not s.audit_tsa_tokens_file.exists():
        return f"no time-stamp tokens at {s.audit_tsa_tokens_file}"
    try:
        result = check_stamps(s.audit_tsa_tokens_file, roots, verifier)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the time-stamp tokens: {exc}") from exc
    click.echo(
        f"{result.checked} time-stamps checked; the latest covers entry {result.latest_seq}"
        + (f" at {result.latest_time.isoformat()}" if result.latest_time else "")
    )
    return result.problem


def _record_verification(obj: CliContext, report: VerifyReport, stamps: str | None) -> None:
    """Record the verification as its own step, after reporting: a trail too damaged to take
    an entry (an integrity alarm) is still reported on, and the failure to record is said."""
    problem = report.problem or stamps
    try:
        _require_hub_keys(obj.settings)
        hub = obj.hub
        with hub.engine.begin() as conn:
            hub.guards.record(
                conn,
                [
                    AuditEvent(
                        actor=obj.actor_name,
                        action=AuditAction.AUDIT_VERIFIED,
                        outcome=Outcome.OK if problem is None else Outcome.FAILED,
                        reason=None if problem is None else problem[:200],
                    )
                ],
            )
    except (HubError, OSError, ValueError, SQLAlchemyError) as exc:
        click.echo(f"note: this verification could not be recorded in the trail: {exc}", err=True)


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
    _require_hub_keys(obj.settings)
    hub = obj.hub
    with hub.engine.begin() as conn:
        entry = hub.guards.audit.acknowledge(conn, obj.actor_name, reason)
    click.echo(f"acknowledged as entry {entry.seq}: {entry.reason}")


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


def _subject_ref(obj: CliContext, subject: str, scheme: str) -> str:
    return str(obj.hub.guards.hmacs.subject_ref(parse_identity(subject, scheme).canonical))


@audit_group.command("search")
@click.option("--subject", help="An identity number (searched by its keyed HMAC).")
@click.option("--scheme", type=click.Choice(["se", "dk"]), default="se", show_default=True)
@click.option("--actor")
@click.option("--district")
@click.option("--message", "message_id")
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
    since: str | None,
    until: str | None,
    limit: int,
    fmt: str,
) -> None:
    """Search the audit trail. The search itself is audited."""
    if not any([subject, actor, district, message_id, since, until]):
        raise InputError("give at least one filter (--subject, --actor, --district, …)")
    _require_hub_keys(obj.settings)
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
    """The GDPR article 15 extract: who received or accessed the person's data, when, why."""
    _require_hub_keys(obj.settings)
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
    _require_hub_keys(obj.settings)
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
