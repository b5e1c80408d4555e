"""Retention's command line and API on a real hub (SQLite and PostgreSQL): the same service,
readable answers, a hold that needs a reason, a past payload that says it ended; every status
read and every run, dry or real, even one that finds nothing, audited with counts only.

The command line runs with the real clock in a hub of its own, so the messages are made old
in the database (their ``received_at`` moved back three years); the retention rule itself is
proven with the hub's clock in ``test_retention.py``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta

import httpx
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import update

from audit.entry import AuditAction, AuditEntry
from audit.search import AuditQuery, search
from hub.cli.main import cli, register_subcommands
from hub.services.agreements import register_system
from hub.services.retention import run_scheduled
from hub.storage.tables import messages
from tests.integration.api_server import ServerThread, serve
from tests.integration.spine import DISTRICT, Spine

THREE_YEARS = timedelta(days=3 * 365)


@pytest.fixture(autouse=True)
def _subcommands() -> None:
    register_subcommands()


def run(spine: Spine, *args: str, code: int = 0) -> Result:
    env = {"OMSORGSHUB_HOME": str(spine.home), "OMSORGSHUB_DATABASE_URL": spine.database_url}
    result = CliRunner().invoke(cli, ["--as", "operator:test", *args], env=env)
    assert result.exit_code == code, result.output
    return result


def _age(spine: Spine, ids: Sequence[str]) -> None:
    with spine.hub.engine.begin() as conn:
        conn.execute(
            update(messages)
            .where(messages.c.id.in_(list(ids)))
            .values(received_at=spine.clock() - THREE_YEARS)
        )


def test_the_command_line_runs_retention_and_places_holds(spine: Spine) -> None:
    person = next(spine.people)
    ids = [
        spine.hub.ingestor.ingest("aldre-direkt", spine.envelope("held-0", person)).message_id,
        *spine.send(2, prefix="cli-"),
    ]
    _age(spine, ids)
    status = run(spine, "retention", "status").output
    assert DISTRICT in status
    assert "730 d" in status
    assert "due 3" in status
    counted = run(spine, "retention", "run", "--dry-run").output
    assert f"{DISTRICT}: 3 due, 0 held (" in counted, counted  # per district and agreement
    assert "dry run: 3 payloads" in counted

    run(spine, "retention", "hold", DISTRICT, "--person", "not-a-number", "--reason", "x", code=2)
    placed = run(
        spine,
        "retention",
        "hold",
        DISTRICT,
        "--person",
        person.identity.formatted(),
        "--reason",
        "complaint under review",
    ).output
    hold_id = placed.split()[2]
    holds = run(spine, "retention", "holds").output
    assert hold_id in holds
    assert person.identity.canonical not in holds  # a person only as its keyed hash

    done = run(spine, "retention", "run").output
    assert "2 payloads shredded in 1 audited batches" in done
    ended = run(spine, "messages", "show", ids[1], "--payload", "--reason", "asked", code=1)
    assert "retention_ended" in ended.output
    assert "Traceback" not in ended.output
    assert (
        "CaseReferral"
        in run(spine, "messages", "show", ids[0], "--payload", "--reason", "asked").output
    )

    run(spine, "retention", "lift", hold_id, "--reason", "", code=2)
    run(spine, "retention", "lift", hold_id, "--reason", "review closed")
    assert "1 payloads shredded" in run(spine, "retention", "run").output
    assert "0 payloads shredded" in run(spine, "retention", "run").output


@pytest.fixture
def api(spine: Spine) -> Iterator[tuple[ServerThread, str, str]]:
    """The served hub with two administrators' tokens, once its messages are two years old
    (tokens are made at the moved clock, so they have not expired)."""
    spine.send(3, prefix="api-")
    spine.clock.advance((timedelta(days=731)).total_seconds())  # the served hub's own clock
    token = register_system(
        spine.hub, "sodermalm-admin", "district admin", "test", "admin", districts=[DISTRICT]
    )
    other = register_system(
        spine.hub, "norr-admin", "district admin", "test", "admin", districts=["sdn-norr"]
    )
    server = serve(spine.hub)
    yield server, token, other
    server.stop()


def _call(
    api: tuple[ServerThread, str, str],
    method: str,
    path: str,
    *,
    other: bool = False,
    json: object = None,
) -> httpx.Response:
    server, token, other_token = api
    return httpx.request(
        method,
        f"{server.url}/api/v1/retention{path}",
        headers={"Authorization": f"Bearer {other_token if other else token}"},
        json=json,
        timeout=30,
        trust_env=False,
    )


def test_the_api_runs_retention_and_places_holds(
    spine: Spine, api: tuple[ServerThread, str, str]
) -> None:
    (rule,) = _call(api, "GET", "").json()["rules"]
    assert (rule["district"], rule["retention_days"], rule["due"]) == (DISTRICT, 730, 3)
    assert _call(api, "GET", "", other=True).json()["rules"] == []  # another district's

    missing = _call(api, "POST", "/holds", json={"district": DISTRICT, "reason": ""})
    assert missing.status_code == 422
    assert missing.headers["content-type"].startswith("application/problem+json")
    foreign = _call(api, "POST", "/holds", json={"district": DISTRICT, "reason": "x"}, other=True)
    assert foreign.status_code == 404
    hold = _call(api, "POST", "/holds", json={"district": DISTRICT, "reason": "audit by IVO"})
    assert hold.status_code == 201, hold.text
    assert hold.json()["scope"] == "district"

    dry = _call(api, "POST", "/run?dry_run=true").json()
    assert (dry["dry_run"], dry["due"], dry["shredded"]) == (True, 0, 0)  # all held
    lifted = _call(api, "POST", f"/holds/{hold.json()['id']}/lift", json={"reason": "closed"})
    assert lifted.status_code == 200
    assert lifted.json()["lifted_by"] == "admin:sodermalm-admin"
    again = _call(api, "POST", f"/holds/{hold.json()['id']}/lift", json={"reason": "closed"})
    assert (again.status_code, again.json()["reason"]) == (409, "hold_lifted")

    done = _call(api, "POST", "/run").json()
    assert done["shredded"] == 3
    (batch,) = done["batches"]
    assert (batch["count"], batch["retention_days"]) == (3, 730)
    (rule,) = _call(api, "GET", "").json()["rules"]
    assert (rule["stored"], rule["shredded"]) == (0, 3)


def _entries(spine: Spine, action: AuditAction) -> list[AuditEntry]:
    with spine.hub.reader.connect() as conn:
        return search(conn, AuditQuery(action=action))


def test_every_status_read_and_run_is_audited_with_counts_only(
    spine: Spine, api: tuple[ServerThread, str, str]
) -> None:
    assert _call(api, "GET", "").status_code == 200
    (read,) = _entries(spine, AuditAction.RETENTION_REPORTED)
    assert (read.actor, read.district) == ("admin:sodermalm-admin", DISTRICT)
    assert read.reason == "status: 3 stored, 0 shredded, 3 due, 0 held under 1 rules"

    dry = _call(api, "POST", "/run?dry_run=true").json()
    (rule,) = dry["rules"]
    assert (rule["district"], rule["due"], rule["held"], rule["shredded"]) == (DISTRICT, 3, 0, 0)
    (counted,) = _entries(spine, AuditAction.RETENTION_RUN)
    assert (counted.actor, counted.district) == ("admin:sodermalm-admin", DISTRICT)
    assert counted.reason == "dry run: 3 due, 0 held under 1 rules; nothing changed"
    assert _entries(spine, AuditAction.RETENTION_ENDED) == []  # a dry run shreds nothing

    real = _call(api, "POST", "/run").json()
    assert real["rules"][0]["shredded"] == 3
    assert _entries(spine, AuditAction.RETENTION_RUN)[-1].reason == (
        "run: 3 of 3 due shredded in 1 batches, 0 held"
    )
    # A run that finds nothing still says it ran; the other district's administrator sees no
    # rule of this one, and its run is audited for its own district, which has nothing.
    assert _call(api, "POST", "/run").json()["shredded"] == 0
    assert _call(api, "POST", "/run", other=True).json()["rules"] == []
    runs = _entries(spine, AuditAction.RETENTION_RUN)
    assert [(e.actor, e.district, e.reason) for e in runs[-2:]] == [
        (
            "admin:sodermalm-admin",
            DISTRICT,
            "run: nothing due, 0 held under 1 rules; nothing shredded",
        ),
        (
            "admin:norr-admin",
            "sdn-norr",
            "run: nothing due, 0 held under 0 rules; nothing shredded",
        ),
    ]
    assert all(e.subject_ref is None and e.message_id is None for e in runs)


def test_the_command_line_and_the_relay_audit_their_runs(spine: Spine) -> None:
    run(spine, "retention", "status")
    (read,) = _entries(spine, AuditAction.RETENTION_REPORTED)
    assert (read.actor, read.district) == ("operator:test", None)  # hub-wide, nothing stored
    run(spine, "retention", "run", "--dry-run")
    run(spine, "retention", "run")
    assert [e.reason for e in _entries(spine, AuditAction.RETENTION_RUN)] == [
        "dry run: 0 due, 0 held under 0 rules; nothing changed",
        "run: nothing due, 0 held under 0 rules; nothing shredded",
    ]
    assert run_scheduled(spine.hub) == 0
    (scheduled,) = [
        e for e in _entries(spine, AuditAction.RETENTION_RUN) if e.actor == "retention-job"
    ]
    assert scheduled.reason == "run: nothing due, 0 held under 0 rules; nothing shredded"
