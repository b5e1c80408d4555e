"""Searching the audit trail, for data-protection officers and the web console.

Every filter is an indexed column (subject_ref, actor, district, message_id, at) or a cheap
extra condition on one. Searching the audit is itself an access to personal data: the caller
appends an ``audit_searched`` entry for each search, in the same transaction.

CSV output neutralises cells that a spreadsheet would run as a formula (a leading ``=``, ``+``,
``-``, ``@``, tab or carriage return gets a ``'`` in front): audit fields such as message ids
come from outside systems, and DPOs open these files in spreadsheets.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Connection, select

from audit.entry import ENTRY_FIELDS, AuditAction, AuditEntry, format_at
from audit.tables import ENTRY_COLUMNS, audit_entries

MAX_LIMIT = 100_000
OutputFormat = Literal["table", "csv", "json"]


@dataclass(frozen=True)
class AuditQuery:
    """All given filters must match. ``since`` is inclusive, ``until`` exclusive."""

    subject_ref: str | None = None
    seq: int | None = None  # one entry
    actor: str | None = None
    district: str | None = None
    # The districts the asking principal may see (None: all). Applied in the query, before
    # the limit, so that a scoped search is not cut short by entries it may not see.
    districts: frozenset[str] | None = None
    message_id: str | None = None
    action: AuditAction | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 1000
    newest_first: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
        if self.action is not None:
            object.__setattr__(self, "action", AuditAction(self.action))


def search(conn: Connection, query: AuditQuery) -> list[AuditEntry]:
    """Entries matching ``query``, in seq order (newest first if asked), at most ``limit``."""
    t = audit_entries.c
    stmt = select(*ENTRY_COLUMNS)
    for column, value in (
        (t.subject_ref, query.subject_ref),
        (t.seq, query.seq),
        (t.actor, query.actor),
        (t.district, query.district),
        (t.message_id, query.message_id),
        (t.action, None if query.action is None else query.action.value),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if query.districts is not None:
        stmt = stmt.where(t.district.in_(sorted(query.districts)))
    if query.since is not None:
        stmt = stmt.where(t.at >= format_at(query.since))
    if query.until is not None:
        stmt = stmt.where(t.at < format_at(query.until))
    stmt = stmt.order_by(t.seq.desc() if query.newest_first else t.seq).limit(query.limit)
    return [AuditEntry(*row) for row in conn.execute(stmt)]


def format_entries(entries: Sequence[AuditEntry], fmt: OutputFormat) -> str:
    """Render entries as an aligned text table, CSV (all fields) or a JSON array."""
    if fmt == "json":
        return json.dumps([e.as_dict() for e in entries], ensure_ascii=False, indent=2)
    if fmt == "csv":
        return to_csv_text(
            [list(ENTRY_FIELDS)], [[e.as_dict()[f] for f in ENTRY_FIELDS] for e in entries]
        )
    if fmt == "table":
        return _table(entries)
    raise ValueError(f"unknown format {fmt!r}: use table, csv or json")


_TABLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("seq", "seq"),
    ("at", "at (UTC)"),
    ("actor", "actor"),
    ("action", "action"),
    ("outcome", "outcome"),
    ("district", "district"),
    ("purpose", "purpose"),
    ("agreement", "agreement"),
    ("message_id", "message"),
    ("subject_ref", "subject"),
    ("source", "source"),
    ("destination", "destination"),
    ("reason", "reason"),
)


def _table_cell(entry: AuditEntry, name: str) -> str:
    value = getattr(entry, name)
    if value is None:
        return "-"
    if name == "at":
        return str(value)[:19].replace("T", " ")
    if name == "subject_ref":
        return str(value)[:12]  # enough to tell subjects apart on screen
    return str(value)


def _table(entries: Sequence[AuditEntry]) -> str:
    if not entries:
        return "(no entries)"
    rows = [[_table_cell(e, name) for name, _ in _TABLE_COLUMNS] for e in entries]
    header = [title for _, title in _TABLE_COLUMNS]
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )
    return "\n".join(lines)


def _safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


def to_csv_text(header: Sequence[Sequence[str]], rows: Sequence[Sequence[object]]) -> str:
    """CSV (RFC 4180, CRLF) of header line(s) and rows, formula-like cells neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for line in header:
        writer.writerow([_safe_cell(v) for v in line])
    for row in rows:
        writer.writerow([_safe_cell(v) for v in row])
    return buffer.getvalue()
