"""``omsorgshub review …`` on a real hub: draw a sample of a past week, list it, decide (a
second verdict without --amend is one readable line, not a traceback), report coverage."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result

from audit.entry import AuditAction, AuditEvent
from hub.cli.main import cli, register_subcommands
from hub.services.users import add_user, grant
from tests.integration.spine import DISTRICT, Spine

ZONE = ZoneInfo("Europe/Stockholm")
WEEK = ("--from", "2026-11-09", "--to", "2026-11-13")


@pytest.fixture(autouse=True)
def _subcommands() -> None:
    register_subcommands()


def run(spine: Spine, *args: str, code: int = 0) -> Result:
    env = {"OMSORGSHUB_HOME": str(spine.home), "OMSORGSHUB_DATABASE_URL": spine.database_url}
    result = CliRunner().invoke(cli, ["--as", "operator:test", *args], env=env)
    assert result.exit_code == code, result.output
    return result


def test_sample_list_decide_report(spine: Spine) -> None:
    add_user(spine.hub, "test", "dpo.ulla", "DPO (fictional)", None)
    grant(spine.hub, "test", "dpo.ulla", "dpo", [DISTRICT])
    wednesday = datetime(2026, 11, 11).date()
    hours = (2, 9, 10, 11, 13, 15)  # one at night
    events = [
        AuditEvent(
            action=AuditAction.VIEWED,
            actor="user:officer.test",
            district=DISTRICT,
            subject_ref=f"hcli{h}",
            at=datetime.combine(wednesday, time(h), ZONE).astimezone(UTC),
        )
        for h in hours
    ]
    with spine.hub.engine.begin() as conn:
        spine.hub.guards.record(conn, events)

    refused = run(
        spine, "review", "sample", "--district", DISTRICT, *WEEK, "--assign", "nobody", code=2
    )
    assert refused.output.count("\n") == 1
    assert "no active data-protection officer" in refused.output

    drawn = run(
        spine,
        "review",
        "sample",
        "--district",
        DISTRICT,
        *WEEK,
        "--assign",
        "dpo.ulla",
        "--random",
        "2",
    )
    assert "3 of 6 accesses for user:dpo.ulla (off_hours 1, random 2)" in drawn.output
    listed = run(spine, "review", "list", "--open").output
    assert len(re.findall(r"^\s*\d+\s+2026-11-11 ", listed, re.M)) == 3
    (night,) = re.findall(r"^\s*(\d+)\s+2026-11-11 01:00", listed, re.M)

    note = run(
        spine, "review", "decide", night, "--verdict", "follow_up", "--by", "dpo.ulla", code=2
    )
    assert "needs a note" in note.output
    run(spine, "review", "decide", night, "--verdict", "ok", "--by", "dpo.ulla")
    again = run(
        spine,
        "review",
        "decide",
        night,
        "--verdict",
        "follow_up",
        "--note",
        "x",
        "--by",
        "dpo.ulla",
        code=1,
    )
    assert "a verdict is not changed" in again.output
    assert "Traceback" not in again.output

    report = json.loads(
        run(spine, "review", "report", "--district", DISTRICT, *WEEK, "--format", "json").output
    )
    assert (report["accesses"], report["picked"], report["decided"], report["open"]) == (6, 3, 1, 2)
