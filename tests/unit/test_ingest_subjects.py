"""Every person a message names is linked: the header's DataSubjects against the body's numbers."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from hub.demo.fictional import FictionalPeople, FictionalPerson, build_envelope, referral_body
from hub.demo.flows import payment_body
from hub.errors import InvalidIdentityNumber, SubjectMismatch
from hub.ingest.identity import IdentityNumber, parse_identity
from hub.ingest.subjects import check_identity_params, named_subjects
from schemas.envelope import ParsedEnvelope, read_envelope
from schemas.registry import Registry, default_registry

DISTRICT = "sdn-sodermalm"


@pytest.fixture(scope="module")
def registry() -> Registry:
    return default_registry()


@pytest.fixture
def people() -> list[FictionalPerson]:
    return FictionalPeople(11, kind="personnummer").take(3)


def referral_envelope(body: bytes, header: Sequence[tuple[str, str]] = ()) -> bytes:
    """A ``case.referral`` envelope of ``DISTRICT`` around ``body``, ``header`` its subjects."""
    return build_envelope(
        message_type="case.referral",
        version="1",
        district=DISTRICT,
        purpose="referral",
        body=body,
        subjects=header,
    )


def referral(
    registry: Registry, person: FictionalPerson, header: Sequence[tuple[str, str]]
) -> ParsedEnvelope:
    body = referral_body(person, DISTRICT, random.Random(1))
    return read_envelope(referral_envelope(body, header), registry)


def canonical(identities: Sequence[IdentityNumber]) -> list[str]:
    return [i.canonical for i in identities]


def test_a_header_without_subjects_is_derived_from_the_body(
    registry: Registry, people: list[FictionalPerson]
) -> None:
    person = people[0]
    named = named_subjects(referral(registry, person, ()))
    assert canonical(named.header) == []
    assert canonical(named.linked()) == [person.identity.canonical]


def test_a_header_naming_the_body_person_in_another_spelling_matches(
    registry: Registry, people: list[FictionalPerson]
) -> None:
    person = people[0]
    short = person.identity.formatted()[2:]  # YYMMDD-NNNC: the same person
    named = named_subjects(referral(registry, person, [("se", short), ("se", short)]))
    assert canonical(named.linked()) == [person.identity.canonical]


def test_a_body_person_missing_from_the_header_is_a_mismatch(
    registry: Registry, people: list[FictionalPerson]
) -> None:
    body_person, header_person = people[0], people[1]
    envelope = referral(registry, body_person, [header_person.subject])
    named = named_subjects(envelope)
    with pytest.raises(SubjectMismatch) as caught:
        named.linked()
    error = caught.value
    assert (error.reason, error.context["path"]) == (
        "subject_mismatch",
        "/Envelope/Header/DataSubjects",
    )
    assert "the body names a person" in error.detail
    for number in (body_person.identity, header_person.identity):
        assert number.canonical[2:8] not in str(error)  # never the numbers, not even dates
    # A refusal is still audited under everyone the message names.
    assert set(canonical(named.everyone())) == {
        body_person.identity.canonical,
        header_person.identity.canonical,
    }


def test_a_header_naming_someone_the_body_does_not_is_a_mismatch(
    registry: Registry, people: list[FictionalPerson]
) -> None:
    person, extra = people[0], people[1]
    named = named_subjects(referral(registry, person, [person.subject, extra.subject]))
    with pytest.raises(SubjectMismatch, match="lists a person that the body does not name"):
        named.linked()


def test_an_invalid_number_in_the_body_is_refused_with_its_place(
    registry: Registry, people: list[FictionalPerson]
) -> None:
    person = people[0]
    good = person.identity.formatted()
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    body = referral_body(person, DISTRICT, random.Random(1)).replace(good.encode(), bad.encode())
    with pytest.raises(InvalidIdentityNumber) as caught:
        named_subjects(read_envelope(referral_envelope(body), registry))
    error = caught.value
    assert error.context["path"] == "/Envelope/Body/CaseReferral/DataSubject/IdentityNumber"
    assert isinstance(error.context["line"], int)
    assert "bad check digit" in error.detail
    assert bad not in str(error)
    assert bad.replace("-", "") not in str(error)


def test_an_invalid_number_in_the_header_names_its_place(
    registry: Registry, people: list[FictionalPerson]
) -> None:
    person = people[0]
    envelope = referral(registry, person, [person.subject, ("se", "19121212-1213")])
    with pytest.raises(InvalidIdentityNumber) as caught:
        named_subjects(envelope)
    assert caught.value.context["path"] == "/Envelope/Header/DataSubjects/Subject[2]"


def test_every_declared_place_of_a_type_is_read(
    registry: Registry, people: list[FictionalPerson]
) -> None:
    # finance.payment names the client twice when it is paid directly (Client, Recipient/Person)
    person, other = people[0], people[1]
    rng = random.Random(5)
    body = payment_body(person, rng)
    while b"<Person>" not in body:
        body = payment_body(person, rng)
    # Make the recipient another person: the body now names two.
    body = body.replace(
        f"<Person>{person.identity.formatted()}".encode(),
        f"<Person>{other.identity.formatted()}".encode(),
    )
    data = build_envelope(
        message_type="finance.payment",
        version="1",
        district=DISTRICT,
        purpose="payment",
        body=body,
        subjects=[person.subject],
    )
    named = named_subjects(read_envelope(data, registry))
    assert set(canonical(named.body)) == {person.identity.canonical, other.identity.canonical}
    with pytest.raises(SubjectMismatch):
        named.linked()


def test_a_lookup_parameter_holding_a_number_must_name_the_subject(
    people: list[FictionalPerson],
) -> None:
    subject = people[0].identity
    same = subject.formatted()[2:]
    check_identity_params(subject, {"payer": same, "ocr": "1234"}, ["payer"])
    check_identity_params(subject, {"ocr": "1234"}, ["payer"])  # not given: nothing to check
    with pytest.raises(SubjectMismatch) as caught:
        check_identity_params(subject, {"payer": people[1].identity.formatted()}, ["payer"])
    assert caught.value.context["path"] == "params/payer"
    with pytest.raises(InvalidIdentityNumber, match="parameter payer"):
        check_identity_params(subject, {"payer": "19121212-1213"}, ["payer"])


def test_a_lookup_parameter_is_read_in_the_subjects_scheme() -> None:
    subject = parse_identity("010203-1234", "dk")
    check_identity_params(subject, {"patient": "0102031234"}, ["patient"])
