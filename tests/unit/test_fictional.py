"""Fictional test data: valid against the schemas, valid identities, reproducible."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from hub.fictional import (
    KINDS,
    PROVIDERS,
    FictionalPeople,
    build_envelope,
    referral_body,
    visit_body,
)
from hub.identity import parse_identity
from schemas.envelope import read_envelope
from schemas.errors import SchemaError
from schemas.registry import Registry, default_registry

REFERRAL_NS = "{urn:omsorgshub:case.referral:1}"


@pytest.fixture(scope="module")
def registry() -> Registry:
    return default_registry()


def referral_envelope(seed: int, count: int) -> list[bytes]:
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
    assert referral_envelope(5, 30) == referral_envelope(5, 30)
    assert referral_envelope(5, 30) != referral_envelope(6, 30)
    people = FictionalPeople(9)
    assert people.take(10) == people.take(10)  # each iteration starts from the seed


def test_every_referral_validates(registry: Registry) -> None:
    for data in referral_envelope(1, 400):
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


def _text(body: bytes, local: str) -> str:
    start = body.index(f"<{local}>".encode()) + len(local) + 2
    return body[start : body.index(f"</{local}>".encode())].decode()
