"""What the confidentiality check's integration tests share (``test_confidentiality``,
``test_protected_sync``): a hub routed to the case-management double, the agreement, and the
contact centre's lookups and referrals about the double's clients."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from adapters.doubles.case_management_double import CaseManagementDouble
from adapters.doubles.case_management_seed import SeededClient
from audit.entry import AuditAction
from audit.search import AuditQuery, search
from contracts.model import Agreement
from hub.bootstrap import Hub
from hub.demo.fictional import FictionalPerson, build_envelope, referral_body
from hub.demo.sandbox import DestinationSpec, Sandbox
from hub.services.agreements import add_agreements, register_system
from hub.services.lookups import LookupQuestion
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
        return self.hub.ingestor.ingest(CENTRE, self.referral(client, purpose, n)).message_id

    def referral(self, client: SeededClient, purpose: str = "information", n: int = 0) -> bytes:
        first, _, last = client.name.partition(" ")
        person = FictionalPerson(first, last, client.identity)
        return build_envelope(
            message_type="case.referral",
            version="1",
            district=DISTRICT,
            purpose=purpose,
            body=referral_body(person, DISTRICT, random.Random(n)),
            message_id=f"ref-{client.identity.canonical}-{purpose}-{n}",
            subjects=((client.identity.scheme, client.identity.formatted()),),
        )

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


@contextmanager
def opened_setup(
    tmp_path: Path, database_url: str, overrides: Mapping[str, str] | None = None
) -> Iterator[Setup]:
    """A hub on SQLite or PostgreSQL with the case-management double (SOAP on 127.0.0.1)
    routed for client summaries and referrals of ``DISTRICT``, the contact centre registered,
    an agreement without protected-identity purposes, and the API served; ``overrides`` are
    settings (``Sandbox.overrides``)."""
    with CaseManagementDouble() as double:
        sandbox = Sandbox(tmp_path / "hub", database_url=database_url, overrides=overrides or {})
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
