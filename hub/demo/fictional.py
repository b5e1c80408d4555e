"""Fictional people and messages for tests, the demo and benchmarks.

Everything here is made up and deterministic: the same seed gives the same people and the same
documents, byte for byte. Names are obviously invented ("Testa Fiktivsson"); identity numbers
have valid check digits (they must pass :func:`hub.ingest.identity.parse_identity`) but are drawn at
random, so the names, not the numbers, are what mark a record as fictional. Phone numbers come
from the ranges the Swedish Post and Telecom Authority (PTS) reserves for fiction
(070-1740605…699, 08-46500400…499). Organisation numbers of the fictional assistance providers
carry a deliberately wrong check digit, so that no real company has them.

The mixes follow the seeds: Äldre direkt's case classes (information 40 %, new application
9 %, status 21 %, complaints 30 %), its case types roughly as counted in seed 000 (home care
most, then invoice questions, housing and transport service), urgent cases at 1,488 of 95,979
calls (about 1.5 %), and visits confirmed at the client's home with a code, as in seed 004.
Execution events follow the SoL/LSS decisions of the case systems, payment vouchers the
personal-assistance compensation of seed 003 (Lifecare → UBW) and deferrals the contact
centre's delegation of up to 30 days on a care-fee invoice (seed 001).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from itertools import islice
from typing import cast

from lxml import etree

from hub.ingest.identity import IdentityNumber, luhn_check_digit, parse_identity
from schemas.parser import parse_xml
from schemas.registry import ENVELOPE_NS

REFERRAL_NS = "urn:omsorgshub:case.referral:1"
VISIT_NS = "urn:omsorgshub:timereport.visit:1"
EVENT_NS = "urn:omsorgshub:case.execution_event:1"
PAYMENT_NS = "urn:omsorgshub:finance.payment:1"
DEFERRAL_NS = "urn:omsorgshub:finance.deferral:1"

URGENT_SHARE = 1488 / 95979
KINDS = ("personnummer", "samordningsnummer", "cpr")

_GIVEN_SE: tuple[str, ...] = (
    "Testa", "Provia", "Exempla", "Fiktiva", "Demonia", "Låtsasine", "Testus", "Provert",
    "Exemplar", "Fiktivus", "Demoan", "Prövar", "Låtsas", "Testina",
)  # fmt: skip
_FAMILY_SE: tuple[str, ...] = (
    "Fiktivsson", "Prövlund", "Testberg", "Exempelström", "Demodotter", "Låtsasson",
    "Provqvist", "Testmark", "Fiktivlöf", "Exempelsdotter",
)  # fmt: skip
_GIVEN_DK = ("Testine", "Prøvert", "Eksempline", "Fiktivus", "Demoline", "Prøvemand")
_FAMILY_DK = ("Testesen", "Prøvegaard", "Eksempelsen", "Fiktivholm", "Demodatter")
_STAFF = ("Omsorga Testsson", "Hjälpe Provlund", "Vårda Exempelberg", "Besöka Fiktivsdotter")
_OFFICERS = ("Handla Läggarsson", "Beslute Provström", "Utreda Exempelqvist", "Bistå Testlund")
_UNITS: tuple[str, ...] = (
    "Exempelgårdens äldreboende", "Testvikens vård- och omsorgsboende",
    "Provbackens hemtjänstgrupp", "Fiktivängens dagverksamhet", "Låtsaslidens korttidsboende",
)  # fmt: skip
_LANGUAGES = ("fi", "ar", "fa", "so", "en", "pl", "bs", "es", "ti", "ru")

_CASE_TYPES = {
    "home_care": 350,
    "invoice_fee": 113,
    "housing": 110,
    "transport_service": 95,
    "other": 45,
    "safety_alarm": 31,
    "food": 25,
    "short_term_stay": 20,
    "day_activity": 13,
}
_CASE_CLASSES = {"information": 40, "new_application": 9, "status_existing": 21, "complaint": 30}
_MAIN_CATEGORIES = {"elderly_care": 90, "disability_support": 5, "health_care": 3, "other": 2}
_FREE_TEXT = {
    "home_care": (
        "Anhörig undrar varför hemtjänsten inte kom på morgonbesöket i tisdags.",
        "Vill ansöka om utökad hemtjänst: behöver hjälp med dusch två gånger i veckan.",
        "Frågar vilken utförare som har hand om insatserna och hur man byter.",
    ),
    "invoice_fee": (
        "Undrar om fakturan för omsorgsavgift är betald & vilket OCR-nummer som gäller.",
        "Ber om anstånd med betalning av avgiftsfakturan, 30 dagar.",
        "Avgiften har höjts; vill veta vilken inkomst beräkningen bygger på.",
    ),
    "housing": (
        "Vill ansöka om särskilt boende; klarar inte längre trapporna hemma.",
        "Frågar om kötiden till vård- och omsorgsboende i stadsdelen.",
    ),
    "transport_service": (
        "Färdtjänsttillståndet går ut nästa månad; hur förnyar man?",
        "Fråga om riksfärdtjänst till sommarstugan.",
    ),
    "safety_alarm": (
        "Trygghetslarmet piper utan anledning, vill att någon ringer upp.",
        "Ansöker om trygghetslarm efter fall i hemmet.",
    ),
    "day_activity": ("Vill veta om det finns plats på dagverksamheten två dagar i veckan.",),
    "food": (
        "Klagomål på matlådorna: maten kommer kall < 50 °C enligt anhörig.",
        "Vill beställa matdistribution från nästa vecka.",
    ),
    "short_term_stay": ("Anhörig behöver avlastning; frågar om korttidsplats i juli.",),
    "other": ("Allmän fråga om äldreomsorgen i stadsdelen.", "Frågar om god man."),
}
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
_STOCKHOLM_WINTER = timezone(timedelta(hours=1))
_START = datetime(2024, 1, 8, tzinfo=_STOCKHOLM_WINTER)  # 74 days before summer time begins


@dataclass(frozen=True)
class FictionalPerson:
    given_name: str
    family_name: str
    identity: IdentityNumber

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def subject(self) -> tuple[str, str]:
        """The person as an envelope's data subject: ``(scheme, number)``."""
        return (self.identity.scheme, self.identity.formatted())


