"""Approving or rejecting a batch of time reports, a batch's status, reopening a locked period,
and registering the providers that report (issue 13 §1).

**Design: held deliveries, not a staging table.** A reported visit is stored at once as what
every message is: sealed under its district's data key, its persons as keyed HMACs, its
business keys, a ``received`` audit entry per person, and one delivery per destination of
``timereport.visit`` v2 in the state ``held`` (the type is ``held_for_approval``). Approval
moves the batch's held deliveries to ``pending`` in the transaction that marks the batch
approved; the relay sends them as any other, and the executor re-checks the agreement before
each one leaves. Rejection moves them to ``rejected`` (final, never sent) and keeps the reason
for the provider. A staging table would have needed its own sealing, key rotation, crypto-
shredding, art. 15 extracts and audit; held deliveries reuse all of them, and the overlap
checks and continuity statistics see every reported visit through the same business keys.

Nothing is forwarded twice: only a ``held`` batch can be decided (a conditional update, so of
two concurrent approvals one wins and the other gets ``409 batch_decided``), only ``held``
deliveries move, and each delivery is then sent once under its delivery id as idempotency key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from audit.entry import AuditAction
from hub.bootstrap import Hub
from hub.envelope import DeliveryState
from hub.errors import Conflict, InputError, NotFound
from hub.services.principal import Kind, Principal
from hub.services.timereports import provider_for
from hub.storage import timereports as rows

PERIOD = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


@dataclass(frozen=True)
class BatchStatus:
    batch: rows.BatchRow
    deliveries: dict[str, int]  # delivery state -> count


def _provider_row(hub: Hub, principal: Principal, provider: str | None) -> rows.ProviderRow:
    """A system acts for its own providers only; an operator (the CLI) for any."""
    if principal.kind is Kind.SYSTEM:
        return provider_for(hub, principal.name, provider)
    principal.require(Kind.OPERATOR)
    if provider is None:
        raise InputError("name the provider (--provider)", reason="provider_required")
    with hub.reader.connect() as conn:
        row = rows.provider_row(conn, provider)
    if row is None:
        raise NotFound(f"no provider {provider!r} reports time here", reason="provider_unknown")
    return row


def batch_status(
    hub: Hub, principal: Principal, batch_id: str, provider: str | None = None
) -> BatchStatus:
    row = _provider_row(hub, principal, provider)
    with hub.reader.connect() as conn:
        batch = rows.batch_row(conn, row.provider, batch_id)
        if batch is None:
            raise NotFound(f"no batch {batch_id!r} of {row.provider!r}", reason="batch_unknown")
        ids = rows.batch_messages(conn, row.provider, batch_id, batch.sender)
        states = rows.delivery_states(conn, list(ids))
    return BatchStatus(batch, states)


def decide_batch(
    hub: Hub,
    principal: Principal,
    batch_id: str,
    decision: Literal["approve", "reject"],
    *,
    provider: str | None = None,
    by: str | None = None,
    reason: str | None = None,
) -> BatchStatus:
    """Approve (forward the held time) or reject (never forward it, the reason kept for the
    provider) a held batch. ``by``: the provider's user who signed, recorded with the system."""
    row = _provider_row(hub, principal, provider)
    reason = (reason or "").strip() or None
    if decision == "reject" and reason is None:
        raise InputError("a rejection needs a reason for the provider", reason="reason_required")
    decided_by = f"{principal.name}:{by}" if by else principal.name
    now = hub.clock()
    approve = decision == "approve"
    with hub.engine.begin() as conn:
        batch = rows.batch_row(conn, row.provider, batch_id)
        if batch is None:
            raise NotFound(f"no batch {batch_id!r} of {row.provider!r}", reason="batch_unknown")
        state = "approved" if approve else "rejected"
        if not rows.decide(conn, row.provider, batch_id, state, decided_by, reason, now):
            raise Conflict(
                f"batch {batch_id!r} was {batch.state} already "
                f"({batch.decided_by or '?'}); it cannot be decided again",
                reason="batch_decided",
            )
        ids = rows.batch_messages(conn, row.provider, batch_id, batch.sender)
        target = DeliveryState.PENDING if approve else DeliveryState.REJECTED
        moved = rows.move_held(conn, ids, target, now, reason)
        destinations: dict[str, list[str]] = {}
        for _, message_id, destination in moved:
            destinations.setdefault(message_id, []).append(destination)
        events = [
            principal.did(
                AuditAction.TIME_APPROVED if approve else AuditAction.TIME_REJECTED,
                district=batch.district,
                purpose=hub.settings.timereport_purpose,
                message_id=message_id,
                subject_ref=ref,
                source=batch.sender,
                destination=",".join(destinations.get(message_id, ())) or None,
                reason=f"batch {batch_id} of {row.provider} by {decided_by}"
                + (f": {reason}" if reason else ""),
            )
            for message_id, refs in sorted(ids.items())
            for ref in _each(refs)
        ]
        hub.guards.record(conn, events)
    if approve:
        hub.relay.wake()
    return batch_status(hub, principal, batch_id, row.provider)


def _each(refs: list[str]) -> list[str | None]:
    """A message's persons for its audit entries (one without a person if it names none)."""
    return list(refs) if refs else [None]


def reopen_period(
    hub: Hub, principal: Principal, provider: str, period: str, reason: str
) -> rows.ProviderRow:
    """An officer reopens ``period`` (YYYY-MM) of ``provider`` after its lock date, for
    ``timereport_reopen_days`` days (audited with the reason)."""
    principal.require(Kind.OPERATOR)
    if not re.match(PERIOD, period):
        raise InputError(f"period {period!r}: give YYYY-MM, e.g. 2026-11", reason="period_invalid")
    if not reason.strip():
        raise InputError("reopening a period needs a reason", reason="reason_required")
    row = _provider_row(hub, principal, provider)
    now = hub.clock()
    until = now + timedelta(days=hub.settings.timereport_reopen_days)
    with hub.engine.begin() as conn:
        rows.reopen(conn, row.provider, period, reason.strip(), principal.name, now, until)
        hub.guards.record(
            conn,
            [
                principal.did(
                    AuditAction.PERIOD_REOPENED,
                    district=row.district,
                    purpose=hub.settings.timereport_purpose,
                    reason=f"{row.provider} {period} until {until.isoformat()}: {reason.strip()}",
                )
            ],
        )
    return row


def register_provider(
    hub: Hub,
    principal: Principal,
    provider: str,
    *,
    system: str,
    district: str,
    lock_day: int | None = None,
) -> None:
    """Let ``system`` report time for ``provider`` in ``district`` (audited)."""
    principal.require(Kind.OPERATOR)
    if lock_day is not None and not 1 <= lock_day <= 28:
        raise InputError("--lock-day: a day from 1 to 28", reason="lock_day_invalid")
    with hub.engine.begin() as conn:
        rows.save_provider(conn, provider, system, district, lock_day, hub.clock())
        hub.guards.record(
            conn,
            [
                principal.did(
                    AuditAction.SYSTEM_CHANGED,
                    district=district,
                    source=system,
                    reason=f"reports time for provider {provider}"
                    + (f" (lock day {lock_day})" if lock_day else ""),
                )
            ],
        )
