"""The time-report checks that need the world: one code path for every sender of visits.

:class:`VisitChecks` runs the checks of ``hub.timereports.checks`` with what they need from
outside: the provider registered for the sender, the lock date and reopened periods, the
client's orders from the case system (``client_summary``, agreement-checked and audited as
every lookup, cached per client) and the staff's visits already stored (by business keys: no
payload is decrypted). A refusal is audited (``refused``, with the reasons) and raised as
``422 time_report_refused`` with every finding.

Two doors use it, so JSON, CSV and XML senders are held to the same rules:

- ``hub.services.timereports.report_batch`` (``POST /api/v1/timereports``, the CSV import)
  checks a whole batch (:meth:`VisitChecks.findings`, :meth:`VisitChecks.refuse_if_any`), then
  stores it through the pipeline as already admitted;
- an XML sender's ``timereport.visit`` v2 envelope, posted one at a time to
  ``/api/v1/messages``, reaches :meth:`VisitChecks.admit` from inside the ingest pipeline: the
  type declares ``admission="time_report"`` (``schemas/catalogue.py``) and ``hub.bootstrap``
  hands this object to the pipeline as that name's ``hub.ports.Admission``. The visit is read
  back from its body (``hub.timereports.document.read_visit``) and checked as a batch of one
  that joins its batch: against the visits of that batch already stored, as against any other.

Why a check declared on the type rather than routing v2 envelopes from the message door to the
service: every way into the pipeline (the message door, the SDK inbox, a demo or a bench) meets
it, the door stays one line, and the pipeline still depends on ports only. A repeat of a stored
message id is answered by the pipeline without coming here (``hub.ingest.admission``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from audit.entry import AuditAction, Outcome
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
from hub.guards import Guards
from hub.ports import per_subject
from hub.services.lookups import LookupQuestion, Lookups
from hub.services.principal import Principal
from hub.settings import Settings
from hub.storage import timereports as rows
from hub.storage.engine import reader
from hub.timereports import checks
from hub.timereports.checks import Busy, Finding, Order, Rules
from hub.timereports.document import read_visit
from hub.timereports.model import Visit
from hub.timereports.orders import OrderCache, orders_of
from schemas.envelope import ParsedEnvelope

Progress = Callable[[str, int], None]  # (stage, visits done in it)


class VisitChecks:
    def __init__(
        self,
        *,
        settings: Settings,
        engine: Engine,
        guards: Guards,
        lookups: Lookups,
        order_cache: OrderCache,
        clock: Callable[[], datetime],
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._guards = guards
        self._lookups = lookups
        self._order_cache = order_cache
        self._clock = clock

    # -- the XML door (hub.ports.Admission) -----------------------------------------------------
    def admit(self, sender: str, envelope: ParsedEnvelope) -> None:
        principal = Principal.system(sender)
        try:
            reported = read_visit(envelope.body, message_id=envelope.message_id)
        except ValueError as exc:
            refused = InputError(
                f"a time of the visit cannot be read: {exc}", reason="time_invalid"
            )
            self._audit(principal, envelope.district, sender, refused.reason, ())
            raise refused from exc
        visit = reported.visit
        refs = (self._guards.hmacs.subject_ref(visit.client.canonical),)
        try:
            row = self.provider_for(sender, reported.provider)
            self.check_district(row, envelope.district)
            self._joinable(row, reported.batch_id)
        except HubError as exc:
            self._audit(principal, envelope.district, sender, f"{exc.reason}: {exc.detail}", refs)
            raise
        zone = ZoneInfo(self._settings.time_zone)
        found: list[Finding] = []
        if reported.planned_given == 1:
            found.append(
                Finding(
                    "planned_incomplete",
                    f"{visit.where}: give both planned start and end, or neither",
                )
            )
        if reported.visit_date != visit.visit_date(zone):
            found.append(
                Finding(
                    "visit_date_mismatch",
                    f"{visit.where}: VisitDate {reported.visit_date} is not the local day of "
                    f"ActualStart ({visit.visit_date(zone)} in {zone.key})",
                )
            )
        found += self.findings(principal, sender, row, [visit])
        self.refuse_if_any(principal, row, reported.batch_id, found, refs)

    def _joinable(self, row: rows.ProviderRow, batch_id: str) -> None:
        """An XML visit joins its batch while the batch is held; a decided batch is closed."""
        with reader(self._engine).connect() as conn:
            batch = rows.batch_row(conn, row.provider, batch_id)
        if batch is not None and batch.state != "held":
            raise Conflict(
                f"batch {batch_id!r} of {row.provider!r} was {batch.state} already; report the "
                "visit in a new batch",
                reason="batch_decided",
            )

    # -- shared by every door -------------------------------------------------------------------
    def provider_for(self, sender: str, provider: str | None) -> rows.ProviderRow:
        """The provider a system reports for: the one named (if it is the system's), or the
        system's only one."""
        with reader(self._engine).connect() as conn:
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

    @staticmethod
    def check_district(row: rows.ProviderRow, district: str | None) -> None:
        if district is not None and district != row.district:
            raise InputError(
                f"provider {row.provider!r} reports for {row.district!r}, not {district!r}",
                reason="district_mismatch",
            )

    def findings(
        self,
        principal: Principal,
        sender: str,
        row: rows.ProviderRow,
        visits: Sequence[Visit],
        progress: Progress = lambda stage, n: None,
    ) -> list[Finding]:
        """Times and lock date, orders, overlaps of a staff member: what refuses a visit."""
        zone = ZoneInfo(self._settings.time_zone)
        now = self._clock()
        with reader(self._engine).connect() as conn:
            reopened = rows.reopened(conn, row.provider, now)
        rules = Rules(
            zone=zone,
            now=now,
            lock_day=row.lock_day or self._settings.timereport_lock_day,
            reopened=reopened,
            manual_share_warning=self._settings.timereport_manual_share,
        )
        found = checks.check_times(visits, rules)
        orders = self._orders(principal, sender, row.district, visits, progress)
        found += checks.check_orders(visits, row.provider, orders, zone)
        found += self._overlaps(row, visits, zone)
        return found

    def refuse_if_any(
        self,
        principal: Principal,
        row: rows.ProviderRow,
        batch_id: str,
        found: Sequence[Finding],
        subject_refs: Sequence[str] = (),
    ) -> None:
        """Audit and raise ``TimeReportRefused`` with every refusing finding, if there is one."""
        refusing = sorted(
            (f for f in found if f.refuses),
            key=lambda f: (f.line or 0, f.index if f.index is not None else -1, f.reason),
        )
        if not refusing:
            return
        self._audit(
            principal,
            row.district,
            row.system,
            f"time_report_refused: batch {batch_id} of {row.provider}, {len(refusing)} findings "
            f"({', '.join(sorted({f.reason for f in refusing}))})",
            subject_refs,
        )
        raise TimeReportRefused(
            f"batch refused as a whole, nothing stored: {refusing[0].detail}"
            + (f" (and {len(refusing) - 1} more)" if len(refusing) > 1 else ""),
            findings=[f.as_dict() for f in refusing],
        )

    def _audit(
        self,
        principal: Principal,
        district: str,
        source: str,
        reason: str,
        subject_refs: Sequence[str],
    ) -> None:
        event = principal.did(
            AuditAction.REFUSED,
            outcome=Outcome.REFUSED,
            district=district,
            purpose=self._settings.timereport_purpose,
            source=source,
            reason=reason,
        )
        with self._engine.begin() as conn:
            self._guards.record(conn, per_subject(event, subject_refs))

    def _orders(
        self,
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
                purpose=self._settings.timereport_purpose,
                subject=v.client.canonical,
                scheme=v.client.scheme,
            )
            ref = self._guards.hmacs.subject_ref(v.client.canonical)
            out[v.client.canonical] = self._order_cache.get(
                district, ref, functools.partial(self._ask_orders, question)
            )
            progress("orders", 1)
        return out

    def _ask_orders(self, question: LookupQuestion) -> dict[str, Order]:
        try:
            return orders_of(self._lookups.ask(question).data)
        except DeliveryError as exc:
            raise GuardUnavailable(
                f"the case system could not be asked about the orders: {exc.detail}; "
                "send the report again later",
                reason="orders_unavailable",
            ) from exc

    def _overlaps(
        self, row: rows.ProviderRow, visits: Sequence[Visit], zone: ZoneInfo
    ) -> list[Finding]:
        """Overlaps of a staff member, within the batch and against stored visits (business
        keys: the staff ids as keyed HMACs, the local dates and the times plain)."""
        staff = {s for v in visits for s in (v.staff_id, v.second_staff_id) if s}
        refs = {s: self._guards.hmacs.business_key(s) for s in staff}
        days: set[str] = set()
        for v in visits:
            day = v.visit_date(zone)
            days |= {(day + timedelta(days=d)).isoformat() for d in (-1, 0, 1)}
        with reader(self._engine).connect() as conn:
            stored = rows.stored_visits(conn, row.provider, row.system, set(refs.values()), days)
        busy = [
            Busy(ref, datetime.fromisoformat(start), datetime.fromisoformat(end))
            for ref, start, end in stored
        ]
        return checks.check_staff(visits, busy, refs)
