"""The delivery engine: one batch of claimed deliveries → decrypt → adapter → recorded outcome.

The same code runs in the embedded worker threads and in Celery workers (``worker.py``).
Per batch there are two write transactions, so round trips stay few:

1. *Prepare*: load the claimed rows (a stale claim is skipped), re-check each delivery's
   agreement **now** (a revoked or expired agreement stops a waiting message: ``refused``),
   decrypt, and audit ``decrypted``. Committed before anything leaves the hub: if the audit
   cannot be written, nothing is sent (the lease expires and the delivery is tried again).
2. *Send* each through its destination's adapter, outside any transaction. The delivery id is
   the idempotency key, so a repeat after a crash is harmless at the destination.
3. *Record* every outcome (``delivered``, ``retrying`` with the next time from the
   destination's retry policy, or ``dead`` with the reason) and its audit entry.

What an error means for a delivery comes from one table, ``hub.errors.ERROR_TABLE``.

The executor depends on ports only (``hub.ports``): the store's ``UnitOfWork`` and
``DeliveryAttempts``, and the ``MessageGuards``; ``hub.bootstrap`` picks their implementations.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from audit.entry import AuditAction, AuditEvent, Outcome
from hub.envelope import DeliveryState, OutboundDelivery, Receipt
from hub.errors import (
    GuardUnavailable,
    HubError,
    OnDelivery,
    PermanentDeliveryError,
    TransientDeliveryError,
    audit_reason,
    policy_for,
)
from hub.ingest.routing import RoutingTable
from hub.keys import crypto
from hub.outbox.adapter_pool import AdapterPool
from hub.outbox.records import ClaimedDelivery, OutcomeRow
from hub.ports import DeliveryAttempts, MessageGuards, UnitOfWork, per_subject

log = logging.getLogger(__name__)

Tx = TypeVar("Tx")

HUB_ACTOR = "omsorgshub"  # the actor of accesses the hub makes on its own (decrypt, deliver)


@dataclass(frozen=True)
class AttemptOutcome:
    delivery_id: str
    destination: str
    state: DeliveryState
    reason: str | None = None
    latency_seconds: float | None = None  # from receipt of the message to delivery


@dataclass
class _Prepared:
    claimed: ClaimedDelivery
    outbound: OutboundDelivery
    subjects: Sequence[str]
    agreement_ref: str | None


class DeliveryExecutor(Generic[Tx]):
    def __init__(
        self,
        *,
        store: UnitOfWork[Tx],
        deliveries: DeliveryAttempts[Tx],
        routing: RoutingTable,
        adapters: AdapterPool,
        guards: MessageGuards[Tx],
        clock: Callable[[], datetime],
        on_outcome: Callable[[AttemptOutcome], None] = lambda _o: None,
    ) -> None:
        self._store = store
        self._deliveries = deliveries
        self._routing = routing
        self._adapters = adapters
        self._guards = guards
        self._clock = clock
        self._on_outcome = on_outcome

    def execute(self, claims: Sequence[tuple[str, int]]) -> list[AttemptOutcome]:
        prepared, outcomes = self._prepare(claims)
        results: list[tuple[_Prepared, Receipt | HubError]] = []
        for item in prepared:
            results.append((item, self._send(item)))
        outcomes.extend(self._record(results))
        for outcome in outcomes:
            self._on_outcome(outcome)
        return outcomes

    # -- 1. prepare ---------------------------------------------------------------------------
    def _prepare(
        self, claims: Sequence[tuple[str, int]]
    ) -> tuple[list[_Prepared], list[AttemptOutcome]]:
        now = self._clock()
        prepared: list[_Prepared] = []
        outcomes: list[AttemptOutcome] = []
        with self._store.write() as tx:
            events: list[AuditEvent] = []
            for claimed in self._deliveries.load(tx, claims):
                d = claimed.delivery
                refs = claimed.subject_refs
                policy = self._routing.destination(d.destination).retry
                try:
                    if d.attempts > policy.max_attempts:
                        # Claimed again and again without an outcome: its worker keeps dying.
                        raise PermanentDeliveryError(
                            policy.exhausted_reason(d.attempts - 1), reason="attempts_exhausted"
                        )
                    decision = self._guards.agreements.check_delivery(
                        tx,
                        district=claimed.district,
                        recipient=d.destination,
                        purpose=claimed.purpose,
                        message_type=claimed.message_type,
                        categories=claimed.categories,
                        at=now,
                        sender=claimed.sender,
                    )
                    document = self._decrypt(tx, claimed)
                except GuardUnavailable:
                    # Fail closed for the whole batch: nothing is sent or recorded; the leases
                    # expire and the sweeper offers the deliveries again.
                    raise
                except HubError as exc:
                    refused = policy_for(exc).on_delivery is OnDelivery.REFUSE
                    final = DeliveryState.REFUSED if refused else DeliveryState.DEAD
                    outcomes.append(self._finish_early(tx, claimed, exc, final, now))
                    events.extend(
                        self._events(
                            claimed,
                            refs,
                            AuditAction.REFUSED if refused else AuditAction.DEAD,
                            None,
                            outcome=Outcome.REFUSED if refused else Outcome.FAILED,
                            reason=audit_reason(exc),
                        )
                    )
                    continue
                events.extend(
                    self._events(claimed, refs, AuditAction.DECRYPTED, decision.agreement_ref)
                )
                prepared.append(
                    _Prepared(
                        claimed,
                        OutboundDelivery(
                            delivery_id=d.id,
                            message_id=d.message_id,
                            message_type=claimed.message_type,
                            version=claimed.version,
                            district=claimed.district,
                            purpose=claimed.purpose,
                            sender=claimed.sender,
                            destination=d.destination,
                            attempt=d.attempts,
                            document=document,
                            created_at=claimed.received_at,
                        ),
                        refs,
                        decision.agreement_ref,
                    )
                )
            self._guards.audit.record(tx, events)
        return prepared, outcomes

    def _decrypt(self, tx: Tx, claimed: ClaimedDelivery) -> bytes:
        key = self._guards.keys.key(tx, claimed.district, claimed.key_version)
        aad = crypto.payload_aad(
            claimed.delivery.message_id, claimed.district, claimed.message_type, key.version
        )
        return crypto.unseal(key.key, claimed.ciphertext, aad)

    def _finish_early(
        self,
        tx: Tx,
        claimed: ClaimedDelivery,
        exc: HubError,
        state: DeliveryState,
        now: datetime,
    ) -> AttemptOutcome:
        d = claimed.delivery
        self._deliveries.record(
            tx, now, [OutcomeRow(d.id, d.claim, state, None, exc.detail, exc.reason)]
        )
        log.warning("delivery %s to %s %s: %s", d.id, d.destination, state.value, exc)
        return AttemptOutcome(d.id, d.destination, state, exc.reason)

    # -- 2. send ------------------------------------------------------------------------------
    def _send(self, item: _Prepared) -> Receipt | HubError:
        destination = item.outbound.destination
        try:
            return self._adapters.get(destination).deliver(item.outbound)
        except HubError as exc:
            return exc
        except Exception as exc:  # an adapter bug must not lose the delivery: retry, loudly
            log.exception("adapter for %s raised an untranslated error", destination)
            return TransientDeliveryError(
                f"adapter error {type(exc).__name__}", reason="adapter_error"
            )

    # -- 3. record ----------------------------------------------------------------------------
    def _record(
        self, results: Sequence[tuple[_Prepared, Receipt | HubError]]
    ) -> list[AttemptOutcome]:
        """Record the batch's outcomes with their audit entries, in one transaction."""
        if not results:
            return []
        now = self._clock()
        decided = [self._decide(item, result, now) for item, result in results]
        with self._store.write() as tx:
            recorded = self._deliveries.record(tx, now, [row for row, _, _ in decided])
            outcomes: list[AttemptOutcome] = []
            events: list[AuditEvent] = []
            for row, outcome, item_events in decided:
                if row.delivery_id not in recorded:
                    # The lease expired and the delivery was claimed again: the newer claim
                    # owns the outcome; this attempt's wire delivery is de-duplicated by the
                    # destination on the delivery id.
                    log.info("stale claim %s for delivery %s", row.claim, row.delivery_id)
                    continue
                outcomes.append(outcome)
                events.extend(item_events)
            self._guards.audit.record(tx, events)
        return outcomes

    def _decide(
        self, item: _Prepared, result: Receipt | HubError, now: datetime
    ) -> tuple[OutcomeRow, AttemptOutcome, list[AuditEvent]]:
        """What an attempt's result means: the row to record, the outcome, the audit."""
        claimed = item.claimed
        d = claimed.delivery
        if isinstance(result, Receipt) and result.awaiting_receipt:
            # Taken, not yet acknowledged: the relay polls the receipt (hub.outbox.receipts).
            policy = self._routing.destination(d.destination).retry
            row = OutcomeRow(
                d.id, d.claim, DeliveryState.AWAITING_RECEIPT,
                next_attempt_at=now + timedelta(seconds=policy.base_seconds),
                receipt_ref=result.reference, sent_at=now,
            )  # fmt: skip
            events = self._events(
                claimed, item.subjects, AuditAction.SENT, item.agreement_ref,
                reason=result.reference,
            )  # fmt: skip
        elif isinstance(result, Receipt):
            row = OutcomeRow(d.id, d.claim, DeliveryState.DELIVERED, receipt_ref=result.reference)
            events = self._events(
                claimed,
                item.subjects,
                AuditAction.DELIVERED,
                item.agreement_ref,
                reason=result.reference,
            )
        else:
            error, when = result.detail, None
            if policy_for(result).on_delivery is OnDelivery.RETRY:
                policy = self._routing.destination(d.destination).retry
                when = policy.next_attempt(d.attempts, d.created_at, now)
                if when is None:
                    error = f"{policy.exhausted_reason(d.attempts)}; last error: {result.detail}"
            state = DeliveryState.RETRYING if when else DeliveryState.DEAD
            row = OutcomeRow(d.id, d.claim, state, when, error, result.reason)
            events = self._events(
                claimed,
                item.subjects,
                AuditAction.DELIVERY_FAILED if when else AuditAction.DEAD,
                item.agreement_ref,
                outcome=Outcome.FAILED,
                reason=result.reason,
            )
        latency = (now - claimed.received_at).total_seconds()
        outcome = AttemptOutcome(d.id, d.destination, row.state, row.reason, latency)
        return row, outcome, events

    @staticmethod
    def _events(
        claimed: ClaimedDelivery,
        subjects: Sequence[str],
        action: AuditAction,
        agreement_ref: str | None,
        *,
        outcome: Outcome = Outcome.OK,
        reason: str | None = None,
    ) -> list[AuditEvent]:
        d = claimed.delivery
        return per_subject(
            AuditEvent(
                actor=HUB_ACTOR,
                action=action,
                purpose=claimed.purpose,
                district=claimed.district,
                agreement=agreement_ref,
                message_id=d.message_id,
                source=claimed.sender,
                destination=d.destination,
                outcome=outcome,
                reason=reason,
            ),
            subjects,
        )
