"""The confidentiality check (issue 15, 4): persons whose identity the case system marks as
protected are refused with ``protected_identity`` unless an agreement allows the purpose for
them — lookups through the real case-management double (SOAP), messages at ingest — and every
such access is audited with the reason ``protected_identity``. The marks a lookup learns are
proven here; those the case system's own list brings, in ``test_protected_sync``."""

from __future__ import annotations

from dataclasses import replace
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from audit.entry import AuditAction
from hub.errors import ContractRefusal
from hub.ingest.prepared import IngestResult
from hub.services.agreements import add_agreements
from hub.services.principal import Principal
from hub.services.service_stats import monthly
from hub.storage.tables import protected_identities
from tests.integration.case_management.confidentiality import (
    CENTRE,
    CONSENT,
    DISTRICT,
    Setup,
    agreement,
    ours,
)


def test_protected_persons_are_refused_by_default_and_others_answered(setup: Setup) -> None:
    ordinary, protected = ours(setup.double)
    answer = setup.ask(ordinary)
    assert answer["found"] is True
    assert answer["protected_identity"] is None
    for client in protected:
        with pytest.raises(ContractRefusal) as refused:
            setup.ask(client)
        assert refused.value.reason == "protected_identity"
    # Over the API: a readable problem, not the person's data.
    response = httpx.post(
        f"{setup.api.url}/api/v1/lookups",
        json={
            "lookup": "client_summary", "district": DISTRICT, "purpose": "information",
            "subject": {"id": protected[0].identity.formatted()}, "consent": CONSENT,
        },
        headers={"Authorization": f"Bearer {setup.token}"},
        timeout=30,
        trust_env=False,
    )  # fmt: skip
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["reason"] == "protected_identity"
    assert protected[0].name not in response.text
    refusals = setup.entries(AuditAction.REFUSED)
    assert len(refusals) == 3
    assert all(r is not None and r.startswith("protected_identity") for _, r in refusals)
    hmacs = setup.hub.guards.hmacs
    with setup.hub.reader.connect() as conn:
        marked = dict(
            conn.execute(
                select(protected_identities.c.subject_ref, protected_identities.c.kind)
            ).all()
        )
    assert marked == {
        hmacs.subject_ref(c.identity.canonical): c.protected_identity for c in protected
    }


def test_a_message_about_a_marked_person_is_refused_at_ingest(setup: Setup) -> None:
    ordinary, protected = ours(setup.double)
    with pytest.raises(ContractRefusal):
        setup.ask(protected[0])  # the case system marks the person
    setup.refer(ordinary)
    with pytest.raises(ContractRefusal) as refused:
        setup.refer(protected[0])
    assert refused.value.reason == "protected_identity"
    refusals = [r for _, r in setup.entries(AuditAction.REFUSED)]
    assert len(refusals) == 2
    assert all(r and r.startswith("protected_identity") for r in refusals)
    assert [r for _, r in setup.entries(AuditAction.RECEIVED)] == [None]


def test_a_batch_refuses_only_its_messages_about_marked_persons(setup: Setup) -> None:
    """The check runs in the batch's write: one message refused, its neighbours stored."""
    ordinary, protected = ours(setup.double)
    allowing = agreement(setup.hub, protected_purposes=frozenset({"urgent_protection"}))
    add_agreements(setup.hub, [replace(allowing, version=2)], "test")
    for client in protected[:2]:
        with pytest.raises(ContractRefusal):
            setup.ask(client)  # the case system marks both
    outcomes = setup.hub.ingestor.ingest_many(
        CENTRE,
        [
            setup.referral(ordinary),
            setup.referral(protected[0]),
            setup.referral(protected[1], purpose="urgent_protection"),
        ],
    )
    assert isinstance(outcomes[0], IngestResult)
    assert isinstance(outcomes[1], ContractRefusal)
    assert outcomes[1].reason == "protected_identity"
    assert isinstance(outcomes[2], IngestResult)
    received = sorted(r or "" for _, r in setup.entries(AuditAction.RECEIVED))
    assert received == ["", "protected_identity"]
    refusals = [r or "" for _, r in setup.entries(AuditAction.REFUSED)]
    assert len(refusals) == 3  # the two lookups and the message
    assert all(r.startswith("protected_identity") for r in refusals)


