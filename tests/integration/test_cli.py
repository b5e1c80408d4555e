"""The operator's command line on a real hub: set-up, agreements, keys, messages and audit."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from audit.entry import AuditAction
from audit.search import AuditQuery, search
from contracts.fileformat import dump_agreements
from hub.cli.main import cli, register_subcommands
from hub.errors import AuthenticationError
from hub.services.authentication import Authenticator
from tests.integration.spine import SENDER, Spine


@pytest.fixture(autouse=True)
def _subcommands() -> None:
    register_subcommands()


def run(spine: Spine, *args: str, code: int = 0) -> Result:
    env = {"OMSORGSHUB_HOME": str(spine.home), "OMSORGSHUB_DATABASE_URL": spine.database_url}
    result = CliRunner().invoke(cli, ["--as", "dpo:test", *args], env=env)
    assert result.exit_code == code, result.output
    return result


def test_every_command_has_help() -> None:
    register_subcommands()
    runner = CliRunner()
    commands: list[list[str]] = [[]]
    for name, command in cli.commands.items():
        commands.append([name])
        for sub in getattr(command, "commands", {}):
            commands.append([name, sub])
    for words in commands:
        result = runner.invoke(cli, [*words, "--help"])
        assert result.exit_code == 0, (words, result.output)
        assert "Usage:" in result.output


def test_init_keeps_an_existing_master_key(tmp_path: Path) -> None:
    register_subcommands()
    env = {"OMSORGSHUB_HOME": str(tmp_path / "h")}
    first = CliRunner().invoke(cli, ["init"], env=env)
    assert first.exit_code == 0, first.output
    assert "master key created" in first.output
    key_file = tmp_path / "h" / "master.key"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    before = key_file.read_bytes()
    second = CliRunner().invoke(cli, ["init"], env=env)
    assert second.exit_code == 0, second.output
    assert "master key created" not in second.output
    assert "master key kept" in second.output
    assert key_file.read_bytes() == before


def test_config_errors_are_one_readable_line(tmp_path: Path) -> None:
    register_subcommands()
    env = {"OMSORGSHUB_HOME": str(tmp_path), "OMSORGSHUB_WROKERS": "3"}
    result = CliRunner().invoke(cli, ["config", "show"], env=env)
    assert result.exit_code == 2
    assert "unknown setting 'OMSORGSHUB_WROKERS'" in result.output
    assert "Traceback" not in result.output


def test_systems_add_prints_a_token_that_authenticates(spine: Spine) -> None:
    result = run(spine, "systems", "add", "phoniro-care", "--description", "time app")
    token = result.stdout.strip().splitlines()[0]
    assert token.startswith("osh_")
    assert spine.hub.authenticator.system_for(f"Bearer {token}") == "phoniro-care"
    assert "phoniro-care" in run(spine, "systems", "list").output

    run(spine, "systems", "deactivate", "phoniro-care", code=2)  # --reason is required
    run(spine, "systems", "deactivate", "phoniro-care", "--reason", "token leaked")
    fresh = Authenticator(spine.hub.reader)  # another process: no cached token
    with pytest.raises(AuthenticationError):
        fresh.system_for(f"Bearer {token}")
    run(spine, "systems", "activate", "phoniro-care", "--reason", "new token issued")
    assert fresh.system_for(f"Bearer {token}") == "phoniro-care"
    run(spine, "systems", "deactivate", "no-such-system", "--reason", "x", code=1)
    with spine.hub.reader.connect() as conn:
        reasons = [e.reason for e in search(conn, AuditQuery(action=AuditAction.SYSTEM_CHANGED))]
    assert "deactivated: token leaked" in reasons


def test_agreements_import_list_show_revoke_export(spine: Spine, tmp_path: Path) -> None:
    example = Path(__file__).parents[2] / "docs" / "examples" / "agreement-sodermalm.toml"
    assert "stored" in run(spine, "agreements", "import", str(example)).output
    listing = run(spine, "agreements", "list").output
    agreement_id = spine.agreement().id
    assert agreement_id in listing
    # The example's agreements start at midnight 1 January 2026, Stockholm time (23:00 UTC the
    # day before): listed as the agreement states it.
    assert "PUB-2026-014@1" in listing
    assert "2026-01-01 → 2028-01-01" in listing
    assert "2025-12-31" not in listing
    shown = run(spine, "agreements", "show", agreement_id).output
    assert f'id = "{agreement_id}"' in shown
    run(spine, "agreements", "revoke", agreement_id, code=2)  # --reason is required
    assert "revoked" in run(spine, "agreements", "revoke", agreement_id, "--reason", "ended").output
    history = run(spine, "agreements", "show", agreement_id, "--history").output
    assert history.count(f'id = "{agreement_id}"') == 2

    bad = tmp_path / "bad.toml"
    bad.write_text(dump_agreements([spine.agreement()]).replace("purposes", "purposez"))
    failed = run(spine, "agreements", "import", str(bad), code=2)
    assert "purposez" in failed.output

    exported = tmp_path / "out.toml"
    run(spine, "agreements", "export", "--output", str(exported))
    assert agreement_id in exported.read_text()
    with spine.hub.reader.connect() as conn:
        changes = search(conn, AuditQuery(action=AuditAction.AGREEMENT_CHANGED))
    assert {e.actor for e in changes} >= {"dpo:test"}


def test_keys_rotate_rewrap_and_list(spine: Spine) -> None:
    ids = spine.send(3)
    assert "now version 2" in run(spine, "keys", "rotate", "--district", "sdn-sodermalm").output
    rewrapped = run(spine, "keys", "rewrap").output
    assert "3 payloads re-wrapped" in rewrapped
    # Not on a terminal: one line per district and nothing else (no progress-bar label).
    assert rewrapped.splitlines() == ["sdn-sodermalm: 3 payloads re-wrapped"]
    listing = run(spine, "keys", "list").output
    assert "v2" in listing
    assert "active" in listing
    shown = run(spine, "messages", "show", ids[0], "--payload", "--reason", "caller asked").output
    assert "CaseReferral" in shown
    assert re.search(r"key version +2\n", shown)
    run(spine, "messages", "show", ids[0], "--payload", code=2)  # a view needs a reason


def test_messages_list_filters_by_state(spine: Spine) -> None:
    spine.double.set_mode("reject")
    spine.send(2)
    spine.hub.relay.run_once()
    assert run(spine, "messages", "list", "--state", "dead").output.count("(dead 1)") == 2
    assert run(spine, "messages", "list", "--state", "delivered").output.strip() == "no messages"


def test_audit_verify_search_report_export(spine: Spine, tmp_path: Path) -> None:
    person = next(spine.people)
    spine.hub.ingestor.ingest(SENDER, spine.envelope("cli-1", person))
    spine.hub.relay.run_once()
    spine.hub.relay.checkpoint_if_due(force=True)
    assert "verifies" in run(spine, "audit", "verify").output

    found = run(
        spine, "audit", "search", "--subject", person.identity.formatted(), "--format", "json"
    ).output
    actions = [e["action"] for e in json.loads(found)]
    assert actions == ["received", "decrypted", "delivered"]
    report = run(spine, "audit", "report", "--subject", person.identity.formatted()).output
    assert "case-sodermalm" in report
    assert person.identity.canonical not in report
    pdf = tmp_path / "extract.pdf"
    run(
        spine,
        "audit",
        "report",
        "--subject",
        person.identity.formatted(),
        "--format",
        "pdf",
        "--output",
        str(pdf),
    )
    assert pdf.read_bytes().startswith(b"%PDF")

    export = tmp_path / "audit.jsonl"
    run(spine, "audit", "export", "--output", str(export))
    public_key = spine.hub.settings.audit_public_key_file
    offline = run(
        spine, "audit", "verify", "--entries", str(export), "--public-key", str(public_key)
    )
    assert "verifies" in offline.output
    with spine.hub.reader.connect() as conn:
        own = search(conn, AuditQuery(actor="dpo:test"))
    assert {e.action for e in own} >= {"audit_searched", "exported", "audit_verified"}

    # Tamper with the export: the offline check names the entry.
    lines = export.read_text().splitlines()
    entry = json.loads(lines[2])
    entry["actor"] = "someone-else"
    lines[2] = json.dumps(entry)
    export.write_text("\n".join(lines) + "\n")
    bad = run(spine, "audit", "verify", "--entries", str(export), code=1)
    assert "entry" in bad.output


def test_admins_are_bound_to_districts_and_tokens_rotate(spine: Spine) -> None:
    refused = run(spine, "systems", "add", "nowhere-admin", "--role", "admin", code=2)
    assert "at least one district" in refused.output
    added = run(
        spine,
        "systems",
        "add",
        "sodermalm-admin",
        "--role",
        "admin",
        "--district",
        "sdn-sodermalm",
        "--district",
        "sdn-norr",
        "--expires-in",
        "30",
    )
    old = added.stdout.strip().splitlines()[0]
    principal = spine.hub.authenticator.admin_for(f"Bearer {old}")
    assert principal.districts == frozenset({"sdn-sodermalm", "sdn-norr"})
    listing = run(spine, "systems", "list").output
    expires = (spine.clock.now + timedelta(days=30)).date().isoformat()
    assert f"expires {expires}" in listing
    assert "[sdn-norr, sdn-sodermalm]" in listing

    rotated = run(spine, "systems", "rotate-token", "sodermalm-admin", "--overlap", "1")
    new = rotated.stdout.strip().splitlines()[0]
    assert new.startswith("osh_")
    assert new != old
    assert "old token works until" in rotated.stderr
    fresh = Authenticator(spine.hub.reader, clock=spine.clock)  # another process
    assert fresh.admin_for(f"Bearer {old}").name == "admin:sodermalm-admin"
    assert fresh.admin_for(f"Bearer {new}").name == "admin:sodermalm-admin"
    spine.clock.now = datetime.now(UTC) + timedelta(hours=1, seconds=1)  # the CLI: real time
    with pytest.raises(AuthenticationError, match="replaced by a rotation"):
        fresh.admin_for(f"Bearer {old}")
    assert fresh.admin_for(f"Bearer {new}").districts == frozenset({"sdn-sodermalm", "sdn-norr"})
    run(spine, "systems", "rotate-token", "no-such-system", code=1)
