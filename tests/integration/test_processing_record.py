"""The art. 30 record generated from the agreements in force: one row per agreement, per
district, as CSV and PDF through the service, the command line and the API; scoped to the
asker's districts and audited."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from hub.bootstrap import Hub
from hub.cli.main import cli, register_subcommands
from hub.demo.sandbox import Sandbox
from hub.demo.scenario import demo_agreements
from hub.errors import NotFound
from hub.records.processing import COLUMNS
from hub.services.agreements import add_agreements, register_system, revoke_agreement
from hub.services.audit_queries import AuditFilter, search_audit
from hub.services.principal import Principal
from hub.services.processing_record import processing_record
from tests.integration.api_server import serve

OPERATOR = Principal.operator("operator:record-test")
DISTRICT = "sdn-sodermalm"


@pytest.fixture
def hub(tmp_path: Path, database_url: str) -> Iterator[Hub]:
    sandbox = Sandbox(tmp_path / "hub", database_url=database_url)
    sandbox.write_routes({}, [])
    opened = sandbox.open()
    add_agreements(opened, demo_agreements(opened.clock()), "test")
    yield opened
    opened.close()


def test_one_row_per_agreement_in_force_with_every_art30_term(hub: Hub, tmp_path: Path) -> None:
    agreements = [a for a in demo_agreements(hub.clock()) if a.is_valid_at(hub.clock())]
    record = processing_record(hub, OPERATOR)
    assert sorted(r.agreement for r in record.rows) == sorted(f"{a.id}@1" for a in agreements)
    first = next(a for a in agreements if a.district == DISTRICT)
    (row,) = [r for r in record.rows if r.agreement == f"{first.id}@1"]
    assert row.purposes == ", ".join(sorted(first.purposes))
    assert row.data_categories == ", ".join(sorted(first.categories))
    assert row.subject_categories == ", ".join(sorted(first.subject_categories))
    assert row.recipients == ", ".join(sorted(first.recipients))
    assert row.retention_days == first.retention_days
    assert "AES-256-GCM" in row.security_measures
    assert record.pdf().startswith(b"%PDF")

    revoke_agreement(hub, first.id, "ended by the district", OPERATOR)
    again = processing_record(hub, OPERATOR)
    assert f"{first.id}@1" not in {r.agreement for r in again.rows}
    assert len(again.rows) == len(record.rows) - 1

    reasons = [e.reason for e in search_audit(hub, OPERATOR, AuditFilter(action="exported"))]
    assert reasons.count("art30 record") >= 2


def test_scope_cli_and_api(hub: Hub, tmp_path: Path, database_url: str) -> None:
    admin = Principal.district_admin("admin:sodermalm", [DISTRICT])
    own = processing_record(hub, admin)
    assert own.rows
    assert {r.district for r in own.rows} == {DISTRICT}
    with pytest.raises(NotFound):
        processing_record(hub, admin, district="sdn-farsta")

    register_subcommands()
    env = {"OMSORGSHUB_HOME": str(tmp_path / "hub"), "OMSORGSHUB_DATABASE_URL": database_url}
    result = CliRunner().invoke(cli, ["records", "art30", "--district", DISTRICT], env=env)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert tuple(rows[0]) == COLUMNS
    assert {r["agreement"] for r in rows} == {r.agreement for r in own.rows}
    pdf = tmp_path / "art30.pdf"
    made = CliRunner().invoke(
        cli, ["records", "art30", "--format", "pdf", "--output", str(pdf)], env=env
    )
    assert made.exit_code == 0, made.output
    assert pdf.read_bytes().startswith(b"%PDF")

    token = register_system(hub, "sod-admin", "admin", "test", "admin", districts=[DISTRICT])
    api = serve(hub)
    try:
        answer = httpx.get(
            f"{api.url}/api/v1/records/art30",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
            trust_env=False,
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("text/csv")
        assert {r["district"] for r in csv.DictReader(io.StringIO(answer.text))} == {DISTRICT}
        other = httpx.get(
            f"{api.url}/api/v1/records/art30",
            params={"district": "sdn-farsta"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
            trust_env=False,
        )
        assert other.status_code == 404
        assert other.headers["content-type"] == "application/problem+json"
    finally:
        api.stop()
