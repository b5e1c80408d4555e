"""What the Combine double checks in an import, and its fee run (pure, no I/O).

``check_import`` holds an import to the designed API (``adapters.combine.adapter``): answers
the first problem as ``(field, code, message)`` or ``None``. ``compensation_basis`` is the
month's fee run for one provider: the minutes of every imported visit of that month (by the
visit's actual start, local date as reported) per client and intervention, times a price per
hour per intervention, rounded to öre per line.

Minutes per intervention: the minutes the visit names for it; interventions without minutes
share what is left of the visit's actual duration equally (the first takes the remainder); a
visit without interventions counts its whole duration as ``other``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

INTERVENTIONS = (
    "personal_care", "meal", "medication", "supervision", "cleaning", "laundry", "shopping",
    "escort", "relief", "alarm_response", "other",
)  # fmt: skip
CONFIRMATIONS = frozenset({"nfc_tag", "rfid_tag", "digital_lock", "code", "manual"})
ID_TYPES = frozenset({"personnummer", "samordningsnummer", "cpr"})
# Kronor per hour by intervention (a fictional price list; ``--price`` overrides).
DEFAULT_PRICES: dict[str, Decimal] = {
    **dict.fromkeys(INTERVENTIONS, Decimal("450.00")),
    "cleaning": Decimal("390.00"),
    "laundry": Decimal("390.00"),
    "shopping": Decimal("390.00"),
    "escort": Decimal("420.00"),
    "relief": Decimal("420.00"),
}
Problem = tuple[str, str, str]  # (field, code, message)


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _luhn_ok(digits: str) -> bool:
    ten = digits[-10:]
    total = 0
    for index, char in enumerate(ten):
        value = int(char) * (2 if index % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def check_import(data: object, key: str) -> Problem | None:
    """The first problem of an import request, or ``None``."""
    if not isinstance(data, dict):
        return ("", "not_an_object", "the import is no JSON object")
    if data.get("importId") != key:
        return ("importId", "import_id_mismatch", "importId must equal the Idempotency-Key")
    visit = data.get("visit")
    if not isinstance(visit, dict):
        return ("visit", "required", "visit is required")
    for name in ("externalVisitId", "providerId", "staffId"):
        if not isinstance(visit.get(name), str) or not visit[name]:
            return (f"visit.{name}", "required", f"{name} is required")
    client = visit.get("client")
    if not isinstance(client, dict) or client.get("idType") not in ID_TYPES:
        return ("visit.client.idType", "invalid", "idType must be one of " + ", ".join(ID_TYPES))
    number = client.get("id")
    if not isinstance(number, str) or not number.isdigit() or len(number) not in (10, 12):
        return ("visit.client.id", "invalid", "the client's id must be 10 or 12 digits")
    if client["idType"] != "cpr" and not _luhn_ok(number):
        return ("visit.client.id", "check_digit", "the client's id has a wrong check digit")
    actual = visit.get("actual")
    start = _time(actual.get("start")) if isinstance(actual, dict) else None
    end = _time(actual.get("end")) if isinstance(actual, dict) else None
    if start is None or end is None:
        return ("visit.actual", "invalid", "actual start and end are zoned date-times")
    if end <= start:
        return ("visit.actual.end", "end_not_after_start", "the visit ends before it starts")
    if visit.get("confirmation") not in CONFIRMATIONS:
        return ("visit.confirmation", "invalid", "unknown confirmation method")
    approval = visit.get("approval")
    if not isinstance(approval, dict) or approval.get("status") != "approved":
        return ("visit.approval", "not_approved", "only approved time is imported")
    interventions = visit.get("interventions")
    if not isinstance(interventions, list):
        return ("visit.interventions", "invalid", "interventions is a list")
    for index, item in enumerate(interventions):
        if not isinstance(item, dict) or item.get("code") not in INTERVENTIONS:
            return (f"visit.interventions[{index}]", "unknown_intervention", "unknown code")
        minutes = item.get("minutes")
        if minutes is not None and (not isinstance(minutes, int) or not 0 < minutes <= 1440):
            return (f"visit.interventions[{index}].minutes", "invalid", "1 to 1440 minutes")
    return None


def visit_month(visit: Mapping[str, object]) -> str:
    """The month a visit counts in: its actual start's date as reported (local)."""
    actual = visit["actual"]
    assert isinstance(actual, dict)
    return str(actual["start"])[:7]


def minutes_by_intervention(visit: Mapping[str, object]) -> dict[str, int]:
    actual = visit["actual"]
    assert isinstance(actual, dict)
    start, end = _time(actual["start"]), _time(actual["end"])
    assert start is not None
    assert end is not None
    duration = int((end - start).total_seconds() // 60)
    items = visit.get("interventions") or []
    assert isinstance(items, list)
    if not items:
        return {"other": duration}
    named = {str(i["code"]): int(i["minutes"]) for i in items if i.get("minutes") is not None}
    unnamed = [str(i["code"]) for i in items if i.get("minutes") is None]
    result = dict(named)
    if unnamed:
        left = max(duration - sum(named.values()), 0)
        share, extra = divmod(left, len(unnamed))
        for index, code in enumerate(unnamed):
            result[code] = result.get(code, 0) + share + (extra if index == 0 else 0)
    return result


def fee_run_id(month: str, import_ids: Iterable[str]) -> str:
    """The run's id: the same imports of a month give the same run."""
    digest = hashlib.sha256("\n".join(sorted(import_ids)).encode()).hexdigest()[:10]
    return f"FR-{month}-{digest}"


def compensation_basis(
    provider: str,
    month: str,
    imports: Mapping[str, Mapping[str, object]],
    prices: Mapping[str, Decimal],
    *,
    ran_at: str,
    final: bool,
) -> dict[str, object]:
    """The provider's compensation basis for ``month`` from all imports (by import id)."""
    in_month = {
        key: data
        for key, data in imports.items()
        if isinstance(data["visit"], dict) and visit_month(data["visit"]) == month
    }
    lines: dict[tuple[str, str, str], list[int]] = {}  # (idType, id, code) -> [visits, min]
    for data in in_month.values():
        visit = data["visit"]
        assert isinstance(visit, dict)
        if visit["providerId"] != provider:
            continue
        client = visit["client"]
        for code, minutes in minutes_by_intervention(visit).items():
            line = lines.setdefault((client["idType"], client["id"], code), [0, 0])
            line[0] += 1
            line[1] += minutes
    out = []
    total_minutes, total_amount = 0, Decimal("0.00")
    for (id_type, number, code), (visits, minutes) in sorted(lines.items()):
        price = prices[code]
        amount = (price * minutes / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        hours = (Decimal(minutes) / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        out.append(
            {
                "client": {"idType": id_type, "id": number},
                "intervention": code,
                "visits": visits,
                "minutes": minutes,
                "hours": str(hours),
                "pricePerHour": str(price),
                "amount": str(amount),
            }
        )
        total_minutes += minutes
        total_amount += amount
    return {
        "providerId": provider,
        "month": month,
        "feeRun": {
            "runId": fee_run_id(month, in_month),
            "ranAt": ran_at,
            "status": "final" if final else "preliminary",
        },
        "lines": out,
        "totals": {"minutes": total_minutes, "amount": str(total_amount)},
    }
