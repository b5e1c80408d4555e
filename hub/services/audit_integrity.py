"""Is the audit trail intact? Verification (read-only, against what is kept outside the
database) and the acknowledgement that lifts an integrity alarm after an investigation.

Verification reads first and records itself afterwards as a separate step, so a trail too
damaged to take an entry is still reported on; ``record_verification`` says when the record
could not be written instead of hiding the report behind that failure. Every step says plainly
what is missing when the folder is not an initialized hub (no traceback for a wrong folder).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from sqlalchemy.exc import SQLAlchemyError

from audit.checkpoint import Checkpoint
from audit.signing import Ed25519Verifier, load_verifier
from audit.state import TrailState, trail_state
from audit.stored import StampCheck, check_stamps, verify_stored
from audit.verify import VerifyReport, read_export, read_export_head, verify
from audit.witness import read_witness
from hub.errors import ConfigError, GuardUnavailable, HubError, InputError
from hub.guards import AuditAction, Outcome
from hub.services.audit_queries import require_reader
from hub.services.principal import Kind, Principal
from hub.settings import Settings
from hub.storage.engine import make_engine, reader

if TYPE_CHECKING:
    from hub.bootstrap import Hub

__all__ = [
    "StampCheck",
    "TrailState",
    "Verification",
    "VerifyReport",
    "acknowledge",
    "record_verification",
    "require_hub",
    "require_hub_keys",
    "trail_status",
    "verify_now",
    "verify_trail",
]


def require_hub(settings: Settings, *, public_key: Path | None = None) -> None:
    """Say plainly what is missing when the folder is not an initialized hub."""
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


def require_hub_keys(settings: Settings) -> None:
    """As ``require_hub``, and the signing key a step that writes to the trail needs."""
    require_hub(settings)
    if not settings.audit_private_key_file.exists():
        raise ConfigError(
            f"the audit signing key {settings.audit_private_key_file} does not exist: run "
            "`omsorgshub init` on the hub's own data folder"
        )


@dataclass(frozen=True)
class Verification:
    report: VerifyReport
    witness_files: int  # files kept outside the database that were compared
    stamps: StampCheck | None  # with a TSA root: every time-stamp token checked


def verify_trail(
    settings: Settings,
    *,
    public_key: Path | None = None,
    export: Path | None = None,
    checkpoints: Path | None = None,
    witnesses: Sequence[Path] = (),
    tsa_root: Path | None = None,
) -> Verification:
    """Check the chain, the signatures and the witnesses, read-only: the database (or an
    ``export`` file, offline) against the checkpoints file and the witness files (default:
    the configured witness file, when readable)."""
    if export is None:
        require_hub(settings, public_key=public_key)
    elif public_key is None and not settings.audit_public_key_file.exists():
        require_hub(settings)
    verifier = _verifier(public_key or settings.audit_public_key_file)
    cp_file = checkpoints or (settings.checkpoint_dir / "checkpoints.jsonl")
    kept = list(witnesses)
    configured = settings.audit_witness_file
    if not witnesses and configured is not None and configured.is_file():
        kept.append(configured)
    elsewhere = _read_kept([cp_file, *kept] if cp_file.exists() else kept)
    grace = settings.audit_unsigned_grace_seconds
    try:
        if export is not None:
            head = read_export_head(export)
            signed = [*elsewhere, *([head] if head else [])]
            report = verify(read_export(export), signed, verifier, unsigned_grace=grace)
        else:
            engine = make_engine(settings.database_url)
            try:
                # A read transaction: on SQLite a writer's BEGIN IMMEDIATE would hold up a
                # serving hub's every write for as long as the trail takes to read.
                with reader(engine).connect() as conn:
                    report = verify_stored(
                        conn, verifier, kept_elsewhere=elsewhere, unsigned_grace=grace
                    )
            finally:
                engine.dispose()
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the audit trail: {exc}") from exc
    except SQLAlchemyError as exc:
        raise ConfigError(f"cannot read the audit trail from the database: {exc}") from exc
    stamps = _check_stamps(settings, tsa_root, verifier) if tsa_root else None
    return Verification(report, len(kept), stamps)


def record_verification(
    settings: Settings,
    open_hub: Callable[[], Hub],
    principal: Principal,
    verification: Verification,
) -> str | None:
    """Record a verification in the trail, as its own step after reporting. Returns why it
    could not be recorded (an integrity alarm, a missing key, a hub that cannot be opened),
    or None. ``open_hub`` is called only once the folder is known to be a hub."""
    report, stamps = verification.report, verification.stamps
    problem = report.problem or (stamps.problem if stamps else None)
    try:
        require_hub_keys(settings)
        hub = open_hub()
        with hub.engine.begin() as conn:
            hub.guards.record(
                conn,
                [
                    principal.did(
                        AuditAction.AUDIT_VERIFIED,
                        outcome=Outcome.OK if problem is None else Outcome.FAILED,
                        reason=None if problem is None else problem[:200],
                    )
                ],
            )
    except (HubError, OSError, ValueError, SQLAlchemyError) as exc:
        return str(exc)
    return None


def acknowledge(hub: Hub, principal: Principal, reason: str) -> tuple[int, str]:
    """Lift an audit integrity alarm after investigating it: records who and why, and signs
    the trail's head as it stands. Returns the acknowledgement's seq and recorded reason."""
    principal.require_hub_wide(Kind.OPERATOR)
    require_hub_keys(hub.settings)
    with hub.engine.begin() as conn:
        entry = hub.guards.audit.acknowledge(conn, principal.name, reason)
    return entry.seq, entry.reason or ""


def trail_status(hub: Hub, principal: Principal) -> TrailState:
    """The last verification, the last signed checkpoint and the entries after it: no
    personal data, so not audited (the trail is one for every district)."""
    require_reader(principal)
    with hub.reader.connect() as conn:
        return trail_state(conn)


def _verifier(path: Path) -> Ed25519Verifier:
    try:
        return load_verifier(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot use the public key {path}: {exc}") from exc


def _read_kept(paths: Sequence[Path]) -> list[Checkpoint]:
    try:
        return [cp for path in paths for cp in read_witness(path)]
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the checkpoints or witness file: {exc}") from exc


def _check_stamps(settings: Settings, tsa_root: Path, verifier: Ed25519Verifier) -> StampCheck:
    try:
        roots = x509.load_pem_x509_certificates(tsa_root.read_bytes())
    except ValueError as exc:
        raise InputError(f"{tsa_root} holds no PEM certificate: {exc}") from exc
    tokens = settings.audit_tsa_tokens_file
    if not tokens.exists():
        return StampCheck(0, 0, None, f"no time-stamp tokens at {tokens}")
    try:
        return check_stamps(tokens, roots, verifier)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the time-stamp tokens: {exc}") from exc


def verify_now(hub: Hub, principal: Principal) -> Verification:
    """Verify the trail of this hub (the database against its checkpoints file and configured
    witness), then record the verification with the principal as actor: what a
    data-protection officer starts from the console. Raises ``HubError`` when it could not be
    recorded (the report's problem, if any, is in the returned verification)."""
    require_reader(principal)
    verification = verify_trail(hub.settings)
    unrecorded = record_verification(hub.settings, lambda: hub, principal, verification)
    if unrecorded is not None:
        raise GuardUnavailable(
            f"the verification ran but could not be recorded: {unrecorded}",
            reason="audit_unavailable",
        )
    return verification
