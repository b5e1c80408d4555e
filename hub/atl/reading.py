"""Reading the stored shift reports for a check: found by business keys, decrypted under audit.

Design: the check reads the reports themselves (sealed payloads, found by their business keys)
rather than a summary written beside them. A summary would need a second sealed copy of every
shift kept in step with the reports (a corrected report replaces an earlier one); reading the
reports keeps one source of truth, and every read is an audited ``decrypted`` entry per client
as any other access to a payload. A month of one assistant is a handful of small documents.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import date

from sqlalchemy import Connection

from audit.entry import AuditAction, AuditEvent, Outcome
from hub.atl.shifts import ShiftReport, read_report
from hub.keys import crypto
from hub.ports import AuditLog, DataKeys, per_subject
from hub.storage import atl as atl_rows
from hub.storage.messages import subject_refs_for

Employment = tuple[str, str]  # (provider's organisation number, HMAC of the assistant's id)


def months(first: date, last: date) -> list[str]:
    """``YYYY-MM`` of every month from ``first`` to ``last``."""
    out, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def reach(first: date, last: date) -> list[str]:
    """The months a check of ``first``..``last`` reads: the twelve months up to ``first``'s
    (every window reaches back at most that far: the calendar year's caps, a total-time run of
    at most twelve months, four weeks), then on to ``last``."""
    index = first.year * 12 + first.month - 1 - 11
    return months(date(index // 12, index % 12 + 1, 1), last)


def load(
    conn: Connection,
    keys: DataKeys[Connection],
    audit: AuditLog[Connection],
    *,
    actor: str,
    purpose: str,
    reason: str,
    district: str | None,
    months_read: Collection[str],
    employments: Iterable[Employment] | None = None,
) -> dict[Employment, list[ShiftReport]]:
    """The reports of ``months_read``, per employment (all of them when ``employments`` is
    None), each decrypted and audited as ``decrypted`` by ``actor`` with ``reason``."""
    rows = []
    if employments is None:
        rows = atl_rows.reports(conn, district, months_read)
    else:
        for employment in employments:
            rows += atl_rows.reports(conn, district, months_read, employment)
    # A later report of the same employment, client and month is a correction: it replaces
    # the earlier one (rows come oldest first).
    latest = {(p, a, r.client, r.period): (p, a, r) for p, a, r in rows}
    rows = list(latest.values())
    subjects = subject_refs_for(conn, [r.id for _, _, r in rows])
    out: dict[Employment, list[ShiftReport]] = {}
    events: list[AuditEvent] = []
    for provider, assistant, sealed in rows:
        key = keys.key(conn, sealed.district, sealed.key_version)
        aad = crypto.payload_aad(sealed.id, sealed.district, sealed.message_type, key.version)
        out.setdefault((provider, assistant), []).append(
            read_report(crypto.unseal(key.key, sealed.ciphertext, aad))
        )
        events += per_subject(
            AuditEvent(
                actor=actor,
                action=AuditAction.DECRYPTED,
                purpose=purpose,
                district=sealed.district,
                agreement=sealed.agreement_ref,
                message_id=sealed.id,
                outcome=Outcome.OK,
                reason=reason,
            ),
            subjects.get(sealed.id, []),
        )
    audit.record(conn, events)
    return out
