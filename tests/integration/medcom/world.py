"""A whole hub for the MedCom flows: its API served on 127.0.0.1, the municipality's agreements
and ``[medcom]`` routing, the care system's inbox as an HTTP double, and the GP's MedCom
receiver at ``medcom_url`` (the MedCom double, run as its own process by the tests)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import func, select

from adapters.doubles.http_double import HttpDouble
from hub.bootstrap import Hub
from hub.demo.fictional import FictionalPerson, build_envelope
from hub.demo.medcom_world import (
    CARE_SYSTEM,
    DISTRICT,
    GP,
    HOME_CARE,
    HOSPITAL_SYSTEM,
    MEDCOM_GP,
    MESSAGE_TYPE,
    ONWARD,
    PURPOSE,
    care_communication,
    medcom_agreements,
    medcom_toml,
)
from hub.demo.sandbox import DestinationSpec, Sandbox, routes_toml
from hub.services.agreements import add_agreements, register_system
from hub.services.messages import DeliveryRow, message_status
from hub.services.principal import Principal
from hub.storage.tables import messages
from schemas.medcom.document import CareCommunication, to_xml
from schemas.medcom.message import FHIR_JSON, build_message, to_json
from tests.integration.api_server import serve, wait_until
from tests.integration.medcom.conftest import adapter_options

OUTSIDER = "okand-app"  # registered, named in no agreement
FAST = {"base_seconds": 0.05, "cap_seconds": 0.2, "max_attempts": 3}
PROCESS_MESSAGE = "/api/v1/fhir/$process-message"


@dataclass
class MedcomWorld:
    hub: Hub
    url: str
    inbox: HttpDouble
    tokens: dict[str, str]

    def post_fhir(
        self, body: bytes, system: str = HOSPITAL_SYSTEM, content_type: str = FHIR_JSON
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[system]}", "Content-Type": content_type}
        with httpx.Client(base_url=self.url, timeout=30, trust_env=False) as client:
            return client.post(PROCESS_MESSAGE, content=body, headers=headers)

    def send_outbound(self, doc: CareCommunication, message_id: str) -> str:
        """The care system sends ``doc`` to the GP through the hub; the hub's message id."""
        envelope = build_envelope(
            message_type=MESSAGE_TYPE,
            version="1",
            district=DISTRICT,
            purpose=PURPOSE,
            body=to_xml(doc),
            message_id=message_id,
            recipients=[MEDCOM_GP],
        )
        headers = {
            "Authorization": f"Bearer {self.tokens[CARE_SYSTEM]}",
            "Content-Type": "application/xml",
        }
        with httpx.Client(base_url=self.url, timeout=30, trust_env=False) as client:
            answer = client.post("/api/v1/messages", content=envelope, headers=headers)
        assert answer.status_code == 202, answer.text
        return str(answer.json()["id"])

    def deliveries(self, message_id: str, sender: str) -> list[DeliveryRow]:
        return message_status(self.hub, Principal.system(sender), message_id).deliveries

    def final_delivery(self, message_id: str, sender: str = CARE_SYSTEM) -> DeliveryRow:
        def final() -> bool:
            rows = self.deliveries(message_id, sender)
            return bool(rows) and all(r.state in ("delivered", "dead", "refused") for r in rows)

        wait_until(final, f"message {message_id} to be delivered or dead", 30)
        [row] = self.deliveries(message_id, sender)
        return row

    def message_count(self) -> int:
        with self.hub.reader.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(messages)).scalar_one())


def inbound_bundle(
    person: FictionalPerson, seed: str, header_id: str | None = None, bundle_id: str | None = None
) -> tuple[bytes, str]:
    """A hospital's CareCommunication to the municipality's home care; its bytes and header id."""
    doc = care_communication(person, random.Random(seed), attachment=True)
    header = header_id or str(uuid.uuid4())
    bundle = build_message(
        doc, header, bundle_id or str(uuid.uuid4()), datetime.now(UTC).isoformat(timespec="seconds")
    )
    return to_json(bundle), header


def outbound_document(person: FictionalPerson, seed: str) -> CareCommunication:
    return care_communication(person, random.Random(seed), sender=HOME_CARE, receiver=GP)


@contextmanager
def medcom_world(home: Path, database_url: str, medcom_url: str) -> Iterator[MedcomWorld]:
    inbox = HttpDouble()
    inbox.start()
    hub: Hub | None = None
    server = None
    try:
        sandbox = Sandbox(home, database_url=database_url)
        destinations = {
            ONWARD: DestinationSpec("http", {"url": inbox.url, "timeout": 2}, FAST),
            MEDCOM_GP: DestinationSpec("medcom", adapter_options(medcom_url, timeout=0.5), FAST),
        }
        table = [(MESSAGE_TYPE, DISTRICT, [ONWARD, MEDCOM_GP])]
        home.mkdir(parents=True, exist_ok=True)
        sandbox.settings().routes_file.write_text(
            routes_toml(destinations, table) + "\n" + medcom_toml()
        )
        hub = sandbox.open()
        tokens = {
            name: register_system(hub, name, "MedCom integration test (fictional)", actor="test")
            for name in (HOSPITAL_SYSTEM, CARE_SYSTEM, OUTSIDER)
        }
        add_agreements(hub, medcom_agreements(hub.clock()), actor="test")
        server = serve(hub)
        hub.start()
        yield MedcomWorld(hub, server.url, inbox, tokens)
    finally:
        if server is not None:
            server.stop()
        if hub is not None:
            hub.close()
        inbox.stop()
