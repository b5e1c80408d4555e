"""The fictional Danish side of the demo and the tests: MedCom organisations, a municipality's
district, its agreements, its ``[medcom]`` routing and CareCommunications about fictional people.

SOR codes and EAN numbers here are made up (all start with 1000000000 / 579000000); the people
come from ``hub.demo.fictional`` (CPR numbers with valid dates and obviously fictional names).
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone

from contracts.model import Agreement
from hub.demo.fictional import FictionalPerson
from schemas.medcom.document import (
    AttachmentSegment,
    Author,
    CareCommunication,
    Organisation,
    TextSegment,
)

DISTRICT = "dk-fiktiv-kommune"
PURPOSE = "care_communication"
MESSAGE_TYPE = "care.communication"
CATEGORIES = frozenset({"identity", "contact", "health"})
# The municipality's home care (a receiver of inbound messages, the sender of outbound ones).
HOME_CARE = Organisation(
    "Fiktiv Kommune, Hjemmeplejen (fiktiv)", "100000000000011", "5790000000011"
)
# A hospital ward that writes to the municipality, and a GP the municipality writes to.
HOSPITAL = Organisation(
    "Testby Sygehus, Afdeling Fiktiv (fiktiv)", "100000000000022", "5790000000022"
)
GP = Organisation("Lægehuset Eksempelvej (fiktiv)", "100000000000033", "5790000000033")
HOSPITAL_SYSTEM = "testby-sygehus"  # the registered system that posts inbound bundles
CARE_SYSTEM = "fiktiv-omsorgssystem"  # the municipality's care system (sends, receives)
ONWARD = "fiktiv-omsorg-indbakke"  # destination of inbound messages: the care system's inbox
MEDCOM_GP = "medcom-laegehus"  # destination of outbound messages: the GP over MedCom
_DANISH_WINTER = timezone(timedelta(hours=1))
_AUTHORS = (
    Author("Testine", "Sygeplejersken", "Sygeplejerske"),
    Author("Prøvert", "Terapeutsen", "Fysioterapeut"),
)
_TEXTS = (
    "Borgeren udskrives i morgen; hjemmeplejen bedes genoptage besøg fra kl. 8.",
    "Vi har ændret medicinen; se vedhæftede liste. Venlig hilsen afdelingen (fiktiv).",
    "Kan I oplyse, hvornår genoptræningen starter? Borgeren spørger.",
)


def medcom_toml(district: str = DISTRICT, receiver: Organisation = HOME_CARE) -> str:
    """The routing table's ``[medcom]`` part mapping ``receiver`` to ``district``."""
    return (
        "[[medcom.receivers]]\n"
        f'sor = "{receiver.sor}"\nean = "{receiver.ean}"\n'
        f'district = "{district}"\npurpose = "{PURPOSE}"\nrecipients = ["{ONWARD}"]\n'
    )


def care_communication(
    person: FictionalPerson,
    rng: random.Random,
    *,
    sender: Organisation = HOSPITAL,
    receiver: Organisation = HOME_CARE,
    category: str = "carecoordination",
    attachment: bool = False,
) -> CareCommunication:
    """A fictional CareCommunication about ``person`` (a Danish one: ``scheme`` dk)."""
    if person.identity.scheme != "dk":
        raise ValueError("a CareCommunication is about a person with a CPR number")
    sent = datetime(2026, 12, 7, 9, 0, tzinfo=_DANISH_WINTER) + timedelta(
        minutes=rng.randrange(600)
    )

    def new_id() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    author = rng.choice(_AUTHORS)
    segments: list[TextSegment | AttachmentSegment] = [
        TextSegment(new_id(), sent.isoformat(), author, "+45 70 00 00 00", rng.choice(_TEXTS))
    ]
    if attachment:
        data = b"%PDF-1.4\n% fiktiv medicinliste\n"
        segments.append(
            AttachmentSegment(
                new_id(), sent.isoformat(), None, "Medicinliste", "application/pdf", data
            )
        )
    return CareCommunication(
        communication_id=new_id(),
        activity="new-message",
        sent_at=sent.isoformat(),
        sender=sender,
        receiver=receiver,
        cpr=person.identity.canonical,
        given_names=(person.given_name,),
        family_name=person.family_name,
        category=category,
        segments=tuple(segments),
    )


def medcom_agreements(now: datetime, district: str = DISTRICT) -> list[Agreement]:
    """The municipality's two agreements: the hospital's messages in, its own out to the GP."""
    common = dict(
        district=district,
        controller_name="Fiktiv Kommune (fictional)",
        dpo_contact="dpo@fiktiv-kommune.example.invalid",
        subject_categories=frozenset({"home care clients"}),
        valid_from=now - timedelta(days=30),
        valid_to=now + timedelta(days=365),
        retention_days=365 * 2,
        legal_reference="Sundhedsloven § 41 (fictional agreement DEMO-DK-1)",
        purposes=frozenset({PURPOSE}),
        message_types=frozenset({MESSAGE_TYPE}),
        categories=CATEGORIES,
        consent_required=frozenset(),
    )
    return [
        Agreement(
            id=f"PUB-DK-{name}",
            version=1,
            processor=sender,
            senders=frozenset({sender}),
            recipients=frozenset({recipient}),
            **common,  # type: ignore[arg-type]
        )
        for name, sender, recipient in (
            ("MEDCOM-IN", HOSPITAL_SYSTEM, ONWARD),
            ("MEDCOM-OUT", CARE_SYSTEM, MEDCOM_GP),
        )
    ]
