"""The JSON shape of a batch of visits (pydantic), shared by the API and the CSV import, and its
conversion into checked :class:`~hub.timereports.model.Visit` values.

Unknown fields are refused, as everywhere in the hub. Times carry their offset in JSON; the CSV
import localizes an export's local times first (``hub.timereports.csv_import``). A visit that
does not convert (a field out of shape, an invalid identity number) becomes a finding naming its
place, like the checks' findings, so the whole batch is answered at once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from hub.errors import InvalidIdentityNumber
from hub.ingest.identity import parse_identity
from hub.timereports.checks import Finding
from hub.timereports.model import (
    IDENTIFIER_PATTERN,
    STAFF_ID_PATTERN,
    Intervention,
    Visit,
)

_STAFF_ID = re.compile(STAFF_ID_PATTERN)
Confirmation = Literal["nfc_tag", "rfid_tag", "digital_lock", "code", "manual"]
InterventionCode = Literal[
    "personal_care", "meal", "medication", "supervision", "cleaning", "laundry", "shopping",
    "escort", "relief", "alarm_response", "other",
]  # fmt: skip


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClientIn(_Strict):
    id: str = Field(min_length=10, max_length=13, description="The identity number")
    scheme: Literal["se", "dk"] = "se"


class InterventionIn(_Strict):
    code: InterventionCode
    minutes: int | None = Field(default=None, ge=1, le=1440)


class VisitIn(_Strict):
    """One visit as the provider's app reports it."""

    visit_id: str = Field(pattern=IDENTIFIER_PATTERN, description="The app's id of the visit")
    staff_id: str = Field(
        max_length=64,
        description="The provider's staff id: at most 8 digits or with a letter, never an "
        "identity number",
        json_schema_extra={"pattern": STAFF_ID_PATTERN},
    )
    second_staff_id: str | None = Field(
        default=None,
        max_length=64,
        description="Double staffing: the second staff id",
        json_schema_extra={"pattern": STAFF_ID_PATTERN},
    )
    client: ClientIn
    order_id: str = Field(pattern=IDENTIFIER_PATTERN, description="The order (beställning)")
    interventions: list[InterventionIn] = Field(min_length=1, max_length=20)
    planned_start: AwareDatetime | None = None
    planned_end: AwareDatetime | None = None
    actual_start: AwareDatetime
    actual_end: AwareDatetime
    confirmation: Confirmation

    @field_validator("staff_id", "second_staff_id")
    @classmethod
    def _no_identity_number(cls, value: str | None) -> str | None:
        if value is not None and not _STAFF_ID.match(value):
            raise ValueError(
                "a staff id is at most 8 digits or has a letter in it; never a personal "
                "identity number"
            )
        return value


class BatchIn(_Strict):
    """``POST /api/v1/timereports``: one batch of visits of one provider and district."""

    provider: str | None = Field(
        default=None, max_length=64, description="The provider (default: the system's own)"
    )
    batch_id: str | None = Field(
        default=None, pattern=IDENTIFIER_PATTERN, description="The app's batch id (default: new)"
    )
    district: str | None = Field(
        default=None, max_length=100, description="Default: the provider's registered district"
    )
    visits: list[VisitIn] = Field(min_length=1)


def to_visit(raw: VisitIn, index: int, line: int | None = None) -> Visit | Finding:
    try:
        client = parse_identity(raw.client.id, raw.client.scheme)
    except InvalidIdentityNumber as exc:
        return Finding(exc.reason, f"{_where(index, line)}: client: {exc.detail}", index, line)
    if (raw.planned_start is None) != (raw.planned_end is None):
        return Finding(
            "planned_incomplete",
            f"{_where(index, line)}: give both planned start and end, or neither",
            index,
            line,
        )
    return Visit(
        index=index,
        line=line,
        visit_id=raw.visit_id,
        staff_id=raw.staff_id,
        second_staff_id=raw.second_staff_id,
        client=client,
        order_id=raw.order_id,
        interventions=tuple(Intervention(i.code, i.minutes) for i in raw.interventions),
        planned_start=raw.planned_start,
        planned_end=raw.planned_end,
        actual_start=raw.actual_start,
        actual_end=raw.actual_end,
        confirmation=raw.confirmation,
    )


def from_row(row: dict[str, Any], index: int, line: int) -> Visit | Finding:
    """A CSV row (already shaped as a ``VisitIn``) as a visit, or a finding naming its line;
    its reason names the first field in error (``staff_id_invalid``, ``confirmation_invalid``)
    or ``row_invalid``."""
    try:
        raw = VisitIn.model_validate(row)
    except ValidationError as exc:
        first = exc.errors()[0]["loc"]
        field = str(first[0]) if first and str(first[0]) in VisitIn.model_fields else "row"
        return Finding(f"{field}_invalid", f"line {line}: {_first_error(exc)}", index, line)
    return to_visit(raw, index, line)


def convert(raws: Sequence[VisitIn]) -> tuple[list[Visit], list[Finding]]:
    visits: list[Visit] = []
    findings: list[Finding] = []
    for index, raw in enumerate(raws):
        out = to_visit(raw, index)
        (findings if isinstance(out, Finding) else visits).append(out)  # type: ignore[arg-type]
    return visits, findings


def _where(index: int, line: int | None) -> str:
    return f"line {line}" if line is not None else f"visits[{index}]"


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    place = ".".join(str(p) for p in first["loc"]) or "row"
    return f"{place}: {first['msg']}"
