"""Administrative changes, each stored together with its audit entry in one transaction.

The CLI, the API, the demo and the tests register systems and change agreements only through
these functions, so such a change is never made without its audit entry (``system_registered``,
``agreement_changed``), and the agreement cache is invalidated at once in this process.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from contracts.errors import (
    AgreementConflictError,
    AgreementFileError,
    AgreementNotFoundError,
    AgreementStoreUnavailableError,
    InvalidAgreementError,
)
from contracts.fileformat import parse_agreements as parse_agreement_text
from contracts.model import Agreement
from hub.errors import Conflict, GuardUnavailable, InputError, NotFound
from hub.guards import AuditAction, AuditEvent, Outcome
from hub.services.lookups import LOOKUP_TYPES
from hub.services.systems import add_system, set_active
from schemas.registry import CATEGORIES

if TYPE_CHECKING:
    from hub.bootstrap import Hub


def register_system(hub: Hub, name: str, description: str, actor: str, role: str = "system") -> str:
    """Register a system; returns its bearer token (shown once, stored hashed)."""
    with hub.engine.begin() as conn:
        token = add_system(conn, name, description, hub.clock(), role)
        hub.guards.record(
            conn,
            [
                AuditEvent(
                    actor=actor,
                    action=AuditAction.SYSTEM_REGISTERED,
                    source=name,
                    outcome=Outcome.OK,
                    reason=f"role {role}",
                )
            ],
        )
    return token


@contextmanager
def contracts_errors() -> Iterator[None]:
    """Translate ``contracts/`` errors into the hub's tree, in one place."""
    try:
        yield
    except AgreementFileError as exc:
        raise InputError(str(exc), reason="agreement_file_invalid") from exc
    except InvalidAgreementError as exc:
        raise InputError(str(exc), reason="agreement_invalid") from exc
    except AgreementConflictError as exc:
        raise Conflict(str(exc), reason="agreement_conflict") from exc
    except AgreementNotFoundError as exc:
        raise NotFound(str(exc), reason="agreement_not_found") from exc
    except AgreementStoreUnavailableError as exc:
        raise GuardUnavailable(str(exc), reason="agreement_store_unavailable") from exc


def set_system_active(hub: Hub, name: str, active: bool, actor: str, reason: str) -> None:
    """(De)activate a system's token, e.g. when it has leaked. Takes effect in every API
    process within the token cache's lifetime (``hub.services.systems``: 5 s)."""
    if not reason.strip():
        raise InputError("a reason is required: it is recorded in the audit trail")
    with hub.engine.begin() as conn:
        set_active(conn, name, active)
        hub.guards.record(
            conn,
            [
                AuditEvent(
                    actor=actor,
                    action=AuditAction.SYSTEM_CHANGED,
                    source=name,
                    outcome=Outcome.OK,
                    reason=f"{'activated' if active else 'deactivated'}: {reason}",
                )
            ],
        )


def known_types(hub: Hub) -> frozenset[str]:
    """What an agreement may name: the message types and the lookups."""
    return frozenset(t.name for t in hub.registry.types()) | LOOKUP_TYPES


def parse_agreements(hub: Hub, text: str, origin: str) -> list[Agreement]:
    """Read a strict agreement file; every problem named with its key (``InputError``)."""
    with contracts_errors():
        return parse_agreement_text(
            text, source=origin, known_categories=CATEGORIES, known_types=known_types(hub)
        )


def _event(actor: str, agreement: Agreement, reason: str) -> AuditEvent:
    return AuditEvent(
        actor=actor,
        action=AuditAction.AGREEMENT_CHANGED,
        district=agreement.district,
        agreement=agreement.ref,
        outcome=Outcome.OK,
        reason=reason,
    )


def add_agreements(hub: Hub, agreements: Sequence[Agreement], actor: str) -> list[Agreement]:
    """Add new agreements, or new versions of existing ones (import)."""
    stored: list[Agreement] = []
    store = hub.agreement_store
    with contracts_errors(), hub.engine.begin() as conn:
        for agreement in agreements:
            try:
                store.get(conn, agreement.id)
            except AgreementNotFoundError:
                saved = store.add(conn, agreement, actor)
                what = "added"
            else:
                saved = store.update(conn, agreement, actor)
                what = f"amended to version {saved.version}"
            stored.append(saved)
            hub.guards.record(conn, [_event(actor, saved, what)])
    hub.guards.agreements.invalidate()
    return stored


def revoke_agreement(hub: Hub, agreement_id: str, reason: str, actor: str) -> Agreement:
    if not reason.strip():
        raise InputError("a revocation needs a reason")
    with contracts_errors(), hub.engine.begin() as conn:
        revoked = hub.agreement_store.revoke(conn, agreement_id, reason, actor)
        hub.guards.record(conn, [_event(actor, revoked, f"revoked: {reason}")])
    hub.guards.agreements.invalidate()
    return revoked
