"""Fictional execution events (``case.execution_event`` v2) for IVO reporting, and the
agreements IVO reporting runs under: for the demo, the tests and ``bench/``.

Each fictional decision gets a life that ends somewhere the due rules care about, relative to
one quarter: carried out in time (no report), still waiting (with or without the reasons an
officer must complete), carried out late, closed by the person (seed 003, 3.10), interrupted
and not resumed, an offer declined, partly carried out. Every date lies on or before the
quarter's last day. Deterministic from the seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from lxml import etree

from contracts.model import Agreement
from hub.demo.fictional import FictionalPerson, add_element, build_envelope, default_ns, weighted
from hub.ivo.due import add_months
from hub.ivo.model import Quarter

EVENT_NS_2 = "urn:omsorgshub:case.execution_event:2"
IVO_PURPOSE = "ivo_reporting"
INTERVENTIONS = {
    "SoL": ("sol_special_housing_elderly", "sol_home_care", "sol_short_stay", "sol_day_activity"),
    "LSS": ("lss_personal_assistance", "lss_housing_adults", "lss_daily_activity", "lss_escort"),
}
LIVES = {
    "in_time": 20,
    "waiting": 28,
    "waiting_unexplained": 6,
    "executed_late": 12,
    "closed_by_person": 10,
    "interrupted": 10,
    "declined_offer": 7,
    "partly_executed": 7,
}
_REASONS = ("Ingen ledig plats på önskat boende.", "Brist på personal hos utföraren.")
_CONSEQUENCES = ("Bor kvar hemma med utökad hemtjänst.", "Anhöriga ger mer stöd under väntan.")
_INTERIM = "Utökad hemtjänst och trygghetslarm (fiktivt)."


@dataclass(frozen=True)
class FictionalEvent:
    body: bytes
    event_id: str


def decision_life(
    person: FictionalPerson,
    rng: random.Random,
    quarter: Quarter,
    *,
    decision_id: str,
    life: str | None = None,
) -> list[FictionalEvent]:
    """The events of one fictional decision about ``person``, as of ``quarter``'s end."""
    life = life or weighted(rng, LIVES)
    law = "SoL" if person.identity.birth_date.year < 1960 else "LSS"
    intervention = rng.choice(INTERVENTIONS[law])
    end = quarter.end
    decided = quarter.start - timedelta(days=rng.randrange(20, 270))
    due = add_months(decided, 3)
    # carried out or closed late, mostly within the quarter (its final report is due in it)
    late = min(end, max(due + timedelta(days=1), quarter.start + timedelta(rng.randrange(60))))
    explained = {
        "DelayReason": rng.choice(_REASONS),
        "Consequences": rng.choice(_CONSEQUENCES),
        "InterimMeasures": _INTERIM,
    }
    steps: list[tuple[str, date, dict[str, str]]] = [("decided", decided, {})]
    if life == "in_time":
        steps.append(("executed", decided + timedelta(days=rng.randrange(3, 80)), {}))
    elif life == "waiting":
        steps[0] = ("decided", decided, explained)
    elif life == "executed_late":
        steps.append(("executed", late, {}))
    elif life == "closed_by_person":
        reason = "Den enskilde har själv avslutat insatsen via e-tjänsten."
        steps.append(("closed", late, {"ClosingReason": reason}))
    elif life == "interrupted":
        started = decided + timedelta(days=10)
        stopped = min(started + timedelta(days=20), add_months(end, -3) - timedelta(days=5))
        steps += [("executed", started, {}), ("interrupted", max(started, stopped), explained)]
    elif life == "declined_offer":
        offer = {"OfferDate": (decided + timedelta(days=30)).isoformat()}
        offer["Offered"] = "Plats på Exempelgårdens äldreboende; den enskilde tackade nej."
        steps.append(("declined_offer", decided + timedelta(days=35), {**explained, **offer}))
    elif life == "partly_executed":
        part = {"PartNotExecuted": "Ledsagning två timmar i veckan."}
        steps.append(("partly_executed", decided + timedelta(days=20), {**explained, **part}))
    return [
        _event(person, law, intervention, decision_id, i, kind, on, decided, extra)
        for i, (kind, on, extra) in enumerate(steps)
    ]


