"""The agreement store: append-only versions of agreements in the hub's database.

Every change (new agreement, amendment, revocation) writes a new version row and increments
the generation counter, both inside the caller's transaction: the store never commits, so an
agreement change and its audit entry commit together or not at all. Nothing in
``agreement_versions`` is ever updated or deleted; the history of what each district allowed,
and when, stays readable (GDPR art. 30).

Version numbers are taken as ``latest + 1`` under the primary key ``(id, version)``: two
concurrent changes to one agreement cannot both commit; the second gets ``AgreementConflictError``.

Database failures are translated here: a primary-key clash becomes ``AgreementConflictError``, any
other database error ``AgreementStoreUnavailableError``, so the hub refuses rather than guesses.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from contracts.errors import (
    AgreementConflictError,
    AgreementNotFoundError,
    AgreementStoreUnavailableError,
    InvalidAgreementError,
)
from contracts.model import Agreement
from contracts.tables import GENERATION_ROW_ID, agreement_generation, agreement_versions

_V = agreement_versions
_SETS = frozenset(
    {
        "senders",
        "recipients",
        "purposes",
        "message_types",
        "categories",
        "subject_categories",
        "consent_required",
        "protected_identity_purposes",
    }
)
_TIMES = frozenset({"valid_from", "valid_to", "changed_at"})
# Fields that say who wrote a version, not what the agreement allows.
_BOOKKEEPING = frozenset({"version", "changed_by", "changed_at"})


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AgreementStore:
    """Reads and appends agreement versions over a caller's ``Connection``."""

    def __init__(self, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self._clock = clock

    # -- changes -------------------------------------------------------------------------------

    def add(
        self, conn: Connection, agreement: Agreement, actor: str, *, reason: str | None = None
    ) -> Agreement:
        """Store a new agreement as version 1. ``AgreementConflictError`` if the id exists."""
        _require_actor(actor)
        if agreement.status != "active":
            raise InvalidAgreementError([("status", "a new agreement must be active")])
        with _translated():
            if conn.execute(select(_V.c.version).where(_V.c.id == agreement.id).limit(1)).first():
                raise AgreementConflictError(
                    f"agreement {agreement.id} exists; amend it with update"
                )
        stored = replace(agreement, version=1, changed_by=actor, changed_at=self._clock())
        return self._append(conn, stored, reason)

    def update(
        self,
        conn: Connection,
        agreement: Agreement,
        actor: str,
        *,
        reason: str | None = None,
        expected_version: int | None = None,
    ) -> Agreement:
        """Store an amended agreement as the next version and return it.

        ``agreement.version`` is ignored; pass ``expected_version`` (the version the change was
        made from) to refuse a change based on a stale copy. A revoked agreement cannot be
        amended: sign a new one. The district (the controller) cannot change. If nothing but
        the bookkeeping differs from the latest version, nothing is written and that is returned.
        """
        _require_actor(actor)
        if agreement.status != "active":
            raise InvalidAgreementError([("status", "use revoke() to revoke an agreement")])
        latest = self.get(conn, agreement.id)
        if latest.status == "revoked":
            raise AgreementConflictError(f"agreement {latest.ref} is revoked; add a new agreement")
        if expected_version is not None and expected_version != latest.version:
            raise AgreementConflictError(
                f"agreement {agreement.id} is at version {latest.version}, "
                f"the change was made from version {expected_version}"
            )
        if agreement.district != latest.district:
            raise AgreementConflictError(
                f"agreement {agreement.id} belongs to {latest.district}; the controller of an "
                "agreement cannot change, add a new agreement"
            )
        if _content(agreement) == _content(latest):
            return latest
        stored = replace(
            agreement, version=latest.version + 1, changed_by=actor, changed_at=self._clock()
        )
        return self._append(conn, stored, reason)

    def revoke(self, conn: Connection, id: str, reason: str, actor: str) -> Agreement:
        """Write a revoked version of the agreement. The reason is required and recorded."""
        _require_actor(actor)
        if not reason or not reason.strip():
            raise InvalidAgreementError([("revoked_reason", "a revocation needs a reason")])
        latest = self.get(conn, id)
        if latest.status == "revoked":
            raise AgreementConflictError(f"agreement {latest.ref} is already revoked")
        stored = replace(
            latest,
            version=latest.version + 1,
            status="revoked",
            revoked_reason=reason.strip(),
            changed_by=actor,
            changed_at=self._clock(),
        )
        return self._append(conn, stored, reason.strip())

    # -- reads ---------------------------------------------------------------------------------

    def get(self, conn: Connection, id: str, version: int | None = None) -> Agreement:
        """The latest version, or the given one. ``AgreementNotFoundError`` if there is none."""
        query = select(_V.c.body).where(_V.c.id == id)
        if version is None:
            query = query.order_by(_V.c.version.desc()).limit(1)
        else:
            query = query.where(_V.c.version == version)
        with _translated():
            body = conn.execute(query).scalar()
        if body is None:
            which = f"{id}@{version}" if version is not None else id
            raise AgreementNotFoundError(f"no agreement {which}")
        return _from_body(body)

    def history(self, conn: Connection, id: str) -> list[Agreement]:
        """Every version of the agreement, oldest first. ``AgreementNotFoundError`` if none."""
        query = select(_V.c.body).where(_V.c.id == id).order_by(_V.c.version)
        versions = self._agreements(conn, query)
        if not versions:
            raise AgreementNotFoundError(f"no agreement {id}")
        return versions

    def list_current(self, conn: Connection) -> list[Agreement]:
        """The latest version of every agreement (revoked ones included), by district and id."""
        return self._agreements(conn, _latest_versions(None))

    def current_for(self, conn: Connection, district: str) -> list[Agreement]:
        """The latest version of each of the district's agreements, revoked and expired included.

        This is what the policy needs: it must be able to say *why* it refuses (``revoked``,
        ``expired``), not only that nothing allows.
        """
        return self._agreements(conn, _latest_versions(district))

    def active_for(self, conn: Connection, district: str) -> list[Agreement]:
        """The latest version of each of the district's agreements that is not revoked."""
        return [a for a in self.current_for(conn, district) if a.status == "active"]

    def generation(self, conn: Connection) -> int:
        """The change counter: differs after any committed change to any agreement."""
        query = select(agreement_generation.c.generation).where(
            agreement_generation.c.id == GENERATION_ROW_ID
        )
        with _translated():
            value = conn.execute(query).scalar()
        return int(value) if value is not None else 0

    # -- internals -----------------------------------------------------------------------------

    def _append(self, conn: Connection, agreement: Agreement, reason: str | None) -> Agreement:
        assert agreement.changed_at is not None
        with _translated():
            conn.execute(
                insert(_V).values(
                    id=agreement.id,
                    version=agreement.version,
                    district=agreement.district,
                    body=_to_body(agreement),
                    status=agreement.status,
                    changed_by=agreement.changed_by,
                    changed_at=agreement.changed_at,
                    reason=reason,
                )
            )
            bumped = conn.execute(
                update(agreement_generation)
                .where(agreement_generation.c.id == GENERATION_ROW_ID)
                .values(generation=agreement_generation.c.generation + 1)
            )
            if bumped.rowcount == 0:
                conn.execute(
                    insert(agreement_generation).values(id=GENERATION_ROW_ID, generation=1)
                )
        return agreement

    def _agreements(self, conn: Connection, query: Select[Any]) -> list[Agreement]:
        with _translated():
            bodies = conn.execute(query).scalars().all()
        return [_from_body(body) for body in bodies]


def _latest_versions(district: str | None) -> Select[Any]:
    latest = select(_V.c.id, func.max(_V.c.version).label("version")).group_by(_V.c.id)
    if district is not None:
        latest = latest.where(_V.c.district == district)
    newest = latest.subquery("latest")
    return (
        select(_V.c.body)
        .join(newest, (_V.c.id == newest.c.id) & (_V.c.version == newest.c.version))
        .order_by(_V.c.district, _V.c.id)
    )


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except IntegrityError as exc:
        raise AgreementConflictError(
            f"a concurrent change to the agreement store won: {exc.orig}"
        ) from exc
    except SQLAlchemyError as exc:
        raise AgreementStoreUnavailableError(f"agreement store cannot be used: {exc}") from exc


def _require_actor(actor: str) -> None:
    if not actor or not actor.strip():
        raise InvalidAgreementError(
            [("changed_by", "every change needs the acting person or system")]
        )


def _content(agreement: Agreement) -> dict[str, Any]:
    record = asdict(agreement)
    for key in _BOOKKEEPING:
        del record[key]
    return record


def _to_body(agreement: Agreement) -> str:
    record: dict[str, Any] = asdict(agreement)
    for key in _SETS:
        record[key] = sorted(record[key])
    record["sub_processors"] = list(agreement.sub_processors)
    for key in _TIMES:
        if record[key] is not None:
            record[key] = record[key].isoformat()
    return json.dumps(record, sort_keys=True, ensure_ascii=False)


def _from_body(body: str) -> Agreement:
    try:
        record: dict[str, Any] = json.loads(body)
        # Versions stored before protected_identity_purposes existed allow no such purpose.
        record.setdefault("protected_identity_purposes", [])
        for key in _SETS:
            record[key] = frozenset(record[key])
        record["sub_processors"] = tuple(record["sub_processors"])
        for key in _TIMES:
            if record[key] is not None:
                record[key] = datetime.fromisoformat(record[key])
        return Agreement(**record)
    except (ValueError, KeyError, TypeError) as exc:
        # A row we cannot read back is an integrity fault: refuse, do not guess.
        raise AgreementStoreUnavailableError(f"a stored agreement cannot be read: {exc}") from exc
