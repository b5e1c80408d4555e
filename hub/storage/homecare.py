"""Home-care follow-up read from what ingest stored beside each visit: business keys and
subject HMACs, never the payload (``hub.services.homecare_stats``).

A ``timereport.visit`` v2 message carries the plain keys ``provider`` and ``visit_date`` (the
local day, ISO, so a period is a string range) and the keyed HMACs ``staff_id`` and
``second_staff_id``; ``message_subjects`` holds the client's HMAC. A visit met by two staff
(double staffing) counts both.

A visit of a batch its provider **rejected** does not count (that time was not performed as
reported); visits of held and approved batches do: held time is reported time, and the
follow-up is continuous, not monthly.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Select, and_, or_, select

from hub.homecare.continuity import StaffMet
from hub.storage.tables import business_keys, message_subjects, messages, timereport_batches

VISIT_TYPE = "timereport.visit"
STAFF_KEYS = ("staff_id", "second_staff_id")


@dataclass(frozen=True)
class StoredVisit:
    """A stored visit's metadata: enough to find it and say when it was reported."""

    message_id: str
    district: str
    provider: str
    visit_date: str
    received_at: datetime
    key_version: int


def staff_met(
    conn: Connection, first: date, last: date, districts: Collection[str] | None
) -> list[StaffMet]:
    """Every (district, provider, client, staff) of the visits from ``first`` to ``last``."""
    day, provider, staff = (business_keys.alias(f"bk_{n}") for n in ("day", "provider", "staff"))
    query = (
        select(messages.c.district, provider.c.value, message_subjects.c.subject_ref, staff.c.value)
        .distinct()
        .select_from(day)
        .join(messages, messages.c.id == day.c.message_id)
        .join(
            provider,
            and_(provider.c.message_id == messages.c.id, provider.c.name == "provider"),
        )
        .join(staff, and_(staff.c.message_id == messages.c.id, staff.c.name.in_(STAFF_KEYS)))
        .join(message_subjects, message_subjects.c.message_id == messages.c.id)
        .where(
            day.c.name == "visit_date",
            day.c.value >= first.isoformat(),
            day.c.value <= last.isoformat(),
            messages.c.message_type == VISIT_TYPE,
        )
    )
    query = _not_rejected(query, provider)
    if districts is not None:
        query = query.where(messages.c.district.in_(sorted(districts)))
    return [StaffMet(*row) for row in conn.execute(query)]


def visits_of_month(
    conn: Connection, month: str, districts: Collection[str] | None
) -> list[StoredVisit]:
    """The stored visits whose local day is in ``month`` (YYYY-MM)."""
    day, provider = business_keys.alias("bk_day"), business_keys.alias("bk_provider")
    query = (
        select(
            messages.c.id,
            messages.c.district,
            provider.c.value,
            day.c.value,
            messages.c.received_at,
            messages.c.key_version,
        )
        .select_from(day)
        .join(messages, messages.c.id == day.c.message_id)
        .join(
            provider,
            and_(provider.c.message_id == messages.c.id, provider.c.name == "provider"),
        )
        .where(
            day.c.name == "visit_date",
            day.c.value >= f"{month}-01",
            day.c.value <= f"{month}-31",
            messages.c.message_type == VISIT_TYPE,
        )
        .order_by(messages.c.received_at, messages.c.id)
    )
    query = _not_rejected(query, provider)
    if districts is not None:
        query = query.where(messages.c.district.in_(sorted(districts)))
    return [StoredVisit(*row) for row in conn.execute(query)]


def _not_rejected(query: Select, provider: Any) -> Select:  # type: ignore[type-arg]
    """``query`` without the visits of rejected batches (``provider``: its provider key)."""
    batch = business_keys.alias("bk_batch")
    return (
        query.outerjoin(
            batch, and_(batch.c.message_id == messages.c.id, batch.c.name == "batch_id")
        )
        .outerjoin(
            timereport_batches,
            and_(
                timereport_batches.c.provider == provider.c.value,
                timereport_batches.c.batch_id == batch.c.value,
            ),
        )
        .where(or_(timereport_batches.c.state.is_(None), timereport_batches.c.state != "rejected"))
    )
