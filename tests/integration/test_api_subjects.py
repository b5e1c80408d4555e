"""Every person a message names is linked, over real HTTP on SQLite and PostgreSQL.

A referral may name its person only in the body, in the header's ``DataSubjects`` too, or name
different persons in the two: the first is linked (a search by that person finds it), the last
is refused with ``422 subject_mismatch`` and audited under everyone it names.
"""

from __future__ import annotations

import random

from audit.entry import AuditAction
from hub.demo.fictional import FictionalPerson, build_envelope, referral_body
from hub.demo.scenario import CONTACT_CENTRE
from hub.storage import messages as message_rows
from tests.integration.api_server import (
    SODERMALM,
    ApiServer,
    Referrals,
    line_of,
    pretty,
    problem_of,
    wrong_check_digit,
)


def referral_naming(body_person: FictionalPerson, header: list[FictionalPerson]) -> bytes:
    """A referral about ``body_person`` whose header's DataSubjects lists ``header``."""
    envelope = build_envelope(
        message_type="case.referral",
        version="1",
        district=SODERMALM,
        purpose="referral",
        body=referral_body(body_person, SODERMALM, random.Random(5)),
        subjects=[p.subject for p in header],
    )
    return pretty(envelope)


def test_a_person_named_only_in_the_body_is_linked(api: ApiServer, referrals: Referrals) -> None:
    person = referrals.person()

    response = api.post(referral_naming(person, header=[]))

    assert response.status_code == 202, response.text
    message_id = response.json()["id"]
    with api.hub.reader.connect() as conn:
        stored = message_rows.subject_refs_for(conn, [message_id])
    assert stored == {message_id: [api.subject_ref(person)]}
    # The art. 15 search by the person finds the message.
    [entry] = api.audit(AuditAction.RECEIVED, subject_ref=api.subject_ref(person))
    assert (entry.message_id, entry.actor) == (message_id, CONTACT_CENTRE)


def test_a_body_naming_another_person_than_the_header_is_422(
    api: ApiServer, referrals: Referrals
) -> None:
    named, hidden = referrals.person(), referrals.person()

    response = api.post(referral_naming(hidden, header=[named]))

    body = problem_of(response, 422, "subject_mismatch")
    assert body["path"] == "/Envelope/Header/DataSubjects"
    for person in (named, hidden):
        for shown in (person.identity.formatted(), person.identity.canonical, person.name):
            assert shown not in response.text
    assert api.message_count() == 0
    # Refused, and audited under both persons, so either one's extract shows the attempt.
    for person in (named, hidden):
        [entry] = api.audit(AuditAction.REFUSED, subject_ref=api.subject_ref(person))
        assert (entry.reason, entry.actor) == ("subject_mismatch", CONTACT_CENTRE)


def test_an_invalid_number_in_the_body_is_422_with_its_place(
    api: ApiServer, referrals: Referrals
) -> None:
    person = referrals.person()
    good = person.identity.formatted()
    wrong = wrong_check_digit(person.identity)
    document = referral_naming(person, header=[person])
    body_at = document.index(b"<IdentityNumber")
    document = document[:body_at] + document[body_at:].replace(good.encode(), wrong.encode(), 1)

    response = api.post(document)

    body = problem_of(response, 422, "invalid_identity_number")
    assert body["path"] == "/Envelope/Body/CaseReferral/DataSubject/IdentityNumber"
    assert body["line"] == line_of(document, b"<IdentityNumber")
    for shown in (wrong, wrong.replace("-", ""), good):
        assert shown not in response.text
    assert api.message_count() == 0
    [entry] = api.audit(AuditAction.REFUSED, actor=CONTACT_CENTRE)
    assert (entry.reason, entry.subject_ref) == ("invalid_identity_number", None)