@dataclass(frozen=True)
class FictionalProvider:
    id: str
    name: str


PROVIDERS = (
    FictionalProvider("prov-exempla-omsorg", "Exempla Omsorg AB"),
    FictionalProvider("prov-testvard", "Testvård Hemtjänst AB"),
    FictionalProvider("prov-fiktiva-care", "Fiktiva Care i Stockholm AB"),
)


class FictionalPeople:
    """An endless, reproducible supply of fictional people.

    ``kind`` limits the supply to one of ``personnummer``, ``samordningsnummer`` or ``cpr``;
    by default most are personnummer, some samordningsnummer and some Danish CPR. Every
    iteration starts again from the seed.
    """

    def __init__(self, seed: int = 0, *, kind: str | None = None) -> None:
        if kind is not None and kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        self._seed = seed
        self._kind = kind

    def __iter__(self) -> Iterator[FictionalPerson]:
        rng = random.Random(self._seed)
        while True:
            kind = self._kind or rng.choices(KINDS, weights=(90, 4, 6))[0]
            yield _person(rng, kind)

    def take(self, count: int) -> list[FictionalPerson]:
        return list(islice(self, count))


def referral_body(person: FictionalPerson, district: str, rng: random.Random) -> bytes:
    """A ``case.referral`` v1 body about ``person``, registered by the contact centre."""
    case_type = _weighted(rng, _CASE_TYPES)
    registered = _START + timedelta(days=rng.randrange(74), minutes=rng.randrange(8 * 60, 18 * 60))
    root = etree.Element(f"{{{REFERRAL_NS}}}CaseReferral", nsmap=_default_ns(REFERRAL_NS))
    _add(root, "CaseId", f"AD-{registered.year}-{rng.randrange(1, 10**6):06d}")
    _add(root, "RegisteredAt", registered.isoformat())
    _add(root, "MainCategory", _weighted(rng, _MAIN_CATEGORIES))
    _add(root, "CaseType", case_type)
    _add(root, "CaseClass", _weighted(rng, _CASE_CLASSES))
    unit_kind = rng.choices(("district", "unit", "provider"), weights=(50, 30, 20))[0]
    if unit_kind == "district":
        _add(root, "AffectedUnit", f"Stadsdelsnämnden {district}", kind="district", id=district)
    elif unit_kind == "unit":
        _add(root, "AffectedUnit", rng.choice(_UNITS), kind="unit")
    else:
        provider = rng.choice(PROVIDERS)
        _add(root, "AffectedUnit", provider.name, kind="provider", id=provider.id)
    _add(root, "Urgency", "urgent" if rng.random() < URGENT_SHARE else "normal")
    if rng.random() < 0.7:
        callback = _add(root, "Callback")
        _add(
            callback,
            "Phone",
            rng.choice(("070-17406", "08-465004")) + f"{rng.randrange(5, 99):02d}",
        )
        if rng.random() < 0.5:
            start = rng.randrange(8, 16)
            window = {
                "from": f"{start:02d}:00:00",
                "to": f"{start + rng.randrange(1, 4):02d}:00:00",
            }
            _add(callback, "PreferredTime", **window)
    if rng.random() < 0.15:
        _add(root, "Language", rng.choice(_LANGUAGES))
    _add(root, "FreeText", rng.choice(_FREE_TEXT[case_type]))
    subject = _add(root, "DataSubject")
    _add(subject, "IdentityNumber", person.identity.formatted(), scheme=person.identity.scheme)
    _add(subject, "Name", person.name)
    if rng.random() < 0.6:
        officer = _add(root, "ResponsibleOfficer")
        _add(officer, "Id", f"hl-{rng.randrange(1000, 10000)}")
        _add(officer, "Name", rng.choice(_OFFICERS))
    return etree.tostring(root, encoding="UTF-8")


