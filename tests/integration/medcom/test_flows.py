"""MedCom through the whole hub, with the receiver double as a process of its own.

Outbound: the care system's care.communication → the medcom adapter → the GP's double, with
MedCom's acknowledgement deciding delivered, resent or dead. Inbound: a hospital's bundle at
``POST /api/v1/fhir/$process-message`` → acknowledgement, one stored message, delivered onward
to the care system's inbox; duplicates, reused bundle ids, invalid bundles and refusals.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest

from adapters.medcom.adapter import header_id_for
from audit.entry import AuditAction
from audit.search import AuditQuery, search
from hub.demo.medcom_world import MEDCOM_GP
from hub.errors import GuardUnavailable
from schemas.medcom.acknowledgement import read_acknowledgement
from schemas.medcom.message import build_message, to_json
from tests.adapter_contract import double_process
from tests.integration.api_server import wait_until
from tests.integration.medcom.conftest import dane
from tests.integration.medcom.world import (
    OUTSIDER,
    MedcomWorld,
    inbound_bundle,
    medcom_world,
    outbound_document,
)
from tests.integration.test_encryption_at_rest import stored_values


@pytest.fixture(scope="module")
def gp_double() -> Iterator[tuple[str, str]]:
    with double_process("medcom_double", "/fhir") as urls:
        yield urls


@pytest.fixture
def world(tmp_path: Path, database_url: str, gp_double: tuple[str, str]) -> Iterator[MedcomWorld]:
    url, base = gp_double
    httpx.post(f"{base}/_reset", trust_env=False)
    with medcom_world(tmp_path / "hub", database_url, url) as running:
        yield running


def _control(base: str, **command: object) -> None:
    assert httpx.post(f"{base}/_control", json=command, trust_env=False).status_code == 200


def _seen(base: str, delivery_id: str) -> dict[str, object]:
    effects = httpx.get(f"{base}/_messages", trust_env=False).json()
    found: dict[str, object] = effects[header_id_for(delivery_id)]
    return found


STAMP = "2026-12-07T10:00:00+01:00"


def _resource(bundle: dict[str, Any], kind: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind
    )
    return found


# -- outbound -------------------------------------------------------------------------------------


def test_ok_is_delivered(world: MedcomWorld, gp_double: tuple[str, str]) -> None:
    message_id = world.send_outbound(outbound_document(dane(1), "ok"), "out-ok")
    row = world.final_delivery(message_id)
    assert row.destination == MEDCOM_GP
    assert row.state == "delivered"
    seen = _seen(gp_double[1], row.id)
    assert seen == {"bundles": seen["bundles"], "answers": ["ok"], "processed": True}
    assert row.receipt_ref  # the acknowledgement's MessageHeader.id


def test_transient_then_ok_is_delivered_once_with_the_same_header(
    world: MedcomWorld, gp_double: tuple[str, str]
) -> None:
    _control(gp_double[1], mode="transient", times=1)
    message_id = world.send_outbound(outbound_document(dane(2), "transient"), "out-transient")
    row = world.final_delivery(message_id)
    assert row.state == "delivered"
    assert row.attempts == 2
    seen = _seen(gp_double[1], row.id)  # both attempts under one MessageHeader.id
    assert seen["answers"] == ["transient-error", "ok"]
    bundles = seen["bundles"]
    assert isinstance(bundles, list)
    assert len(bundles) == 2
    assert bundles[0] != bundles[1]
    assert seen["processed"] is True


def test_fatal_is_dead_with_the_code(world: MedcomWorld, gp_double: tuple[str, str]) -> None:
    _control(gp_double[1], mode="fatal")
    message_id = world.send_outbound(outbound_document(dane(3), "fatal"), "out-fatal")
    row = world.final_delivery(message_id)
    assert row.state == "dead"
    assert row.attempts == 1  # never resent
    assert row.last_reason == "medcom_fatal_error:MSG_VALUESET_VALUE_UNKNOWN"


def test_silence_is_resent_then_dead(world: MedcomWorld, gp_double: tuple[str, str]) -> None:
    _control(gp_double[1], mode="silent", delay=0)
    message_id = world.send_outbound(outbound_document(dane(4), "silent"), "out-silent")
    row = world.final_delivery(message_id)
    assert row.state == "dead"
    assert row.attempts == 3  # the destination's retry.max_attempts
    assert row.last_reason == "no_acknowledgement"
    seen = _seen(gp_double[1], row.id)
    bundles = seen["bundles"]
    assert isinstance(bundles, list)
    assert len(set(bundles)) == 3  # three attempts, one MessageHeader.id, three Bundle.ids
    assert seen["processed"] is False


# -- inbound --------------------------------------------------------------------------------------


def test_a_valid_bundle_is_acknowledged_stored_once_and_delivered_onward(
    world: MedcomWorld,
) -> None:
    body, header = inbound_bundle(dane(5), "in-ok")
    answer = world.post_fhir(body)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/fhir+json")
    ack = read_acknowledgement(answer.content)
    assert ack.code == "ok"
    assert ack.acked_header_id == header
    assert world.message_count() == 1
    wait_until(lambda: world.inbox.unique == 1, "the message to reach the care system's inbox")
    [document] = world.inbox.documents().values()
    assert b"<CareCommunication" in document
    assert dane(5).identity.canonical.encode() in document  # the person reached the inbox


def test_duplicates_get_identical_acknowledgements_and_one_message(world: MedcomWorld) -> None:
    body, header = inbound_bundle(dane(6), "in-dup")
    first = world.post_fhir(body)
    again = world.post_fhir(body)  # the acknowledgement was lost: the same bundle again
    resend, _ = inbound_bundle(dane(6), "in-dup", header_id=header)  # a resend: new Bundle.id
    assert json.loads(resend)["id"] != json.loads(body)["id"]
    resent = world.post_fhir(resend)
    assert first.status_code == again.status_code == resent.status_code == 200
    assert first.content == again.content == resent.content
    assert read_acknowledgement(first.content).code == "ok"
    assert world.message_count() == 1


def test_a_reused_bundle_id_with_a_new_header_is_an_error(world: MedcomWorld) -> None:
    body, _ = inbound_bundle(dane(7), "in-reuse")
    assert read_acknowledgement(world.post_fhir(body).content).code == "ok"
    reused, header = inbound_bundle(dane(8), "in-reuse-2", bundle_id=json.loads(body)["id"])
    answer = world.post_fhir(reused)
    ack = read_acknowledgement(answer.content)
    assert (answer.status_code, ack.code, ack.acked_header_id) == (200, "fatal-error", header)
    assert [i.code for i in ack.issues] == ["MSG_DUPLICATE_ID"]
    assert world.message_count() == 1


def test_an_invalid_bundle_gets_a_fatal_error_and_nothing_is_stored(world: MedcomWorld) -> None:
    body, header = inbound_bundle(dane(9), "in-invalid")
    bundle = json.loads(body)
    communication = _resource(bundle, "Communication")
    communication["category"][0]["coding"][0]["code"] = "gossip"
    answer = world.post_fhir(json.dumps(bundle).encode())
    ack = read_acknowledgement(answer.content)
    assert (answer.status_code, ack.code, ack.acked_header_id) == (200, "fatal-error", header)
    assert [i.code for i in ack.issues] == ["MSG_VALUESET_VALUE_UNKNOWN"]
    assert "category" in ack.issues[0].text
    unreadable = world.post_fhir(b'{"resourceType": "Patient"}')
    assert unreadable.status_code == 400
    assert json.loads(unreadable.content)["resourceType"] == "OperationOutcome"
    assert world.message_count() == 0


def test_an_invalid_cpr_number_is_a_fatal_error(world: MedcomWorld) -> None:
    body, _ = inbound_bundle(dane(10), "in-cpr")
    bundle = json.loads(body)
    patient = _resource(bundle, "Patient")
    patient["identifier"][0]["value"] = "3213001234"  # no 32nd day of a 13th month
    ack = read_acknowledgement(world.post_fhir(json.dumps(bundle).encode()).content)
    assert ack.code == "fatal-error"
    assert [i.code for i in ack.issues] == ["MSG_Datatype_Wrong"]
    assert "3213001234" not in ack.issues[0].text
    assert world.message_count() == 0


def test_a_refused_agreement_is_a_fatal_error_and_audited(world: MedcomWorld) -> None:
    body, _ = inbound_bundle(dane(11), "in-refused")
    ack = read_acknowledgement(world.post_fhir(body, system=OUTSIDER).content)
    assert ack.code == "fatal-error"
    assert [i.code for i in ack.issues] == ["MSG_RECEIVER_UNABLE_TO_RECEIVE_MSG_TYPE"]
    assert world.message_count() == 0
    with world.hub.reader.connect() as conn:
        refused = search(conn, AuditQuery(action=AuditAction.REFUSED))
    assert [e.actor for e in refused] == [OUTSIDER]
    assert refused[0].subject_ref  # the patient is the data subject of the refusal


def test_authentication_and_media_type(world: MedcomWorld) -> None:
    body, _ = inbound_bundle(dane(12), "in-auth")
    with httpx.Client(base_url=world.url, trust_env=False) as client:
        anonymous = client.post(
            "/api/v1/fhir/$process-message",
            content=body,
            headers={"Content-Type": "application/fhir+json"},
        )
    assert anonymous.status_code == 401
    assert world.post_fhir(body, content_type="application/xml").status_code == 415
    assert world.message_count() == 0


def test_no_cpr_number_or_name_at_rest(world: MedcomWorld, tmp_path: Path) -> None:
    people = [dane(20 + i) for i in range(4)]
    for i, person in enumerate(people[:2]):
        body, _ = inbound_bundle(person, f"scan-{i}")
        world.post_fhir(body)
        world.post_fhir(body)
    broken = json.loads(inbound_bundle(people[2], "scan-bad")[0])
    broken["entry"][0]["resource"]["eventCoding"]["code"] = "nope"
    world.post_fhir(json.dumps(broken).encode())
    ids = [world.send_outbound(outbound_document(people[3], "scan-out"), "scan-out")]
    wait_until(lambda: world.inbox.unique == 2, "both inbound messages to reach the inbox")
    assert world.final_delivery(ids[0]).state == "delivered"
    needles = [
        text.encode()
        for p in people
        for text in (p.identity.canonical, p.identity.formatted(), p.family_name)
    ]
    values = list(stored_values(world.hub))  # every column of every table, on either database
    assert any(where == "medcom_acknowledgements.acknowledgement" for where, _ in values)
    for needle in needles:
        found = [where for where, value in values if needle in value]
        assert not found, f"{needle!r} stored in plain text in {found}"
    world.hub.close()  # flush and release the database files before reading them
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "routes.toml" for p in files)
    for path in files:
        data = path.read_bytes()
        in_file = [n for n in needles if n in data]
        assert not in_file, f"{in_file} in plain text in {path}"
    # The scan finds what it looks for where it is meant to be: in what was delivered.
    delivered = b"".join(world.inbox.documents().values())
    assert people[0].identity.canonical.encode() in delivered


def test_the_same_message_at_once_from_many_threads_is_one_message(world: MedcomWorld) -> None:
    body, header = inbound_bundle(dane(13), "in-race")
    resends = [inbound_bundle(dane(13), "in-race", header_id=header)[0] for _ in range(7)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(world.post_fhir, [body, *resends]))
    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1  # one acknowledgement, byte for byte
    assert read_acknowledgement(answers[0].content).code == "ok"
    assert world.message_count() == 1


def test_an_unknown_receiver_is_a_fatal_error(world: MedcomWorld) -> None:
    doc = outbound_document(dane(14), "in-unknown")  # to the GP, not a unit of this hub
    bundle = to_json(build_message(doc, str(uuid.uuid4()), str(uuid.uuid4()), STAMP))
    ack = read_acknowledgement(world.post_fhir(bundle).content)
    assert ack.code == "fatal-error"
    assert [i.code for i in ack.issues] == ["MSG_Receiver_Identifier_UNKNOWN"]
    assert world.message_count() == 0


def test_guards_out_of_reach_are_a_transient_error(
    world: MedcomWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(sender: str, data: bytes) -> NoReturn:
        raise GuardUnavailable("the audit trail cannot be reached")

    monkeypatch.setattr(world.hub.ingestor, "ingest", unavailable)
    body, _ = inbound_bundle(dane(15), "in-unavailable")
    ack = read_acknowledgement(world.post_fhir(body).content)
    assert ack.code == "transient-error"
    assert [i.code for i in ack.issues] == ["MSG_Mailbox_Out_Of_Operation"]
    monkeypatch.undo()  # back in reach: the resend is taken
    assert read_acknowledgement(world.post_fhir(body).content).code == "ok"
    assert world.message_count() == 1
