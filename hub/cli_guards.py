"""``omsorgshub keys …``, ``agreements …`` and ``audit …``: the guards' command lines.

Every command that touches personal data or a guard appends its audit entry in the same
transaction as its action: key operations, agreement changes, audit searches (a DPO's own
searches are audited too), exports and subject reports.
"""

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
from contracts.errors import AgreementNotFoundError
from contracts.fileformat import dump_agreements
from hub.admin import add_agreements, contracts_errors, parse_agreements, revoke_agreement
from hub.cli import CliContext, pass_ctx
from hub.errors import AuditIntegrityError, InputError
from hub.guards import AuditAction, AuditEvent, Outcome
from hub.identity import parse_identity

# -- keys -------------------------------------------------------------------------------------


@click.group()
def keys() -> None:
    """Per-district data keys: list, rotate, re-wrap payloads, shred (crypto-shredding)."""


@keys.command("list")
@pass_ctx
def keys_list(obj: CliContext) -> None:
    """List key versions per district and their state."""
    hub = obj.hub
    with hub.reader.connect() as conn:
        infos = hub.guards.keys.list(conn)
    if not infos:
        click.echo("no district keys yet (made on a district's first message)")
    for info in infos:
        click.echo(f"{info.district:<24} v{info.version:<4} {info.state:<9} {info.created_at:%F}")


def _districts(obj: CliContext, district: str | None) -> list[str]:
    if district:
        return [district]
    with obj.hub.reader.connect() as conn:
        return sorted({i.district for i in obj.hub.guards.keys.list(conn)})


def _key_event(obj: CliContext, action: AuditAction, district: str, reason: str) -> AuditEvent:
    return AuditEvent(
        actor=obj.actor_name, action=action, district=district, outcome=Outcome.OK, reason=reason
    )


@keys.command("rotate")
@click.option("--district", help="Only this district (default: every district with a key).")
@pass_ctx
def keys_rotate(obj: CliContext, district: str | None) -> None:
    """Make a new key version current; older versions still decrypt until re-wrapped."""
    hub = obj.hub
    for d in _districts(obj, district):
        with hub.engine.begin() as conn:
            version = hub.guards.keys.rotate(conn, d)
            hub.guards.record(conn, [_key_event(obj, AuditAction.KEY_ROTATED, d, f"v{version}")])
        click.echo(f"{d}: now version {version}")


@keys.command("rewrap")
@click.option("--district", help="Only this district (default: every district with a key).")
@click.option("--batch", type=click.IntRange(1, 10_000), default=500, show_default=True)
@pass_ctx
def keys_rewrap(obj: CliContext, district: str | None, batch: int) -> None:
    """Move stored payloads to the current key version (plaintext stays in memory)."""
    hub = obj.hub
    for d in _districts(obj, district):
        total = 0
        with click.progressbar(length=0, label=f"{d:<20}", show_pos=True) as bar:

            def progress(done: int, of: int) -> None:
                bar.length = of
                bar.update(done - bar.pos)

            while True:
                with hub.engine.begin() as conn:
                    moved = hub.guards.keys.rewrap(
                        conn, d, batch=batch, progress=progress, limit=batch * 10
                    )
                    if moved:
                        hub.guards.record(
                            conn,
                            [_key_event(obj, AuditAction.KEY_REWRAPPED, d, f"{moved} payloads")],
                        )
                total += moved
                if moved == 0:
                    break
        click.echo(f"{d}: {total} payloads re-wrapped")


@keys.command("shred")
@click.option("--district", required=True)
@click.option("--version", "version", type=int, required=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
def keys_shred(obj: CliContext, district: str, version: int, yes: bool) -> None:
    """Destroy a key version: payloads under it become unreadable, for ever (retention end)."""
    if not yes:
        click.confirm(
            f"Shred key version {version} of {district}? Payloads under it can never be read again",
            abort=True,
        )
    hub = obj.hub
    with hub.engine.begin() as conn:
        hub.guards.keys.shred(conn, district, version)
        hub.guards.record(
            conn, [_key_event(obj, AuditAction.KEY_SHREDDED, district, f"v{version}")]
        )
    click.echo(f"{district}: key version {version} shredded")


# -- agreements -------------------------------------------------------------------------------


@click.group()
def agreements() -> None:
    """Data-processing agreements of the districts (append-only versions)."""


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc


@agreements.command("add")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@pass_ctx
def agreements_add(obj: CliContext, file: Path) -> None:
    """Add the new agreements in FILE (TOML); an existing id is an error (use import)."""
    hub = obj.hub
    items = parse_agreements(hub, _read(file), str(file))
    with contracts_errors(), hub.reader.connect() as conn:
        for a in items:
            try:
                hub.agreement_store.get(conn, a.id)
            except AgreementNotFoundError:
                continue
            raise InputError(f"agreement {a.id} exists; use `agreements import` to amend it")
    for a in add_agreements(hub, items, obj.actor_name):
        click.echo(f"added {a.ref} ({a.district})")


@agreements.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@pass_ctx
def agreements_import(obj: CliContext, file: Path) -> None:
    """Add or amend (as new versions) the agreements in FILE (TOML)."""
    hub = obj.hub
    for a in add_agreements(hub, parse_agreements(hub, _read(file), str(file)), obj.actor_name):
        click.echo(f"stored {a.ref} ({a.district}, {a.status})")


@agreements.command("list")
@pass_ctx
def agreements_list(obj: CliContext) -> None:
    """The latest version of every agreement."""
    hub = obj.hub
    with contracts_errors(), hub.reader.connect() as conn:
        items = hub.agreement_store.list_current(conn)
    if not items:
        click.echo("no agreements: every message is refused (default deny)")
    for a in items:
        until = f"{a.valid_to:%F}" if a.valid_to else "open"
        click.echo(
            f"{a.ref:<32} {a.district:<20} {a.status:<8} {a.valid_from:%F} → {until}  "
            f"{', '.join(sorted(a.message_types))}"
        )


@agreements.command("show")
@click.argument("agreement_id")
@click.option("--history", is_flag=True, help="Every version, oldest first.")
@pass_ctx
def agreements_show(obj: CliContext, agreement_id: str, history: bool) -> None:
    """Show an agreement in its file format."""
    hub = obj.hub
    with contracts_errors(), hub.reader.connect() as conn:
        store = hub.agreement_store
        items = store.history(conn, agreement_id) if history else [store.get(conn, agreement_id)]
    click.echo(dump_agreements(items))


@agreements.command("revoke")
@click.argument("agreement_id")
@click.option("--reason", required=True, help="Why (required; recorded in a new version).")
@pass_ctx
def agreements_revoke(obj: CliContext, agreement_id: str, reason: str) -> None:
    """Revoke an agreement: waiting deliveries under it are stopped (refused)."""
    revoked = revoke_agreement(obj.hub, agreement_id, reason, obj.actor_name)
    click.echo(f"revoked: {revoked.ref}")


@agreements.command("export")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), help="Default: stdout.")
@pass_ctx
def agreements_export(obj: CliContext, output: Path | None) -> None:
    """Write the latest version of every agreement in the import format."""
    hub = obj.hub
    with contracts_errors(), hub.reader.connect() as conn:
        text = dump_agreements(hub.agreement_store.list_current(conn))
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        click.echo(text)


# -- audit ------------------------------------------------------------------------------------


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


def register(root: click.Group) -> None:
    for group in (keys, agreements, audit_group):
        root.add_command(group)
