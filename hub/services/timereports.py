"""Reporting time: a provider's batch of visits checked, mapped and stored held (issue 13 §1).

Both faces call :func:`report_batch`: ``POST /api/v1/timereports`` (JSON) and ``omsorgshub
timereports import`` (CSV). The way of a batch:

1. the provider is registered (``timereports provider``) and the sender is its system;
2. the checks of ``hub.timereports.checks``: times, lock date, orders (the case system's
   ``client_summary`` lookup, agreement-checked and audited as every lookup, cached per
   client), overlaps of a staff member within the batch and against visits already stored (by
   business keys: no payload is decrypted);
3. each visit mapped onto a ``timereport.visit`` v2 envelope and put through the ingest
   pipeline's checks (XSD, identity numbers, routing, agreement), as an XML sender's would be;
4. all stored in one transaction (``Ingestor.store_all``), deliveries ``held``.

**The batch rule**: one bad visit refuses the whole batch (``422 time_report_refused``) with
every finding, each naming the visit (``index`` in the JSON batch, ``line`` in the CSV file),
and nothing is stored. A provider's batch is what its team leader signs as a whole; storing
part of it would leave a batch nobody approved in that form. Warnings (a high share of manual
confirmations) are recorded with the batch and do not refuse it.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from audit.entry import AuditAction, Outcome
from hub.bootstrap import Hub
from hub.errors import (
    Conflict,
    DeliveryError,
    Forbidden,
    GuardUnavailable,
    HubError,
    InputError,
    NotFound,
    TimeReportRefused,
)
from hub.ingest.pipeline import Prepared
from hub.services.lookups import LookupQuestion
from hub.services.principal import Principal
from hub.storage import timereports as rows
from hub.timereports import checks
from hub.timereports.checks import Busy, Finding, Order, Rules
from hub.timereports.document import visit_body, visit_envelope
from hub.timereports.model import Visit
from hub.timereports.orders import orders_of

Progress = Callable[[str, int], None]  # (stage, visits done in it)


@dataclass(frozen=True)
class BatchReceipt:
    provider: str
    batch_id: str
    district: str
    visits: int
    message_ids: tuple[str, ...]
    warnings: tuple[Finding, ...]


def provider_for(hub: Hub, sender: str, provider: str | None) -> rows.ProviderRow:
    """The provider a system reports for: the one named (if it is the system's), or the
    system's only one."""
    with hub.reader.connect() as conn:
        if provider is None:
            mine = rows.providers_of(conn, sender)
            if len(mine) != 1:
                raise InputError(
                    f"system {sender!r} reports for {len(mine)} providers; name one (provider)",
                    reason="provider_required",
                )
            provider = mine[0]
        row = rows.provider_row(conn, provider)
    if row is None:
        raise NotFound(f"no provider {provider!r} reports time here", reason="provider_unknown")
    if row.system != sender:
        raise Forbidden(
            f"system {sender!r} does not report time for provider {provider!r}",
            reason="provider_not_yours",
        )
    return row


def report_batch(
    hub: Hub,
    principal: Principal,
    *,
    sender: str,
    provider: str | None,
    visits: Sequence[Visit],
    findings: Sequence[Finding] = (),
    batch_id: str | None = None,
    district: str | None = None,
    progress: Progress = lambda stage, n: None,
) -> BatchReceipt:
    """Check and store a batch, all or nothing (``findings``: what the face already found,
    e.g. CSV rows that did not convert, refuse it like the checks' own)."""
    row = provider_for(hub, sender, provider)
    if district is not None and district != row.district:
        raise InputError(
            f"provider {row.provider!r} reports for {row.district!r}, not {district!r}",
            reason="district_mismatch",
        )
    total = len(visits) + len(findings)
    if total > hub.settings.timereport_max_batch:
        raise InputError(
            f"{total} visits in one batch; at most {hub.settings.timereport_max_batch}",
            reason="batch_too_large",
        )
    batch_id = batch_id or f"tr-{uuid.uuid4().hex[:24]}"
    zone = ZoneInfo(hub.settings.time_zone)
    now = hub.clock()
    with hub.reader.connect() as conn:
        if rows.batch_row(conn, row.provider, batch_id) is not None:
            raise Conflict(
                f"batch {batch_id!r} of {row.provider!r} was reported already; see "
                f"/api/v1/timereports/batches/{batch_id}",
                reason="batch_exists",
            )
        reopened = rows.reopened(conn, row.provider, now)
    rules = Rules(
        zone=zone,
        now=now,
        lock_day=row.lock_day or hub.settings.timereport_lock_day,
        reopened=reopened,
        manual_share_warning=hub.settings.timereport_manual_share,
    )
    found = list(findings)
    found += checks.check_times(visits, rules)
    orders = _orders(hub, principal, sender, row.district, visits, progress)
    found += checks.check_orders(visits, row.provider, orders, zone)
    found += _overlaps(hub, row, visits, zone)
    _refuse_if_any(hub, principal, row, batch_id, found)
    prepared: list[Prepared] = []
    for v in visits:
        body = visit_body(v, provider=row.provider, batch_id=batch_id, zone=zone)
        document = visit_envelope(
            body,
            district=row.district,
            purpose=hub.settings.timereport_purpose,
            message_id=f"{batch_id}/{v.visit_id}",
        )
        try:
            prepared.append(hub.ingestor.prepare(sender, document))
        except HubError as exc:
            if not isinstance(exc, InputError):
                raise  # the agreement or a guard: the batch's problem, not one visit's
            found.append(Finding(exc.reason, f"{v.where}: {exc.detail}", v.index, v.line))
        progress("checked", 1)
    _refuse_if_any(hub, principal, row, batch_id, found)
    results = hub.ingestor.store_all(prepared)
    progress("stored", len(results))
    warning = checks.manual_share_warning(visits, rules.manual_share_warning)
    warnings = (warning,) if warning else ()
    if warnings:
        with hub.engine.begin() as conn:
            rows.set_warnings(conn, row.provider, batch_id, [w.as_dict() for w in warnings])
    return BatchReceipt(
        row.provider, batch_id, row.district, len(results), tuple(r.message_id for r in results),
        warnings,
    )  # fmt: skip


def _refuse_if_any(
    hub: Hub, principal: Principal, row: rows.ProviderRow, batch_id: str, found: list[Finding]
) -> None:
    refusing = sorted(
        (f for f in found if f.refuses),
        key=lambda f: (f.line or 0, f.index if f.index is not None else -1, f.reason),
    )
    if not refusing:
        return
    event = principal.did(
        AuditAction.REFUSED,
        outcome=Outcome.REFUSED,
        district=row.district,
        purpose=hub.settings.timereport_purpose,
        source=row.system,
        reason=f"time_report_refused: batch {batch_id} of {row.provider}, "
        f"{len(refusing)} findings ({', '.join(sorted({f.reason for f in refusing}))})",
    )
    with hub.engine.begin() as conn:
        hub.guards.record(conn, [event])
    raise TimeReportRefused(
        f"batch refused as a whole, nothing stored: {refusing[0].detail}"
        + (f" (and {len(refusing) - 1} more)" if len(refusing) > 1 else ""),
        findings=[f.as_dict() for f in refusing],
    )


def _orders(
    hub: Hub,
    principal: Principal,
    sender: str,
    district: str,
    visits: Sequence[Visit],
    progress: Progress,
) -> dict[str, dict[str, Order]]:
    """Each client's orders, from the cache or the case system (``client_summary``)."""
    out: dict[str, dict[str, Order]] = {}
    for v in visits:
        if v.client.canonical in out:
            continue
        question = LookupQuestion(
            requester=sender,
            actor=principal.name,
            lookup="client_summary",
            district=district,
            purpose=hub.settings.timereport_purpose,
            subject=v.client.canonical,
            scheme=v.client.scheme,
        )
        ref = hub.guards.hmacs.subject_ref(v.client.canonical)
        out[v.client.canonical] = hub.order_cache.get(
            district, ref, functools.partial(_ask_orders, hub, question)
        )
        progress("orders", 1)
    return out


def _ask_orders(hub: Hub, question: LookupQuestion) -> dict[str, Order]:
    try:
        return orders_of(hub.lookups.ask(question).data)
    except DeliveryError as exc:
        raise GuardUnavailable(
            f"the case system could not be asked about the orders: {exc.detail}; "
            "send the batch again later",
            reason="orders_unavailable",
        ) from exc


def _overlaps(
    hub: Hub, row: rows.ProviderRow, visits: Sequence[Visit], zone: ZoneInfo
) -> list[Finding]:
    """Overlaps of a staff member, within the batch and against stored visits (business
    keys: the staff ids as keyed HMACs, the local dates and the times plain)."""
    staff = {s for v in visits for s in (v.staff_id, v.second_staff_id) if s}
    refs = {s: hub.guards.hmacs.business_key(s) for s in staff}
    days: set[str] = set()
    for v in visits:
        day = v.visit_date(zone)
        days |= {(day + timedelta(days=d)).isoformat() for d in (-1, 0, 1)}
    with hub.reader.connect() as conn:
        stored = rows.stored_visits(conn, row.provider, row.system, set(refs.values()), days)
    busy = [
        Busy(ref, datetime.fromisoformat(start), datetime.fromisoformat(end))
        for ref, start, end in stored
    ]
    return checks.check_staff(visits, busy, refs)
