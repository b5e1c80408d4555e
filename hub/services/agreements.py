"""Agreements as the faces use them: list, show, history, add, import, revoke, export.

Every change is a new version stored together with its ``agreement_changed`` audit entry in
one transaction, and the agreement cache is invalidated at once in this process.

District scope is checked here, for every face: an agreement of a district the principal does
not act for is absent to it (``NotFound``, the very answer for an unknown id), lists leave it
out, and amending it through an import is a 404 too. An import that names a district outside
the scope is refused as a whole (``Forbidden``, 403): nothing is stored, and the refusal is
audited for the data-protection officer.
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
from contracts.fileformat import dump_agreements
from contracts.fileformat import parse_agreements as parse_agreement_text
from contracts.model import Agreement, is_code
from hub.errors import Conflict, Forbidden, GuardUnavailable, HubError, InputError, NotFound
from hub.guards import AuditAction, AuditEvent, Outcome
from hub.services.lookups import LOOKUP_TYPES
from hub.services.principal import Kind, Principal, as_principal
from hub.services.systems import register_system, set_system_active
from schemas.registry import CATEGORIES

if TYPE_CHECKING:
    from hub.bootstrap import Hub

# ``register_system`` and ``set_system_active`` lived here before ``hub.services.systems``;
# the demo, ``bench/`` and many tests still import them from here.
__all__ = [
    "add_agreements",
    "add_new_agreements",
    "agreement_history",
    "contracts_errors",
    "export_agreements",
    "get_agreement",
    "import_agreements",
    "list_agreements",
    "parse_agreements",
    "register_system",
    "revoke_agreement",
    "set_system_active",
]

_MANAGERS = (Kind.OPERATOR, Kind.DISTRICT_ADMIN)


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


def _absent(agreement_id: str) -> NotFound:
    return NotFound(f"no agreement {agreement_id}", reason="agreement_not_found")


def known_types(hub: Hub) -> frozenset[str]:
    """What an agreement may name: the message types and the lookups."""
    return frozenset(t.name for t in hub.registry.types()) | LOOKUP_TYPES


def parse_agreements(hub: Hub, text: str, origin: str) -> list[Agreement]:
    """Read a strict agreement file; every problem named with its key (``InputError``)."""
    with contracts_errors():
        return parse_agreement_text(
            text, source=origin, known_categories=CATEGORIES, known_types=known_types(hub)
        )


# -- reading -----------------------------------------------------------------------------------
def list_agreements(hub: Hub, principal: Principal) -> list[Agreement]:
    """The latest version of every agreement of the principal's districts."""
    principal.require(*_MANAGERS)
    with contracts_errors(), hub.reader.connect() as conn:
        items = hub.agreement_store.list_current(conn)
    return principal.only_visible(items, lambda a: a.district)


def _well_formed(agreement_id: str) -> None:
    """An id no agreement can have is absent without asking the database (PostgreSQL answers a
    NUL byte in a text parameter with an error, not with a miss)."""
    if not is_code(agreement_id):
        raise NotFound("no such agreement", reason="agreement_not_found")


def get_agreement(hub: Hub, principal: Principal, agreement_id: str) -> Agreement:
    principal.require(*_MANAGERS)
    _well_formed(agreement_id)
    with contracts_errors(), hub.reader.connect() as conn:
        latest = hub.agreement_store.get(conn, agreement_id)
    principal.visible(latest.district, f"no agreement {agreement_id}", "agreement_not_found")
    return latest


def agreement_history(hub: Hub, principal: Principal, agreement_id: str) -> list[Agreement]:
    """Every version, oldest first (a version's district never changes)."""
    principal.require(*_MANAGERS)
    _well_formed(agreement_id)
    with contracts_errors(), hub.reader.connect() as conn:
        versions = hub.agreement_store.history(conn, agreement_id)
    principal.visible(versions[0].district, f"no agreement {agreement_id}", "agreement_not_found")
    return versions


def export_agreements(hub: Hub, principal: Principal) -> str:
    """The latest version of every agreement in scope, in the import format."""
    return dump_agreements(list_agreements(hub, principal))


# -- changing ----------------------------------------------------------------------------------
def _changed(principal: Principal, agreement: Agreement, reason: str) -> AuditEvent:
    return principal.did(
        AuditAction.AGREEMENT_CHANGED,
        district=agreement.district,
        agreement=agreement.ref,
        reason=reason,
    )


