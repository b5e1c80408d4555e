"""Referrals through the SDK adapter to the double as its own process: delivered only at
ACCEPTED, dead with the receipt's reason, a lost receipt timing out, a refreshed token, a
broken request, an inbound answer ingested once, and no personnummer at rest."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import MetaData, select

from adapters.doubles.sdk_fixtures import sdk_answer
from adapters.sdk.ids import sdk_message_id
from audit.entry import AuditAction
from audit.search import AuditQuery, search
from hub.cli.main import cli, register_subcommands
from hub.services.health import deliveries_by_state
from hub.services.mailbox_inbox import poll_inboxes, start_inbox_polling
from tests.adapter_contract import double_process
from tests.integration.sdk.conftest import DISTRICT_MAILBOX, HUB_MAILBOX
from tests.integration.sdk.hub_on_sdk import (
    INBOX_SYSTEM,
    NORR,
    SDK,
    TIMEOUT,
    SdkHub,
    close_sdk_hub,
    open_sdk_hub,
)


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


def _actions(s: SdkHub, message_id: str) -> list[str]:
    with s.hub.reader.connect() as conn:
        return [e.action for e in search(conn, AuditQuery(message_id=message_id))]


def test_a_referral_is_delivered_only_when_its_receipt_is_accepted(sdk_hub: SdkHub) -> None:
    s = sdk_hub
    s.double("/_sdk/receipts", {"outcome": "accept", "after": 0.5})
    mid, person = s.send("sdk-1")
    s.relay()
    d = s.delivery(mid)
    assert (d.state, d.receipt_ref) == ("awaiting_receipt", sdk_message_id(d.id))
    assert deliveries_by_state(s.hub.reader) == {SDK: {"awaiting_receipt": 1}}  # /metrics
    sent = s.double("/_sdk/effects")["messages"][d.receipt_ref]
    assert sent["recipientAttention"]["subOrganization"]["extension"] == DISTRICT_MAILBOX
    reference = sent["recipientAttention"]["referenceId"][0]["extension"]
    assert reference.replace("-", "") == person.identity.canonical

    s.relay(advance=5)  # first poll: the recipient has not answered yet
    assert s.delivery(mid).state == "awaiting_receipt"
    time.sleep(0.5)
    s.relay(advance=5)
    d = s.delivery(mid)
    assert (d.state, d.delivered_at is not None) == ("delivered", True)
    assert s.double("/_sdk/effects")["effects"][d.receipt_ref] == [
        "received",
        "status:WAITING_FOR_RECEIPT",
        "status:ACCEPTED",
    ]
    assert _actions(s, mid) == ["received", "decrypted", "sent", "delivered"]


def test_a_rejected_receipt_ends_dead_with_its_reason(sdk_hub: SdkHub) -> None:
    s = sdk_hub
    s.double("/_sdk/receipts", {"outcome": "reject"})
    mid, _ = s.send("sdk-2")
    s.relay()
    s.relay(advance=5)
    d = s.delivery(mid)
    assert (d.state, d.last_reason) == ("dead", "receipt_rejected")
    assert d.last_error is not None
    assert "SDK-MT-017" in d.last_error
    assert _actions(s, mid)[-1] == "dead"


def test_a_lost_receipt_times_out(sdk_hub: SdkHub) -> None:
    s = sdk_hub
    s.double("/_sdk/receipts", {"outcome": "lose"})
    mid, _ = s.send("sdk-3")
    s.relay()
    polls = 0
    while s.delivery(mid).state == "awaiting_receipt" and polls < 50:
        s.relay(advance=15)
        polls += 1
    d = s.delivery(mid)
    assert (d.state, d.last_reason) == ("dead", "receipt_timeout")
    assert f"{TIMEOUT:g} s" in (d.last_error or "")
    assert 3 <= polls <= 12  # backed off, yet found out at the deadline


def test_an_expired_token_is_refreshed(sdk_hub: SdkHub) -> None:
    s = sdk_hub
    first, _ = s.send("sdk-4")
    s.relay()
    s.double("/_sdk/tokens", {"expire_all": True})
    second, _ = s.send("sdk-5")
    s.relay()
    assert [s.delivery(m).state for m in (first, second)] == ["awaiting_receipt"] * 2
    stats = s.double("/_stats")
    assert (stats["tokens_issued"], stats["unauthorized"]) == (2, 1)


def test_a_request_the_service_refuses_is_dead_with_its_issues(sdk_hub: SdkHub) -> None:
    s = sdk_hub
    mid, _ = s.send("sdk-6", district=NORR)
    s.relay()
    d = s.delivery(mid)
    assert (d.state, d.last_reason) == ("dead", "sdk_bad_request")
    assert "schema" in (d.last_error or "")


def test_an_inbound_answer_is_ingested_once_and_routed(sdk_hub: SdkHub) -> None:
    s = sdk_hub
    mid, person = s.send("sdk-7")
    s.relay()
    referral = s.delivery(mid).receipt_ref
    answer = s.double("/_sdk/effects")["messages"][referral]
    reply = {
        **answer,
        "messageId": "6f1d2c3b-4a59-4e68-9d7c-0b1a2c3d4e5f",
        "conversationId": referral,
        "refToMessageId": referral,
        "label": "Svar: vi har ringt upp",
        "sender": answer["recipient"],
        "recipient": answer["sender"],
        "senderAttention": answer["recipientAttention"] | {"referenceId": []},
        "recipientAttention": {
            "subOrganization": answer["senderAttention"]["subOrganization"],
            "referenceId": answer["recipientAttention"]["referenceId"],
        },
    }
    reply.pop("messageStatus", None)
    reply["recipientAttention"]["subOrganization"]["extension"] = HUB_MAILBOX
    reply["senderAttention"]["subOrganization"]["extension"] = DISTRICT_MAILBOX
    s.double("/_sdk/inbox", reply)

    first = poll_inboxes(s.hub)[SDK]
    second = poll_inboxes(s.hub)[SDK]
    assert (len(first.ingested), first.failed) == (1, {})
    assert (second.ingested, second.repeats, second.failed) == ([], 0, {})
    (ingested,) = first.ingested
    s.relay()
    assert s.delivery(ingested).state == "delivered"  # routed to the follow-up destination
    assert _actions(s, ingested)[:1] == ["received"]

    # No personnummer of these flows in any column or in any file the hub wrote.
    needles = [person.identity.canonical.encode(), person.identity.formatted().encode()]
    with s.hub.reader.connect() as conn:
        meta = MetaData()
        meta.reflect(bind=conn)
        for table in meta.tables.values():
            for row in conn.execute(select(table)).mappings():
                for column, value in row.items():
                    raw = value if isinstance(value, bytes) else str(value).encode()
                    assert not any(n in raw for n in needles), f"{table.name}.{column}"
    home = Path(s.hub.settings.routes_file).parent
    for path in home.parent.rglob("*"):
        if path.is_file():
            assert not any(n in path.read_bytes() for n in needles), path


def test_sdk_poll_on_the_command_line(sdk_hub: SdkHub, tmp_path: Path, database_url: str) -> None:
    s = sdk_hub
    person = next(s.people)
    s.double("/_sdk/inbox", sdk_answer(person.identity.formatted()))
    runner = CliRunner()
    register_subcommands()
    env = {"OMSORGSHUB_HOME": str(tmp_path / "hub"), "OMSORGSHUB_DATABASE_URL": database_url}
    first = runner.invoke(cli, ["sdk", "poll"], env=env)
    assert first.exit_code == 0, first.output
    assert f"{SDK}: 1 ingested, 0 already known" in first.output
    again = runner.invoke(cli, ["sdk", "poll"], env=env)
    assert f"{SDK}: 0 ingested" in again.output


def test_serve_polls_the_inbox_periodically(sdk_hub: SdkHub) -> None:
    s = sdk_hub
    s.double("/_sdk/inbox", sdk_answer(next(s.people).identity.formatted()))
    stop = threading.Event()
    (thread,) = start_inbox_polling(s.hub, stop)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with s.hub.reader.connect() as conn:
                found = search(conn, AuditQuery(actor=INBOX_SYSTEM, action=AuditAction.RECEIVED))
            if found:
                break
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(timeout=5)
    assert [e.action for e in found] == ["received"]
    assert not thread.is_alive()


def test_a_receipt_poll_scheduled_while_the_clock_was_ahead_runs_once_it_is_set_back(
    sdk_hub: SdkHub,
) -> None:
    """Found by the chaos run's clock step. Two things held the poll back by the step: its time,
    stamped ahead (the sweeper's pull-back, ``hub.storage.deliveries.pull_back_future``, covers
    ``awaiting_receipt``), and the poller's "idle until", kept from the clock that stood ahead
    (``hub.outbox.receipts``: never more than ``IDLE_RECHECK`` ahead of the clock as it reads)."""
    s = sdk_hub
    s.double("/_sdk/receipts", {"outcome": "accept", "after": 0})
    s.clock.advance(600)
    mid, _ = s.send("sdk-clock")
    s.relay()  # sent while the clock stands ahead: the first poll is stamped ahead too
    assert s.delivery(mid).state == "awaiting_receipt"
    s.clock.advance(-600)  # NTP steps the clock back
    s.relay(advance=5)
    s.relay(advance=5)
    assert s.delivery(mid).state == "delivered"  # polled now, not in ten minutes
