"""Legal holds: retention stopped for a district, or for one person in a district, until lifted.

A hold on a person is stored, as the audit trail keeps persons, only as the keyed HMAC of the
identity number (the number given is validated, canonicalized and hashed here; it is never
stored or logged). Placing and lifting need a reason and are audited
(``legal_hold_placed``/``legal_hold_lifted``, with the person's HMAC as the entry's subject);
the retention job (``hub.services.retention``) leaves held messages alone. Who: the district's
data-protection officer or administrator, or an operator, each within their districts; a
hold of a district outside the scope is reported as absent.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from hub.errors import Conflict, InputError, NotFound
from hub.guards import AuditAction
from hub.ingest.identity import parse_identity
from hub.services.principal import Kind, Principal
from hub.storage import legal_holds as rows
from hub.storage.legal_holds import LegalHold

if TYPE_CHECKING:
    from hub.bootstrap import Hub

__all__ = ["LegalHold", "lift_hold", "list_holds", "place_hold"]

_MAX_REASON = 200  # the audit trail's reason column
_KINDS = (Kind.OPERATOR, Kind.HUB_ADMIN, Kind.DPO, Kind.DISTRICT_ADMIN)


def _reason(text: str, what: str) -> str:
    reason = text.strip()
    if not reason:
        raise InputError(f"{what} needs a reason: it is audited", reason="reason_required")
    if len(reason) > _MAX_REASON:
        raise InputError(
            f"the reason is {len(reason)} characters; at most {_MAX_REASON}",
            reason="reason_too_long",
        )
    return reason


def place_hold(
    hub: Hub,
    principal: Principal,
    district: str,
    *,
    reason: str,
    subject: str | None = None,
    scheme: str = "se",
) -> LegalHold:
    """Stop retention for ``district`` (or, with ``subject``, for that person's messages in
    it) until the hold is lifted."""
    principal.require(*_KINDS)
    principal.visible(district, f"no district {district!r} in scope")
    why = _reason(reason, "a legal hold")
    ref = (
        hub.guards.hmacs.subject_ref(parse_identity(subject, scheme).canonical) if subject else None
    )
    hold = LegalHold(
        id=str(uuid.uuid4()),
        district=district,
        subject_ref=ref,
        reason=why,
        placed_by=principal.name,
        placed_at=hub.clock(),
        lifted_at=None,
        lifted_by=None,
        lift_reason=None,
    )
    with hub.engine.begin() as conn:
        rows.insert(conn, hold)
        hub.guards.record(
            conn,
            [
                principal.did(
                    AuditAction.LEGAL_HOLD_PLACED,
                    district=district,
                    subject_ref=ref,
                    reason=f"hold {hold.id}: {why}"[:_MAX_REASON],
                )
            ],
        )
    return hold


def lift_hold(hub: Hub, principal: Principal, hold_id: str, *, reason: str) -> LegalHold:
    """Lift a hold: its messages are shredded by the next run if past their retention."""
    principal.require(*_KINDS)
    why = _reason(reason, "lifting a legal hold")
    absent = NotFound(f"no legal hold {hold_id!r}", reason="not_found")
    with hub.engine.begin() as conn:
        hold = rows.get(conn, hold_id)
        if hold is None:
            raise absent
        principal.visible(hold.district, absent.detail)
        if not rows.lift(conn, hold_id, principal.name, why, hub.clock()):
            raise Conflict(f"legal hold {hold_id} was already lifted", reason="hold_lifted")
        hub.guards.record(
            conn,
            [
                principal.did(
                    AuditAction.LEGAL_HOLD_LIFTED,
                    district=hold.district,
                    subject_ref=hold.subject_ref,
                    reason=f"hold {hold.id}: {why}"[:_MAX_REASON],
                )
            ],
        )
        lifted = rows.get(conn, hold_id)
    assert lifted is not None
    return lifted


def list_holds(hub: Hub, principal: Principal, *, include_lifted: bool = False) -> list[LegalHold]:
    """The holds of the principal's districts (persons only as HMACs)."""
    principal.require(*_KINDS)
    with hub.reader.connect() as conn:
        return rows.listing(conn, principal.districts, include_lifted=include_lifted)