_ORDER = (
    "Intervention", "EventKind", "EventDate", "DecisionDate", "Gender", "ProtectedIdentity",
    "PartNotExecuted", "Offer", "DelayReason", "Consequences", "InterimMeasures",
    "ClosingReason", "ReferralCaseId", "Note",
)  # fmt: skip


def _event(
    person: FictionalPerson,
    law: str,
    intervention: str,
    decision_id: str,
    index: int,
    kind: str,
    on: date,
    decided: date,
    extra: dict[str, str],
) -> FictionalEvent:
    event_id = f"EV-{decision_id}-{index}"
    root = etree.Element(f"{{{EVENT_NS_2}}}ExecutionEvent", nsmap=default_ns(EVENT_NS_2))
    add_element(root, "EventId", event_id)
    add_element(root, "DecisionId", decision_id)
    add_element(root, "Subject", person.identity.formatted(), scheme=person.identity.scheme)
    add_element(root, "Law", law)
    values = {
        "Intervention": intervention,
        "EventKind": kind,
        "EventDate": on.isoformat(),
        "DecisionDate": decided.isoformat(),
        **extra,
    }
    for name in _ORDER:
        if name == "Offer" and "OfferDate" in values:
            offer = add_element(root, "Offer")
            add_element(offer, "OfferDate", values["OfferDate"])
            add_element(offer, "Offered", values["Offered"])
        elif name in values:
            add_element(root, name, values[name])
    return FictionalEvent(etree.tostring(root, encoding="UTF-8"), event_id)


def event_envelope(person: FictionalPerson, district: str, event: FictionalEvent) -> bytes:
    return build_envelope(
        message_type="case.execution_event",
        version="2",
        district=district,
        purpose=IVO_PURPOSE,
        body=event.body,
        message_id=event.event_id,
        subjects=(person.subject,),
    )


def ivo_agreements(
    now: datetime, district: str, *, execution_app: str, event_recipient: str, hub_sender: str,
    ivo_destination: str,
) -> list[Agreement]:  # fmt: skip
    """The two agreements of IVO reporting in ``district``: the execution events the case
    system sends (tracked for IVO reporting), and the hub's own reports to IVO. A statutory
    duty, not consent, is the legal basis: no consent is asked for."""
    common: dict[str, object] = dict(
        district=district,
        controller_name=f"{district} (fictional)",
        dpo_contact=f"dataskydd.{district}@example.invalid",
        subject_categories=frozenset({"elderly care clients"}),
        valid_from=now - timedelta(days=30),
        valid_to=now + timedelta(days=365),
        retention_days=365 * 2,
        legal_reference="SoL 4 kap. 1 §, LSS 9 §: rapportering till IVO (fictional Dnr)",
        consent_required=frozenset(),
    )
    short = district.removeprefix("sdn-").upper()
    rows = [
        ("EVENTS", execution_app, event_recipient, "case.execution_event",
         {"identity", "case", "decisions"}),
        ("REPORTS", hub_sender, ivo_destination, "ivo.individual_report",
         {"pseudonym", "case", "decisions", "health"}),
    ]  # fmt: skip
    return [
        Agreement(
            id=f"IVO-{short}-{name}",
            version=1,
            processor=sender,
            senders=frozenset({sender}),
            recipients=frozenset({recipient}),
            purposes=frozenset({IVO_PURPOSE}),
            message_types=frozenset({message_type}),
            categories=frozenset(categories),
            **common,  # type: ignore[arg-type]
        )
        for name, sender, recipient, message_type, categories in rows
    ]
