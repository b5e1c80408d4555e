"""Reporting time: a provider's batch of visits checked, mapped and stored held (issue 13 §1).

Both faces call :func:`report_batch`: ``POST /api/v1/timereports`` (JSON) and ``omsorgshub
timereports import`` (CSV). The way of a batch:

1. the provider is registered (``timereports provider``) and the sender is its system;
2. the checks of ``hub.timereports.checks`` run by ``hub.timereports.admission.VisitChecks``
   (the same object an XML sender's v2 visit meets at ingest): times, lock date, orders (the
   case system's ``client_summary`` lookup, agreement-checked and audited as every lookup,
   cached per client), overlaps of a staff member within the batch and against visits already
   stored (by business keys: no payload is decrypted);
3. each visit mapped onto a ``timereport.visit`` v2 envelope and put through the ingest
   pipeline's checks (XSD, identity numbers, routing, agreement), as an XML sender's would be,
   as already admitted (step 2 checked the batch as a whole);
4. all stored in one transaction (``Ingestor.store_all``), deliveries ``held``.

**The batch rule**: one bad visit refuses the whole batch (``422 time_report_refused``) with
every finding, each naming the visit (``index`` in the JSON batch, ``line`` in the CSV file),
and nothing is stored. A provider's batch is what its team leader signs as a whole; storing
part of it would leave a batch nobody approved in that form. Warnings (a high share of manual
confirmations) are recorded with the batch and do not refuse it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from hub.bootstrap import Hub
from hub.errors import Conflict, HubError, InputError
from hub.ingest.prepared import Prepared
from hub.services.principal import Principal
from hub.storage import timereports as rows
from hub.timereports import checks
from hub.timereports.admission import Progress as Progress  # the faces' progress bar
from hub.timereports.checks import Finding
from hub.timereports.document import visit_body, visit_envelope
from hub.timereports.model import Visit


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
    return hub.visit_checks.provider_for(sender, provider)


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
    checker = hub.visit_checks
    row = checker.provider_for(sender, provider)
    checker.check_district(row, district)
    total = len(visits) + len(findings)
    if total > hub.settings.timereport_max_batch:
        raise InputError(
            f"{total} visits in one batch; at most {hub.settings.timereport_max_batch}",
            reason="batch_too_large",
        )
    batch_id = batch_id or f"tr-{uuid.uuid4().hex[:24]}"
    zone = ZoneInfo(hub.settings.time_zone)
    with hub.reader.connect() as conn:
        if rows.batch_row(conn, row.provider, batch_id) is not None:
            raise Conflict(
                f"batch {batch_id!r} of {row.provider!r} was reported already; see "
                f"/api/v1/timereports/batches/{batch_id}",
                reason="batch_exists",
            )
    found = [*findings, *checker.findings(principal, sender, row, visits, progress)]
    checker.refuse_if_any(principal, row, batch_id, found)
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
            # admitted: the checks above ran on the whole batch (within-batch overlaps too)
            prepared.append(hub.ingestor.prepare(sender, document, admitted=True))
        except HubError as exc:
            if not isinstance(exc, InputError):
                raise  # the agreement or a guard: the batch's problem, not one visit's
            found.append(Finding(exc.reason, f"{v.where}: {exc.detail}", v.index, v.line))
        progress("checked", 1)
    checker.refuse_if_any(principal, row, batch_id, found)
    results = hub.ingestor.store_all(prepared)
    progress("stored", len(results))
    # the batch's row got the same warning as it was stored (hub.timereports.follow_up)
    warning = checks.manual_share_warning(visits, hub.settings.timereport_manual_share)
    warnings = (warning,) if warning else ()
    return BatchReceipt(
        row.provider, batch_id, row.district, len(results), tuple(r.message_id for r in results),
        warnings,
    )  # fmt: skip