class _OutOfScope(Exception):
    def __init__(self, agreement: Agreement, error: HubError) -> None:
        super().__init__(error.detail)
        self.agreement = agreement
        self.error = error


def _refuse(hub: Hub, principal: Principal, agreement: Agreement, error: HubError) -> HubError:
    """Record a refused change in a transaction of its own (the change itself rolled back)."""
    with hub.engine.begin() as conn:
        hub.guards.record(
            conn,
            [
                principal.did(
                    AuditAction.REFUSED,
                    district=agreement.district,
                    agreement=agreement.id,
                    outcome=Outcome.REFUSED,
                    reason=f"{error.reason}: agreement change outside {principal.scope_text()}",
                )
            ],
        )
    return error


def _check_districts(hub: Hub, principal: Principal, agreements: Sequence[Agreement]) -> None:
    for a in agreements:
        if not principal.covers(a.district):
            raise _refuse(
                hub,
                principal,
                a,
                Forbidden(
                    f"agreement {a.id} is of district {a.district}; {principal.name} acts for "
                    f"{principal.scope_text()} only. Nothing was stored.",
                    reason="district_not_allowed",
                ),
            )


def import_agreements(
    hub: Hub, principal: Principal, agreements: Sequence[Agreement]
) -> list[Agreement]:
    """Add new agreements, or new versions of existing ones, all or nothing."""
    principal.require(*_MANAGERS)
    _check_districts(hub, principal, agreements)
    stored: list[Agreement] = []
    store = hub.agreement_store
    try:
        with contracts_errors(), hub.engine.begin() as conn:
            for agreement in agreements:
                try:
                    latest = store.get(conn, agreement.id)
                except AgreementNotFoundError:
                    saved = store.add(conn, agreement, principal.name)
                    what = "added"
                else:
                    if not principal.covers(latest.district):
                        raise _OutOfScope(latest, _absent(agreement.id))
                    saved = store.update(conn, agreement, principal.name)
                    what = f"amended to version {saved.version}"
                stored.append(saved)
                hub.guards.record(conn, [_changed(principal, saved, what)])
    except _OutOfScope as out:
        raise _refuse(hub, principal, out.agreement, out.error) from None
    hub.guards.agreements.invalidate()
    return stored


def add_agreements(
    hub: Hub, agreements: Sequence[Agreement], actor: Principal | str
) -> list[Agreement]:
    """``import_agreements`` for in-process callers that name themselves (demo, tests)."""
    return import_agreements(hub, as_principal(actor), agreements)


def import_agreement_file(
    hub: Hub, principal: Principal, text: str, origin: str
) -> list[Agreement]:
    """Parse a strict agreement file and import it (the API's and the CLI's ``import``)."""
    principal.require(*_MANAGERS)
    return import_agreements(hub, principal, parse_agreements(hub, text, origin))


def add_new_agreements(hub: Hub, principal: Principal, text: str, origin: str) -> list[Agreement]:
    """Like an import, but an id that exists already is an error: nothing is amended."""
    principal.require(*_MANAGERS)
    items = parse_agreements(hub, text, origin)
    with contracts_errors(), hub.reader.connect() as conn:
        for a in items:
            try:
                hub.agreement_store.get(conn, a.id)
            except AgreementNotFoundError:
                continue
            raise InputError(f"agreement {a.id} exists; use `agreements import` to amend it")
    return import_agreements(hub, principal, items)


def revoke_agreement(hub: Hub, agreement_id: str, reason: str, actor: Principal | str) -> Agreement:
    """Revoke: a new version with the reason; waiting deliveries under it are refused."""
    principal = as_principal(actor)
    principal.require(*_MANAGERS)
    if not reason.strip():
        raise InputError("a revocation needs a reason")
    _well_formed(agreement_id)
    with contracts_errors(), hub.engine.begin() as conn:
        latest = hub.agreement_store.get(conn, agreement_id)
        principal.visible(latest.district, f"no agreement {agreement_id}", "agreement_not_found")
        revoked = hub.agreement_store.revoke(conn, agreement_id, reason, principal.name)
        hub.guards.record(conn, [_changed(principal, revoked, f"revoked: {reason}")])
    hub.guards.agreements.invalidate()
    return revoked
