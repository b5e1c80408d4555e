"""Synchronous lookups for the contact centre: a client's summary, an invoice's status.

The contact centre (Äldre direkt in the seeds) answers callers from the district's case
system (decisions, fee basis, provider, case officer) and finance system (invoice, OCR, paid or
not). A lookup goes through the same guards as a message:

    kind known, identity number valid    → keyed HMAC of the subject, for the audit; a
                                           parameter holding an identity number must name
                                           the same person (hub.ingest.subjects)
    routing: (lookup.<kind>, district)   → the one destination system that answers it
    agreement (default deny)             → this requester, purpose, categories, recipient;
                                           individual information only with recorded consent
                                           where the agreement says so (decisions, fees,
                                           invoices by default — the seeds' rule)
    confidentiality check                 → a person the case system marked as having
                                           protected identity (sekretessmarkering, skyddad
                                           folkbokföring) needs an agreement that allows
                                           this purpose for such persons, else refused
                                           ``protected_identity``; asked before the call for
                                           a person already marked, and after it when the
                                           answer marks the person
    the adapter's ``lookup``              → bounded by the adapter's own timeout
    audit ``queried`` committed           → only then is the answer returned

Nothing of the answer is stored but the protection mark a client summary carries (the person's
keyed HMAC and the kind, ``hub.storage.protected``; a summary without one lifts it), which
ingest's confidentiality check reads. A refusal or a failed call is audited too; an access to a
protected person, allowed or refused, is audited with the reason ``protected_identity`` so the
log review can sample it.
"""

from __future__ import annotations

import difflib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from hub.envelope import LookupRequest, LookupResult
from hub.errors import (
    ConfigError,
    ContractRefusal,
    DeliveryError,
    HubError,
    InputError,
    audit_reason,
)
from hub.guards import AuditAction, AuditEvent, Guards, Outcome
from hub.ingest.identity import parse_identity
from hub.ingest.routing import RoutingTable
from hub.ingest.subjects import check_identity_params
from hub.outbox.adapter_pool import AdapterPool
from hub.ports import LookupAdapter
from hub.storage.engine import reader
from hub.storage.protected import record_mark


@dataclass(frozen=True)
class LookupKind:
    name: str
    categories: frozenset[str]
    params: tuple[str, ...]  # accepted parameters; at least one needed where any are listed
    identity_params: tuple[str, ...] = ()  # of those, the ones holding an identity number

    @property
    def agreement_type(self) -> str:
        """The name agreements and routes use for it, beside the message types."""
        return f"lookup.{self.name}"


LOOKUPS: Mapping[str, LookupKind] = {
    k.name: k
    for k in (
        LookupKind("client_summary", frozenset({"identity", "case", "decisions", "fees"}), ()),
        LookupKind(
            "invoice_status", frozenset({"identity", "invoices"}), ("invoice_number", "ocr")
        ),
    )
}
LOOKUP_TYPES = frozenset(k.agreement_type for k in LOOKUPS.values())


@dataclass(frozen=True)
class LookupQuestion:
    requester: str  # the system on whose behalf (the agreement's sender)
    actor: str  # who asks (a system, or an operator through the CLI)
    lookup: str
    district: str
    purpose: str
    subject: str
    scheme: str = "se"
    params: Mapping[str, str] | None = None
    consent: str | None = None


