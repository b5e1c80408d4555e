"""The small interfaces the pipeline, the delivery engine and the relay depend on.

Two families:

- **Adapters and dispatchers**: ``Adapter``, ``LookupAdapter``, ``ProtectedPersonsSource``,
  ``Dispatcher``.
- **The guards and the store** as the message path sees them. ``UnitOfWork`` opens
  transactions; every other store or guard port takes the transaction handle it yields (``Tx``)
  and works inside it, never committing on its own, so a message, its deliveries and its audit
  entries are written together. The handle is opaque here: the message path only passes it on.
  ``MessageGuards`` bundles the three guards the message path consults (agreements, keys,
  audit), each of which fails closed with ``GuardUnavailable``.

Beside them, ``Admission``: the checks a message type declares for itself (time reports),
which run before the write transaction and bring their own reads.

Concrete implementations are chosen in ``hub.bootstrap`` (the one composition root): the
SQLAlchemy-backed store in ``hub.storage.sql_store``, the guards in ``hub.guards``. Nothing on
the message path imports SQLAlchemy or ``hub.storage`` (checked by
``tests/unit/test_architecture.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Generic, Protocol, TypeVar, runtime_checkable

from audit.checkpoint import Checkpoint
from audit.entry import AuditEvent
from contracts.policy import Decision
from hub.envelope import (
    InboundDocument,
    LookupRequest,
    LookupResult,
    OutboundDelivery,
    ProtectedPerson,
    Receipt,
    ReceiptStatus,
)
from hub.errors import HubError
from hub.ingest.records import NewMessage, StoredMessage
from hub.keys.versions import DataKey
from hub.outbox.records import ClaimedDelivery, OutcomeRow, WaitingDelivery
from schemas.envelope import ParsedEnvelope

Tx = TypeVar("Tx")
Tx_contra = TypeVar("Tx_contra", contravariant=True)


@runtime_checkable
class Adapter(Protocol):
    """One destination system kind. ``deliver`` raises ``TransientDeliveryError`` or
    ``PermanentDeliveryError`` (hub.errors) on failure; it never returns a failure value.

    ``open``/``close`` make and release connections, WSDL clients and the like: a constructor
    only stores settings (Celery forks workers after import).
    """

    name: str

    def open(self) -> None: ...

    def close(self) -> None: ...

    def deliver(self, delivery: OutboundDelivery) -> Receipt: ...


@runtime_checkable
class LookupAdapter(Protocol):
    """A system the hub can ask synchronously (the contact centre's lookups). Same error
    contract as ``Adapter.deliver``: transient/permanent ``DeliveryError``s, never a failure
    value. An adapter may implement both protocols."""

    name: str

    def open(self) -> None: ...

    def close(self) -> None: ...

    def lookup(self, request: LookupRequest) -> LookupResult: ...


@runtime_checkable
class ProtectedPersonsSource(Protocol):
    """A case system that publishes whom a district marks with protected identity
    (``hub.services.protected_sync`` keeps the hub's marks in step with it). ``protected_persons``
    answers the district's whole list now, each person once; a person not in it is not marked.
    It never answers a partial list: a failure raises, as ``Adapter.deliver`` does
    (transient/permanent ``DeliveryError``; ``ConfigError`` when this instance's contract
    lacks the operation). Methods only, so that the sync can ask an adapter class
    (``issubclass``) before it opens an instance."""

    def protected_persons(self, district: str) -> list[ProtectedPerson]: ...


@runtime_checkable
class ReceiptPoller(Protocol):
    """An adapter whose ``deliver`` may answer ``Receipt(awaiting_receipt=True)``: the relay
    asks it later what became of the delivery. ``poll_receipt`` is one quick request, never a
    wait; it raises ``TransientDeliveryError`` when the system cannot be asked now (asked
    again later) and ``PermanentDeliveryError`` when it never can. A delivery still pending
    ``receipt_timeout_seconds`` after it was handed over is dead (``receipt_timeout``)."""

    receipt_timeout_seconds: float

    def poll_receipt(self, reference: str) -> ReceiptStatus: ...


@runtime_checkable
class InboxPoller(Protocol):
    """An adapter that also pulls messages for the hub (an SDK functional mailbox).

    ``poll_inbox`` answers the envelopes of the messages waiting whose key ``known`` does not
    know yet (so a message ingested already is not fetched again); ``inbox_interval`` is how
    often to ask (seconds), ``None`` when this instance has no inbox."""

    inbox_interval: float | None

    def poll_inbox(self, known: Callable[[str, str], bool]) -> list[InboundDocument]: ...


class AdapterFactory(Protocol):
    """What the adapter registry resolves a name to: a class taking the instance's settings."""

    def __call__(self, name: str, options: Mapping[str, object]) -> Adapter: ...


class Dispatcher(Protocol):
    """Carries claimed delivery ids to whatever executes them (in-process pool or Celery).

    A dispatcher never carries payloads. Losing a batch is allowed: the sweeper re-claims
    deliveries whose lease expired.
    """

    def dispatch(self, claims: Sequence[tuple[str, int]]) -> None:
        """Hand over ``(delivery_id, claim)`` pairs. ``claim`` fences stale workers."""
        ...

    def capacity(self) -> int:
        """How many more batches it takes now. The relay claims no more than that, so claims
        do not wait in a local queue while their lease runs out."""
        ...

    def close(self) -> None: ...


# -- the store ----------------------------------------------------------------------------------


class UnitOfWork(Protocol[Tx]):
    """Transactions of the store; the handle they yield is what the other ports take.

    ``write`` begins a write transaction that commits when the block ends and rolls back when
    it raises. Writers queue rather than fail (SQLite: an in-process lock, then ``BEGIN
    IMMEDIATE``). ``read`` gives a read-only transaction that never waits for a writer.
    ``savepoint`` isolates part of a write transaction: an error inside rolls back only that
    part and propagates (ingest writes a batch in one, and retries one message per savepoint
    when a sender's key was taken). Failing to reach the store raises from the block.
    """

    def write(self) -> AbstractContextManager[Tx]: ...

    def read(self) -> AbstractContextManager[Tx]: ...

    def savepoint(self, tx: Tx) -> AbstractContextManager[object]: ...


class MessageWrites(Protocol[Tx_contra]):
    """Ingest's write: messages with their subjects and one ``pending`` delivery per
    destination, in as few statements as the store allows (three per batch in SQL)."""

    def insert(self, tx: Tx_contra, batch: Sequence[NewMessage]) -> None:
        """Insert all of ``batch`` or raise: ``hub.errors.Conflict`` when a (sender, message
        id) was already taken (the caller answers those as repeats); the caller's savepoint
        is then to be rolled back."""
        ...


class FollowUps(Protocol[Tx_contra]):
    """What ingest writes beside a batch of new messages, in the same transaction and
    savepoint, after ``MessageWrites.insert``: the referral follow-up (``hub.referrals``) opens
    a callback deadline for a referral and closes the referral a message answers, found by
    its business keys. Raising rolls back the batch with it."""

    def stored(self, tx: Tx_contra, batch: Sequence[NewMessage]) -> None: ...


class Admission(Protocol):
    """A message type's own checks before ingest may store a message of it (the type names
    them: ``MessageType.admission``), after the agreement allowed the sender: time reports'
    orders, overlaps and lock date (``hub.timereports.admission``). ``admit`` raises a
    ``HubError`` to refuse (an ``InputError`` with the findings; ``GuardUnavailable`` when
    what it asks cannot answer) and audits its own refusal; it returns to let the message on.
    It runs outside ingest's write transaction and never for a sender's repeat."""

    def admit(self, sender: str, envelope: ParsedEnvelope) -> None: ...


class IdempotencyLookup(Protocol[Tx_contra]):
    """Finding a repeat: the message a sender already stored under its message id."""

    def find(self, tx: Tx_contra, sender: str, key: str) -> StoredMessage | None: ...

    def deliveries(self, tx: Tx_contra, message_id: str) -> list[tuple[str, str]]:
        """``(delivery id, destination)`` of a stored message, in destination order."""
        ...


class OutboxClaims(Protocol[Tx_contra]):
    """The relay's side of the outbox: claim due deliveries, sweep expired leases.

    ``claim`` puts up to ``limit`` due deliveries ``in_flight`` under a lease of ``lease``,
    bumps each one's claim counter and attempt count, and returns ``(delivery id, claim,
    destination)``; several relays may claim side by side where the store allows it
    (``SKIP LOCKED``). ``sweep`` makes in-flight deliveries whose lease ran out due again and
    says how many: a lost batch is delayed, never lost. Before that it moves back the due
    times and leases that a clock ahead of ``now`` wrote (a stepped clock delays by seconds,
    not by the size of the step).
    """

    def claim(
        self, tx: Tx_contra, now: datetime, lease: timedelta, limit: int
    ) -> list[tuple[str, int, str]]: ...

    def sweep(self, tx: Tx_contra, now: datetime) -> int: ...


class DeliveryAttempts(Protocol[Tx_contra]):
    """The delivery executor's side of the outbox: load claimed rows, record outcomes.

    ``load`` returns the deliveries still held by these ``(delivery id, claim)`` pairs with
    their message (and its data subjects); a stale claim is left out. ``record`` writes each
    outcome only where its claim still holds (the claim fence: a worker presumed dead never
    overwrites a newer attempt) and returns the delivery ids it recorded.
    """

    def load(self, tx: Tx_contra, claims: Sequence[tuple[str, int]]) -> list[ClaimedDelivery]: ...

    def record(self, tx: Tx_contra, now: datetime, outcomes: Sequence[OutcomeRow]) -> set[str]: ...


class ReceiptWaits(Protocol[Tx_contra]):
    """The receipt poller's side of the outbox (``hub.outbox.receipts``).

    ``claim_waiting`` takes up to ``limit`` ``awaiting_receipt`` deliveries whose poll is due,
    bumps each one's claim counter and moves its next poll ``lease`` ahead (so that no other
    relay polls it meanwhile; a poller that dies only delays the poll). ``record_receipts``
    writes each outcome where its claim still holds and it still awaits its receipt, and
    returns the ids it recorded: ``delivered``, ``dead``, or ``awaiting_receipt`` again with
    the next poll time.
    """

    def claim_waiting(
        self, tx: Tx_contra, now: datetime, lease: timedelta, limit: int
    ) -> list[WaitingDelivery]: ...

    def record_receipts(
        self, tx: Tx_contra, now: datetime, outcomes: Sequence[OutcomeRow]
    ) -> set[str]: ...


# -- the guards ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonsNamed:
    """One message's part in the confidentiality check: who sends it, for what, and the keyed
    references (HMACs) of the persons it names."""

    district: str
    sender: str
    purpose: str
    message_type: str
    at: datetime
    subjects: Sequence[str]


class AgreementDecisions(Protocol[Tx_contra]):
    """Default deny, as the message path asks it. Both verbs return an allowing ``Decision``
    (its ``agreement_ref`` is stored and audited) or raise ``ContractRefusal`` with the
    refusal code; an agreement store that cannot be read raises ``GuardUnavailable``.

    ``check_ingest``: the sender may send this, and every recipient may receive it, under one
    agreement. ``reads`` opens a read transaction only if the store must be read (agreements are
    nearly always cached). ``check_confidentiality``: for each of a batch of messages, in the
    caller's write transaction, whether it names a person with protected identity (``True``,
    allowed by an agreement for its purpose), names none (``False``), or is refused
    (``ContractRefusal`` ``protected_identity``, returned in its place); one read of the marks
    per district of the batch. ``check_delivery``: the recipient may still receive it now, in
    the caller's transaction (a revoked or expired agreement stops a waiting delivery).
    """

    def check_ingest(
        self,
        reads: Callable[[], AbstractContextManager[Tx_contra]],
        *,
        district: str,
        sender: str,
        purpose: str,
        message_type: str,
        categories: Sequence[str],
        consent: bool,
        recipients: Sequence[str],
        at: datetime,
    ) -> Decision: ...

    def check_confidentiality(
        self, tx: Tx_contra, messages: Sequence[PersonsNamed]
    ) -> list[bool | HubError]: ...

    def check_delivery(
        self,
        tx: Tx_contra,
        *,
        district: str,
        recipient: str,
        purpose: str,
        message_type: str,
        categories: Sequence[str],
        at: datetime,
        sender: str | None = None,
    ) -> Decision: ...


class DataKeys(Protocol[Tx_contra]):
    """Per-district data keys. ``current_key`` is the key to seal under now (made, and audited
    as ``key_created`` by ``actor``, on a district's first use); ``key`` is a version to open
    with (``KeyShredded`` if destroyed, ``NotFound`` if never made). A key store that cannot
    be reached raises ``GuardUnavailable``."""

    def current_key(self, tx: Tx_contra, district: str, actor: str) -> DataKey: ...

    def key(self, tx: Tx_contra, district: str, version: int) -> DataKey: ...


class AuditLog(Protocol[Tx_contra]):
    """Append audit entries in the caller's transaction, so the action and its record commit
    together. An audit trail that cannot be written raises ``GuardUnavailable``: the action
    then rolls back and nothing leaves the hub."""

    def record(self, tx: Tx_contra, events: Sequence[AuditEvent]) -> None: ...


def per_subject(event: AuditEvent, subject_refs: Sequence[str]) -> list[AuditEvent]:
    """``event`` once per data subject, so a person's art. 15 extract finds every access to
    their data; once without a subject when the message names none."""
    if not subject_refs:
        return [event]
    return [replace(event, subject_ref=ref) for ref in subject_refs]


class AuditCheckpoints(Protocol[Tx_contra]):
    """Signed checkpoints of the audit trail, as the relay makes them when due: ``checkpoint``
    inside a write transaction, ``publish_checkpoint`` outside the database after commit;
    then ``publish_to_witnesses`` anchors them outside the host, and ``record_anchor`` notes
    (in a write transaction) how far the required witnesses hold the trail."""

    def checkpoint_due(self, tx: Tx_contra) -> bool: ...

    def checkpoint(self, tx: Tx_contra) -> Checkpoint | None: ...

    def publish_checkpoint(self, cp: Checkpoint) -> None: ...

    def publish_to_witnesses(self) -> int | None: ...

    def record_anchor(self, tx: Tx_contra, seq: int) -> None: ...


@dataclass
class MessageGuards(Generic[Tx]):
    """The three guards the message path consults, one object shared by ingest and delivery
    so that both go through the same checks. ``hub.bootstrap`` fills it (with ``hub.guards``);
    the benchmark's "guards off" fills it with pass-through objects."""

    agreements: AgreementDecisions[Tx]
    keys: DataKeys[Tx]
    audit: AuditLog[Tx]
