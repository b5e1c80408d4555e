"""A district's data key versions as plain values: no database, no key management.

``DataKey`` is what the message path seals and opens payloads with (``hub.ports.DataKeys``
hands it out); ``KeyState`` and ``KeyInfo`` are what ``omsorgshub keys list`` shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class KeyState(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"
    SHREDDED = "shredded"


@dataclass(frozen=True)
class DataKey:
    """One unwrapped data key version. ``key`` never appears in ``repr``."""

    district: str
    version: int
    key: bytes = field(repr=False)


@dataclass(frozen=True)
class KeyInfo:
    district: str
    version: int
    state: KeyState
    created_at: datetime
    retired_at: datetime | None
    shredded_at: datetime | None
    message_count: int | None
