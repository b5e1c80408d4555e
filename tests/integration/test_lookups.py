"""Lookups over the API to the finance system's double (SOAP), agreement-checked and audited."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from adapters.doubles.ubw_double import TOLVAN, UbwDouble
from audit.entry import AuditAction
from audit.search import AuditQuery, search
from contracts.model import Agreement
from hub.bootstrap import Hub
from hub.demo.sandbox import DestinationSpec, Sandbox
from hub.services.agreements import add_agreements, register_system
from hub.storage.tables import messages
from tests.integration.api_server import ServerThread, serve

DISTRICT = "sdn-sodermalm"
CENTRE = "aldre-direkt"
TOLVAN_FORMATTED = f"{TOLVAN[:8]}-{TOLVAN[8:]}"


@dataclass
class Setup:
    hub: Hub
    api: ServerThread
    double: UbwDouble
    token: str

    def ask(self, **overrides: object) -> httpx.Response:
        body: dict[str, object] = {
            "lookup": "invoice_status",
            "district": DISTRICT,
            "purpose": "invoice_question",
            "subject": {"id": TOLVAN_FORMATTED},
            "params": {"invoice_number": "7100002"},
            "consent": "verbal consent recorded in case AD-2026-000123",
        }
        body.update(overrides)
        return httpx.post(
            f"{self.api.url}/api/v1/lookups",
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
            trust_env=False,
        )

    def audit(self, action: AuditAction) -> list[str | None]:
        with self.hub.reader.connect() as conn:
            return [e.reason for e in search(conn, AuditQuery(action=action))]


def agreement(now: datetime) -> Agreement:
    return Agreement(
        id="PUB-SODERMALM-INVOICES",
        version=1,
        district=DISTRICT,
        controller_name="Södermalm stadsdelsnämnd (fictional)",
        dpo_contact="dataskydd@example.invalid",
        processor=CENTRE,
        senders=frozenset({CENTRE}),
        recipients=frozenset({"finance-ubw"}),
        purposes=frozenset({"invoice_question"}),
        message_types=frozenset({"lookup.invoice_status"}),
        categories=frozenset({"identity", "invoices"}),
        subject_categories=frozenset({"elderly care clients"}),
        valid_from=now - timedelta(days=1),
        valid_to=None,
        retention_days=30,
        legal_reference="Dnr TEST-2026-1",
    )


@pytest.fixture
def setup(tmp_path: Path, database_url: str) -> Iterator[Setup]:
    double = UbwDouble()
    double.start()
    sandbox = Sandbox(tmp_path / "hub", database_url=database_url)
    options = {
        "url": double.url,
        "username": double.username,
        "client": double.client,
        "password": "fiktivt-losenord",
        "template_id": double.template_id,
        "timeout": 3,
    }
    sandbox.write_routes(
        {"finance-ubw": DestinationSpec("ubw", options)},
        [("lookup.invoice_status", DISTRICT, ["finance-ubw"])],
    )
    hub = sandbox.open()
    token = register_system(hub, CENTRE, "contact centre", "test")
    add_agreements(hub, [agreement(datetime.now(UTC))], "test")
    api = serve(hub)
    yield Setup(hub, api, double, token)
    api.stop()
    hub.close()
    double.stop()


def test_an_invoice_status_is_answered_audited_and_not_stored(setup: Setup) -> None:
    response = setup.ask()
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["invoice_number"], data["status"]) == ("7100002", "partly_paid")
    assert [r.split(" ")[0] for r in setup.audit(AuditAction.QUERIED) if r] == ["invoice_status"]
    with setup.hub.reader.connect() as conn:
        (entry,) = search(conn, AuditQuery(action=AuditAction.QUERIED))
        stored = conn.execute(select(func.count()).select_from(messages)).scalar_one()
    assert entry.subject_ref == setup.hub.guards.hmacs.subject_ref(TOLVAN)
    assert (entry.actor, entry.destination, entry.agreement) == (
        CENTRE,
        "finance-ubw",
        "PUB-SODERMALM-INVOICES@1",
    )
    assert stored == 0


def test_individual_information_needs_recorded_consent(setup: Setup) -> None:
    response = setup.ask(consent=None)
    assert response.status_code == 403
    assert response.json()["reason"] == "consent_missing"
    assert [r.partition(": ")[0] for r in setup.audit(AuditAction.REFUSED) if r] == [
        "consent_missing"
    ]
    assert setup.double.stats()["requests"] == 0


def test_a_revoked_agreement_stops_lookups(setup: Setup) -> None:
    with setup.hub.engine.begin() as conn:
        current = setup.hub.agreement_store.get(conn, "PUB-SODERMALM-INVOICES")
    narrowed = replace(current, purposes=frozenset({"something_else"}))
    add_agreements(setup.hub, [narrowed], "test")
    response = setup.ask()
    assert (response.status_code, response.json()["reason"]) == (403, "purpose_not_allowed")


def test_bad_requests_get_a_specific_reason(setup: Setup) -> None:
    unknown = setup.ask(lookup="invoice_stauts")
    assert unknown.status_code == 422
    assert "did you mean 'invoice_status'?" in unknown.json()["detail"]
    extra = setup.ask(params={"invoice_number": "7100002", "amount": "1"})
    assert (extra.status_code, extra.json()["reason"]) == (422, "lookup_invalid")
    bad_id = setup.ask(subject={"id": "19121212-1213"})
    assert (bad_id.status_code, bad_id.json()["reason"]) == (422, "invalid_identity_number")
    strict = setup.ask(colour="blue")
    assert (strict.status_code, strict.json()["reason"]) == (422, "request_invalid")
    assert strict.headers["content-type"] == "application/problem+json"


def test_a_finance_system_that_is_down_answers_502_and_is_audited(setup: Setup) -> None:
    setup.double.set_mode("down")
    response = setup.ask()
    assert response.status_code == 502
    assert response.json()["reason"] == "destination_unavailable"
    with setup.hub.reader.connect() as conn:
        (entry,) = search(conn, AuditQuery(action=AuditAction.QUERIED))
    assert (entry.outcome, entry.reason) == ("failed", "destination_unavailable")