def visit_body(person: FictionalPerson, provider: FictionalProvider, rng: random.Random) -> bytes:
    """A ``timereport.visit`` v1 body: one home-care visit to ``person`` by ``provider``."""
    planned_start = _START + timedelta(
        days=rng.randrange(74), hours=rng.randrange(7, 21), minutes=15 * rng.randrange(4)
    )
    planned = timedelta(minutes=rng.choice((15, 20, 30, 45, 60, 90)))
    actual_start = planned_start + timedelta(minutes=rng.randint(-5, 15))
    actual = max(timedelta(minutes=5), planned + timedelta(minutes=rng.randint(-10, 10)))
    root = etree.Element(f"{{{VISIT_NS}}}Visit", nsmap=_default_ns(VISIT_NS))
    _add(root, "VisitId", f"{provider.id}-{rng.randrange(10**8):08d}")
    party = _add(root, "Provider")
    _add(party, "Id", provider.id)
    _add(party, "Name", provider.name)
    staff = _add(root, "Staff")
    _add(staff, "Id", f"st-{rng.randrange(10000):04d}")
    _add(staff, "Name", rng.choice(_STAFF))
    _add(root, "Client", person.identity.formatted(), scheme=person.identity.scheme)
    _add(root, "PlannedStart", planned_start.isoformat())
    _add(root, "PlannedEnd", (planned_start + planned).isoformat())
    _add(root, "ActualStart", actual_start.isoformat())
    _add(root, "ActualEnd", (actual_start + actual).isoformat())
    _add(root, "ConfirmationMethod", rng.choices(("code", "nfc", "manual"), (80, 15, 5))[0])
    status = rng.choices(("approved", "pending", "rejected"), (85, 12, 3))[0]
    if status == "pending":
        _add(root, "Approval", status=status)
    else:
        decided = actual_start + actual + timedelta(hours=rng.randint(1, 48))
        _add(
            root,
            "Approval",
            status=status,
            approvedBy=f"tl-{rng.randrange(100, 1000)}",
            approvedAt=decided.isoformat(),
        )
    if rng.random() < 0.9:
        interventions = _add(root, "Interventions")
        codes = rng.sample(_INTERVENTIONS, rng.randint(1, 3))
        share = max(1, int(actual.total_seconds() // 60) // len(codes))
        for code in codes:
            _add(interventions, "Intervention", code=code, minutes=str(share))
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
    kind = event_kind or _weighted(rng, _EVENT_KINDS)
    law = law or ("SoL" if person.identity.birth_date.year < 1960 else "LSS")
    decided = decision_date or (_START.date() - timedelta(days=rng.randrange(30, 400)))
    after = rng.randrange(0, 90) if kind == "executed" else rng.randrange(30, 400)
    root = etree.Element(f"{{{EVENT_NS}}}ExecutionEvent", nsmap=_default_ns(EVENT_NS))
    _add(root, "EventId", f"EV-{decided.year}-{rng.randrange(10**8):08d}")
    _add(root, "DecisionId", decision_id or f"B-{law}-{rng.randrange(10**6):06d}")
    _add(root, "Subject", person.identity.formatted(), scheme=person.identity.scheme)
    _add(root, "Law", law)
    _add(root, "EventKind", kind)
    _add(root, "EventDate", (decided + timedelta(days=after)).isoformat())
    _add(root, "DecisionDate", decided.isoformat())
    if kind != "executed" or rng.random() < 0.2:
        _add(root, "Note", rng.choice(_EVENT_NOTES[kind]))
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
    period_from = date(_START.year, month, 1)
    period_to = date(_START.year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    most = Decimal(24 * period_to.day)
    if granted_hours is not None:
        most = min(most, granted_hours)
        wanted = most * Decimal(rng.randrange(80, 101)) / 100
    else:
        wanted = Decimal(rng.randrange(120, 1400)) / 2
    hours = max(Decimal("0.5"), min(most, (wanted * 2).to_integral_value(ROUND_HALF_UP) / 2))
    rate = Decimal(rng.randrange(31500, 34000)) / 100
    amount = (hours * rate).quantize(_CENT, ROUND_HALF_UP)
    root = etree.Element(f"{{{PAYMENT_NS}}}PaymentVoucher", nsmap=_default_ns(PAYMENT_NS))
    _add(root, "VoucherId", f"AE-{period_from:%Y%m}-{rng.randrange(10**6):06d}")
    _add(root, "DecisionId", decision_id or f"B-LSS-{rng.randrange(10**6):06d}")
    recipient = _add(root, "Recipient")
    if rng.random() < 0.35:
        _add(recipient, "Person", person.identity.formatted())
    else:
        _add(recipient, "Organisation", rng.choice(_ASSISTANCE_PROVIDERS)[1])
    _add(root, "Client", person.identity.formatted())
    period = _add(root, "Period")
    _add(period, "From", period_from.isoformat())
    _add(period, "To", period_to.isoformat())
    _add(root, "Hours", f"{hours:.2f}")
    _add(root, "Amount", f"{amount:.2f}", currency="SEK")
    accounting = _add(root, "Accounting")
    _add(accounting, "Account", "4580")
    _add(accounting, "Dim1", rng.choice(("31010", "31020", "31030")))  # responsibility
    _add(accounting, "Dim2", "LSS9-2")  # activity: personal assistance, LSS 9 § 2
    _add(root, "DueDate", (period_to + timedelta(days=25)).isoformat())
    _add(root, "Description", f"Assistansersättning {period_from:%Y-%m}, {hours:.1f} timmar")
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
    root = etree.Element(f"{{{DEFERRAL_NS}}}PaymentDeferral", nsmap=_default_ns(DEFERRAL_NS))
    if invoice_number is not None:
        _add(root, "InvoiceNumber", invoice_number)
    if ocr is not None:
        _add(root, "Ocr", ocr)
    _add(root, "Payer", payer_identity.formatted())
    _add(root, "Days", str(days))
    _add(root, "Reason", rng.choice(_DEFERRAL_REASONS))
    granted_by = _add(root, "GrantedBy")
    _add(granted_by, "Id", f"ad-{rng.randrange(100, 1000)}")
    _add(granted_by, "Name", rng.choice(_CONTACT_STAFF))
    return etree.tostring(root, encoding="UTF-8")


def build_envelope(
    *,
    message_type: str,
    version: str,
    district: str,
    purpose: str,
    body: bytes,
    message_id: str | None = None,
    consent: str | None = None,
    recipients: Iterable[str] = (),
    subjects: Sequence[tuple[str, str]] = (),
) -> bytes:
    """An ``urn:omsorgshub:envelope:1`` document around ``body`` (UTF-8, with declaration).

    ``subjects`` are ``(scheme, number)`` pairs, e.g. ``("se", "19121212-1212")``.
    """
    ns = f"{{{ENVELOPE_NS}}}"
    envelope = etree.Element(f"{ns}Envelope", nsmap=_default_ns(ENVELOPE_NS))
    header = etree.SubElement(envelope, f"{ns}Header")
    for name, value in (
        ("Type", message_type),
        ("Version", version),
        ("District", district),
        ("Purpose", purpose),
        ("MessageId", message_id),
        ("Consent", consent),
    ):
        if value is not None:
            etree.SubElement(header, f"{ns}{name}").text = value
    recipients = tuple(recipients)
    if recipients:
        listing = etree.SubElement(header, f"{ns}Recipients")
        for recipient in recipients:
            etree.SubElement(listing, f"{ns}Recipient").text = recipient
    if subjects:
        listing = etree.SubElement(header, f"{ns}DataSubjects")
        for scheme, number in subjects:
            etree.SubElement(listing, f"{ns}Subject", scheme=scheme).text = number
    etree.SubElement(envelope, f"{ns}Body").append(parse_xml(body))
    return etree.tostring(envelope, encoding="UTF-8", xml_declaration=True)


def referral_envelope(
    person: FictionalPerson,
    district: str,
    rng: random.Random,
    *,
    message_id: str | None = None,
) -> bytes:
    """A whole ``case.referral`` envelope about ``person``: what the contact centre sends."""
    return build_envelope(
        message_type="case.referral",
        version="1",
        district=district,
        purpose="referral",
        body=referral_body(person, district, rng),
        message_id=message_id,
        subjects=(person.subject,),
    )


def _person(rng: random.Random, kind: str) -> FictionalPerson:
    # Mostly people of elderly-care age, some younger (LSS, personal assistance).
    if rng.random() < 0.85:
        birth = date(1920, 1, 1) + timedelta(days=rng.randrange(40 * 365))
    else:
        birth = date(1960, 1, 1) + timedelta(days=rng.randrange(45 * 365))
    if kind == "cpr":
        given, family = rng.choice(_GIVEN_DK), rng.choice(_FAMILY_DK)
        number = f"{birth:%d%m%y}{_cpr_seventh_digit(rng, birth.year)}{rng.randrange(1000):03d}"
        return FictionalPerson(given, family, parse_identity(number, "dk"))
    day = birth.day + (60 if kind == "samordningsnummer" else 0)
    short = f"{birth:%y%m}{day:02d}{rng.randrange(1000):03d}"
    number = f"{birth.year:04d}{short[2:]}{luhn_check_digit(short)}"
    given, family = rng.choice(_GIVEN_SE), rng.choice(_FAMILY_SE)
    return FictionalPerson(given, family, parse_identity(number, "se"))


def _cpr_seventh_digit(rng: random.Random, year: int) -> int:
    """A seventh digit that gives ``year`` under the CPR century rules."""
    yy = year % 100
    if year < 2000:
        return rng.choice((0, 1, 2, 3, 4, 9) if yy >= 37 else (0, 1, 2, 3))
    return rng.choice((4, 9, 5, 6, 7, 8) if yy <= 36 else (5, 6, 7, 8))


def _default_ns(namespace: str) -> dict[str, str]:
    # lxml takes None as the key of the default namespace; lxml-stubs only allow str keys.
    return cast("dict[str, str]", {None: namespace})


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(tuple(weights), weights=tuple(weights.values()))[0]


def _add(
    parent: etree._Element, name: str, text: str | None = None, **attrib: str
) -> etree._Element:
    tag = f"{{{etree.QName(parent).namespace}}}{name}"
    element = etree.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = text
    return element
