"""``omsorgshub serve --log-format json``: every log line is a JSON object, refusals included.

A real ``python -m hub serve`` in a fresh folder, asked to log JSON by the flag (the README test
covers the setting ``OMSORGSHUB_LOG_FORMAT`` and the accepted and delivered events). Two
refused requests: their events name the sender and the reason code, never the document.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from hub.demo.scenario import free_port

SECRET_TEXT = "Fiktiva Hemlighetsdotter"  # in a refused body: must not reach the log


def test_serve_logs_json_lines_with_reason_codes(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "OMSORGSHUB_HOME": str(tmp_path / "home"),
    }
    hub = [sys.executable, "-m", "hub"]
    subprocess.run([*hub, "init"], env=env, check=True, capture_output=True, timeout=60)
    token = subprocess.run(
        [*hub, "systems", "add", "aldre-direkt"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [*hub, "serve", "--port", str(port), "--log-format", "json"],
            env=env,
            stdout=log,
            stderr=log,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            with httpx.Client(base_url=url, timeout=10, trust_env=False) as client:
                while True:
                    try:
                        if client.get("/readyz").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    assert time.monotonic() < deadline, log_path.read_text()
                    time.sleep(0.1)
                body = f"<r>{SECRET_TEXT}</r>".encode()
                anonymous = client.post("/api/v1/messages", content=body)
                svg = client.post(
                    "/api/v1/messages",
                    content=body,
                    headers={"Authorization": f"Bearer {token}", "Content-Type": "image/svg+xml"},
                )
            assert (anonymous.status_code, svg.status_code) == (401, 415)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)

    lines = [line for line in log_path.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is JSON, uvicorn's too
    refused = [r for r in records if r.get("event") == "refused"]
    assert [(r["sender"], r["status"], r["reason"]) for r in refused] == [
        (None, 401, "unauthenticated"),
        ("aldre-direkt", 415, "unsupported_media_type"),
    ]
    assert all(r["logger"] == "omsorgshub.events" for r in refused)
    assert any(r["logger"] == "uvicorn.access" for r in records)
    assert SECRET_TEXT not in log_path.read_text()
    assert token not in log_path.read_text()
