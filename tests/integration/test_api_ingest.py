"""The HTTP ingest API over real HTTP (uvicorn on 127.0.0.1, httpx), on SQLite and PostgreSQL.

Each test sends real requests to a hub built by ``tests.integration.api_server`` and checks the
exact status, the ``application/problem+json`` body and its ``reason`` (with ``line`` and
``path`` where the document is at fault), what is stored, what is audited, and what reaches
the destination double.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from audit.entry import AuditAction
from hub.demo.scenario import CONTACT_CENTRE, TIME_APP, demo_agreements
from hub.services.agreements import revoke_agreement
from tests.integration.api_server import (
    API,
    OUTSIDER,
    REFERRAL_AGREEMENT,
    SODERMALM,
    UNAGREED_DISTRICT,
    UNROUTED_DISTRICT,
    ApiServer,
    Referrals,
    line_of,
    pretty,
    problem_of,
    running_api,
    wait_until,
    with_element_text,
    wrong_check_digit,
)

LIMIT = 4096  # max_message_bytes here: a referral is about 1.2 kB


@pytest.fixture
def api(tmp_path: Path, database_url: str) -> Iterator[ApiServer]:
    with running_api(tmp_path / "home", database_url, {"max_message_bytes": str(LIMIT)}) as server:
        yield server


def status_of(api: ApiServer, location: str, system: str = CONTACT_CENTRE) -> httpx.Response:
    with api.client(system) as client:
        return client.get(location)


# -- accepted -------------------------------------------------------------------------------


def test_accepted_message_is_reported_without_its_payload_then_delivered(
    api: ApiServer, referrals: Referrals
) -> None:
    doc = referrals.make(message_id="AD-ACCEPT-1")
    person = doc.person
    personal = [person.name, person.identity.formatted(), person.identity.canonical]

    response = api.post(doc.body)

    assert response.status_code == 202, response.text
    assert response.headers["content-type"] == "application/json"
    assert "idempotent-replayed" not in response.headers
    answer = response.json()
    message_id = answer["id"]
    assert answer["duplicate"] is False
    assert [d["destination"] for d in answer["deliveries"]] == ["case-sodermalm"]
    delivery_id = answer["deliveries"][0]["id"]
    assert response.headers["location"] == f"{API}/{message_id}"
    assert not any(s in response.text for s in personal)

    status = status_of(api, response.headers["location"])
    assert status.status_code == 200, status.text
    before = status.json()
    assert before["id"] == message_id
    assert (before["type"], before["district"], before["purpose"]) == (
        "case.referral",
        SODERMALM,
        "referral",
    )
    assert before["message_id"] == "AD-ACCEPT-1"
    assert before["agreement"] == f"{REFERRAL_AGREEMENT}@1"
    assert before["state"] == "pending"
    [pending] = before["deliveries"]
    assert pending["id"] == delivery_id
    assert (pending["state"], pending["attempts"], pending["last_error"]) == ("pending", 0, None)
    assert not any(s in status.text for s in personal), "the status leaks the payload"

    api.start_delivery()

    def delivered() -> bool:
        return bool(status_of(api, response.headers["location"]).json()["state"] == "delivered")

    wait_until(delivered, "the message to be delivered")
    after = status_of(api, response.headers["location"])
    [done] = after.json()["deliveries"]
    assert (done["state"], done["attempts"], done["last_error"]) == ("delivered", 1, None)
    assert done["delivered_at"] is not None
    assert not any(s in after.text for s in personal), "the status leaks the payload"
    # The destination got the body itself, under the delivery id as its idempotency key.
    received = api.double.documents()
    assert list(received) == [delivery_id]
    assert person.name.encode() in received[delivery_id]
    assert api.double.stats()["requests"] == 1


def test_another_systems_message_is_not_found(api: ApiServer, referrals: Referrals) -> None:
    response = api.post(referrals.make().body)
    assert response.status_code == 202, response.text

    problem_of(status_of(api, response.headers["location"], system=TIME_APP), 404, "not_found")
    problem_of(status_of(api, f"{API}/no-such-message"), 404, "not_found")


# -- idempotency ----------------------------------------------------------------------------


def test_repeat_with_same_content_is_replayed_and_delivered_once(
    api: ApiServer, referrals: Referrals
) -> None:
    doc = referrals.make(message_id="AD-REPEAT-1")
    first = api.post(doc.body)
    assert first.status_code == 202, first.text
    api.start_delivery()
    wait_until(lambda: api.double.unique == 1, "the first delivery")

    again = api.post(doc.body)

    assert again.status_code == 202, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["duplicate"] is True
    assert again.json()["deliveries"] == first.json()["deliveries"]
    assert api.message_count("AD-REPEAT-1") == 1
    # A later message is delivered after anything the repeat could have scheduled: once it
    # has arrived, the double has seen every request it is going to see for the repeat.
    later = api.post(referrals.make(message_id="AD-REPEAT-2").body)
    assert later.status_code == 202, later.text
    wait_until(lambda: api.double.unique == 2, "the later delivery")
    stats = api.double.stats()
    assert (stats["requests"], stats["duplicates"]) == (2, 0)


def test_repeat_with_other_content_is_a_conflict(api: ApiServer, referrals: Referrals) -> None:
    first = api.post(referrals.make(message_id="AD-CONFLICT-1").body)
    assert first.status_code == 202, first.text

    other = api.post(referrals.make(message_id="AD-CONFLICT-1").body)

    body = problem_of(other, 409, "idempotency_conflict")
    assert "AD-CONFLICT-1" in body["detail"]
    assert api.message_count("AD-CONFLICT-1") == 1


def test_concurrent_identical_requests_store_one_message(
    api: ApiServer, referrals: Referrals
) -> None:
    body = referrals.make(message_id="AD-RACE-1").body
    senders = 8
    barrier = threading.Barrier(senders)

    def send(_: int) -> httpx.Response:
        with api.client() as client:
            barrier.wait(timeout=10)
            return client.post(API, content=body, headers={"Content-Type": "application/xml"})

    with ThreadPoolExecutor(senders) as pool:
        answers = list(pool.map(send, range(senders)))

    assert [a.status_code for a in answers] == [202] * senders, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert len({a.headers["location"] for a in answers}) == 1
    replayed = [a.headers.get("idempotent-replayed") == "true" for a in answers]
    assert replayed.count(False) == 1, "exactly one request stored it, the rest were replays"
    assert api.message_count("AD-RACE-1") == 1


# -- refused before reading the document ----------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer osh_not-a-token-of-any-system", "Basic YWxkcmUtZGlyZWt0OnNlY3JldA=="],
    ids=["missing", "wrong-token", "not-bearer"],
)
def test_without_a_valid_token_is_401(
    api: ApiServer, referrals: Referrals, authorization: str | None
) -> None:
    headers = {"Content-Type": "application/xml"}
    if authorization is not None:
        headers["Authorization"] = authorization
    with api.client(system=None) as client:
        response = client.post(API, content=referrals.make().body, headers=headers)

    problem_of(response, 401, "unauthenticated")
    assert api.message_count() == 0


def test_json_content_type_is_415(api: ApiServer, referrals: Referrals) -> None:
    response = api.post(referrals.make().body, content_type="application/json")

    body = problem_of(response, 415, "unsupported_media_type")
    assert "application/json" in body["detail"]
    assert api.message_count() == 0


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_body_over_the_limit_is_413(api: ApiServer, referrals: Referrals, framing: str) -> None:
    oversized = referrals.make().body + b"<!--" + b"x" * LIMIT + b"-->"
    assert len(oversized) > LIMIT
    content: bytes | Iterator[bytes] = oversized
    if framing == "chunked":
        content = iter([oversized[i : i + 1024] for i in range(0, len(oversized), 1024)])
    with api.client() as client:
        response = client.post(API, content=content, headers={"Content-Type": "application/xml"})

    if framing == "chunked":
        assert "content-length" not in response.request.headers
        assert response.request.headers["transfer-encoding"] == "chunked"
    else:
        assert response.request.headers["content-length"] == str(len(oversized))
    body = problem_of(response, 413, "payload_too_large")
    assert str(LIMIT) in body["detail"]
    assert api.message_count() == 0


# -- refused after reading the document (422) -----------------------------------------------


def test_schema_invalid_names_the_element_and_its_line(
    api: ApiServer, referrals: Referrals
) -> None:
    document = pretty(with_element_text(referrals.make().body, "Urgency", "whenever"))

    body = problem_of(api.post(document), 422, "schema_invalid")

    assert body["path"] == "/Envelope/Body/CaseReferral/Urgency"
    assert body["line"] == line_of(document, b"<Urgency>") > 1
    assert "enumeration" in body["detail"]


def test_unknown_message_type_suggests_the_right_one(api: ApiServer, referrals: Referrals) -> None:
    document = referrals.make(message_type="case.referal").body

    body = problem_of(api.post(document), 422, "unknown_message_type")

    assert "did you mean 'case.referral'?" in body["detail"]
    assert body["path"] == "/Envelope/Header/Type"
    assert body["line"] == line_of(document, b"<Type>")


def test_wrong_check_digit_is_refused_without_echoing_the_number(
    api: ApiServer, referrals: Referrals
) -> None:
    person = referrals.person()
    wrong = wrong_check_digit(person.identity)
    document = referrals.make(person=person, identity_number=wrong).body

    response = api.post(document)

    problem_of(response, 422, "invalid_identity_number")
    digits = wrong.replace("-", "")
    for shown in (wrong, digits, digits[2:], person.identity.canonical, person.name):
        assert shown not in response.text
    assert api.message_count() == 0


def test_district_without_a_route_is_422(api: ApiServer, referrals: Referrals) -> None:
    response = api.post(referrals.make(district=UNROUTED_DISTRICT).body)

    body = problem_of(response, 422, "no_route")
    assert UNROUTED_DISTRICT in body["detail"]
    assert api.message_count() == 0


# -- contract refusals (403), each audited --------------------------------------------------


@pytest.mark.parametrize(
    ("system", "district", "purpose", "reason"),
    [
        (OUTSIDER, SODERMALM, "referral", "sender_not_allowed"),
        (TIME_APP, SODERMALM, "referral", "type_not_allowed"),
        (CONTACT_CENTRE, SODERMALM, "time_reporting", "purpose_not_allowed"),
        (CONTACT_CENTRE, UNAGREED_DISTRICT, "referral", "no_agreement"),
    ],
)
def test_refusal_by_the_agreements_is_403_and_audited(
    api: ApiServer,
    referrals: Referrals,
    system: str,
    district: str,
    purpose: str,
    reason: str,
) -> None:
    doc = referrals.make(district=district, purpose=purpose)

    response = api.post(doc.body, system=system)

    problem_of(response, 403, reason)
    assert api.message_count() == 0
    [entry] = api.audit(AuditAction.REFUSED, actor=system)
    # The reason code, then the whole decision (for the DPO; the sender is told less).
    assert (str(entry.reason).partition(": ")[0], entry.outcome, entry.district) == (
        reason,
        "refused",
        district,
    )
    assert (entry.purpose, entry.source, entry.message_id) == (purpose, system, None)
    assert entry.subject_ref == api.subject_ref(doc.person)


def test_revoked_agreement_is_403_and_audited(api: ApiServer, referrals: Referrals) -> None:
    assert api.post(referrals.make().body).status_code == 202

    revoke_agreement(api.hub, REFERRAL_AGREEMENT, "the contract ended (test)", actor="test")
    doc = referrals.make()
    response = api.post(doc.body)

    body = problem_of(response, 403, "revoked")
    assert REFERRAL_AGREEMENT in body["detail"]
    assert api.message_count() == 1
    [entry] = api.audit(AuditAction.REFUSED, subject_ref=api.subject_ref(doc.person))
    assert (str(entry.reason).partition(": ")[0], entry.actor, entry.district) == (
        "revoked",
        CONTACT_CENTRE,
        SODERMALM,
    )


def test_invalid_identity_number_is_audited(api: ApiServer, referrals: Referrals) -> None:
    person = referrals.person()
    document = referrals.make(person=person, identity_number=wrong_check_digit(person.identity))

    problem_of(api.post(document.body), 422, "invalid_identity_number")

    [entry] = api.audit(AuditAction.REFUSED, actor=CONTACT_CENTRE)
    assert (entry.reason, entry.outcome) == ("invalid_identity_number", "refused")
    assert (entry.district, entry.purpose) == (SODERMALM, "referral")
    # An invalid number has no keyed reference; the raw number is never written to the trail.
    assert entry.subject_ref is None
    assert wrong_check_digit(person.identity) not in repr(entry)


@pytest.mark.parametrize(
    ("system", "purpose", "reason"),
    [
        (OUTSIDER, "referral", "sender_not_allowed"),
        (TIME_APP, "referral", "type_not_allowed"),
        (CONTACT_CENTRE, "time_reporting", "purpose_not_allowed"),
    ],
)
def test_a_refusal_tells_the_sender_its_own_part_and_the_audit_all(
    api: ApiServer, referrals: Referrals, system: str, purpose: str, reason: str
) -> None:
    agreements = [a for a in demo_agreements(api.hub.clock()) if a.district == SODERMALM]
    assert len(agreements) > 1  # else there is nothing another agreement could leak
    doc = referrals.make(purpose=purpose)

    response = api.post(doc.body, system=system)

    told = problem_of(response, 403, reason)["detail"]
    others = [a.id for a in agreements if system not in a.senders]
    parties = {p for a in agreements for p in (*a.senders, *a.recipients)} - {system}
    for secret in [*others, *sorted(parties), "also", "senders:", "types:", "purposes:"]:
        assert secret not in told, (secret, told)
    own = [a.ref for a in agreements if system in a.senders]
    assert (own[0] in told) if own else ("no agreement" in told)
    # The data-protection officer finds the whole decision in the trail.
    [entry] = api.audit(AuditAction.REFUSED, actor=system)
    assert entry.reason is not None
    assert entry.reason.startswith(f"{reason}: ")
    for agreement in agreements:
        assert agreement.ref in entry.reason
