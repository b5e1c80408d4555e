"""Holding a payment: a ``finance.payment`` voucher checked against its period's shifts at ingest.

Design: the check runs at ingest, as a ``hub.ports.FollowUps`` in the very transaction (and
savepoint) that stores the voucher, and writes ``held`` over the ``pending`` deliveries it just
made. The alternative, the delivery executor's prepare step, would run it at every attempt (a
retry of a released payment would be stopped again unless the hold were remembered), would
read a month of shifts inside the batch that sends other deliveries, and would add a rule to
the message path; at ingest the voucher is checked once, against the shifts the hub holds when
it arrives, and a released payment is an ordinary ``pending`` delivery the relay sends once.
The relay never claims ``held``. The message path itself is unchanged: the pipeline calls its
follow-up port, which this implements (``hub.bootstrap`` chains it after the referrals').

Which shifts: the voucher names its client (a data subject) and its period (plain business
keys ``period_from``/``period_to``). The shift reports of that client in the period's months
name the employments (provider, assistant HMAC) that worked for the client; all reports of
those employments from the start of the year (the caps) are read, decrypted under audit
(``hub.atl.reading``), and checked with the rule set they name (``hub.atl.rules``). A
violation of any of them holds every delivery of the voucher; a voucher with no shift report
in its period passes (there is nothing to check: shifts reported later are not checked against
a voucher already sent). A report naming a rule set the hub does not know holds the payment too
(``unknown_rule_set``), and so does a shift that ends before it starts (``shift_invalid``): a
check that cannot run must not let the payment through.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime

from sqlalchemy import Connection

from audit.entry import AuditAction, AuditEvent, Outcome
from hub.atl.config import RuleSet
from hub.atl.reading import Employment, load, months, reach
from hub.atl.rules import Violation, check
from hub.atl.shifts import ShiftReport
from hub.ingest.records import NewMessage
from hub.ports import AuditLog, DataKeys, per_subject
from hub.storage import atl as atl_rows

log = logging.getLogger(__name__)

PAYMENT = "finance.payment"
ACTOR = "atl-check"
PURPOSE = "atl_check"


def violations_of(
    reports: Sequence[ShiftReport], rule_sets: Mapping[str, RuleSet], period: tuple[date, date]
) -> list[dict[str, object]]:
    """One employment's violations as stored and shown (rule, source, window, hours)."""
    names = sorted({r.rule_set for r in reports})
    unknown = [n for n in names if n not in rule_sets]
    if unknown:
        return [{"rule": "unknown_rule_set", "source": ", ".join(unknown), "hours": 0.0}]
    broken = [s for r in reports for s in r.shifts if s.end <= s.start]
    if broken:  # a shift that ends before it starts hides its hours: nothing can be checked
        return [
            {
                "rule": "shift_invalid",
                "source": "timereport.assistance_shift: a shift's End must be after its Start",
                "from": s.start.isoformat(),
                "to": s.end.isoformat(),
                "hours": 0.0,
            }
            for s in broken
        ]
    found: list[Violation] = []
    for name in names:  # normally one; a change of agreement checks each set's own shifts
        shifts = [s for r in reports if r.rule_set == name for s in r.shifts]
        found += check(shifts, rule_sets[name], period)
    return [
        {
            "rule": v.rule,
            "source": v.source,
            "from": v.start.isoformat(),
            "to": v.end.isoformat(),
            "hours": v.measured,
            "limit": v.limit,
        }
        for v in found
    ]


def check_employments(
    found: Mapping[Employment, list[ShiftReport]],
    rule_sets: Mapping[str, RuleSet],
    period: tuple[date, date],
) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for (provider, assistant), reports in sorted(found.items()):
        for v in violations_of(reports, rule_sets, period):
            out.append({"provider": provider, "assistant": assistant[:16], **v})
    return out


class PaymentCheck:
    """``hub.ports.FollowUps``: hold a voucher whose period breaks a working-time rule."""

    def __init__(
        self,
        rule_sets: Mapping[str, RuleSet],
        keys: DataKeys[Connection],
        audit: AuditLog[Connection],
        clock: Callable[[], datetime],
    ) -> None:
        self.rule_sets = rule_sets
        self._keys = keys
        self._audit = audit
        self._clock = clock

    def stored(self, tx: Connection, batch: Sequence[NewMessage]) -> None:
        for new in batch:
            if new.message.message_type == PAYMENT and new.delivery_ids:
                self._check(tx, new)

    def _check(self, tx: Connection, new: NewMessage) -> None:
        keys = dict(new.business_keys)
        try:
            first, last = keys["period_from"], keys["period_to"]
            period = (date.fromisoformat(first), date.fromisoformat(last))
        except (KeyError, ValueError):
            return  # the XSD requires both; a type without them is not checked
        district = new.message.district
        employments = atl_rows.employments(
            tx, district, new.subject_refs, months(period[0], period[1])
        )
        if not employments:
            return
        found = load(
            tx,
            self._keys,
            self._audit,
            actor=ACTOR,
            purpose=PURPOSE,
            reason=f"working-time check of payment {new.message.id}",
            district=district,
            months_read=reach(*period),
            employments=sorted(employments),
        )
        violations = check_employments(found, self.rule_sets, period)
        if not violations:
            return
        summary = "; ".join(
            f"{v['rule']} {v['hours']} h (limit {v.get('limit', '-')}) {v['provider']}"
            for v in violations[:10]
        )
        atl_rows.hold(
            tx,
            delivery_ids=[d for d, _ in new.delivery_ids],
            message_id=new.message.id,
            district=district,
            period=(period[0].isoformat(), period[1].isoformat()),
            violations=violations,
            summary=f"held by the working-time check: {summary}",
            now=self._clock(),
        )
        self._audit.record(
            tx,
            per_subject(
                AuditEvent(
                    actor=ACTOR,
                    action=AuditAction.HELD,
                    purpose=PURPOSE,
                    district=district,
                    agreement=new.message.agreement_ref,
                    message_id=new.message.id,
                    outcome=Outcome.OK,
                    reason=f"{len(violations)} working-time violation(s): {summary}"[:500],
                ),
                new.subject_refs,
            ),
        )
        log.info("payment %s held: %d violation(s)", new.message.id, len(violations))
