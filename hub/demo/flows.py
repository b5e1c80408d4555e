"""Fictional documents of the flows beyond referrals: visits, execution events, payments, deferrals.

Split from ``hub.demo.fictional`` (the people, the referral and the envelope), with the same
rules: deterministic from the seed, obviously invented names, and the mixes of the seeds —
visits confirmed at the client's home with a code (seed 004), execution events of SoL/LSS
decisions, personal-assistance payment vouchers (seed 003, Lifecare → UBW) and care-fee
deferrals within the contact centre's delegation of 30 days (seed 001).
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from lxml import etree

from hub.demo.fictional import (
    DEFERRAL_NS,
    EVENT_NS,
    PAYMENT_NS,
    START,
    VISIT_NS,
    FictionalPerson,
    FictionalProvider,
    add_element,
    default_ns,
    weighted,
)
from hub.ingest.identity import IdentityNumber

_STAFF = ("Omsorga Testsson", "Hjälpe Provlund", "Vårda Exempelberg", "Besöka Fiktivsdotter")
_INTERVENTIONS: tuple[str, ...] = (
    "personal_care", "meal", "medication", "supervision", "cleaning", "laundry",
    "shopping", "escort", "relief", "alarm_response",
)  # fmt: skip
_EVENT_KINDS = {"executed": 60, "interrupted": 15, "resumed": 15, "closed": 10}
_EVENT_NOTES = {
    "executed": ("Insatsen startade enligt genomförandeplanen.",),
    "interrupted": (
        "Brukaren vårdas på sjukhus; insatsen vilar tills vidare.",
        "Brukaren vistas på korttidsboende under anhörigs semester.",
    ),
    "resumed": ("Brukaren är åter i hemmet efter sjukhusvistelse.",),
    "closed": (
        "Brukaren har flyttat till vård- och omsorgsboende.",
        "Insatsen avslutad på brukarens egen begäran.",
    ),
}
# Assistance providers as payees of compensation; the last digit is deliberately not the Luhn
# check digit, so these organisation numbers cannot belong to a real company.
_ASSISTANCE_PROVIDERS = (
    ("Exempla Assistans AB", "559900-0011"),
    ("Testvägens Assistanskooperativ", "769900-0025"),
    ("Fiktiva Personlig Assistans AB", "559900-0033"),
)
_CONTACT_STAFF = ("Svara Testlund", "Hjälpa Provström", "Lyssna Exempelberg", "Ringa Fiktivsson")
_DEFERRAL_REASONS = (
    "Väntar på utbetalning av pension; betalar när den kommit.",
    "Sjukhusvistelse; anhörig tar över betalningarna från nästa månad.",
    "Ifrågasätter avgiften; avvaktar besked om avgiftsberäkningen.",
    "Ny god man är inte utsedd ännu.",
)
_CENT = Decimal("0.01")


def visit_body(person: FictionalPerson, provider: FictionalProvider, rng: random.Random) -> bytes:
    """A ``timereport.visit`` v1 body: one home-care visit to ``person`` by ``provider``."""
    planned_start = START + timedelta(
        days=rng.randrange(74), hours=rng.randrange(7, 21), minutes=15 * rng.randrange(4)
    )
    planned = timedelta(minutes=rng.choice((15, 20, 30, 45, 60, 90)))
    actual_start = planned_start + timedelta(minutes=rng.randint(-5, 15))
    actual = max(timedelta(minutes=5), planned + timedelta(minutes=rng.randint(-10, 10)))
    root = etree.Element(f"{{{VISIT_NS}}}Visit", nsmap=default_ns(VISIT_NS))
    add_element(root, "VisitId", f"{provider.id}-{rng.randrange(10**8):08d}")
    party = add_element(root, "Provider")
    add_element(party, "Id", provider.id)
    add_element(party, "Name", provider.name)
    staff = add_element(root, "Staff")
    add_element(staff, "Id", f"st-{rng.randrange(10000):04d}")
    add_element(staff, "Name", rng.choice(_STAFF))
    add_element(root, "Client", person.identity.formatted(), scheme=person.identity.scheme)
    add_element(root, "PlannedStart", planned_start.isoformat())
    add_element(root, "PlannedEnd", (planned_start + planned).isoformat())
    add_element(root, "ActualStart", actual_start.isoformat())
    add_element(root, "ActualEnd", (actual_start + actual).isoformat())
    add_element(root, "ConfirmationMethod", rng.choices(("code", "nfc", "manual"), (80, 15, 5))[0])
    # Approved by the provider: only approved time goes on to Combine (seed 004), and the
    # combine adapter refuses anything else (pending time is held by the hub, timereport v2).
    decided = actual_start + actual + timedelta(hours=rng.randint(1, 48))
    add_element(
        root,
        "Approval",
        status="approved",
        approvedBy=f"tl-{rng.randrange(100, 1000)}",
        approvedAt=decided.isoformat(),
    )
    if rng.random() < 0.9:
        interventions = add_element(root, "Interventions")
        codes = rng.sample(_INTERVENTIONS, rng.randint(1, 3))
        share = max(1, int(actual.total_seconds() // 60) // len(codes))
        for code in codes:
            add_element(interventions, "Intervention", code=code, minutes=str(share))
    return etree.tostring(root, encoding="UTF-8")


def execution_event_body(
    person: FictionalPerson,
    rng: random.Random,
    *,
    decision_id: str | None = None,
    law: str | None = None,
    decision_date: date | None = None,
    event_kind: str | None = None,
) -> bytes:
    """A ``case.execution_event`` v1 body: a decision about ``person`` executed, interrupted,
    resumed or closed.

    Without ``decision_id``, ``law`` and ``decision_date`` a decision is made up (SoL for people
    born before 1960, else LSS, as the case-management double seeds them); pass a real
    decision's values to report on it. The event is dated on or after the decision: execution
    mostly within IVO's three months, the other kinds later.
    """
    if event_kind is not None and event_kind not in _EVENT_KINDS:
        raise ValueError(f"event_kind must be one of {', '.join(_EVENT_KINDS)}")
    if law is not None and law not in ("SoL", "LSS"):
        raise ValueError("law must be 'SoL' or 'LSS'")
    kind = event_kind or weighted(rng, _EVENT_KINDS)
    law = law or ("SoL" if person.identity.birth_date.year < 1960 else "LSS")
    decided = decision_date or (START.date() - timedelta(days=rng.randrange(30, 400)))
    after = rng.randrange(0, 90) if kind == "executed" else rng.randrange(30, 400)
    root = etree.Element(f"{{{EVENT_NS}}}ExecutionEvent", nsmap=default_ns(EVENT_NS))
    add_element(root, "EventId", f"EV-{decided.year}-{rng.randrange(10**8):08d}")
    add_element(root, "DecisionId", decision_id or f"B-{law}-{rng.randrange(10**6):06d}")
    add_element(root, "Subject", person.identity.formatted(), scheme=person.identity.scheme)
    add_element(root, "Law", law)
    add_element(root, "EventKind", kind)
    add_element(root, "EventDate", (decided + timedelta(days=after)).isoformat())
    add_element(root, "DecisionDate", decided.isoformat())
    if kind != "executed" or rng.random() < 0.2:
        add_element(root, "Note", rng.choice(_EVENT_NOTES[kind]))
    return etree.tostring(root, encoding="UTF-8")


def payment_body(
    person: FictionalPerson,
    rng: random.Random,
    *,
    decision_id: str | None = None,
    granted_hours: Decimal | None = None,
) -> bytes:
    """A ``finance.payment`` v1 body: one month's personal-assistance compensation (LSS) for
    ``person``, paid to them (self-arranged assistance) or to an assistance provider.

    ``person`` needs a Swedish identity number (the schema's ``PersonNumber``). Hours are
    whole or half hours, at most ``granted_hours`` (a month's grant) when given; the amount is
    hours times an hourly rate of the order of the national standard amount, to the öre.
    """
    if person.identity.scheme != "se":
        raise ValueError("a payment's client needs a Swedish identity number")
    month = rng.randrange(1, 7)
    period_from = date(START.year, month, 1)
    period_to = date(START.year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    most = Decimal(24 * period_to.day)
    if granted_hours is not None:
        most = min(most, granted_hours)
        wanted = most * Decimal(rng.randrange(80, 101)) / 100
    else:
        wanted = Decimal(rng.randrange(120, 1400)) / 2
    hours = max(Decimal("0.5"), min(most, (wanted * 2).to_integral_value(ROUND_HALF_UP) / 2))
    rate = Decimal(rng.randrange(31500, 34000)) / 100
    amount = (hours * rate).quantize(_CENT, ROUND_HALF_UP)
    root = etree.Element(f"{{{PAYMENT_NS}}}PaymentVoucher", nsmap=default_ns(PAYMENT_NS))
    add_element(root, "VoucherId", f"AE-{period_from:%Y%m}-{rng.randrange(10**6):06d}")
    add_element(root, "DecisionId", decision_id or f"B-LSS-{rng.randrange(10**6):06d}")
    recipient = add_element(root, "Recipient")
    if rng.random() < 0.35:
        add_element(recipient, "Person", person.identity.formatted())
    else:
        add_element(recipient, "Organisation", rng.choice(_ASSISTANCE_PROVIDERS)[1])
    add_element(root, "Client", person.identity.formatted())
    period = add_element(root, "Period")
    add_element(period, "From", period_from.isoformat())
    add_element(period, "To", period_to.isoformat())
    add_element(root, "Hours", f"{hours:.2f}")
    add_element(root, "Amount", f"{amount:.2f}", currency="SEK")
    accounting = add_element(root, "Accounting")
    add_element(accounting, "Account", "4580")
    add_element(accounting, "Dim1", rng.choice(("31010", "31020", "31030")))  # responsibility
    add_element(accounting, "Dim2", "LSS9-2")  # activity: personal assistance, LSS 9 § 2
    add_element(root, "DueDate", (period_to + timedelta(days=25)).isoformat())
    add_element(root, "Description", f"Assistansersättning {period_from:%Y-%m}, {hours:.1f} timmar")
    return etree.tostring(root, encoding="UTF-8")


def deferral_body(
    invoice_number: str | None,
    ocr: str | None,
    payer_identity: IdentityNumber,
    days: int,
    rng: random.Random,
) -> bytes:
    """A ``finance.deferral`` v1 body: ``days`` of deferral granted on one care-fee invoice,
    named by its number, its OCR reference or both, addressed to ``payer_identity``.

    Any 1-365 days give a valid document (the schema's range); the contact centre's
    delegation of 30 days is the finance adapter's check, not this one's.
    """
    if invoice_number is None and ocr is None:
        raise ValueError("a deferral names the invoice by its number, its OCR reference or both")
    if payer_identity.scheme != "se":
        raise ValueError("the payer needs a Swedish identity number")
    if not 1 <= days <= 365:
        raise ValueError("days must be between 1 and 365")
    root = etree.Element(f"{{{DEFERRAL_NS}}}PaymentDeferral", nsmap=default_ns(DEFERRAL_NS))
    if invoice_number is not None:
        add_element(root, "InvoiceNumber", invoice_number)
    if ocr is not None:
        add_element(root, "Ocr", ocr)
    add_element(root, "Payer", payer_identity.formatted())
    add_element(root, "Days", str(days))
    add_element(root, "Reason", rng.choice(_DEFERRAL_REASONS))
    granted_by = add_element(root, "GrantedBy")
    add_element(granted_by, "Id", f"ad-{rng.randrange(100, 1000)}")
    add_element(granted_by, "Name", rng.choice(_CONTACT_STAFF))
    return etree.tostring(root, encoding="UTF-8")
