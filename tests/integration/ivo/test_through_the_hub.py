"""An individual report through the whole hub to the IVO double: ingested under an agreement
that allows the pseudonym category (never identity), linked to its person by the header only,
delivered by the robot with IVO's receipt kept, and a refusal by IVO ending dead with IVO's
message for an officer. On SQLite and PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.doubles.ivo_double import IvoDouble
from contracts.model import Agreement
from hub.bootstrap import Hub
from hub.demo.fictional import build_envelope
from hub.demo.ivo_reports import ivo_report_body
from hub.demo.ivo_service import IVO_DESTINATION, ivo_destination, start_ivo_double
from hub.demo.sandbox import Sandbox
from hub.errors import ContractRefusal, SubjectMismatch
from hub.services.agreements import add_agreements, register_system
from hub.storage import deliveries as delivery_rows
from tests.integration.ivo.conftest import TOLVAN
from tests.integration.spine import Clock, InlineDispatcher

DISTRICT = "sdn-sodermalm"
SENDER = "ivo-reporting"
DESTINATION = IVO_DESTINATION
CATEGORIES = frozenset({"pseudonym", "case", "decisions", "health"})


@dataclass
class IvoHub:
    hub: Hub
    double: IvoDouble
    clock: Clock

    def send(self, message_id: str, *, kind: str = "not_executed", named: bool = True) -> str:
        body = ivo_report_body(TOLVAN, random.Random(message_id), kind=kind,
                               reference=f"OH-{message_id}")  # fmt: skip
        envelope = build_envelope(
            message_type="ivo.individual_report", version="1", district=DISTRICT,
            purpose="ivo-reporting", body=body, message_id=message_id,
            subjects=(TOLVAN.subject,) if named else (),
        )  # fmt: skip
        return self.hub.ingestor.ingest(SENDER, envelope).message_id

    def delivery(self, message_id: str) -> delivery_rows.DeliveryRow:
        with self.hub.reader.connect() as conn:
            (row,) = delivery_rows.for_message(conn, message_id)
        return row


def agreement(clock: Clock, categories: frozenset[str] = CATEGORIES) -> Agreement:
    return Agreement(
        id="PUB-SODERMALM-IVO", version=1, district=DISTRICT,
        controller_name="Södermalms stadsdelsnämnd (fictional)",
        dpo_contact="dataskydd.sodermalm@example.invalid",
        subject_categories=frozenset({"persons with decisions not executed"}),
        valid_from=clock() - timedelta(days=1), valid_to=clock() + timedelta(days=365),
        retention_days=730, legal_reference="16 kap. 6 f § SoL (fictional reference)",
        processor=SENDER, senders=frozenset({SENDER}), recipients=frozenset({DESTINATION}),
        purposes=frozenset({"ivo-reporting"}), message_types=frozenset({"ivo.individual_report"}),
        categories=categories, consent_required=frozenset(),  # a legal duty, not consent
    )  # fmt: skip


@pytest.fixture
def ivo_hub(tmp_path: Path, database_url: str) -> Iterator[IvoHub]:
    """A hub routing IVO reports to the demo's IVO double, as ``omsorgshub demo`` sets it up."""
    double = start_ivo_double()
    sandbox = Sandbox(tmp_path / "hub", database_url=database_url)
    sandbox.write_routes(
        {DESTINATION: ivo_destination(double, max_attempts=3)},
        [("ivo.individual_report", DISTRICT, [DESTINATION])],
    )
    clock, dispatcher = Clock(), InlineDispatcher()
    hub = sandbox.open(dispatcher=dispatcher, clock=clock)
    dispatcher.execute = hub.executor.execute
    try:
        register_system(hub, SENDER, "IVO reporting (test)", "test")
        add_agreements(hub, [agreement(clock)], "test")
        yield IvoHub(hub, double, clock)
    finally:
        hub.close()
        double.stop()


def test_a_report_is_delivered_and_ivos_receipt_kept(ivo_hub: IvoHub) -> None:
    message_id = ivo_hub.send("IVO-2026Q3-1")
    ivo_hub.hub.relay.run_once()
    row = ivo_hub.delivery(message_id)
    (received,) = ivo_hub.double.received()
    assert (row.state, row.receipt_ref) == ("delivered", received["kvittens"])
    assert received["er_referens"] == "OH-IVO-2026Q3-1"


def test_ivos_refusal_is_dead_with_its_message(ivo_hub: IvoHub) -> None:
    ivo_hub.double.fail_next_submissions(1)
    message_id = ivo_hub.send("IVO-2026Q3-2")
    ivo_hub.hub.relay.run_once()
    row = ivo_hub.delivery(message_id)
    assert (row.state, row.attempts, row.last_reason) == ("dead", 1, "ivo_validation")
    assert row.last_error is not None
    assert "Rapporten kunde inte tas emot" in row.last_error
    assert ivo_hub.double.received() == []


def test_the_service_down_is_retried_on_the_schedule(ivo_hub: IvoHub) -> None:
    ivo_hub.double.set_mode("down")
    message_id = ivo_hub.send("IVO-2026Q3-3")
    ivo_hub.hub.relay.run_once()
    assert ivo_hub.delivery(message_id).state == "retrying"
    ivo_hub.double.set_mode("up")
    ivo_hub.clock.advance(61)
    ivo_hub.hub.relay.run_once()
    assert ivo_hub.delivery(message_id).state == "delivered"
    assert len(ivo_hub.double.received()) == 1


def test_an_agreement_without_the_pseudonym_category_refuses_it(ivo_hub: IvoHub) -> None:
    narrower = agreement(ivo_hub.clock, CATEGORIES - {"pseudonym"})
    add_agreements(ivo_hub.hub, [replace(narrower, version=2)], "test")
    with pytest.raises(ContractRefusal) as caught:
        ivo_hub.send("IVO-2026Q3-4")
    assert caught.value.reason == "category_not_allowed"
    assert "pseudonym" in caught.value.detail


def test_a_report_that_names_no_one_in_its_header_is_refused(ivo_hub: IvoHub) -> None:
    with pytest.raises(SubjectMismatch, match="pseudonymous code"):
        ivo_hub.send("IVO-2026Q3-5", named=False)
    assert ivo_hub.double.received() == []
