"""A referral goes out over SDK, and the district's reply, pulled from the hub's functional
mailbox by the hub's own inbox poll, closes its callback deadline: the hub, the SDK adapter and
the SDK double as its own process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.sdk.ids import sdk_message_id
from hub.services.mailbox_inbox import poll_inboxes
from hub.services.principal import Principal
from hub.services.referrals import referral_summary, show_referral
from hub.storage.tables import referrals
from tests.adapter_contract import double_process
from tests.integration.sdk.conftest import DISTRICT, DISTRICT_MAILBOX, HUB_MAILBOX
from tests.integration.sdk.hub_on_sdk import SDK, SdkHub, close_sdk_hub, open_sdk_hub


@pytest.fixture(scope="module")
def sdk_process() -> Iterator[str]:
    with double_process("sdk_double", "/v1") as (url, _base):
        yield url


@pytest.fixture
def sdk_hub(tmp_path: Path, database_url: str, sdk_process: str) -> Iterator[SdkHub]:
    s = open_sdk_hub(tmp_path, database_url, sdk_process)
    s.double("/_reset", {})
    yield s
    close_sdk_hub(s)


def _closed(s: SdkHub, message_id: str) -> tuple[object, object, object]:
    with s.hub.reader.connect() as conn:
        row = conn.execute(select(referrals).where(referrals.c.message_id == message_id)).one()
    return row.closed_at, row.closed_how, row.closed_by


def _reply(s: SdkHub, referral: str, *, ref_to: bool) -> None:
    """The district answers from its functional mailbox: in the referral's conversation, and
    with ``refToMessageId`` naming it when ``ref_to``."""
    sent = s.double("/_sdk/effects")["messages"][referral]
    reply = {
        **sent,
        "messageId": "6f1d2c3b-4a59-4e68-9d7c-0b1a2c3d4e5f",
        "conversationId": referral if not ref_to else "0e1d2c3b-4a59-4e68-9d7c-0b1a2c3d4e5f",
        "label": "Svar: vi har ringt upp",
        "sender": sent["recipient"],
        "recipient": sent["sender"],
        "senderAttention": sent["recipientAttention"] | {"referenceId": []},
        "recipientAttention": {
            "subOrganization": dict(sent["senderAttention"]["subOrganization"]),
            "referenceId": sent["recipientAttention"]["referenceId"],
        },
    }
    if ref_to:
        reply["refToMessageId"] = referral
    reply.pop("messageStatus", None)
    reply["recipientAttention"]["subOrganization"]["extension"] = HUB_MAILBOX
    reply["senderAttention"]["subOrganization"]["extension"] = DISTRICT_MAILBOX
    s.double("/_sdk/inbox", reply)


@pytest.mark.parametrize("ref_to", [False, True], ids=["conversation", "ref-to-message"])
def test_the_district_s_sdk_reply_closes_the_referral(sdk_hub: SdkHub, ref_to: bool) -> None:
    s = sdk_hub
    answered, _ = s.send("ref-1")
    waiting, _ = s.send("ref-2")
    s.relay()
    delivery = s.delivery(answered)
    assert delivery.destination == SDK
    referral = delivery.receipt_ref
    assert referral == sdk_message_id(delivery.id)

    s.clock.advance(3 * 3600)
    _reply(s, referral, ref_to=ref_to)
    (reply,) = poll_inboxes(s.hub)[SDK].ingested

    how = "sdk_ref_to_message_id" if ref_to else "sdk_conversation_id"
    assert _closed(s, answered) == (s.clock(), how, reply)
    assert _closed(s, waiting) == (None, None, None)
    operator = Principal.operator("operator:test")
    view = show_referral(s.hub, operator, answered)
    assert (view.state, view.closed_by, view.late_seconds) == ("closed", reply, 0)
    assert referral_summary(s.hub, operator)[DISTRICT] == {"open": 1, "overdue": 0, "closed": 1}
