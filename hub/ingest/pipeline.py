"""Ingest: validate → authorize → encrypt and store.

    parse + validate (schemas/)          hostile or invalid XML never gets further
    identity numbers → keyed HMACs       header and body (hub.ingest.subjects): invalid numbers
                                         and a header that names other persons than the body
                                         refused; the numbers are never stored
    routing                              which destinations (hub.ingest.routing)
    authorize (contracts/ via Guards)    default deny: sender, purpose, type, categories,
                                         consent, and every recipient
    admission                            the type's own checks, if it names any
                                         (hub.ingest.admission: time reports)
    business keys                        the type's declared values (hub.ingest.keys), keyed
                                         HMACs where protected
    one transaction:                     confidentiality (a person with protected identity
                                         needs an agreement for the purpose: the marks are
                                         read here, once per district of the batch),
                                         idempotency, data key, AES-256-GCM seal,
                                         message + subjects + keys + deliveries (the outbox)
                                         + follow-ups (referral deadlines) + audit

The first four steps are CPU work in the caller's thread. The last is *group commit*
(``GroupCommitter``): concurrent requests are written together, each in a savepoint of one
shared transaction, so one fsync serves many messages. A message's own failure (a repeated
idempotency key, a race) rolls back only its savepoint; a failure of the shared part (the
audit append, the commit) fails every message of the batch, and none is acknowledged.

A refusal after the envelope was read is audited: before the write in a transaction of its own,
in the write (confidentiality) with the batch. The sender is the authenticated system, never
what the document claims.

The pipeline depends on ports only (``hub.ports``): the store's ``UnitOfWork``,
``MessageWrites`` and ``IdempotencyLookup``, and the ``MessageGuards``. ``hub.bootstrap``
picks their implementations; ``Tx`` is the store's transaction handle, passed on unopened.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Generic, TypeVar

from audit.entry import AuditAction, AuditEvent, Outcome
from hub.errors import (
    ConfigError,
    Conflict,
    ContractRefusal,
    GuardUnavailable,
    HubError,
    IdempotencyConflict,
    InputError,
)
from hub.ingest.admission import Admissions
from hub.ingest.group_commit import GroupCommitter
from hub.ingest.ids import new_id
from hub.ingest.keys import stored_keys
from hub.ingest.prepared import IngestResult, Prepared, log_refusal, refusal_events
from hub.ingest.records import NewMessage, StoredMessage
from hub.ingest.routing import RoutingTable
from hub.ingest.schema_errors import translate_schema_error
from hub.ingest.subjects import named_subjects
from hub.keys import crypto
from hub.keys.crypto import Hmacs
from hub.ports import (
    Admission,
    FollowUps,
    IdempotencyLookup,
    MessageGuards,
    MessageWrites,
    UnitOfWork,
    per_subject,
)
from schemas.envelope import ParsedEnvelope, read_envelope
from schemas.errors import SchemaDefinitionError, SchemaError
from schemas.parser import ParseLimits
from schemas.registry import Registry

log = logging.getLogger(__name__)

Tx = TypeVar("Tx")


class Ingestor(Generic[Tx]):
    def __init__(
        self,
        *,
        store: UnitOfWork[Tx],
        messages: MessageWrites[Tx],
        repeats: IdempotencyLookup[Tx],
        registry: Registry,
        routing: RoutingTable,
        limits: ParseLimits,
        guards: MessageGuards[Tx],
        hmacs: Hmacs,
        clock: Callable[[], datetime],
        on_stored: Callable[[], None] = lambda: None,
        max_batch: int = 200,
        commit_wait_seconds: float = 0.0,
        commit_gather_seconds: float = 0.0,
        follow_ups: FollowUps[Tx] | None = None,
        admissions: Mapping[str, Admission] | None = None,
    ) -> None:
        self._store = store
        self._messages = messages
        self._repeats = repeats
        self._registry = registry
        self._routing = routing
        self._limits = limits
        self._guards = guards
        self._hmacs = hmacs
        self._clock = clock
        self._follow_ups = follow_ups
        self._admissions = Admissions(admissions or {}, registry, store, repeats)
        self._on_stored = on_stored
        self._committer: GroupCommitter[Tx, Prepared, IngestResult] = GroupCommitter(
            store.write,
            self._write,
            max_batch=max_batch,
            wait_seconds=commit_wait_seconds,
            gather_seconds=commit_gather_seconds,
            on_committed=on_stored,
        )

    # -- the public verbs -----------------------------------------------------------------------
    def ingest(self, sender: str, data: bytes) -> IngestResult:
        """Check and store one message; returns once it is committed."""
        return self._committer.prepare_and_submit(lambda: self.prepare(sender, data))

    def ingest_many(self, sender: str, documents: Sequence[bytes]) -> list[IngestResult | HubError]:
        """Check and store several messages of one sender, committed together. A refused
        message gives its error in its place; the others are stored."""
        results: dict[int, IngestResult | HubError] = {}
        ready: list[tuple[int, Prepared]] = []
        for i, data in enumerate(documents):
            try:
                ready.append((i, self.prepare(sender, data)))
            except HubError as exc:
                results[i] = exc
        stored = self._committer.submit_many([p for _, p in ready])
        results.update(zip((i for i, _ in ready), stored, strict=True))
        return [results[i] for i in range(len(documents))]

    def store_all(self, prepared: Sequence[Prepared]) -> list[IngestResult]:
        """Store prepared messages in one transaction of their own, all or none (a batch of
        time reports): the first message's error rolls every one back and is raised (a
        refusal audited again on its own, as its entries rolled back with the batch)."""
        failed: tuple[Prepared, HubError] | None = None
        try:
            with self._store.write() as tx:
                results = self._write(tx, list(prepared))
                failed = next(
                    ((p, r) for p, r in zip(prepared, results, strict=True)
                     if isinstance(r, HubError)),
                    None,
                )  # fmt: skip
                if failed is not None:
                    raise failed[1]
        except ContractRefusal as exc:
            if failed is not None and failed[1] is exc:  # refused in the write, rolled back
                p = failed[0]
                self._record_refusal(p.sender, p.envelope, p.subject_refs, exc)
            raise
        self._on_stored()
        return [r for r in results if isinstance(r, IngestResult)]

    def read(self, data: bytes) -> ParsedEnvelope:
        try:
            return read_envelope(data, self._registry, self._limits)
        except SchemaError as exc:
            raise translate_schema_error(exc) from exc
        except SchemaDefinitionError as exc:  # our own XSD is broken: not the sender's fault
            raise ConfigError(str(exc), reason="schema_definition_broken") from exc

    # -- checks without writes ------------------------------------------------------------------
    def prepare(self, sender: str, data: bytes, *, admitted: bool = False) -> Prepared:
        """Every check that needs no write. ``admitted``: the caller ran the type's admission
        checks itself, over a whole batch (``hub.services.timereports``); no face passes it."""
        envelope = self.read(data)
        subject_refs = self._subject_refs(sender, envelope)
        now = self._clock()
        try:
            destinations = self._routing.destinations_for(
                envelope.message_type, envelope.district, envelope.recipients
            )
            decision = self._guards.agreements.check_ingest(
                self._store.read,
                district=envelope.district,
                sender=sender,
                purpose=envelope.purpose,
                message_type=envelope.message_type,
                categories=sorted(envelope.message_type_info.categories),
                consent=envelope.consent is not None,
                recipients=destinations,
                at=now,
            )
        except (ContractRefusal, InputError) as exc:
            self._audit_refusal(sender, envelope, subject_refs, exc)
            raise
        if not admitted:
            self._admissions.admit(sender, envelope)  # audits its own refusals
        return Prepared(
            sender=sender,
            envelope=envelope,
            destinations=destinations,
            subject_refs=subject_refs,
            digest=self._digest(envelope),
            agreement_ref=decision.agreement_ref,
            received_at=now,
            business_keys=stored_keys(envelope, self._hmacs),
        )

    def _subject_refs(self, sender: str, envelope: ParsedEnvelope) -> tuple[str, ...]:
        """The keyed references of every person the message names (``hub.ingest.subjects``)."""
        try:
            named = named_subjects(envelope)
        except InputError as exc:
            self._audit_refusal(sender, envelope, (), exc)
            raise
        try:
            linked = named.linked()
        except InputError as exc:
            everyone = [self._hmacs.subject_ref(i.canonical) for i in named.everyone()]
            self._audit_refusal(sender, envelope, everyone, exc)
            raise
        return tuple(self._hmacs.subject_ref(i.canonical) for i in linked)

    def _digest(self, envelope: ParsedEnvelope) -> str:
        e = envelope
        header = "\x1f".join([
            e.message_type, e.version, e.district, e.purpose, ",".join(e.recipients),
            ",".join(f"{s}:{v}" for s, v in e.subjects), e.consent or "",
        ])  # fmt: skip
        return self._hmacs.content_digest(header.encode() + b"\x1e" + envelope.body_bytes)

    # -- the write, inside the group commit's transaction ---------------------------------------
    def _write(self, tx: Tx, batch: list[Prepared]) -> list[IngestResult | HubError]:
        """Store a batch: bulk inserts in one savepoint, the audit append, then the repeats.

        The common case costs no lookup: the unique (sender, message id) constraint finds
        repeats. If the bulk insert meets one (a sender's retry, or another process storing
        the same key just now), the batch is written again one message per savepoint, and the
        messages whose key was taken are answered from the stored message. A key used twice
        within the batch is answered the same way.
        """
        results: list[IngestResult | HubError | None] = [None] * len(batch)
        events: list[AuditEvent] = []
        batch = list(batch)
        verdicts = self._guards.agreements.check_confidentiality(tx, [p.persons() for p in batch])
        for i, (p, verdict) in enumerate(zip(batch, verdicts, strict=True)):
            if isinstance(verdict, HubError):
                results[i] = verdict
                log_refusal(p.sender, p.envelope, verdict)
                events.extend(refusal_events(p.sender, p.envelope, p.subject_refs, verdict))
            elif verdict:
                batch[i] = replace(p, protected_identity=True)
        fresh: list[int] = []
        claimed: set[tuple[str, str]] = set()
        for i, p in enumerate(batch):
            if results[i] is not None:
                continue  # refused
            key = (p.sender, p.envelope.message_id or "")
            if p.envelope.message_id and key in claimed:
                continue
            claimed.add(key)
            fresh.append(i)
        made: list[tuple[int, NewMessage, IngestResult, list[AuditEvent]]] = []
        try:
            with self._store.savepoint(tx):
                made = [(i, *self._new_message(tx, batch[i])) for i in fresh]
                self._insert(tx, [m for _, m, _, _ in made])
        except Conflict:
            made = []
            for i in fresh:
                try:
                    with self._store.savepoint(tx):
                        one = (i, *self._new_message(tx, batch[i]))
                        self._insert(tx, [one[1]])
                    made.append(one)
                except Conflict:
                    continue  # another process stored this key just now: a repeat, below
        for i, _, result, item_events in made:
            results[i] = result
            events.extend(item_events)
        self._guards.audit.record(tx, events)
        for i, p in enumerate(batch):
            if results[i] is None:
                results[i] = self._answer_repeat(tx, p)
        return [r for r in results if r is not None]

    def _insert(self, tx: Tx, new: list[NewMessage]) -> None:
        self._messages.insert(tx, new)
        if self._follow_ups is not None:
            self._follow_ups.stored(tx, new)

    def _answer_repeat(self, tx: Tx, p: Prepared) -> IngestResult | HubError:
        assert p.envelope.message_id is not None
        existing = self._repeats.find(tx, p.sender, p.envelope.message_id)
        if existing is None:
            return GuardUnavailable(
                "the message could not be stored; send it again", reason="storage_conflict"
            )
        try:
            return self._repeat(tx, existing, p.digest)
        except HubError as exc:
            return exc

    def _new_message(
        self, tx: Tx, p: Prepared
    ) -> tuple[NewMessage, IngestResult, list[AuditEvent]]:
        envelope = p.envelope
        # Time-ordered (UUIDv7): each batch lands at the right edge of the id indexes.
        message_id = new_id()
        delivery_ids = tuple((new_id(), d) for d in p.destinations)
        key = self._guards.keys.current_key(tx, envelope.district, p.sender)
        aad = crypto.payload_aad(message_id, envelope.district, envelope.message_type, key.version)
        new = NewMessage(
            message=StoredMessage(
                id=message_id,
                sender=p.sender,
                message_type=envelope.message_type,
                version=envelope.version,
                district=envelope.district,
                purpose=envelope.purpose,
                idempotency_key=envelope.message_id,
                content_digest=p.digest,
                categories=tuple(sorted(envelope.message_type_info.categories)),
                agreement_ref=p.agreement_ref,
                key_version=key.version,
                size=len(envelope.body_bytes),
                received_at=p.received_at,
            ),
            ciphertext=crypto.seal_payload(key.key, envelope.body_bytes, aad),
            subject_refs=p.subject_refs,
            delivery_ids=delivery_ids,
            business_keys=p.business_keys,
            held=envelope.message_type_info.held_for_approval,
        )
        events = per_subject(
            AuditEvent(
                actor=p.sender,
                action=AuditAction.RECEIVED,
                purpose=envelope.purpose,
                district=envelope.district,
                agreement=p.agreement_ref,
                message_id=message_id,
                source=p.sender,
                destination=",".join(p.destinations),
                outcome=Outcome.OK,
                at=p.received_at,
                reason="protected_identity" if p.protected_identity else None,  # for review
            ),
            p.subject_refs,
        )
        return new, IngestResult(message_id, delivery_ids), events

    def _repeat(self, tx: Tx, existing: StoredMessage, digest: str) -> IngestResult:
        if existing.content_digest != digest:
            raise IdempotencyConflict(
                f"message id {existing.idempotency_key!r} was already used by this sender for "
                f"different content (hub message {existing.id})",
                message_id=existing.id,
            )
        deliveries = self._repeats.deliveries(tx, existing.id)
        return IngestResult(existing.id, tuple(deliveries), duplicate=True)

    # -- refusals -------------------------------------------------------------------------------
    def _audit_refusal(
        self,
        sender: str,
        envelope: ParsedEnvelope,
        subject_refs: Sequence[str],
        exc: HubError,
    ) -> None:
        """Audit a refused message that names a district and data subjects (personal data), in
        a transaction of its own, and log it."""
        log_refusal(sender, envelope, exc)
        self._record_refusal(sender, envelope, subject_refs, exc)

    def _record_refusal(
        self, sender: str, envelope: ParsedEnvelope, subject_refs: Sequence[str], exc: HubError
    ) -> None:
        with self._store.write() as tx:
            self._guards.audit.record(tx, refusal_events(sender, envelope, subject_refs, exc))
