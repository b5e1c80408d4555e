"""The audit trail as an operator meets it: a forged entry stops the running hub (503, readiness,
metric) until `omsorgshub audit acknowledge`; `audit verify` reports tampering read-only, names
the first entry cut from the tail against a witness, and says plainly when the folder is not a
hub; dates for `audit search`."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner, Result
from sqlalchemy import Engine

from audit.entry import AuditAction, AuditEntry, chain_hash, format_at
from audit.tables import audit_checkpoints, audit_entries, audit_head
from audit.trail import load_checkpoints
from audit.verify import load_entries
from audit.witness import read_witness
from hub.cli.main import cli, register_subcommands
from tests.integration.api_server import ApiServer, Referrals, running_api


def run(api: ApiServer, *args: str, code: int | None = 0, **settings: str) -> Result:
    register_subcommands()
    env = {
        "OMSORGSHUB_HOME": str(api.hub.settings.home),
        "OMSORGSHUB_DATABASE_URL": api.hub.settings.database_url,
        **{f"OMSORGSHUB_{key.upper()}": value for key, value in settings.items()},
    }
    result = CliRunner().invoke(cli, ["--as", "operator:test", *args], env=env)
    if code is not None:
        assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result


def forge_next(engine: Engine, *, move_head: bool, at: datetime) -> int:
    """Append a correctly chained entry with SQL alone, as a database administrator could."""
    with engine.connect() as conn:
        last = list(load_entries(conn))[-1]
    draft = last._replace(seq=last.seq + 1, at=format_at(at), actor="mallory", hash="")
    draft = draft._replace(prev_hash=last.hash)
    forged: AuditEntry = draft._replace(hash=chain_hash(last.hash, draft))
    with engine.begin() as conn:
        conn.execute(audit_entries.insert().values(forged.as_dict()))
        if move_head:
            conn.execute(audit_head.update().values(seq=forged.seq, hash=forged.hash))
    return forged.seq


def test_forged_entry_stops_the_hub_until_acknowledged(tmp_path: Path, database_url: str) -> None:
    referrals = Referrals()
    with running_api(tmp_path / "hub", database_url) as api:
        assert api.post(referrals.make().body).status_code == 202
        seq = forge_next(api.hub.engine, move_head=True, at=datetime.now(UTC))

        refused = api.post(referrals.make().body)
        assert refused.status_code == 503, refused.text
        assert refused.json()["reason"] == "audit_integrity_alarm"
        with api.client(None) as client:
            ready = client.get("/readyz")
            metrics = client.get("/metrics").text
        assert (ready.status_code, ready.json()["reason"]) == (503, "audit_integrity_alarm")
        assert "omsorgshub_audit_integrity_alarm 1.0" in metrics
        assert "omsorgshub_audit_integrity_alarms_total 1.0" in metrics

        # Verify reports the forged head read-only; its own record is refused, and it says so.
        verified = run(api, "audit", "verify", code=1)
        assert f"entry {seq}" in verified.output
        assert "invalid signature" in verified.output
        assert "could not be recorded" in verified.output

        done = run(api, "audit", "acknowledge", "--reason", "forged test row, left in place")
        assert "acknowledged as entry" in done.output
        assert api.post(referrals.make().body).status_code == 202  # open again, in this process
        with api.client(None) as client:
            assert client.get("/readyz").status_code == 200
        acks = api.audit(AuditAction.AUDIT_ACKNOWLEDGED)
        assert [e.actor for e in acks] == ["operator:test"]


def test_verify_reports_an_unsigned_entry_it_cannot_record_past(
    tmp_path: Path, database_url: str
) -> None:
    referrals = Referrals()
    with running_api(tmp_path / "hub", database_url) as api:
        assert api.post(referrals.make().body).status_code == 202
        hour_ago = datetime.now(UTC) - timedelta(hours=1)
        seq = forge_next(api.hub.engine, move_head=False, at=hour_ago)
        verified = run(api, "audit", "verify", code=1)
        assert f"entry {seq}: entries {seq}..{seq} are covered by no signature" in verified.output
        assert "could not be recorded" in verified.output


def test_verify_names_the_first_entry_cut_from_the_tail_against_the_witness(
    tmp_path: Path, database_url: str
) -> None:
    worm = tmp_path / "worm" / "heads.jsonl"
    worm.parent.mkdir()
    overrides = {"audit_witness_file": str(worm)}
    referrals = Referrals()
    with running_api(tmp_path / "hub", database_url, overrides) as api:
        for _ in range(3):
            assert api.post(referrals.make().body).status_code == 202
            api.hub.relay.checkpoint_if_due(force=True)
        with api.hub.reader.connect() as conn:
            first, *later = load_checkpoints(conn)
        assert later
        assert [cp.seq for cp in read_witness(worm)] == [first.seq, *(c.seq for c in later)]
        local = api.hub.guards.audit.checkpoint_file
        shutil.copy(local, tmp_path / "before-cut.jsonl")
        with api.hub.engine.begin() as conn:
            conn.execute(audit_entries.delete().where(audit_entries.c.seq > first.seq))
            conn.execute(audit_checkpoints.delete().where(audit_checkpoints.c.seq > first.seq))
            conn.execute(
                audit_head.update().values(
                    seq=first.seq, hash=first.hash, at=first.at, key_id=first.key_id,
                    signature=first.signature,
                )
            )  # fmt: skip
        local.write_text(local.read_text().splitlines()[0] + "\n")

        cut = run(api, "audit", "verify", "--witness", str(worm), code=1)
        assert f"entry {first.seq + 1}" in cut.output
        assert "missing" in cut.output
        # The configured witness file is read by default.
        default = run(api, "audit", "verify", code=1, **overrides)
        assert f"entry {first.seq + 1}" in default.output


def test_audit_commands_outside_a_hub_say_what_is_missing(tmp_path: Path) -> None:
    register_subcommands()
    env = {"OMSORGSHUB_HOME": str(tmp_path / "not-a-hub")}
    for words in (
        ["audit", "verify"],
        ["audit", "search", "--actor", "x"],
        ["audit", "report", "--subject", "191212121212"],
        ["audit", "export", "--output", str(tmp_path / "x.jsonl")],
        ["audit", "acknowledge", "--reason", "x"],
    ):
        result = CliRunner().invoke(cli, words, env=env)
        assert result.exit_code == 2, (words, result.output)
        assert "is not an initialized hub" in result.output
        assert "omsorgshub init" in result.output
        assert not isinstance(result.exception, FileNotFoundError | OSError)


def test_search_takes_a_date_and_report_help_is_whole(tmp_path: Path, database_url: str) -> None:
    referrals = Referrals()
    with running_api(tmp_path / "hub", database_url) as api:
        assert api.post(referrals.make().body).status_code == 202
        today = datetime.now(UTC).date().isoformat()
        found = run(api, "audit", "search", "--since", today, "--format", "json").output
        assert "received" in [e["action"] for e in json.loads(found)]
        later = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
        none = run(api, "audit", "search", "--since", later, "--format", "json").output
        assert json.loads(none) == []
        by_action = run(api, "audit", "search", "--action", "received", "--format", "json")
        assert {e["action"] for e in json.loads(by_action.output)} == {"received"}
        unknown = run(api, "audit", "search", "--action", "peeked", code=2)
        assert "no audit action 'peeked'" in unknown.output
        naive = run(api, "audit", "search", "--since", "2026-01-01T08:00", code=2)
        assert "give a time zone" in naive.output
    listing = CliRunner().invoke(cli, ["audit", "--help"]).output
    assert "The GDPR article 15 extract" in listing
    assert "The GDPR art. " not in listing
