"""The three guards, agreements, keys and audit, on the agreement cache, the key store and the
audit trail: the implementation of ``hub.ports``' ``AgreementDecisions``, ``DataKeys`` and
``AuditLog`` that ``hub.bootstrap`` hands the message path (the services and the CLI use it
directly, on a ``Connection``).

One object so that every path through the hub goes through the same checks, and so that each
guard fails closed in one place: any error reaching the agreement store, the key store or the
audit trail becomes ``GuardUnavailable`` and nothing passes. The policy itself is pure
(``contracts.policy``); ``AgreementChecks`` applies it to a district's agreements from any
source (the cache here, a fixed list in the benchmark's guards-off mode).

A refusal by the agreements tells the sending system only its own part (``ContractRefusal``'s
detail is the policy's ``party_detail``); the whole decision, naming every agreement and what
it allows, rides along for the audit trail (``hub.errors.audit_reason``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from audit.alarm import AuditRefusedError
from audit.entry import AuditAction, AuditEvent, Outcome
from audit.trail import AuditTrail
from contracts.cache import AgreementCache, ConnectionSource
from contracts.errors import ContractsError
from contracts.model import Agreement
from contracts.policy import Decision, decide_delivery, decide_ingest, decide_protected_identity
from hub.errors import ContractRefusal, GuardUnavailable, HubError
from hub.keys.crypto import Hmacs
from hub.keys.store import KeyStore
from hub.keys.versions import DataKey
from hub.ports import PersonsNamed, per_subject

__all__ = [
    "AgreementChecks",
    "AuditAction",
    "AuditEvent",
    "Guards",
    "Outcome",
    "ProtectedSource",
    "per_subject",
    "refusal",
]


@contextmanager
def _fail_closed(guard: str) -> Iterator[None]:
    try:
        yield
    except HubError:
        raise
    except AuditRefusedError as exc:  # integrity alarm or time-stamping overdue: fail closed
        raise GuardUnavailable(exc.detail, reason=exc.reason) from exc
    except (SQLAlchemyError, OSError, ContractsError) as exc:
        raise GuardUnavailable(
            f"the {guard} cannot be reached; refusing rather than passing data unchecked",
            reason=f"{guard.replace(' ', '_')}_unavailable",
        ) from exc


def refusal(decision: Decision) -> ContractRefusal:
    """The error for a refusing ``decision``: the sender's part as its detail, the whole
    decision in its context for ``hub.errors.audit_reason``."""
    told = decision.party_detail or f"refused: {decision.reason}"
    return ContractRefusal(told, reason=decision.reason, decision=decision.detail)


class AgreementSource(Protocol):
    """Where ``AgreementChecks`` reads a district's agreements: the cache over the agreement
    store (``Guards``), or a fixed list (the benchmark's ``bench.guards_off``)."""

    def agreements_for(self, source: ConnectionSource, district: str) -> Sequence[Agreement]: ...


class ProtectedSource(Protocol):
    """Which of these persons (keyed HMACs) the district's case system marked as having
    protected identity, and how (``hub.storage.protected.ProtectedMarks``)."""

    def marked(
        self, source: ConnectionSource, district: str, subject_refs: Sequence[str]
    ) -> Mapping[str, str]: ...


@dataclass
class AgreementChecks:
    """``hub.ports.AgreementDecisions`` over ``agreements``: the policy (``contracts.policy``,
    pure functions) on the district's agreements, failing closed if they cannot be read.

    With ``protected`` (the product; the benchmark's guards-off leaves it out), a message naming
    a person with protected identity also needs an agreement that allows its purpose for such
    persons (the confidentiality check, ``contracts.policy.decide_protected_identity``)."""

    agreements: AgreementSource
    protected: ProtectedSource | None = field(default=None, kw_only=True)

    def check_ingest(
        self,
        source: ConnectionSource,
        *,
        district: str,
        sender: str,
        purpose: str,
        message_type: str,
        categories: Sequence[str],
        consent: bool,
        recipients: Sequence[str],
        at: datetime,
    ) -> Decision:
        """The sender may send this, and every recipient may receive it, under one agreement.

        ``source`` is a connection or a connection factory: ingest reads agreements outside its
        write transaction (they are nearly always cached)."""
        agreements = self._agreements_of(source, district)
        decision = decide_ingest(
            agreements,
            district=district,
            sender=sender,
            purpose=purpose,
            message_type=message_type,
            categories=frozenset(categories),
            consent=consent,
            at=at,
        )
        if not decision.allowed:
            raise refusal(decision)
        for recipient in recipients:
            self._allow_delivery(
                agreements, district, recipient, purpose, message_type, categories, at, sender
            )
        return decision

    def check_confidentiality(
        self, source: ConnectionSource, messages: Sequence[PersonsNamed]
    ) -> list[bool | HubError]:
        """Per message: ``False`` when it names no person with protected identity, ``True``
        when it does and an agreement allows its purpose for such persons, else the
        ``ContractRefusal`` ``protected_identity`` in its place.

        Ingest asks this inside its write transaction, for a whole batch: one read of the
        marks per district (the batch's persons at once), and a mark recorded by a lookup or a
        sync that committed before the batch's transaction began is seen."""
        if self.protected is None:
            return [False] * len(messages)
        named: dict[str, set[str]] = {}
        for m in messages:
            named.setdefault(m.district, set()).update(m.subjects)
        marked: set[tuple[str, str]] = set()
        with _fail_closed("protection register"):
            for district, refs in named.items():
                if refs:
                    found = self.protected.marked(source, district, sorted(refs))
                    marked.update((district, ref) for ref in found)
        verdicts: list[bool | HubError] = []
        for m in messages:
            if not any((m.district, ref) in marked for ref in m.subjects):
                verdicts.append(False)
                continue
            try:
                self.check_protected(
                    self._agreements_of(source, m.district), district=m.district,
                    sender=m.sender, purpose=m.purpose, message_type=m.message_type, at=m.at,
                )  # fmt: skip
            except ContractRefusal as exc:
                verdicts.append(exc)
                continue
            verdicts.append(True)
        return verdicts

    @staticmethod
    def check_protected(
        agreements: Sequence[Agreement],
        *,
        district: str,
        sender: str,
        purpose: str,
        message_type: str,
        at: datetime,
    ) -> Decision:
        """The confidentiality check for a person with protected identity: an allowing
        decision (``protected_identity`` set) or ``ContractRefusal`` ``protected_identity``."""
        decision = decide_protected_identity(
            agreements,
            district=district,
            sender=sender,
            purpose=purpose,
            message_type=message_type,
            at=at,
        )
        if not decision.allowed:
            raise refusal(decision)
        return decision

    def agreements_of(self, source: ConnectionSource, district: str) -> Sequence[Agreement]:
        """The district's agreements (cached), failing closed."""
        return self._agreements_of(source, district)

    def check_delivery(
        self,
        source: ConnectionSource,
        *,
        district: str,
        recipient: str,
        purpose: str,
        message_type: str,
        categories: Sequence[str],
        at: datetime,
        sender: str | None = None,
    ) -> Decision:
        """The recipient may receive this now. ``sender``, where known, is told which
        agreement refused if it is a party to it."""
        return self._allow_delivery(
            self._agreements_of(source, district),
            district,
            recipient,
            purpose,
            message_type,
            categories,
            at,
            sender,
        )

    @staticmethod
    def _allow_delivery(
        agreements: Sequence[Agreement],
        district: str,
        recipient: str,
        purpose: str,
        message_type: str,
        categories: Sequence[str],
        at: datetime,
        sender: str | None,
    ) -> Decision:
        decision = decide_delivery(
            agreements,
            district=district,
            recipient=recipient,
            purpose=purpose,
            message_type=message_type,
            categories=frozenset(categories),
            at=at,
            sender=sender,
        )
        if not decision.allowed:
            raise refusal(decision)
        return decision

    def _agreements_of(self, source: ConnectionSource, district: str) -> Sequence[Agreement]:
        with _fail_closed("agreement store"):
            return self.agreements.agreements_for(source, district)


@dataclass
class Guards(AgreementChecks):
    agreements: AgreementCache
    keys: KeyStore
    hmacs: Hmacs
    audit: AuditTrail
    clock: Callable[[], datetime]

    # -- keys -------------------------------------------------------------------------------
    def current_key(self, conn: Connection, district: str, actor: str) -> DataKey:
        with _fail_closed("key store"):
            key, created = self.keys.ensure(conn, district)
        if created:
            self.record(
                conn,
                [
                    AuditEvent(
                        actor=actor,
                        action=AuditAction.KEY_CREATED,
                        district=district,
                        outcome=Outcome.OK,
                        reason=f"first data key version {key.version} for the district",
                    )
                ],
            )
        return key

    def key(self, conn: Connection, district: str, version: int) -> DataKey:
        with _fail_closed("key store"):
            return self.keys.get(conn, district, version)

    # -- audit ------------------------------------------------------------------------------
    def record(self, conn: Connection, events: Sequence[AuditEvent]) -> None:
        """Append audit entries in the caller's transaction; failure aborts the action."""
        if not events:
            return
        with _fail_closed("audit trail"):
            self.audit.append(conn, events)
