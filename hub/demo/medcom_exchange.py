"""The demo's MedCom step: a CareCommunication each way, with its acknowledgement.

A small hub of its own (``<demo home>/medcom``) for the fictional Danish municipality: a
hospital's message comes in at the FHIR endpoint's service and is acknowledged ``ok``, stored
encrypted and delivered onward to the care system's inbox; sent again with a new Bundle.id it
gets the very same acknowledgement and no second message. The municipality's own message goes
out through the ``medcom`` adapter to a GP (the MedCom double, on 127.0.0.1), which answers
``transient-error`` once: the hub resends it with the same MessageHeader.id and a new Bundle.id
and it is delivered on the ``ok``.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable

import click

from adapters.doubles.http_double import HttpDouble
from adapters.doubles.medcom_double import MedcomDouble
from hub.bootstrap import Hub
from hub.demo.fictional import FictionalPeople, build_envelope
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
from hub.services.medcom_inbound import process_message
from hub.services.messages import message_status
from hub.services.principal import Principal
from schemas.medcom.acknowledgement import read_acknowledgement
from schemas.medcom.document import to_xml
from schemas.medcom.message import build_message, to_json

_RETRY = {"base_seconds": 0.2, "cap_seconds": 1, "max_attempts": 5}


def _until(condition: Callable[[], bool], seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def show_medcom_exchange(sandbox: Sandbox, seed: int = 2026) -> bool:
    """Run the exchange and print it; True when everything went as MedCom prescribes."""
    click.echo("\nMedCom (Denmark): a CareCommunication each way, with its acknowledgement")
    gp, inbox = MedcomDouble(sor=GP.sor), HttpDouble()
    hub: Hub | None = None
    try:
        gp.start()
        inbox.start()
        destinations = {
            ONWARD: DestinationSpec("http", {"url": inbox.url, "timeout": 5}, _RETRY),
            MEDCOM_GP: DestinationSpec(
                "medcom",
                {"base_url": gp.url, "sender_sor": HOME_CARE.sor, "sender_ean": HOME_CARE.ean},
                _RETRY,
            ),
        }
        sandbox.home.mkdir(parents=True, exist_ok=True)
        sandbox.settings().routes_file.write_text(
            routes_toml(destinations, [(MESSAGE_TYPE, DISTRICT, [ONWARD, MEDCOM_GP])])
            + "\n"
            + medcom_toml()
        )
        hub = sandbox.open()
        for name in (HOSPITAL_SYSTEM, CARE_SYSTEM):
            register_system(hub, name, "MedCom demo (fictional)", actor="demo")
        add_agreements(hub, medcom_agreements(hub.clock()), actor="demo")
        hub.start()
        return _inbound(hub, inbox, seed) & _outbound(hub, gp, seed)
    finally:
        if hub is not None:
            hub.close()
        gp.stop()
        inbox.stop()


def _inbound(hub: Hub, inbox: HttpDouble, seed: int) -> bool:
    rng = random.Random(seed)
    person = FictionalPeople(seed, kind="cpr").take(1)[0]
    doc = care_communication(person, rng, attachment=True)
    header = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    stamp = hub.clock().isoformat(timespec="seconds")

    def bundle() -> bytes:  # every attempt of the sender has a Bundle.id of its own
        return to_json(build_message(doc, header, str(uuid.uuid4()), stamp))

    first = process_message(hub, HOSPITAL_SYSTEM, bundle())
    again = process_message(hub, HOSPITAL_SYSTEM, bundle())
    ack = read_acknowledgement(first.body)
    onward = _until(lambda: inbox.unique == 1)
    click.echo(
        f"  in:  {doc.sender.name} → {doc.receiver.name}: acknowledgement {ack.code} "
        f"(MessageHeader {ack.header_id}), stored encrypted as message {first.message_id}, "
        f"{'delivered' if onward else 'NOT delivered'} to the care system's inbox"
    )
    same = first.body == again.body and again.outcome == "duplicate"
    click.echo(
        "       resent with a new Bundle.id: "
        + ("the same acknowledgement, byte for byte; no second message" if same else "DIFFERENT")
    )
    return ack.code == "ok" and onward and same


def _outbound(hub: Hub, gp: MedcomDouble, seed: int) -> bool:
    rng = random.Random(seed + 1)
    person = FictionalPeople(seed + 1, kind="cpr").take(1)[0]
    doc = care_communication(person, rng, sender=HOME_CARE, receiver=GP)
    gp.set_mode("transient", times=1)
    envelope = build_envelope(
        message_type=MESSAGE_TYPE,
        version="1",
        district=DISTRICT,
        purpose=PURPOSE,
        body=to_xml(doc),
        message_id=f"demo-medcom-{seed}",
        recipients=[MEDCOM_GP],
    )
    message_id = hub.ingestor.ingest(CARE_SYSTEM, envelope).message_id

    def rows() -> list[tuple[str, int, str | None]]:
        detail = message_status(hub, Principal.system(CARE_SYSTEM), message_id)
        return [(d.state, d.attempts, d.receipt_ref) for d in detail.deliveries]

    _until(lambda: all(state in ("delivered", "dead") for state, _, _ in rows()))
    [(state, attempts, receipt)] = rows()
    [seen] = gp.messages().values()
    answers = [str(a) for a in seen["answers"]]  # type: ignore[attr-defined]
    bundles = {str(b) for b in seen["bundles"]}  # type: ignore[attr-defined]
    click.echo(
        f"  out: {doc.sender.name} → {doc.receiver.name}: {attempts} attempts under one "
        f"MessageHeader.id with {len(bundles)} Bundle.ids, answered {', '.join(answers)}: "
        f"{state} (acknowledgement {receipt})"
    )
    return state == "delivered" and answers == ["transient-error", "ok"]
