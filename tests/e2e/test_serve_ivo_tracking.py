"""``omsorgshub serve`` tracks IVO decisions by itself every ``ivo_track_seconds``: execution
events posted to a real ``python -m hub serve`` are tracked without anyone running ``ivo
track``, so the ``ivo track`` run after it finds nothing left to apply."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import httpx

from adapters.doubles.http_double import HttpDouble
from hub.demo.fictional import FictionalPeople
from hub.demo.ivo_events import decision_life, event_envelope, ivo_agreements
from hub.demo.sandbox import DestinationSpec, Sandbox
from hub.ivo.model import Quarter
from hub.services.agreements import add_agreements
from hub.services.systems import register_system
from tests.e2e.processes import free_port, hub_command

DISTRICT = "sdn-sodermalm"


def test_serve_tracks_execution_events_by_itself(tmp_path: Path) -> None:
    sink = HttpDouble()
    sink.start()
    home = tmp_path / "home"
    sandbox = Sandbox(home)
    spec = DestinationSpec("http", {"url": sink.url, "timeout": 2})
    sandbox.write_routes(
        {"case": spec, "ivo": spec},
        [
            ("case.execution_event", DISTRICT, ["case"]),
            ("ivo.individual_report", DISTRICT, ["ivo"]),
        ],
    )
    hub = sandbox.open()
    add_agreements(
        hub,
        ivo_agreements(
            hub.clock(), DISTRICT, execution_app="lifecare", event_recipient="case",
            hub_sender=hub.settings.ivo_sender, ivo_destination="ivo",
        ),
        "test",
    )  # fmt: skip
    token = register_system(hub, "lifecare", "the case system", "test")
    hub.close()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "OMSORGSHUB_HOME": str(home),
        "OMSORGSHUB_IVO_TRACK_SECONDS": "0.3",
    }
    port = free_port()
    log_path = tmp_path / "serve.log"
    rng = random.Random(5)
    sent = 0
    with log_path.open("w") as log:
        server = subprocess.Popen(
            hub_command("serve", "--port", str(port)), env=env, stdout=log, stderr=log
        )
        try:
            with httpx.Client(
                base_url=f"http://127.0.0.1:{port}", timeout=10, trust_env=False
            ) as client:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        if client.get("/readyz").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    assert time.monotonic() < deadline, log_path.read_text()
                    time.sleep(0.1)
                for i, person in enumerate(FictionalPeople(5).take(8)):
                    q = Quarter.parse("2026Q3")
                    for event in decision_life(person, rng, q, decision_id=f"B-E-{i}"):
                        answer = client.post(
                            "/api/v1/messages",
                            content=event_envelope(person, DISTRICT, event),
                            headers={
                                "Authorization": f"Bearer {token}",
                                "Content-Type": "application/xml",
                            },
                        )
                        assert answer.status_code in (200, 201, 202), answer.text
                        sent += 1
            time.sleep(3)  # ten rounds of the tracking thread, on a loaded machine too
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
            sink.stop()
    assert sent > 8
    after = subprocess.run(
        hub_command("ivo", "track"), env=env, capture_output=True, text=True, timeout=120
    )
    assert after.returncode == 0, after.stderr
    assert "tracking: 0 new events applied to 0 decisions" in after.stdout, after.stdout
    assert "IVO tracking failed" not in log_path.read_text()
