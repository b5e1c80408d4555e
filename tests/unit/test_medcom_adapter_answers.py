"""What the medcom adapter makes of each answer to its POST (httpx's MockTransport: no I/O)."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from dataclasses import replace

import httpx
import pytest

from adapters.medcom.adapter import MedcomAdapter, header_id_for
from hub.demo.fictional import FictionalPeople
from hub.demo.medcom_world import GP, HOME_CARE, care_communication
from hub.envelope import OutboundDelivery
from hub.errors import PermanentDeliveryError, TransientDeliveryError
from schemas.medcom.acknowledgement import build_acknowledgement
from schemas.medcom.document import to_xml
from schemas.medcom.reading import Issue, read_message
from tests.adapter_contract import make_delivery

PERSON = FictionalPeople(5, kind="cpr").take(1)[0]
DOC = to_xml(care_communication(PERSON, random.Random(5), sender=HOME_CARE, receiver=GP))
STAMP = "2026-12-07T10:00:00+01:00"


def _adapter(answer: Callable[[httpx.Request], httpx.Response]) -> MedcomAdapter:
    adapter = MedcomAdapter(
        "gp",
        {
            "base_url": "http://gp.invalid/fhir",
            "sender_sor": HOME_CARE.sor,
            "sender_ean": HOME_CARE.ean,
        },
    )
    adapter._client = httpx.Client(transport=httpx.MockTransport(answer))
    return adapter


def _ack(
    code: str, *, header: str | None = None, bundle: str | None = None
) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        sent = read_message(request.content)
        issues = () if code == "ok" else (Issue("MSG_Mailbox_Out_Of_Operation", "closed"),)
        body = build_acknowledgement(
            acked_header_id=header or sent.header_id,
            acked_bundle_id=bundle or sent.bundle_id,
            code=code,
            timestamp=STAMP,
            issues=issues,
        )
        return httpx.Response(200, content=body)

    return answer


def _delivery(delivery_id: str = "dlv-1") -> OutboundDelivery:
    return replace(make_delivery(delivery_id), document=DOC)


def test_ok_is_a_receipt_and_an_earlier_bundle_a_duplicate() -> None:
    receipt = _adapter(_ack("ok")).deliver(_delivery())
    assert receipt.duplicate is False
    assert receipt.details["message_header_id"] == header_id_for("dlv-1")
    earlier = str(uuid.uuid4())
    again = _adapter(_ack("ok", bundle=earlier)).deliver(_delivery())
    assert again.duplicate is True


@pytest.mark.parametrize(
    ("answer", "error", "reason"),
    [
        (_ack("transient-error"), TransientDeliveryError, "medcom_transient_error"),
        (
            _ack("fatal-error"),
            PermanentDeliveryError,
            "medcom_fatal_error:MSG_Mailbox_Out_Of_Operation",
        ),
        (_ack("ok", header=str(uuid.uuid4())), TransientDeliveryError, "no_acknowledgement"),
        (lambda r: httpx.Response(200, content=b""), TransientDeliveryError, "no_acknowledgement"),
        (
            lambda r: httpx.Response(200, content=b"<html/>"),
            TransientDeliveryError,
            "no_acknowledgement",
        ),
        (lambda r: httpx.Response(503), TransientDeliveryError, "destination_unavailable"),
        (lambda r: httpx.Response(404), PermanentDeliveryError, "destination_rejected"),
    ],
)
def test_each_answer_maps_to_one_outcome(
    answer: Callable[[httpx.Request], httpx.Response], error: type[Exception], reason: str
) -> None:
    with pytest.raises(error) as caught:
        _adapter(answer).deliver(_delivery())
    assert getattr(caught.value, "reason", None) == reason
    assert PERSON.identity.canonical not in str(caught.value)


def test_a_resend_keeps_the_header_and_changes_the_bundle() -> None:
    seen: list[dict[str, object]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return _ack("ok")(request)

    adapter = _adapter(answer)
    adapter.deliver(_delivery("dlv-9"))
    adapter.deliver(_delivery("dlv-9"))
    headers = {b["entry"][0]["resource"]["id"] for b in seen}  # type: ignore[index]
    assert headers == {header_id_for("dlv-9")}
    assert seen[0]["id"] != seen[1]["id"]
