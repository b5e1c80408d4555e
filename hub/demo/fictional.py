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
_STOCKHOLM_WINTER = timezone(timedelta(hours=1))
START = datetime(2024, 1, 8, tzinfo=_STOCKHOLM_WINTER)  # 74 days before summer time begins


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
    case_type = weighted(rng, _CASE_TYPES)
    registered = START + timedelta(days=rng.randrange(74), minutes=rng.randrange(8 * 60, 18 * 60))
    root = etree.Element(f"{{{REFERRAL_NS}}}CaseReferral", nsmap=default_ns(REFERRAL_NS))
    add_element(root, "CaseId", f"AD-{registered.year}-{rng.randrange(1, 10**6):06d}")
    add_element(root, "RegisteredAt", registered.isoformat())
    add_element(root, "MainCategory", weighted(rng, _MAIN_CATEGORIES))
    add_element(root, "CaseType", case_type)
    add_element(root, "CaseClass", weighted(rng, _CASE_CLASSES))
    unit_kind = rng.choices(("district", "unit", "provider"), weights=(50, 30, 20))[0]
    if unit_kind == "district":
        add_element(
            root, "AffectedUnit", f"Stadsdelsnämnden {district}", kind="district", id=district
        )
    elif unit_kind == "unit":
        add_element(root, "AffectedUnit", rng.choice(_UNITS), kind="unit")
    else:
        provider = rng.choice(PROVIDERS)
        add_element(root, "AffectedUnit", provider.name, kind="provider", id=provider.id)
    add_element(root, "Urgency", "urgent" if rng.random() < URGENT_SHARE else "normal")
    if rng.random() < 0.7:
        callback = add_element(root, "Callback")
        add_element(
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
            add_element(callback, "PreferredTime", **window)
    if rng.random() < 0.15:
        add_element(root, "Language", rng.choice(_LANGUAGES))
    add_element(root, "FreeText", rng.choice(_FREE_TEXT[case_type]))
    subject = add_element(root, "DataSubject")
    add_element(
        subject, "IdentityNumber", person.identity.formatted(), scheme=person.identity.scheme
    )
    add_element(subject, "Name", person.name)
    if rng.random() < 0.6:
        officer = add_element(root, "ResponsibleOfficer")
        add_element(officer, "Id", f"hl-{rng.randrange(1000, 10000)}")
        add_element(officer, "Name", rng.choice(_OFFICERS))
    # The ordering unit follows from the case (no draw, so every other value stays as it was).
    add_element(root, "OrderingUnit", ordering_unit(district, case_type))
    return etree.tostring(root, encoding="UTF-8")


def ordering_unit(district: str, case_type: str) -> str:
    """The fictional ordering unit (beställarenhet) of a district that a case type belongs to."""
    team = "bistand-aldre" if case_type in ("home_care", "housing", "safety_alarm") else "bistand"
    return f"{district.removeprefix('sdn-')}-{team}"


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
    envelope = etree.Element(f"{ns}Envelope", nsmap=default_ns(ENVELOPE_NS))
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


def default_ns(namespace: str) -> dict[str, str]:
    # lxml takes None as the key of the default namespace; lxml-stubs only allow str keys.
    return cast("dict[str, str]", {None: namespace})


def weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(tuple(weights), weights=tuple(weights.values()))[0]


def add_element(
    parent: etree._Element, name: str, text: str | None = None, **attrib: str
) -> etree._Element:
    tag = f"{{{etree.QName(parent).namespace}}}{name}"
    element = etree.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = text
    return element
