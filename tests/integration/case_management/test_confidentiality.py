"""The confidentiality check (issue 15, 4): persons whose identity the case system marks as
protected are refused with ``protected_identity`` unless an agreement allows the purpose for
them — lookups through the real case-management double (SOAP), messages at ingest — and every
such access is audited with the reason ``protected_identity``."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from adapters.doubles.case_management_double import CaseManagementDouble
from adapters.doubles.case_management_seed import SeededClient
from audit.entry import AuditAction
from audit.search import AuditQuery, search
from contracts.model import Agreement
from hub.bootstrap import Hub
from hub.demo.fictional import FictionalPerson, build_envelope, referral_body
from hub.demo.sandbox import DestinationSpec, Sandbox
from hub.errors import ContractRefusal
from hub.services.agreements import add_agreements, register_system
from hub.services.lookups import LookupQuestion
from hub.services.principal import Principal
from hub.services.service_stats import monthly
from hub.storage.tables import protected_identities
from tests.integration.api_server import ServerThread, serve

DISTRICT = "sdn-sodermalm"
CENTRE = "aldre-direkt"
CONSENT = "verbal consent recorded in case AD-2026-000123"


@dataclass
class Setup:
    hub: Hub
    double: CaseManagementDouble
    api: ServerThread
    token: str

    def ask(self, client: SeededClient, purpose: str = "information") -> dict[str, object]:
        return self.hub.lookups.ask(
            LookupQuestion(
                requester=CENTRE,
                actor=CENTRE,
                lookup="client_summary",
                district=DISTRICT,
                purpose=purpose,
                subject=client.identity.formatted(),
                consent=CONSENT,
            )
        ).data

    def refer(self, client: SeededClient, purpose: str = "information", n: int = 0) -> str:
        first, _, last = client.name.partition(" ")
        person = FictionalPerson(first, last, client.identity)
        envelope = build_envelope(
            message_type="case.referral",
            version="1",
            district=DISTRICT,
            purpose=purpose,
            body=referral_body(person, DISTRICT, random.Random(n)),
            message_id=f"ref-{client.identity.canonical}-{purpose}-{n}",
            subjects=((client.identity.scheme, client.identity.formatted()),),
        )
        return self.hub.ingestor.ingest(CENTRE, envelope).message_id

    def entries(self, action: AuditAction) -> list[tuple[str, str | None]]:
        with self.hub.reader.connect() as conn:
            return [(e.outcome, e.reason) for e in search(conn, AuditQuery(action=action))]


def agreement(hub: Hub, *, protected_purposes: frozenset[str] = frozenset()) -> Agreement:
    return Agreement(
        id="PUB-SODERMALM-CASES",
        version=1,
        district=DISTRICT,
        controller_name="Södermalm stadsdelsnämnd (fictional)",
        dpo_contact="dataskydd@example.invalid",
        processor=CENTRE,
        senders=frozenset({CENTRE}),
        recipients=frozenset({"case-sodermalm"}),
        purposes=frozenset({"information", "urgent_protection"}),
        message_types=frozenset({"lookup.client_summary", "case.referral"}),
        categories=frozenset({"identity", "contact", "case", "decisions", "fees"}),
        subject_categories=frozenset({"elderly care clients"}),
        valid_from=hub.clock() - timedelta(days=1),
        valid_to=None,
        retention_days=30,
        legal_reference="Dnr TEST-2026-15",
        protected_identity_purposes=protected_purposes,
    )


@pytest.fixture
def setup(tmp_path: Path, database_url: str) -> Iterator[Setup]:
    with CaseManagementDouble() as double:
        sandbox = Sandbox(tmp_path / "hub", database_url=database_url)
        case = DestinationSpec("case-soap", {"url": double.url, "timeout": 3})
        sandbox.write_routes(
            {"case-sodermalm": case},
            [
                ("lookup.client_summary", DISTRICT, ["case-sodermalm"]),
                ("case.referral", DISTRICT, ["case-sodermalm"]),
            ],
        )
        hub = sandbox.open()
        token = register_system(hub, CENTRE, "contact centre", "test")
        add_agreements(hub, [agreement(hub)], "test")
        api = serve(hub)
        try:
            yield Setup(hub, double, api, token)
        finally:
            api.stop()
            hub.close()


def ours(double: CaseManagementDouble) -> tuple[SeededClient, list[SeededClient]]:
    ordinary = next(c for c in double.seeded if c.district == DISTRICT)
    protected = [c for c in double.protected if c.district == DISTRICT]
    assert {c.protected_identity for c in protected} == {
        "protected_registration",
        "confidentiality_marking",
    }
    return ordinary, protected


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
    lifted = replace(client, protected_identity=None)
    setup.double._clients[(DISTRICT, client.identity.canonical)] = lifted
    assert setup.ask(client, purpose="urgent_protection")["protected_identity"] is None
    assert setup.ask(client)["found"] is True
    setup.refer(client)