class Lookups:
    def __init__(
        self,
        *,
        engine: Engine,
        routing: RoutingTable,
        adapters: AdapterPool,
        guards: Guards,
        clock: Callable[[], datetime],
    ) -> None:
        self._engine = engine
        self._reader = reader(engine)
        self._routing = routing
        self._adapters = adapters
        self._guards = guards
        self._clock = clock

    def ask(self, q: LookupQuestion) -> LookupResult:
        kind = _kind(q.lookup)
        params = dict(q.params or {})
        unknown = sorted(set(params) - set(kind.params))
        if unknown:
            raise InputError(
                f"lookup {kind.name} takes no parameter {', '.join(unknown)}; "
                f"it takes: {', '.join(kind.params) or 'none'}",
                reason="lookup_invalid",
            )
        if kind.params and not params:
            raise InputError(
                f"lookup {kind.name} needs one of: {', '.join(kind.params)}",
                reason="lookup_invalid",
            )
        identity = parse_identity(q.subject, q.scheme)
        subject_ref = self._guards.hmacs.subject_ref(identity.canonical)
        request_id = str(uuid.uuid4())
        destination = ""
        mark: tuple[str | None] | None = None  # what a client summary said of protection
        protected = False
        try:
            check_identity_params(identity, params, kind.identity_params)
            (destination,) = self._routing.destinations_for(kind.agreement_type, q.district)[:1]
            decision = self._guards.check_ingest(
                self._reader.connect,
                district=q.district,
                sender=q.requester,
                purpose=q.purpose,
                message_type=kind.agreement_type,
                categories=sorted(kind.categories),
                consent=q.consent is not None,
                recipients=[destination],
                at=self._clock(),
            )
            marks = self._guards.protected
            if marks is not None and marks.marked(self._reader.connect, q.district, [subject_ref]):
                protected = self._confidentiality_check(q, kind)
            adapter = self._adapters.get(destination)
            if not isinstance(adapter, LookupAdapter):
                raise ConfigError(
                    f"destination {destination!r} cannot answer lookups (its adapter has no "
                    "lookup)",
                    reason="lookup_not_supported",
                )
            result = adapter.lookup(
                LookupRequest(
                    lookup=kind.name,
                    district=q.district,
                    purpose=q.purpose,
                    request_id=request_id,
                    subject=identity.canonical,
                    params=params,
                )
            )
            if result.data.get("found") is True and "protected_identity" in result.data:
                kind_of_protection = result.data["protected_identity"]
                mark = (kind_of_protection if isinstance(kind_of_protection, str) else None,)
                if mark[0] is not None:
                    protected = self._confidentiality_check(q, kind)
        except (ContractRefusal, InputError, DeliveryError, ConfigError) as exc:
            self._audit(q, kind, subject_ref, destination, None, request_id, exc, mark=mark)
            raise
        self._audit(
            q, kind, subject_ref, destination, decision.agreement_ref, request_id, None,
            mark=mark, protected=protected,
        )  # fmt: skip
        return result

    def _confidentiality_check(self, q: LookupQuestion, kind: LookupKind) -> bool:
        """The person has protected identity: allowed only where an agreement lists this
        purpose for such persons (raises ``ContractRefusal`` ``protected_identity``)."""
        self._guards.check_protected(
            self._guards.agreements_of(self._reader.connect, q.district),
            district=q.district,
            sender=q.requester,
            purpose=q.purpose,
            message_type=kind.agreement_type,
            at=self._clock(),
        )
        return True

    def _audit(
        self,
        q: LookupQuestion,
        kind: LookupKind,
        subject_ref: str,
        destination: str,
        agreement_ref: str | None,
        request_id: str,
        error: HubError | None,
        *,
        mark: tuple[str | None] | None = None,
        protected: bool = False,
    ) -> None:
        refused = isinstance(error, ContractRefusal | InputError)
        if error is not None:
            reason = audit_reason(error)
        elif protected:
            reason = f"protected_identity {kind.name} {request_id}"
        else:
            reason = f"{kind.name} {request_id}"
        event = AuditEvent(
            actor=q.actor,
            action=AuditAction.REFUSED if refused else AuditAction.QUERIED,
            purpose=q.purpose,
            district=q.district,
            agreement=agreement_ref,
            subject_ref=subject_ref,
            source=q.requester,
            destination=destination or None,
            outcome=(
                Outcome.OK if error is None else Outcome.REFUSED if refused else Outcome.FAILED
            ),
            reason=reason,
        )
        with self._engine.begin() as conn:
            if mark is not None:
                record_mark(
                    conn, district=q.district, subject_ref=subject_ref, kind=mark[0],
                    at=self._clock(), source=destination,
                )  # fmt: skip
            self._guards.record(conn, [event])


def _kind(name: str) -> LookupKind:
    try:
        return LOOKUPS[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(LOOKUPS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise InputError(
            f"unknown lookup {name!r}{hint}; known: {', '.join(LOOKUPS)}", reason="unknown_lookup"
        ) from None
