"""``medcom-inbound``: MedCom CareCommunication bundles POSTed to ``$process-message``.

The server is ``python -m hub serve --no-worker`` in a process of its own on a fresh sandbox
with the fictional Danish municipality (``hub.demo.medcom_world``: its ``[medcom]`` receiver,
agreements and the hospital's system). ``--clients`` threads post distinct bundles (a new
MessageHeader.id, Bundle.id and person each); every answer must be 200 with an ``ok``
acknowledgement. Each request is the whole inbound path: FHIR parsing with ``fhir.resources``,
MedCom's rules, the mapping to ``care.communication``, the XML ingest pipeline (XSD, CPR check,
routing, agreement, encryption, audit, group commit), the de-duplication tables and the
acknowledgement. 50 other bundles are posted untimed first. Baseline: ``GET /healthz`` the same
number of times from the same client threads. No target: the figure is what MedCom's path costs
beside the bare server.
"""

from __future__ import annotations

import random
import sys
import uuid
from pathlib import Path

import httpx

from bench.processes import child, child_env, free_port, wait_http
from bench.report import Row
from bench.scenarios.http_ingest import _check, _healthz, _load
from bench.workload import Options, scratch_folder
from hub.demo.fictional import FictionalPeople
from hub.demo.medcom_world import (
    DISTRICT,
    HOSPITAL_SYSTEM,
    MEDCOM_GP,
    MESSAGE_TYPE,
    ONWARD,
    care_communication,
    medcom_agreements,
    medcom_toml,
)
from hub.demo.sandbox import DestinationSpec, Sandbox, routes_toml
from hub.services.agreements import add_agreements, register_system
from schemas.medcom.message import FHIR_JSON, build_message, to_json

WARM_UP = 50
UNUSED_URL = "http://127.0.0.1:9/"


def bundles(count: int, seed: int) -> list[bytes]:
    """``count`` distinct CareCommunication bundles to the municipality."""
    rng = random.Random(seed)
    out = []
    for person in FictionalPeople(seed, kind="cpr").take(count):
        doc = care_communication(person, rng)
        header = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        bundle = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        out.append(to_json(build_message(doc, header, bundle, "2026-12-07T10:00:00+01:00")))
    return out


def _prepare(home: Path) -> str:
    sandbox = Sandbox(home)
    destinations = {
        ONWARD: DestinationSpec("http", {"url": UNUSED_URL}),
        MEDCOM_GP: DestinationSpec(
            "medcom",
            {
                "base_url": UNUSED_URL,
                "sender_sor": "100000000000011",
                "sender_ean": "5790000000011",
            },
        ),
    }
    home.mkdir(parents=True, exist_ok=True)
    sandbox.settings().routes_file.write_text(
        routes_toml(destinations, [(MESSAGE_TYPE, DISTRICT, [ONWARD, MEDCOM_GP])])
        + "\n"
        + medcom_toml()
    )
    hub = sandbox.open()
    try:
        token = register_system(hub, HOSPITAL_SYSTEM, "benchmark (fictional)", actor="bench")
        add_agreements(hub, medcom_agreements(hub.clock()), actor="bench")
    finally:
        hub.close()
    return token


def run(options: Options) -> list[Row]:
    say = options.progress
    n, clients = options.messages, options.clients
    say(f"medcom-inbound: building {n + WARM_UP} bundles")
    docs, warm = bundles(n, 2026), bundles(WARM_UP, 7)
    row = Row("medcom-inbound", n)
    with scratch_folder("medcom") as folder:
        token = _prepare(folder / "home")
        port = free_port()
        env = child_env(
            {"OMSORGSHUB_HOME": str(folder / "home"), "OMSORGSHUB_LOG_LEVEL": "WARNING"}
        )
        args = [sys.executable, "-m", "hub", "serve", "--no-worker", "--host", "127.0.0.1"]
        with child("api", [*args, "--port", str(port)], env, folder) as server:
            base = f"http://127.0.0.1:{port}"
            wait_http(server, base + "/healthz")
            say(f"medcom-inbound: baseline, GET /healthz x{n} from {clients} clients")
            row.baseline_seconds, bad = _load(base, clients, n, _healthz)
            _check(server, bad)
            headers = {"Authorization": f"Bearer {token}", "Content-Type": FHIR_JSON}

            def post(c: httpx.Client, i: int, batch: list[bytes]) -> int:
                r = c.post("/api/v1/fhir/$process-message", content=batch[i], headers=headers)
                ok = r.status_code == 200 and b'"code":"ok"' in r.content
                return 0 if ok else r.status_code

            _, bad = _load(base, clients, len(warm), lambda c, i: post(c, i, warm))
            _check(server, bad)
            say(f"medcom-inbound: POST $process-message x{n} from {clients} clients")
            row.seconds, bad = _load(base, clients, n, lambda c, i: post(c, i, docs))
            _check(server, bad)
    row.notes.append(
        f"{clients} client threads; server `python -m hub serve --no-worker` in its own "
        "process; each request: FHIR + MedCom rules + the XML ingest pipeline + acknowledgement"
    )
    return [row]
