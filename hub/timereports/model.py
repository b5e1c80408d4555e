"""A reported visit as the hub checks it, whichever face it came through (JSON, CSV).

Plain values, no I/O: :mod:`hub.timereports.document` writes one as a ``timereport.visit`` v2
body and :mod:`hub.timereports.checks` decides whether a batch of them may be stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from hub.ingest.identity import IdentityNumber

CONFIRMATION_METHODS = ("nfc_tag", "rfid_tag", "digital_lock", "code", "manual")
INTERVENTIONS = (
    "personal_care", "meal", "medication", "supervision", "cleaning", "laundry", "shopping",
    "escort", "relief", "alarm_response", "other",
)  # fmt: skip
# A staff id as the v2 XSD allows it: at most 8 digits, or with a letter (never an identity
# number); the JSON and CSV faces check it with the same patterns before the XSD does.
STAFF_ID_PATTERN = r"^(?:[0-9]{1,8}|[A-Za-z0-9_.:/\-]*[A-Za-z][A-Za-z0-9_.:/\-]*)$"
IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:/\-]{0,63}$"


@dataclass(frozen=True)
class Intervention:
    code: str
    minutes: int | None = None


@dataclass(frozen=True)
class Visit:
    """One visit of a batch. ``index`` is its place in the batch (0-based) and ``line`` the
    CSV line it came from, if any: a check's finding names one of them."""

    index: int
    visit_id: str
    staff_id: str
    client: IdentityNumber
    order_id: str
    interventions: tuple[Intervention, ...]
    actual_start: datetime  # aware
    actual_end: datetime
    confirmation: str
    planned_start: datetime | None = None
    planned_end: datetime | None = None
    second_staff_id: str | None = None
    line: int | None = None
    message_id: str | None = None  # an XML sender's visit: its envelope's MessageId

    def visit_date(self, zone: ZoneInfo) -> date:
        """The local day of the visit (its actual start) in the district's zone."""
        return self.actual_start.astimezone(zone).date()

    @property
    def where(self) -> str:
        """How a finding names this visit: the CSV line, the XML sender's message, or the
        place in the JSON batch."""
        if self.line is not None:
            return f"line {self.line}"
        if self.message_id is not None:
            return f"message {self.message_id}"
        return f"visits[{self.index}]"
