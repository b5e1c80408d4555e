"""The three guards as the pipeline and the delivery engine see them: agreements, keys, audit.

One object so that every path through the hub goes through the same checks, and so that each
guard fails closed in one place: any error reaching the agreement store, the key store or the
audit trail becomes ``GuardUnavailable`` and nothing passes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from audit.alarm import AuditRefusedError
from audit.entry import AuditAction, AuditEvent, Outcome
from audit.trail import AuditTrail
from contracts.cache import AgreementCache
from contracts.errors import ContractsError
from contracts.model import Agreement
from contracts.policy import Decision, decide_delivery, decide_ingest
from hub.errors import ContractRefusal, GuardUnavailable, HubError
from hub.keys.crypto import Hmacs
from hub.keys.store import DataKey, KeyStore

__all__ = ["AuditAction", "AuditEvent", "Guards", "Outcome", "per_subject"]


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


def per_subject(event: AuditEvent, subject_refs: Sequence[str]) -> list[AuditEvent]:
    """``event`` once per data subject, so a person's art. 15 extract finds every access to
    their data; once without a subject when the message names none."""
    if not subject_refs:
        return [event]
    return [replace(event, subject_ref=ref) for ref in subject_refs]


@dataclass
class Guards:
    agreements: AgreementCache
    keys: KeyStore
    hmacs: Hmacs
    audit: AuditTrail
    clock: Callable[[], datetime]

    # -- agreements -------------------------------------------------------------------------
    def check_ingest(
        self,
        source: Connection | Callable[[], AbstractContextManager[Connection]],
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
        with _fail_closed("agreement store"):
            agreements = self.agreements.agreements_for(source, district)
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
            raise ContractRefusal(decision.detail, reason=decision.reason)
        for recipient in recipients:
            self.check_delivery(
                source,
                district=district,
                recipient=recipient,
                purpose=purpose,
                message_type=message_type,
                categories=categories,
                at=at,
                agreements=agreements,
            )
        return decision

    def check_delivery(
        self,
        source: Connection | Callable[[], AbstractContextManager[Connection]],
        *,
        district: str,
        recipient: str,
        purpose: str,
        message_type: str,
        categories: Sequence[str],
        at: datetime,
        agreements: Sequence[Agreement] | None = None,
    ) -> Decision:
        if agreements is None:
            with _fail_closed("agreement store"):
                agreements = self.agreements.agreements_for(source, district)
        decision = decide_delivery(
            agreements,
            district=district,
            recipient=recipient,
            purpose=purpose,
            message_type=message_type,
            categories=frozenset(categories),
            at=at,
        )
        if not decision.allowed:
            raise ContractRefusal(decision.detail, reason=decision.reason)
        return decision

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
