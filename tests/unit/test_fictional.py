"""Fictional test data: valid against the schemas, valid identities, reproducible."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date
from decimal import Decimal

import pytest
from lxml import etree

from adapters.finance_ubw.mapping import parse_body, read_deferral, read_payment
from adapters.finance_ubw.ocr import make_ocr
from hub.demo.fictional import (
    DEFERRAL_NS,
    EVENT_NS,
    KINDS,
    PAYMENT_NS,
    PROVIDERS,
    FictionalPeople,
    build_envelope,
    referral_body,
    referral_envelope,
)
from hub.demo.flows import deferral_body, execution_event_body, payment_body, visit_body
from hub.errors import PermanentDeliveryError
from hub.ingest.identity import luhn_check_digit, parse_identity
from schemas.envelope import read_envelope
from schemas.errors import SchemaError
from schemas.registry import Registry, default_registry

REFERRAL_NS = "{urn:omsorgshub:case.referral:1}"
TOLVAN = parse_identity("19121212-1212")  # the Swedish Tax Agency's published test identity


@pytest.fixture(scope="module")
def registry() -> Registry:
    return default_registry()


def referral_envelopes(seed: int, count: int) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for index, person in enumerate(FictionalPeople(seed).take(count)):
        number = person.identity
        out.append(
            build_envelope(
                message_type="case.referral",
                version="1",
                district="sdn-sodermalm",
                purpose="case_referral",
                body=referral_body(person, "sdn-sodermalm", rng),
                message_id=f"ad-{seed}-{index}",
                recipients=("paraplyet-sodermalm",),
                subjects=((number.scheme, number.formatted()),),
            )
        )
    return out


def test_people_have_valid_identities_of_every_kind() -> None:
    people = FictionalPeople(7).take(500)
    kinds = Counter(person.identity.kind for person in people)
    assert set(kinds) == set(KINDS)
    assert kinds["personnummer"] > kinds["cpr"] > 0
    for person in people:
        parsed = parse_identity(person.identity.formatted(), person.identity.scheme)
        assert parsed == person.identity


@pytest.mark.parametrize("kind", KINDS)
def test_people_of_one_kind(kind: str) -> None:
    assert {p.identity.kind for p in FictionalPeople(3, kind=kind).take(50)} == {kind}


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="kind"):
        FictionalPeople(kind="passport")


def test_names_are_obviously_fictional() -> None:
    markers = ("test", "prov", "pröv", "prøv", "exemp", "eksemp", "fiktiv", "demo", "låtsas")
    for person in FictionalPeople(11).take(300):
        assert any(marker in person.name.lower() for marker in markers), person.name


def test_same_seed_same_people_and_documents() -> None:
    assert referral_envelopes(5, 30) == referral_envelopes(5, 30)
    assert referral_envelopes(5, 30) != referral_envelopes(6, 30)
    people = FictionalPeople(9)
    assert people.take(10) == people.take(10)  # each iteration starts from the seed


def test_every_referral_validates(registry: Registry) -> None:
    for data in referral_envelopes(1, 400):
        parsed = read_envelope(data, registry)
        scheme, number = parsed.subjects[0]
        body_number = parsed.body.findtext(f"{REFERRAL_NS}DataSubject/{REFERRAL_NS}IdentityNumber")
        assert body_number == number
        parse_identity(number, scheme)


def test_every_visit_validates(registry: Registry) -> None:
    rng = random.Random(2)
    for person in FictionalPeople(2).take(400):
        body = visit_body(person, rng.choice(PROVIDERS), rng)
        data = build_envelope(
            message_type="timereport.visit",
            version="1",
            district="sdn-sodermalm",
            purpose="time_reporting",
            body=body,
        )
        parsed = read_envelope(data, registry)
        assert parsed.message_type_info.name == "timereport.visit"


def test_referral_mix_follows_the_seeds() -> None:
    rng = random.Random(4)
    people = FictionalPeople(4).take(200)
    urgency: Counter[str] = Counter()
    case_types: Counter[str] = Counter()
    classes: Counter[str] = Counter()
    for index in range(10_000):
        body = referral_body(people[index % 200], "sdn-bromma", rng)
        urgency[_text(body, "Urgency")] += 1
        case_types[_text(body, "CaseType")] += 1
        classes[_text(body, "CaseClass")] += 1
    # 1,488 urgent of 95,979 calls: expected 155 of 10,000 (standard deviation about 12).
    assert 110 < urgency["urgent"] < 200
    assert case_types.most_common(1)[0][0] == "home_care"
    assert len(case_types) == 9
    assert classes.most_common(1)[0][0] == "information"


def test_visit_times_are_consistent() -> None:
    rng = random.Random(8)
    for person in FictionalPeople(8).take(200):
        body = visit_body(person, PROVIDERS[0], rng)
        assert _text(body, "PlannedStart") < _text(body, "PlannedEnd")
        assert _text(body, "ActualStart") < _text(body, "ActualEnd")


def test_build_envelope_refuses_a_hostile_body() -> None:
    with pytest.raises(SchemaError):
        build_envelope(
            message_type="case.referral",
            version="1",
            district="d",
            purpose="p",
            body=b'<!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>',
        )


def envelope_of(message_type: str, body: bytes, subject: tuple[str, str]) -> bytes:
    return build_envelope(
        message_type=message_type,
        version="1",
        district="sdn-farsta",
        purpose="demo",
        body=body,
        subjects=(subject,),
    )


def test_every_execution_event_validates(registry: Registry) -> None:
    rng = random.Random(12)
    kinds: Counter[str] = Counter()
    for person in FictionalPeople(12).take(400):
        body = execution_event_body(person, rng)
        subject = (person.identity.scheme, person.identity.formatted())
        parsed = read_envelope(envelope_of("case.execution_event", body, subject), registry)
        assert parsed.message_type_info.name == "case.execution_event"
        element = parsed.body.find(f"{{{EVENT_NS}}}Subject")
        assert element is not None
        scheme = element.get("scheme", "se")
        assert parse_identity(element.text or "", scheme) == person.identity
        event = date.fromisoformat(_field(parsed.body, EVENT_NS, "EventDate"))
        decided = date.fromisoformat(_field(parsed.body, EVENT_NS, "DecisionDate"))
        assert decided <= event
        law = "SoL" if person.identity.birth_date.year < 1960 else "LSS"
        assert _field(parsed.body, EVENT_NS, "Law") == law
        kinds[_field(parsed.body, EVENT_NS, "EventKind")] += 1
    assert set(kinds) == {"executed", "interrupted", "resumed", "closed"}
    assert kinds.most_common(1)[0][0] == "executed"


def test_an_execution_event_reports_on_the_decision_it_is_given(registry: Registry) -> None:
    (person,) = FictionalPeople(13).take(1)
    body = execution_event_body(
        person,
        random.Random(1),
        decision_id="B-FAR-009-1",
        law="LSS",
        decision_date=date(2023, 5, 2),
        event_kind="interrupted",
    )
    subject = (person.identity.scheme, person.identity.formatted())
    parsed = read_envelope(envelope_of("case.execution_event", body, subject), registry)
    fields = ("DecisionId", "Law", "EventKind", "DecisionDate")
    assert [_field(parsed.body, EVENT_NS, f) for f in fields] == [
        "B-FAR-009-1",
        "LSS",
        "interrupted",
        "2023-05-02",
    ]
    assert _field(parsed.body, EVENT_NS, "Note")  # an interruption says why
    with pytest.raises(ValueError, match="event_kind"):
        execution_event_body(person, random.Random(1), event_kind="paused")


def test_every_payment_validates_and_adds_up(registry: Registry) -> None:
    rng = random.Random(14)
    recipients: Counter[str] = Counter()
    for person in FictionalPeople(14, kind="personnummer").take(300):
        granted = Decimal(rng.randrange(120, 1400)) / 2 if rng.random() < 0.5 else None
        body = payment_body(person, rng, granted_hours=granted)
        subject = ("se", person.identity.formatted())
        parsed = read_envelope(envelope_of("finance.payment", body, subject), registry)
        client = _field(parsed.body, PAYMENT_NS, "Client")
        assert parse_identity(client, "se") == person.identity
        voucher = read_payment(
            parse_body(etree.tostring(parsed.body), PAYMENT_NS, "PaymentVoucher")
        )
        assert voucher.period_from.day == 1
        assert voucher.period_from.month == voucher.period_to.month
        assert 0 < voucher.hours <= 24 * voucher.period_to.day
        assert voucher.hours * 2 == int(voucher.hours * 2)  # whole or half hours
        if granted is not None:
            assert voucher.hours <= max(granted, Decimal("0.5"))
        assert voucher.amount == voucher.amount.quantize(Decimal("0.01"))
        rate = voucher.amount / voucher.hours
        assert Decimal(315) <= rate.quantize(Decimal(1)) <= Decimal(340)
        assert voucher.period_to < voucher.due_date
        kind = parsed.body.find(f"{{{PAYMENT_NS}}}Recipient/*")
        assert kind is not None
        recipients[etree.QName(kind).localname] += 1
        if etree.QName(kind).localname == "Person":
            assert parse_identity(kind.text or "", "se") == person.identity
        else:  # made-up organisation numbers with a wrong check digit: no real company's
            digits = (kind.text or "").replace("-", "")
            assert luhn_check_digit(digits[:9]) != int(digits[9])
    assert recipients["Person"] > 0
    assert recipients["Organisation"] > recipients["Person"]


def test_a_payment_needs_a_swedish_client() -> None:
    (person,) = FictionalPeople(15, kind="cpr").take(1)
    with pytest.raises(ValueError, match="Swedish"):
        payment_body(person, random.Random(1))


@pytest.mark.parametrize(
    ("invoice_number", "ocr"),
    [("7100003", None), (None, make_ocr("7100003")), ("7100003", make_ocr("7100003"))],
)
def test_every_deferral_validates(
    registry: Registry, invoice_number: str | None, ocr: str | None
) -> None:
    rng = random.Random(16)
    for days in (1, 14, 30, 31, 365):
        body = deferral_body(invoice_number, ocr, TOLVAN, days, rng)
        subject = ("se", TOLVAN.formatted())
        parsed = read_envelope(envelope_of("finance.deferral", body, subject), registry)
        payer = _field(parsed.body, DEFERRAL_NS, "Payer")
        assert parse_identity(payer, "se") == TOLVAN
        assert _field(parsed.body, DEFERRAL_NS, "Days") == str(days)
        document = parse_body(etree.tostring(parsed.body), DEFERRAL_NS, "PaymentDeferral")
        if days > 30:  # valid as a document; beyond the contact centre's delegation
            with pytest.raises(PermanentDeliveryError) as refused:
                read_deferral(document)
            assert refused.value.reason == "deferral_too_long"
            continue
        deferral = read_deferral(document)
        assert (deferral.invoice_number, deferral.ocr) == (invoice_number, ocr)
        assert deferral.payer == TOLVAN.canonical


def test_a_deferral_names_its_invoice_and_a_swedish_payer() -> None:
    rng = random.Random(17)
    with pytest.raises(ValueError, match="invoice"):
        deferral_body(None, None, TOLVAN, 10, rng)
    dane = FictionalPeople(17, kind="cpr").take(1)[0].identity
    with pytest.raises(ValueError, match="Swedish"):
        deferral_body("7100003", None, dane, 10, rng)
    for days in (0, 366):
        with pytest.raises(ValueError, match="days"):
            deferral_body("7100003", None, TOLVAN, days, rng)


def test_same_seed_same_flow_documents() -> None:
    def documents(seed: int) -> list[bytes]:
        rng = random.Random(seed)
        out = []
        for person in FictionalPeople(seed, kind="personnummer").take(20):
            out.append(execution_event_body(person, rng))
            out.append(payment_body(person, rng))
        out.append(deferral_body("7100002", None, TOLVAN, 14, rng))
        return out

    assert documents(18) == documents(18)
    assert documents(18) != documents(19)


def _field(element: etree._Element, namespace: str, local: str) -> str:
    text = element.findtext(f"{{{namespace}}}{local}")
    assert text is not None, local
    return text


def _text(body: bytes, local: str) -> str:
    start = body.index(f"<{local}>".encode()) + len(local) + 2
    return body[start : body.index(f"</{local}>".encode())].decode()


def test_referral_envelope_is_a_valid_referral_about_its_person(registry: Registry) -> None:
    person = FictionalPeople(11).take(1)[0]
    parsed = read_envelope(
        referral_envelope(person, "sdn-farsta", random.Random(1), message_id="AD-1"), registry
    )
    assert (parsed.message_type, parsed.district, parsed.message_id) == (
        "case.referral",
        "sdn-farsta",
        "AD-1",
    )
    assert parsed.subjects == (person.subject,)
    assert person.family_name.encode() in parsed.body_bytes
