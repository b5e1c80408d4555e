"""Receipts: what became of deliveries a destination took but has not yet acknowledged.

An adapter whose ``deliver`` answers ``Receipt(awaiting_receipt=True)`` (SDK: ``201`` means
"received and validated" only) leaves its delivery ``awaiting_receipt``, with ``sent_at`` and
the destination's reference. The relay calls :meth:`ReceiptChecker.run_once` on each pass;
it claims the deliveries whose poll is due (``hub.ports.ReceiptWaits``), asks each one's
adapter once (``hub.ports.ReceiptPoller.poll_receipt``: one quick request, no decryption, no
worker held while the recipient takes its time) and records:

- ``accepted`` → ``delivered`` (audited ``delivered``);
- ``rejected`` → ``dead`` with the receipt's reason (audited ``dead``);
- still pending, or the destination cannot be asked now → ``awaiting_receipt`` again, the next
  poll later and later (``RetryPolicy.next_receipt_poll``), until ``receipt_timeout_seconds``
  after ``sent_at``: then ``dead`` with reason ``receipt_timeout`` (audited ``dead``).

It depends on ports only (``UnitOfWork``, ``ReceiptWaits``, ``AuditLog``) and the adapters
by destination; ``hub.bootstrap`` wires it into the relay.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from audit.entry import AuditAction, AuditEvent, Outcome
from hub.envelope import DeliveryState, ReceiptState, ReceiptStatus
from hub.errors import HubError, PermanentDeliveryError, TransientDeliveryError
from hub.ingest.routing import RoutingTable
from hub.outbox.delivery import HUB_ACTOR, AttemptOutcome
from hub.outbox.records import OutcomeRow, WaitingDelivery
from hub.ports import Adapter, AuditLog, ReceiptPoller, ReceiptWaits, UnitOfWork, per_subject

log = logging.getLogger(__name__)

Tx = TypeVar("Tx")

IDLE_RECHECK = timedelta(seconds=1)  # after a pass that found nothing due


class ReceiptChecker(Generic[Tx]):
    def __init__(
        self,
        *,
        store: UnitOfWork[Tx],
        waits: ReceiptWaits[Tx],
        routing: RoutingTable,
        adapters: Callable[[str], Adapter],
        audit: AuditLog[Tx],
        clock: Callable[[], datetime],
        lease_seconds: float,
        batch: int,
        on_outcome: Callable[[AttemptOutcome], None] = lambda _o: None,
    ) -> None:
        self._store = store
        self._waits = waits
        self._routing = routing
        self._adapters = adapters
        self._audit = audit
        self._clock = clock
        self._lease = timedelta(seconds=lease_seconds)
        self._batch = batch
        self._on_outcome = on_outcome
        self._idle_until: datetime | None = None

    def run_once(self, *, max_batches: int = 5) -> int:
        """Poll the receipts now due; returns how many deliveries were polled."""
        now = self._clock()
        # Idle for at most IDLE_RECHECK of the clock as it reads now: a clock set back after
        # the pass that went idle must not hold the polls back by the size of the step.
        if self._idle_until is not None and now < self._idle_until <= now + IDLE_RECHECK:
            return 0
        polled = 0
        for _ in range(max_batches):
            with self._store.write() as tx:
                waiting = self._waits.claim_waiting(tx, self._clock(), self._lease, self._batch)
            polled += len(waiting)
            if waiting:
                self._record([(w, self._poll(w)) for w in waiting])
            if len(waiting) < self._batch:
                break
        self._idle_until = self._clock() + IDLE_RECHECK if not polled else None
        return polled

    def wake(self) -> None:
        """A delivery started waiting: look at once on the next pass."""
        self._idle_until = None

    def _poll(self, waiting: WaitingDelivery) -> ReceiptStatus | HubError:
        try:
            adapter = self._adapters(waiting.destination)
            if not isinstance(adapter, ReceiptPoller):
                return PermanentDeliveryError(
                    f"{waiting.destination}: its adapter cannot be asked for receipts",
                    reason="receipt_unsupported",
                )
            return adapter.poll_receipt(waiting.receipt_ref)
        except HubError as exc:
            return exc
        except Exception as exc:  # an adapter bug must not lose the delivery: ask again later
            log.exception("receipt poll of %s raised an untranslated error", waiting.destination)
            return TransientDeliveryError(
                f"adapter error {type(exc).__name__}", reason="adapter_error"
            )

    def _timeout(self, destination: str) -> float:
        try:
            adapter = self._adapters(destination)
        except HubError:
            return 0.0
        return adapter.receipt_timeout_seconds if isinstance(adapter, ReceiptPoller) else 0.0

    def _record(self, results: Sequence[tuple[WaitingDelivery, ReceiptStatus | HubError]]) -> None:
        now = self._clock()
        decided = [self._decide(w, result, now) for w, result in results]
        with self._store.write() as tx:
            recorded = self._waits.record_receipts(tx, now, [row for row, _, _ in decided])
            events = [e for row, _, ev in decided if row.delivery_id in recorded for e in ev]
            self._audit.record(tx, events)
        for row, outcome, _ in decided:
            if row.delivery_id in recorded and outcome is not None:
                self._on_outcome(outcome)

    def _decide(
        self, w: WaitingDelivery, result: ReceiptStatus | HubError, now: datetime
    ) -> tuple[OutcomeRow, AttemptOutcome | None, list[AuditEvent]]:
        """The row to record, the outcome (None while still waiting) and the audit entries."""
        if isinstance(result, ReceiptStatus) and result.state is ReceiptState.ACCEPTED:
            row = OutcomeRow(w.delivery_id, w.claim, DeliveryState.DELIVERED)
            events = _events(w, AuditAction.DELIVERED, Outcome.OK, w.receipt_ref)
        elif isinstance(result, ReceiptStatus) and result.state is ReceiptState.REJECTED:
            reason = result.reason or "receipt_rejected"
            detail = result.detail or f"the destination reports {result.status}"
            row = OutcomeRow(w.delivery_id, w.claim, DeliveryState.DEAD, None, detail, reason)
            events = _events(w, AuditAction.DEAD, Outcome.FAILED, reason)
        elif isinstance(result, PermanentDeliveryError):
            row = OutcomeRow(
                w.delivery_id, w.claim, DeliveryState.DEAD, None, result.detail, result.reason
            )
            events = _events(w, AuditAction.DEAD, Outcome.FAILED, result.reason)
        else:
            timeout = self._timeout(w.destination)
            if isinstance(result, ReceiptStatus):
                error, reason = f"the destination reports {result.status}", "receipt_pending"
            else:
                error, reason = result.detail, result.reason
            if now >= w.sent_at + timedelta(seconds=timeout):
                detail = f"no receipt within {timeout:g} s of sending; last: {error}"
                row = OutcomeRow(
                    w.delivery_id, w.claim, DeliveryState.DEAD, None, detail, "receipt_timeout"
                )
                events = _events(w, AuditAction.DEAD, Outcome.FAILED, "receipt_timeout")
            else:
                policy = self._routing.destination(w.destination).retry
                due = policy.next_receipt_poll(w.sent_at, now, timeout)
                waiting = DeliveryState.AWAITING_RECEIPT
                return OutcomeRow(w.delivery_id, w.claim, waiting, due, error, reason), None, []
        latency = (now - w.received_at).total_seconds()
        outcome = AttemptOutcome(w.delivery_id, w.destination, row.state, row.reason, latency)
        return row, outcome, events


def _events(
    w: WaitingDelivery, action: AuditAction, outcome: Outcome, reason: str | None
) -> list[AuditEvent]:
    return per_subject(
        AuditEvent(
            actor=HUB_ACTOR,
            action=action,
            purpose=w.purpose,
            district=w.district,
            agreement=w.agreement_ref,
            message_id=w.message_id,
            source=w.sender,
            destination=w.destination,
            outcome=outcome,
            reason=reason,
        ),
        w.subject_refs,
    )
