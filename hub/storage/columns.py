"""What every table of the hub shares: the ``metadata`` they are declared on (with the agreements'
naming convention) and the UTC time column."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, MetaData
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from contracts.tables import NAMING_CONVENTION


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, on both databases.

    SQLite has no time zone type: values are stored as naive UTC text, which also keeps string
    comparison (``next_attempt_at <= now``) correct. PostgreSQL stores ``timestamptz``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(naming_convention=NAMING_CONVENTION)  # as the agreements' tables
