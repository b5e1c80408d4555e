"""README's "Running it for real", pasted into a shell: real processes, a fresh folder.

The commands are read out of README.md (the first ``sh`` block of that section), so the README
cannot drift from what works. Two things differ from a person pasting them, both said here: the
ports 8700 (the hub) and 8701 (the receiver double) are swapped for free ones, in the block and
in the copy of docs/examples it runs on, so the test can run beside other hubs; and the last
line (the status) is repeated until it says ``delivered``, as a person would run it again, for
at most 30 s. ``OMSORGSHUB_LOG_FORMAT=json`` is set, so the
same run proves the hub's own events reach the log as JSON lines with ids and reason codes only.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from hub.demo.scenario import free_port

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Running it for real"
# The fictional person in docs/examples/referral.xml: neither may appear in any log line.
PERSONAL = ("Exemplar Prövlund", "19420717-9740", "194207179740")


def readme_block() -> list[str]:
    """The commands of the section's first ``sh`` block, continuation lines joined."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index(SECTION) :]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert match, f"README.md has no ```sh block under {SECTION!r}"
    commands: list[str] = []
    pending = ""
    for line in match.group(1).splitlines():
        pending += line + "\n"
        if not line.rstrip().endswith(("\\", "|")):
            commands.append(pending.rstrip("\n"))
            pending = ""
    return [c for c in commands if c.strip()]


def log_events(stderr: str) -> list[dict[str, Any]]:
    events = []
    for line in stderr.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if "event" in record:
                events.append(record)
    return events


def test_the_readme_sequence_delivers_when_pasted(tmp_path: Path) -> None:
    commands = readme_block()
    hub_port, double_port = free_port(), free_port()
    script = "\n".join(commands)
    script = script.replace("8700", str(hub_port)).replace("8701", str(double_port))
    status = commands[-1].replace("8700", str(hub_port))
    assert "/api/v1/messages/$ID" in status, "the block ends with the status request"
    script += (
        f'\nfor _ in $(seq 60); do {status} | grep -q \'"state":"delivered"\' && break; '
        f"sleep 0.5; done\necho\n{status}\n"
    )
    (tmp_path / "readme.sh").write_text(script, encoding="utf-8")
    examples = tmp_path / "docs" / "examples"
    examples.mkdir(parents=True)
    for example in (ROOT / "docs" / "examples").iterdir():
        if not example.is_file():  # atl/: rule sets, not used by the README's sequence
            continue
        text = example.read_text(encoding="utf-8").replace("8701", str(double_port))
        (examples / example.name).write_text(text, encoding="utf-8")
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin')}",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "OMSORGSHUB_LOG_FORMAT": "json",
    }
    out_path, err_path = tmp_path / "stdout", tmp_path / "stderr"
    with out_path.open("w") as out, err_path.open("w") as err:
        process = subprocess.Popen(
            ["bash", "-eu", "-o", "pipefail", "readme.sh"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=err,
            start_new_session=True,  # the background jobs share its process group
        )
        try:
            code = process.wait(timeout=120)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)  # the hub and the double, by group
    stdout = out_path.read_text()
    stderr = err_path.read_text()
    assert code == 0, stdout + stderr
    answer = json.loads(stdout.strip().splitlines()[-1])
    assert answer["state"] == "delivered", answer
    [delivery] = answer["deliveries"]
    assert (delivery["destination"], delivery["state"]) == ("paraplyet-sodermalm", "delivered")
    assert answer["agreement"] == "PUB-2026-014@1"
    assert answer["message_id"] == "AD-2026-README-1"

    # The hub's own events, as JSON lines naming ids and reason codes, never the person.
    events = log_events(stderr)
    accepted = [e for e in events if e["event"] == "accepted"]
    delivered = [e for e in events if e["event"] == "delivered"]
    assert [e["message_id"] for e in accepted] == [answer["id"]], events
    assert [e["delivery_id"] for e in delivered] == [delivery["id"]], events
    assert accepted[0]["sender"] == "aldre-direkt"
    for shown in PERSONAL:
        assert shown not in stderr
        assert shown not in stdout
