"""Fictional IVO individual reports (``ivo.individual_report`` v1) about fictional people.

For the demo and the tests of the ``ivo`` robot and its e-service double: deterministic from
the seed, invented texts, and IVO's code made from the person's birth date with the gender's
parity, never the identity number. The hub's real reports are built from tracked decisions;
these only stand in for them.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, timedelta

from lxml import etree

from hub.demo.fictional import FictionalPerson, add_element, default_ns

IVO_NS = "urn:omsorgshub:ivo.individual_report:1"
REPORT_KINDS = ("not_executed", "executed", "closed")
INTERVENTIONS = {
    "SoL": ("sol_special_housing_elderly", "sol_home_care", "sol_short_stay", "sol_day_activity"),
    "LSS": ("lss_personal_assistance", "lss_housing_adults", "lss_daily_activity", "lss_escort"),
}
_REASONS = (
    "Ingen ledig plats inom önskat område.",
    "Brist på personal hos utföraren.",
    "Den enskilde har tackat nej till erbjuden plats.",
)
_CONSEQUENCES = (
    "Bor kvar hemma med utökad hemtjänst.",
    "Anhöriga ger mer stöd än planerat under väntetiden.",
)
_CLOSING_REASONS = ("Den enskilde har själv avslutat insatsen.", "Den enskilde har avlidit.")


def is_female(person: FictionalPerson) -> bool:
    """The gender an identity number carries: its second-to-last (se) or last (dk) digit."""
    canonical = person.identity.canonical
    digit = canonical[10] if person.identity.scheme == "se" else canonical[9]
    return int(digit) % 2 == 0


def ivo_code(person: FictionalPerson, rng: random.Random) -> str:
    """IVO's code of ``person``: birth date, ``-T`` and three digits (at times ``-TF`` and two),
    the last digit even for a woman and odd for a man."""
    parity = 0 if is_female(person) else 1
    birth = f"{person.identity.birth_date:%Y%m%d}"
    if rng.random() < 0.1:
        return f"{birth}-TF{rng.randrange(5) * 2 + parity:02d}"
    return f"{birth}-T{rng.randrange(500) * 2 + parity:03d}"


def quarter_start(quarter: str) -> date:
    """The first day of a quarter written ``2026Q4``."""
    year, number = int(quarter[:4]), int(quarter[5])
    return date(year, 3 * number - 2, 1)


def ivo_report_body(
    person: FictionalPerson,
    rng: random.Random,
    *,
    quarter: str = "2026Q3",
    kind: str | None = None,
    decision_id: str | None = None,
    reference: str | None = None,
    interrupted: bool = False,
    missing: Sequence[str] = (),
    free_text: str | None = None,
) -> bytes:
    """An ``ivo.individual_report`` v1 body about ``person`` for ``quarter``.

    Every date lies before the quarter begins, in the order IVO checks. ``missing`` names the
    fields left out as the case system did not send them (from ``DelayReason``,
    ``Consequences``, ``ExecutionDate``, ``ClosingDate``, ``ClosingReason``).
    """
    kind = kind or rng.choice(REPORT_KINDS)
    if kind not in REPORT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(REPORT_KINDS)}")
    law = "SoL" if person.identity.birth_date.year < 1960 else "LSS"
    decision_id = decision_id or f"B-{law}-{rng.randrange(10**6):06d}"
    begins = quarter_start(quarter)
    decided = begins - timedelta(days=rng.randrange(120, 400))
    root = etree.Element(f"{{{IVO_NS}}}IndividualReport", nsmap=default_ns(IVO_NS))
    add_element(root, "ReportReference", reference or f"OH-{decision_id}-{quarter}-{kind}")
    reporting = add_element(root, "Reporting")
    add_element(reporting, "Municipality", "Exempelstad kommun")
    add_element(reporting, "Administration", "Vård- och omsorgsnämnden")
    add_element(reporting, "Quarter", quarter)
    add_element(root, "ReportKind", kind)
    individual = add_element(root, "Individual")
    add_element(individual, "Code", ivo_code(person, rng))
    add_element(individual, "Gender", "female" if is_female(person) else "male")
    add_element(individual, "ProtectedIdentity", "false")
    decision = add_element(root, "Decision")
    add_element(decision, "Law", law)
    add_element(decision, "Intervention", rng.choice(INTERVENTIONS[law]))
    add_element(decision, "DecisionId", decision_id)
    add_element(decision, "DecisionDate", decided.isoformat())
    if interrupted:
        add_element(decision, "InterruptionDate", (decided + timedelta(days=20)).isoformat())
    if kind == "not_executed":
        delay = add_element(root, "Delay")
        if "DelayReason" not in missing:
            add_element(delay, "Reason", rng.choice(_REASONS))
        if "Consequences" not in missing:
            add_element(delay, "Consequences", rng.choice(_CONSEQUENCES))
        offers = add_element(root, "Offers")
        offer = add_element(offers, "Offer")
        add_element(offer, "Date", (decided + timedelta(days=60)).isoformat())
        add_element(offer, "Description", "Erbjuden plats på annat boende; tackade nej.")
        add_element(root, "InterimMeasures", "Utökad hemtjänst och trygghetslarm.")
    if kind == "executed" and "ExecutionDate" not in missing:
        add_element(root, "ExecutionDate", (decided + timedelta(days=100)).isoformat())
    if kind == "closed":
        closing = add_element(root, "Closing")
        if "ClosingDate" not in missing:
            add_element(closing, "ClosingDate", (decided + timedelta(days=95)).isoformat())
        if "ClosingReason" not in missing:
            add_element(closing, "Reason", rng.choice(_CLOSING_REASONS))
    if free_text is not None:
        add_element(root, "FreeText", free_text)
    if missing:
        fields = add_element(root, "Missing")
        for name in missing:
            add_element(fields, "Field", name)
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True)