def test_a_mark_recorded_after_the_checks_and_before_the_write_counts(setup: Setup) -> None:
    """A lookup marks the person between a message's checks and its write: the write reads
    the marks, so the message is refused; in an all-or-none batch (``store_all``, as time
    reports are stored) the refusal's audit entry survives the batch's rollback."""
    ordinary, protected = ours(setup.double)
    ready = [
        setup.hub.ingestor.prepare(CENTRE, setup.referral(client))
        for client in (ordinary, protected[0])
    ]
    with pytest.raises(ContractRefusal):
        setup.ask(protected[0])  # the case system marks the person now
    with pytest.raises(ContractRefusal) as refused:
        setup.hub.ingestor.store_all(ready)
    assert refused.value.reason == "protected_identity"
    assert setup.entries(AuditAction.RECEIVED) == []  # all or none: nothing stored
    refusals = [r or "" for _, r in setup.entries(AuditAction.REFUSED)]
    assert len(refusals) == 2  # the lookup and the message
    assert all(r.startswith("protected_identity") for r in refusals)


def test_allowed_where_the_agreement_lists_the_purpose_and_audited_for_review(
    setup: Setup,
) -> None:
    ordinary, protected = ours(setup.double)
    allowing = agreement(setup.hub, protected_purposes=frozenset({"urgent_protection"}))
    add_agreements(setup.hub, [replace(allowing, version=2)], "test")
    answer = setup.ask(protected[1], purpose="urgent_protection")
    assert answer["found"] is True
    assert answer["protected_identity"] == protected[1].protected_identity
    with pytest.raises(ContractRefusal) as refused:  # another purpose still is not
        setup.ask(protected[1], purpose="information")
    assert refused.value.reason == "protected_identity"
    setup.refer(protected[1], purpose="urgent_protection")
    with pytest.raises(ContractRefusal):
        setup.refer(protected[1], purpose="information", n=1)
    queried = [r for _, r in setup.entries(AuditAction.QUERIED)]
    assert len(queried) == 1
    assert queried[0] is not None
    assert queried[0].startswith("protected_identity client_summary ")
    received = [r for _, r in setup.entries(AuditAction.RECEIVED)]
    assert received == ["protected_identity"]
    setup.ask(ordinary)  # an ordinary person's access is not marked for review
    assert sum(1 for _, r in setup.entries(AuditAction.QUERIED) if r and "protected" in r) == 1
    # The month's statistics count both lookups, the protected one apart (no one named).
    month = setup.hub.clock().astimezone(ZoneInfo(setup.hub.settings.time_zone)).strftime("%Y-%m")
    (counted,) = monthly(setup.hub, Principal.operator("operator:test"), month).lookups
    assert (counted.district, counted.lookup, counted.lookups) == (DISTRICT, "client_summary", 2)
    assert counted.protected_identity == 1


def test_a_lifted_mark_lets_the_person_through_again(setup: Setup) -> None:
    _, protected = ours(setup.double)
    client = protected[0]
    with pytest.raises(ContractRefusal):
        setup.ask(client)
    # The case system lifts the protection: its next summary carries none, and the hub forgets
    # the mark (an agreement allowing the purpose lets the hub ask it again).
    allowing = agreement(setup.hub, protected_purposes=frozenset({"urgent_protection"}))
    add_agreements(setup.hub, [replace(allowing, version=2)], "test")
    setup.double.unmark(DISTRICT, client.identity)
    assert setup.ask(client, purpose="urgent_protection")["protected_identity"] is None
    assert setup.ask(client)["found"] is True
    setup.refer(client)
