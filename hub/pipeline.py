"""Ingest: validate → authorize → encrypt and store, one message at a time.

    parse + validate (schemas/)          hostile or invalid XML never gets further
    identity numbers → keyed HMACs       invalid numbers refused; the numbers are never stored
    routing                              which destinations (hub.routing)
    authorize (contracts/ via Guards)    default deny: sender, purpose, type, categories,
                                         consent, and every recipient
    one transaction:                     idempotency check, data key, AES-256-GCM seal,
                                         message + subjects + deliveries (the outbox) + audit

A refusal after the envelope was read is audited in a transaction of its own (the message's
transaction is rolled back). The sender is the authenticated system, never what the document
claims.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from hub import crypto
from hub.errors import (
    ContractRefusal,
    HostileXml,
    HubError,
    IdempotencyConflict,
    InputError,
    MalformedXml,
    PayloadTooLarge,
    SchemaInvalid,
    UnknownMessageType,
)
from hub.guards import AuditAction, AuditEvent, Guards, Outcome
from hub.identity import parse_identity
from hub.routing import RoutingTable
from hub.storage import deliveries as delivery_rows
from hub.storage import messages as message_rows
from schemas.envelope import ParsedEnvelope, read_envelope
from schemas.errors import SchemaError
from schemas.parser import ParseLimits
from schemas.registry import Registry

log = logging.getLogger(__name__)

_SCHEMA_ERRORS: dict[str, type[InputError]] = {
    "malformed_xml": MalformedXml,
    "forbidden_dtd": HostileXml,
    "too_deep": HostileXml,
    "too_large": PayloadTooLarge,
    "schema_invalid": SchemaInvalid,
    "unknown_message_type": UnknownMessageType,
}


def translate_schema_error(exc: SchemaError) -> InputError:
    cls = _SCHEMA_ERRORS.get(exc.reason, InputError)
    return cls(exc.detail, reason=exc.reason, line=exc.line, column=exc.column, path=exc.path)


@dataclass(frozen=True)
class IngestResult:
    message_id: str
    deliveries: tuple[tuple[str, str], ...]  # (delivery id, destination)
    duplicate: bool = False


class Ingestor:
    def __init__(
        self,
        *,
        engine: Engine,
        registry: Registry,
        routing: RoutingTable,
        limits: ParseLimits,
        guards: Guards,
        clock: Callable[[], datetime],
        on_stored: Callable[[], None] = lambda: None,
    ) -> None:
        self._engine = engine
        self._registry = registry
        self._routing = routing
        self._limits = limits
        self._guards = guards
        self._clock = clock
        self._on_stored = on_stored

    def read(self, data: bytes) -> ParsedEnvelope:
        try:
            return read_envelope(data, self._registry, self._limits)
        except SchemaError as exc:
            raise translate_schema_error(exc) from exc

    def ingest(self, sender: str, data: bytes) -> IngestResult:
        envelope = self.read(data)
        subject_refs = self._subject_refs(sender, envelope)
        try:
            destinations = self._routing.destinations_for(
                envelope.message_type, envelope.district, envelope.recipients
            )
            result = self._store(sender, envelope, destinations, subject_refs)
        except (ContractRefusal, InputError) as exc:
            self._audit_refusal(sender, envelope, subject_refs, exc)
            raise
        if not result.duplicate:
            self._on_stored()
        return result

    def _subject_refs(self, sender: str, envelope: ParsedEnvelope) -> tuple[str, ...]:
        refs = []
        for scheme, value in envelope.subjects:
            try:
                identity = parse_identity(value, scheme)
            except InputError as exc:
                self._audit_refusal(sender, envelope, (), exc)
                raise
            refs.append(self._guards.hmacs.subject_ref(identity.canonical))
        return tuple(refs)

    def _digest(self, envelope: ParsedEnvelope) -> str:
        header = "\x1f".join(
            [
                envelope.message_type,
                envelope.version,
                envelope.district,
                envelope.purpose,
                ",".join(envelope.recipients),
                ",".join(f"{s}:{v}" for s, v in envelope.subjects),
                envelope.consent or "",
            ]
        )
        return self._guards.hmacs.content_digest(header.encode() + b"\x1e" + envelope.body_bytes)

    def _store(
        self,
        sender: str,
        envelope: ParsedEnvelope,
        destinations: Sequence[str],
        subject_refs: tuple[str, ...],
    ) -> IngestResult:
        digest = self._digest(envelope)
        now = self._clock()
        categories = tuple(sorted(envelope.message_type_info.categories))
        message_id = str(uuid.uuid4())
        delivery_ids = tuple((str(uuid.uuid4()), d) for d in destinations)
        try:
            with self._engine.begin() as conn:
                if envelope.message_id is not None:
                    existing = message_rows.find_by_key(conn, sender, envelope.message_id)
                    if existing is not None:
                        return self._repeat(conn, existing, digest)
                decision = self._guards.check_ingest(
                    conn,
                    district=envelope.district,
                    sender=sender,
                    purpose=envelope.purpose,
                    message_type=envelope.message_type,
                    categories=categories,
                    consent=envelope.consent is not None,
                    recipients=destinations,
                    at=now,
                )
                key = self._guards.current_key(conn, envelope.district, sender)
                aad = crypto.payload_aad(
                    message_id, envelope.district, envelope.message_type, key.version
                )
                ciphertext = crypto.seal(key.key, envelope.body_bytes, aad)
                message_rows.insert_message(
                    conn,
                    message_rows.NewMessage(
                        message=message_rows.StoredMessage(
                            id=message_id,
                            sender=sender,
                            message_type=envelope.message_type,
                            version=envelope.version,
                            district=envelope.district,
                            purpose=envelope.purpose,
                            idempotency_key=envelope.message_id,
                            content_digest=digest,
                            categories=categories,
                            agreement_ref=decision.agreement_ref,
                            key_version=key.version,
                            size=len(envelope.body_bytes),
                            received_at=now,
                        ),
                        ciphertext=ciphertext,
                        subject_refs=subject_refs,
                        delivery_ids=delivery_ids,
                    ),
                )
                self._guards.record(
                    conn,
                    [
                        AuditEvent(
                            actor=sender,
                            action=AuditAction.RECEIVED,
                            purpose=envelope.purpose,
                            district=envelope.district,
                            agreement=decision.agreement_ref,
                            message_id=message_id,
                            subject_ref=ref,
                            source=sender,
                            destination=",".join(destinations),
                            outcome=Outcome.OK,
                            at=now,
                        )
                        for ref in (subject_refs or (None,))
                    ],
                )
        except IntegrityError:
            # A concurrent request with the same idempotency key won the race: answer as a repeat.
            if envelope.message_id is None:
                raise
            with self._engine.begin() as conn:
                existing = message_rows.find_by_key(conn, sender, envelope.message_id)
                if existing is None:
                    raise
                return self._repeat(conn, existing, digest)
        return IngestResult(message_id, delivery_ids)

    def _repeat(
        self, conn: Connection, existing: message_rows.StoredMessage, digest: str
    ) -> IngestResult:
        if existing.content_digest != digest:
            raise IdempotencyConflict(
                f"message id {existing.idempotency_key!r} was already used by this sender for "
                f"different content (hub message {existing.id})",
                message_id=existing.id,
            )
        rows = delivery_rows.for_message(conn, existing.id)
        return IngestResult(existing.id, tuple((r.id, r.destination) for r in rows), duplicate=True)

    def _audit_refusal(
        self,
        sender: str,
        envelope: ParsedEnvelope,
        subject_refs: Sequence[str],
        exc: HubError,
    ) -> None:
        """Audit a refused message that names a district and data subjects (personal data)."""
        events = [
            AuditEvent(
                actor=sender,
                action=AuditAction.REFUSED,
                purpose=envelope.purpose,
                district=envelope.district,
                subject_ref=ref,
                source=sender,
                outcome=Outcome.REFUSED,
                reason=exc.reason,
            )
            for ref in (subject_refs or (None,))
        ]
        with self._engine.begin() as conn:
            self._guards.record(conn, events)
        log.info(
            "refused %s from %s for %s: %s",
            envelope.message_type,
            sender,
            envelope.district,
            exc.reason,
        )
