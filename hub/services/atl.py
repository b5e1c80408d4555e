"""Working-time checks (ATL) as the faces use them: held payments, their release or rejection,
and the violations report of a period.

Who may act: an operator (every district) and a district administrator (the districts of its
token); a held payment of another district is absent (``NotFound``). A release or a rejection
needs a reason, is made once (a decided hold cannot be decided again) and is audited
(``released`` / ``rejected``) in the transaction that moves the delivery: released, it is
``pending`` and the relay sends it to UBW once; rejected, it is ``rejected`` (final: never
sent, no replay) with the reason.
Listings carry no personal data (hub ids, district, period, rules, hours; the assistant as the
first characters of the HMAC of their employee id) and are audited as ``viewed`` per client.
The report decrypts the period's shift reports under audit (``hub.atl.reading``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from hub.atl.config import LAW_DEFAULTS
from hub.atl.hold import PURPOSE, check_employments
from hub.atl.reading import load, months, reach
from hub.errors import InputError, NotFound
from hub.guards import AuditAction, per_subject
from hub.services.messages import made_by_hub
from hub.services.principal import Kind, Principal
from hub.storage import atl as atl_rows
from hub.storage import messages as message_rows
from hub.storage.atl import HoldRow

if TYPE_CHECKING:
    from hub.bootstrap import Hub

__all__ = ["HoldRow", "ReportRow", "decide_payment", "held_payments", "violations_report"]

_KINDS = (Kind.OPERATOR, Kind.DISTRICT_ADMIN)
DECISIONS = {"release": "released", "reject": "rejected"}


@dataclass(frozen=True)
class ReportRow:
    district: str
    provider: str
    assistant: str  # the first 16 hex characters of the HMAC of the employee id
    rule: str
    source: str
    start: str
    end: str
    hours: float
    limit: float | None


def _absent(delivery_id: str) -> NotFound:
    return NotFound(f"no held payment {delivery_id!r}", reason="not_found")


def held_payments(hub: Hub, principal: Principal, *, open_only: bool = True) -> list[HoldRow]:
    """The payments held by the working-time check (undecided ones unless ``open_only`` is
    False), of the principal's districts, audited as ``viewed``."""
    principal.require(*_KINDS)
    with hub.engine.begin() as conn:
        rows = atl_rows.list_holds(conn, principal.districts, open_only=open_only)
        _viewed(hub, conn, principal, rows)
    return rows


def decide_payment(
    hub: Hub, principal: Principal, delivery_id: str, *, decision: str, reason: str
) -> HoldRow:
    """``release`` (→ pending, sent to UBW once) or ``reject`` (→ rejected) a held payment."""
    principal.require(*_KINDS)
    if decision not in DECISIONS:
        raise InputError(f"decision: release or reject, not {decision!r}")
    if not reason.strip():
        raise InputError(
            f"a {decision} needs a reason: it is recorded in the audit trail",
            reason="reason_required",
        )
    if not made_by_hub(delivery_id):
        raise _absent(delivery_id)
    with hub.engine.begin() as conn:
        row = atl_rows.get_hold(conn, delivery_id)
        if row is None:
            raise _absent(delivery_id)
        principal.visible(row.district, _absent(delivery_id).detail)
        if not atl_rows.decide(
            conn,
            delivery_id,
            decision=DECISIONS[decision],
            by=principal.name,
            reason=reason,
            now=hub.clock(),
        ):
            raise InputError(
                f"payment {delivery_id} is not held (it is {row.state}"
                + (f", {row.decision} by {row.decided_by}" if row.decision else "")
                + ")",
                reason="not_held",
            )
        hub.guards.record(
            conn,
            per_subject(
                principal.did(
                    AuditAction.RELEASED if decision == "release" else AuditAction.REJECTED,
                    purpose=PURPOSE,
                    district=row.district,
                    message_id=row.message_id,
                    reason=reason,
                ),
                message_rows.subject_refs(conn, row.message_id),
            ),
        )
        decided = atl_rows.get_hold(conn, delivery_id)
    if decision == "release":
        hub.relay.wake()
    assert decided is not None
    return decided


def violations_report(
    hub: Hub, principal: Principal, *, period: str, district: str | None = None
) -> list[ReportRow]:
    """Every working-time violation of ``period`` (YYYY-MM) per provider and assistant."""
    principal.require(*_KINDS)
    try:
        first = date.fromisoformat(f"{period}-01")
    except ValueError as exc:
        raise InputError(f"--period: a month as YYYY-MM, not {period!r}") from exc
    last = date(first.year + first.month // 12, first.month % 12 + 1, 1).toordinal() - 1
    span = (first, date.fromordinal(last))
    if district is not None:
        principal.visible(district, f"no district {district!r}")
    rule_sets = hub.payment_check.rule_sets if hub.payment_check else LAW_DEFAULTS
    rows: list[ReportRow] = []
    with hub.engine.begin() as conn:
        in_period = atl_rows.reports(conn, district, months(*span))
        districts = sorted({r.district for _, _, r in in_period if principal.covers(r.district)})
        for d in districts:
            employments = {(p, a) for p, a, r in in_period if r.district == d}
            found = load(
                conn,
                hub.message_guards.keys,
                hub.message_guards.audit,
                actor=principal.name,
                purpose=PURPOSE,
                reason=f"atl report {period}",
                district=d,
                months_read=reach(*span),
            )  # every employment of the months in one query, then those of the period
            found = {e: reports for e, reports in found.items() if e in employments}
            rows += [
                ReportRow(
                    district=d,
                    provider=str(v["provider"]),
                    assistant=str(v["assistant"]),
                    rule=str(v["rule"]),
                    source=str(v["source"]),
                    start=str(v.get("from", "")),
                    end=str(v.get("to", "")),
                    hours=float(v["hours"]),  # type: ignore[arg-type]
                    limit=float(v["limit"]) if "limit" in v else None,  # type: ignore[arg-type]
                )
                for v in check_employments(found, rule_sets, span)
            ]
    return rows


def _viewed(hub: Hub, conn: Connection, principal: Principal, rows: Sequence[HoldRow]) -> None:
    events = []
    for row in rows:
        events += per_subject(
            principal.did(
                AuditAction.VIEWED,
                purpose=PURPOSE,
                district=row.district,
                message_id=row.message_id,
                reason="held payments listed",
            ),
            message_rows.subject_refs(conn, row.message_id),
        )
    if events:
        hub.guards.record(conn, events)
