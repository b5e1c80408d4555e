"""The district scope is checked in the services, for every face: a principal scoped to other
districts finds the spine's Södermalm messages, keys and audit entries absent, and its lists
leave them out; the unscoped operator sees them. Real database, real hub (the spine)."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from hub.errors import AuthenticationError, NotFound
from hub.services.agreements import add_agreements
from hub.services.audit_queries import AuditFilter, search_audit
from hub.services.data_keys import list_keys, rotate_keys, shred_key
from hub.services.lookup_requests import ask_lookup
from hub.services.messages import (
    list_messages,
    message_status,
    replay_deliveries,
    show_message,
    view_payload,
)
from hub.services.principal import Kind, Principal
from hub.services.systems import list_systems
from tests.integration.spine import DISTRICT, SENDER, Spine

OPERATOR = Principal.operator("operator:test")
# An operator of another district only: the console's scoped roles will look like this.
NORR = Principal("operator:norr", Kind.OPERATOR, frozenset({"sdn-norr"}))


def test_messages_of_another_district_are_absent(spine: Spine) -> None:
    spine.double.set_mode("reject")
    (mid,) = spine.send(1)
    spine.hub.relay.run_once()
    hub = spine.hub
    assert [r.message.id for r in list_messages(hub, OPERATOR)] == [mid]
    assert list_messages(hub, NORR) == []
    assert show_message(hub, OPERATOR, mid).message.district == DISTRICT
    unknown = str(uuid.uuid4())  # well formed, stored nowhere
    with pytest.raises(NotFound) as absent:
        show_message(hub, OPERATOR, unknown)
    with pytest.raises(NotFound) as hidden:
        show_message(hub, NORR, mid)
    assert hidden.value.detail == absent.value.detail.replace(unknown, mid)
    with pytest.raises(NotFound):
        view_payload(hub, mid, actor=NORR, reason="curious")
    (delivery,) = show_message(hub, OPERATOR, mid).deliveries
    assert delivery.state == "dead"
    with pytest.raises(NotFound):
        replay_deliveries(hub, NORR, [delivery.id], reason="retry")
    assert replay_deliveries(hub, NORR, [], reason="retry", all_dead=True).replayed == 0
    assert replay_deliveries(hub, OPERATOR, [], reason="retry", all_dead=True).replayed == 1
    # A system sees its own messages only.
    assert message_status(hub, Principal.system(SENDER), mid).message.id == mid
    with pytest.raises(NotFound):
        message_status(hub, Principal.system("someone-else"), mid)


def test_keys_and_audit_entries_of_another_district_are_absent(spine: Spine) -> None:
    spine.send(1)
    hub = spine.hub
    assert {k.district for k in list_keys(hub, OPERATOR)} == {DISTRICT}
    assert list_keys(hub, NORR) == []
    # Changing keys is hub-wide (a console hub_admin or the command line), never a district's.
    for change in (
        lambda: rotate_keys(hub, NORR, None),
        lambda: rotate_keys(hub, NORR, DISTRICT),
        lambda: shred_key(hub, NORR, DISTRICT, 1),
    ):
        with pytest.raises(AuthenticationError) as caught:
            change()
        assert caught.value.reason == "needs_hub_wide_role"
    query = AuditFilter(district=DISTRICT)
    assert {e.district for e in search_audit(hub, OPERATOR, query)} == {DISTRICT}
    assert search_audit(hub, Principal.dpo("dpo:norr", ["sdn-norr"]), query) == []
    with pytest.raises(AuthenticationError):  # a console operator runs deliveries, not the audit
        search_audit(hub, NORR, query)


def test_a_lookup_outside_the_scope_and_kinds_that_may_not_act(spine: Spine) -> None:
    person = next(spine.people)
    with pytest.raises(NotFound):
        ask_lookup(
            spine.hub,
            NORR,
            lookup="client_summary",
            district=DISTRICT,
            purpose="case-referral",
            subject=person.identity.formatted(),
            on_behalf_of=SENDER,
        )
    admin = Principal.district_admin("admin:x", [DISTRICT])
    with pytest.raises(AuthenticationError):
        list_messages(spine.hub, admin)
    with pytest.raises(AuthenticationError):
        list_systems(spine.hub, Principal.system(SENDER))


SODERMALM = Principal("operator:sodermalm", Kind.OPERATOR, frozenset({DISTRICT}))


def test_a_scoped_list_is_not_cut_short_by_what_it_may_not_see(spine: Spine) -> None:
    # The scope is part of the query, before its limit: newer messages (and older audit
    # entries) of another district must not crowd out the principal's own.
    hub = spine.hub
    norr = replace(spine.agreement(), id="dpa-norr-test", district="sdn-norr")
    add_agreements(hub, [norr], "test")
    start = spine.clock()
    for i in range(3):
        hub.ingestor.ingest(SENDER, spine.envelope(f"norr-old{i}", district="sdn-norr"))
    (own,) = spine.send(1)
    for i in range(3):
        hub.ingestor.ingest(SENDER, spine.envelope(f"norr-new{i}", district="sdn-norr"))
    assert [r.message.id for r in list_messages(hub, SODERMALM, limit=2)] == [own]
    dpo = Principal.dpo("dpo:sodermalm", [DISTRICT])
    found = search_audit(hub, dpo, AuditFilter(since=start, limit=1))
    assert [e.district for e in found] == [DISTRICT]
