"""The operators' message search, counts, dead letters, message tree and saved filters, on a
real database (SQLite and PostgreSQL) with a real HTTP destination: by business key (compared
as its HMAC, the search audited without the value), by state, destination, type and time,
page by page; never another district's messages."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from audit.entry import AuditAction
from audit.search import AuditQuery, search
from hub.demo.fictional import build_envelope
from hub.demo.flows import deferral_body
from hub.errors import InputError, NotFound
from hub.services.agreements import revoke_agreement
from hub.services.message_search import (
    MessageFilter,
    count_states,
    dead_letters,
    message_tree,
    search_messages,
)
from hub.services.messages import replay_deliveries
from hub.services.principal import Kind, Principal
from hub.services.saved_filters import (
    SavedFilter,
    delete_filter,
    save_filter,
    saved_filters,
)
from hub.services.users import add_user
from hub.storage.tables import business_keys
from tests.integration.spine import (
    DESTINATION,
    DISTRICT,
    SENDER,
    Spine,
    close_spine,
    open_spine,
)

ANNA = Principal.operator("user:anna", [DISTRICT])
NORR = Principal("user:norr", Kind.OPERATOR, frozenset({"sdn-norr"}))


def _case_id(envelope: bytes) -> str:
    found = re.search(rb"CaseId>([^<]+)<", envelope)
    assert found is not None
    return found.group(1).decode()


def _ingest(spine: Spine, message_id: str) -> tuple[str, str]:
    envelope = spine.envelope(message_id)
    stored = spine.hub.ingestor.ingest(SENDER, envelope).message_id
    return stored, _case_id(envelope)


def test_search_by_business_key_state_and_time_page_by_page(spine: Spine) -> None:
    hub = spine.hub
    made = []
    for i in range(5):
        made.append(_ingest(spine, f"s{i}"))
        spine.clock.advance(60)
    (first, case), last = made[0], made[-1][0]
    # The case number is stored as its keyed HMAC, never in plain text.
    with hub.reader.connect() as conn:
        values = set(conn.execute(business_keys.select()).all())
    assert case not in {v.value for v in values}

    by_case = search_messages(hub, ANNA, MessageFilter(key_name="case_id", key_value=case))
    assert [s.message.id for s in by_case.messages] == [first]
    by_sender_id = search_messages(
        hub, ANNA, MessageFilter(key_name="sender_message_id", key_value="s3")
    )
    assert len(by_sender_id.messages) == 1
    assert search_messages(hub, NORR, MessageFilter(key_name="case_id", key_value=case)) == (
        search_messages(hub, NORR, MessageFilter())
    )
    assert search_messages(hub, NORR, MessageFilter()).messages == []
    with hub.reader.connect() as conn:
        queried = search(conn, AuditQuery(actor="user:anna", action=AuditAction.QUERIED))
    assert [e.reason for e in queried] == [
        "message search by case_id: 1 found",
        "message search by sender_message_id: 1 found",
    ]
    assert all(case not in (e.reason or "") for e in queried)

    pages, cursor = [], None
    while True:
        page = search_messages(hub, ANNA, MessageFilter(page_size=2, before=cursor))
        pages.append([s.message.id for s in page.messages])
        cursor = page.next_cursor
        if cursor is None:
            break
    assert [len(p) for p in pages] == [2, 2, 1]
    assert pages[0][0] == last  # newest first
    assert sorted(i for p in pages for i in p) == sorted(m for m, _ in made)

    window = MessageFilter(since=spine.clock() - timedelta(seconds=150))
    assert len(search_messages(hub, ANNA, window).messages) == 2
    assert search_messages(hub, ANNA, MessageFilter(state="dead")).messages == []
    pending = search_messages(hub, ANNA, MessageFilter(state="pending", destination=DESTINATION))
    assert len(pending.messages) == 5
    for bad in (
        MessageFilter(state="lost"),
        MessageFilter(message_type="no.such"),
        MessageFilter(key_value="x"),
        MessageFilter(key_name="no_such", key_value="x"),
    ):
        with pytest.raises(InputError):
            search_messages(hub, ANNA, bad)


def test_dead_letters_counts_and_the_tree_of_attempts(spine: Spine) -> None:
    hub = spine.hub
    spine.double.set_mode("unavailable")
    mid, _ = _ingest(spine, "d1")
    for _ in range(4):  # the spine's retry policy: 4 attempts, then dead
        hub.relay.run_once()
        spine.clock.advance(120)
    (delivery,) = spine.deliveries(mid)
    assert delivery.state == "dead"
    dead = dead_letters(hub, ANNA)
    assert dead.total == 1
    assert dead.letters[0].delivery.last_reason
    assert dead_letters(hub, NORR).total == 0
    counts = count_states(hub, ANNA, timedelta(hours=24)).by_destination
    assert counts == {DESTINATION: {"dead": 1}}
    assert count_states(hub, NORR, timedelta(hours=24)).by_destination == {}
    found = search_messages(hub, ANNA, MessageFilter(state="dead", destination=DESTINATION))
    assert [s.message.id for s in found.messages] == [mid]

    tree = message_tree(hub, ANNA, mid)
    actions = [a.action for a in tree.attempts[DESTINATION]]
    assert actions.count("delivery_failed") == 3
    assert actions[-1] == "dead"
    assert tree.received_at is not None
    with pytest.raises(NotFound):
        message_tree(hub, NORR, mid)


def test_saved_filters_are_a_persons_own_and_keep_no_key_value(spine: Spine) -> None:
    hub = spine.hub
    add_user(hub, "operator:test", "anna", "Anna Test", "fiktivt-losenord-1")
    add_user(hub, "operator:test", "norr", "Norr Test", "fiktivt-losenord-1")
    save_filter(hub, ANNA, SavedFilter("dead ones", hours=48, state="dead", key_name="case_id"))
    assert saved_filters(hub, ANNA) == [
        SavedFilter("dead ones", hours=48, state="dead", key_name="case_id")
    ]
    assert saved_filters(hub, NORR) == []
    with pytest.raises(NotFound):
        delete_filter(hub, NORR, "dead ones")
    with pytest.raises(InputError):
        save_filter(hub, ANNA, SavedFilter(" "))
    with pytest.raises(InputError):
        save_filter(hub, Principal.operator("operator:cli"), SavedFilter("x"))
    delete_filter(hub, ANNA, "dead ones")
    assert saved_filters(hub, ANNA) == []


def test_a_deferral_is_found_by_its_invoice_or_ocr_number(
    tmp_path: Path, database_url: str
) -> None:
    spine = open_spine(tmp_path, database_url, types=("finance.deferral",))
    try:
        person = next(spine.people)
        body = deferral_body("F-2026-0042", "20260042", person.identity, 10, spine.rng)
        envelope = build_envelope(
            message_type="finance.deferral",
            version="1",
            district=DISTRICT,
            purpose="referral",
            body=body,
            message_id="def-1",
            consent="CONSENT-DEF-1",  # the agreement asks consent for invoices
        )
        mid = spine.hub.ingestor.ingest(SENDER, envelope).message_id
        for name, value in (("invoice_number", "F-2026-0042"), ("ocr", "20260042")):
            found = search_messages(spine.hub, ANNA, MessageFilter(key_name=name, key_value=value))
            assert [s.message.id for s in found.messages] == [mid], name
        wrong = MessageFilter(key_name="ocr", key_value="20260043")
        assert search_messages(spine.hub, ANNA, wrong).messages == []
    finally:
        close_spine(spine)


def test_a_replay_is_authorized_again_by_the_agreement_in_force(spine: Spine) -> None:
    """A dead letter replayed after its agreement was revoked is refused at its next attempt,
    never sent; the tree shows the replay and the refusal."""
    hub = spine.hub
    spine.double.set_mode("reject")
    mid, _ = _ingest(spine, "r1")
    hub.relay.run_once()
    (dead,) = spine.deliveries(mid)
    assert dead.state == "dead"
    revoke_agreement(hub, spine.agreement().id, "ended by the district", "operator:test")
    spine.double.set_mode("up")
    assert replay_deliveries(hub, ANNA, [dead.id], reason="destination fixed").replayed == 1
    spine.clock.advance(1)
    hub.relay.run_once()
    assert spine.states([mid]) == ["refused"]
    assert spine.double.stats()["unique"] == 0
    attempts = message_tree(hub, ANNA, mid).attempts[DESTINATION]
    assert [(a.action, a.actor) for a in attempts][-2:] == [
        ("replayed", "user:anna"),
        ("refused", "omsorgshub"),
    ]
