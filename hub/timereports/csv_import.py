"""Reading a provider's CSV export of actual visits into the JSON shape of a visit.

The columns (header names, any order; ``;`` or ``,`` as the delimiter, taken from the header
line; UTF-8, a byte-order mark allowed):

================== ===================================================================
column             value
================== ===================================================================
visit_id           the app's id of the visit
staff_id           the provider's staff id (at most 8 digits, or with a letter)
second_staff_id    double staffing: the second staff id (empty: none)
client             the client's personnummer, samordningsnummer or CPR number
client_scheme      ``se`` (default when empty) or ``dk``
order_id           the order (beställning) in the case system
interventions      codes separated by ``|``, each optionally ``:minutes``
                   (``personal_care:20|meal``)
planned_start      optional; ISO 8601, local time of the district when no offset
planned_end        optional, with planned_start
actual_start       ISO 8601 (``2026-11-03 08:05`` or with an offset)
actual_end
confirmation       nfc_tag, rfid_tag, digital_lock, code or manual
================== ===================================================================

Line numbers are the file's (the header is line 1). Reading never stops at the first bad row:
every row's problem is reported, and the service stores nothing if any row is bad.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

from hub.errors import InputError

COLUMNS = (
    "visit_id", "staff_id", "second_staff_id", "client", "client_scheme", "order_id",
    "interventions", "planned_start", "planned_end", "actual_start", "actual_end", "confirmation",
)  # fmt: skip
REQUIRED = frozenset(COLUMNS) - {"second_staff_id", "client_scheme", "planned_start", "planned_end"}
_TIMES = ("planned_start", "planned_end", "actual_start", "actual_end")


def read_rows(text: str, zone: ZoneInfo) -> Iterator[tuple[int, dict[str, object]]]:
    """``(line, row)`` per data row; ``InputError('csv_invalid')`` for a bad header."""
    text = text.removeprefix("\ufeff")
    header_line = text.split("\n", 1)[0]
    delimiter = ";" if header_line.count(";") >= header_line.count(",") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header = [h.strip() for h in reader.fieldnames or ()]
    missing = sorted(REQUIRED - set(header))
    unknown = sorted(set(header) - set(COLUMNS))
    if missing or unknown:
        parts = [f"missing {', '.join(missing)}"] if missing else []
        parts += [f"unknown {', '.join(unknown)}"] if unknown else []
        raise InputError(
            f"line 1: the header does not fit: {'; '.join(parts)} (columns: {', '.join(COLUMNS)})",
            reason="csv_invalid",
        )
    reader.fieldnames = header
    try:
        for values in reader:
            yield reader.line_num, _shaped(values, zone)
    except csv.Error as exc:
        raise InputError(f"line {reader.line_num}: {exc}", reason="csv_invalid") from exc


def _shaped(values: dict[str | None, object], zone: ZoneInfo) -> dict[str, object]:
    if None in values:  # more fields than the header has
        return {"_extra": "this row has more fields than the header"}
    row = {k: v.strip() if isinstance(v, str) else v for k, v in values.items() if k}
    out: dict[str, object] = {
        k: v for k, v in row.items() if v not in ("", None) and k not in ("client", "client_scheme")
    }
    out["client"] = {"id": row.get("client") or "", "scheme": row.get("client_scheme") or "se"}
    out["interventions"] = [
        _intervention(part)
        for part in str(row.get("interventions") or "").split("|")
        if part.strip()
    ]
    for name in _TIMES:
        if name in out:
            out[name] = _localized(str(out[name]), zone)
    return out


def _intervention(part: str) -> dict[str, object]:
    code, _, minutes = part.strip().partition(":")
    out: dict[str, object] = {"code": code.strip()}
    if minutes.strip():
        out["minutes"] = minutes.strip()
    return out


def _localized(text: str, zone: ZoneInfo) -> str:
    """An export's local time with the district's offset; what does not parse is left for the
    model to refuse with its own message."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.isoformat()
