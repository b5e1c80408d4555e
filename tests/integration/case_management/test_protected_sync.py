"""The confidentiality check knows every protected person, not only the looked-up ones (issue
15 §4): the hub takes each district's list of marked persons from the case system
(``GetProtectedClients`` on the real SOAP double, 127.0.0.1) and keeps its marks in step, on
SQLite and PostgreSQL. A person marked but never looked up is refused at ingest after a sync;
an agreement listing the purpose lets the message in; a lifted mark lets it in after the next
sync; a case system that is down leaves the marks as they were and is reported."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from adapters.doubles.case_management_seed import SeededClient
from audit.entry import AuditAction
from audit.search import AuditQuery, search
from hub.cli.main import cli, register_subcommands
from hub.errors import ContractRefusal, TransientDeliveryError
from hub.services.agreements import add_agreements
from hub.services.principal import Principal
from hub.services.protected_sync import DistrictSync, schedule_protected_sync, sync_protected
from hub.storage.tables import protected_identities
from tests.integration.case_management.confidentiality import (
    DISTRICT,
    Setup,
    agreement,
    opened_setup,
    ours,
)

OPERATOR = Principal.operator("operator:test")
DESTINATION = "case-sodermalm"


def sync(setup: Setup) -> DistrictSync:
    (done,) = sync_protected(setup.hub, OPERATOR).districts
    return done


def marks(setup: Setup) -> dict[str, tuple[str, str]]:
    """The hub's marks: keyed HMAC -> (kind, source)."""
    t = protected_identities
    with setup.hub.reader.connect() as conn:
        rows = conn.execute(select(t.c.subject_ref, t.c.kind, t.c.source))
        return {ref: (kind, source) for ref, kind, source in rows}


def ref(setup: Setup, client: SeededClient) -> str:
    return setup.hub.guards.hmacs.subject_ref(client.identity.canonical)


def audited(setup: Setup, action: AuditAction) -> list[tuple[str, str | None, str | None]]:
    with setup.hub.reader.connect() as conn:
        found = search(conn, AuditQuery(action=action))
        return [(e.outcome, e.subject_ref, e.reason) for e in found]


def test_a_person_marked_but_never_looked_up_is_refused_after_a_sync(setup: Setup) -> None:
    ordinary, protected = ours(setup.double)
    setup.double.mark(DISTRICT, ordinary.identity, "confidentiality_marking")
    assert marks(setup) == {}  # nobody looked up: the hub knows no mark yet
    done = sync(setup)
    assert done == DistrictSync(DISTRICT, DESTINATION, listed=3, marked=3)
    everyone = [ordinary, *protected]
    assert marks(setup) == {
        ref(setup, ordinary): ("confidentiality_marking", f"sync:{DESTINATION}"),
        **{ref(setup, c): (str(c.protected_identity), f"sync:{DESTINATION}") for c in protected},
    }
    with pytest.raises(ContractRefusal) as refused:
        setup.refer(ordinary)
    assert refused.value.reason == "protected_identity"
    (refusal,) = audited(setup, AuditAction.REFUSED)
    assert refusal[1] == ref(setup, ordinary)
    assert refusal[2] is not None
    assert refusal[2].startswith("protected_identity")
    # Each person's new mark audited under their HMAC; the run once, with counts only.
    changed = audited(setup, AuditAction.PROTECTION_CHANGED)
    assert sorted(str(s) for _, s, _ in changed) == sorted(ref(setup, c) for c in everyone)
    assert all(o == "ok" and r and r.startswith("marked ") for o, _, r in changed)
    assert audited(setup, AuditAction.PROTECTION_SYNCED) == [
        ("ok", None, "3 listed: 3 marked, 0 changed, 0 lifted, 0 skipped")
    ]
    # The same list again changes nothing and audits no person.
    assert sync(setup) == DistrictSync(DISTRICT, DESTINATION, listed=3)
    assert len(audited(setup, AuditAction.PROTECTION_CHANGED)) == 3


def test_allowed_where_the_agreement_says_so_and_let_through_once_lifted(setup: Setup) -> None:
    ordinary, _ = ours(setup.double)
    setup.double.mark(DISTRICT, ordinary.identity, "protected_registration")
    sync(setup)
    allowing = agreement(setup.hub, protected_purposes=frozenset({"urgent_protection"}))
    add_agreements(setup.hub, [replace(allowing, version=2)], "test")
    setup.refer(ordinary, purpose="urgent_protection")
    with pytest.raises(ContractRefusal) as refused:
        setup.refer(ordinary, purpose="information")
    assert refused.value.reason == "protected_identity"
    assert [r for _, _, r in audited(setup, AuditAction.RECEIVED)] == ["protected_identity"]
    # The case system changes one mark's kind and lifts this one: the next sync follows.
    setup.double.unmark(DISTRICT, ordinary.identity)
    _, protected = ours(setup.double)
    setup.double.mark(DISTRICT, protected[0].identity, "confidentiality_marking")
    kinds = {str(protected[0].protected_identity), "confidentiality_marking"}
    changed_kind = len(kinds) - 1  # 1 if the seeded kind was the other one
    assert sync(setup) == DistrictSync(
        DISTRICT, DESTINATION, listed=2, changed=changed_kind, lifted=1
    )
    assert ref(setup, ordinary) not in marks(setup)
    setup.refer(ordinary, purpose="information", n=1)
    lifted = [r for _, s, r in audited(setup, AuditAction.PROTECTION_CHANGED)]
    assert "lifted protected_registration (case-system sync)" in lifted


def test_a_case_system_down_keeps_the_marks_and_is_reported(setup: Setup) -> None:
    _, protected = ours(setup.double)
    sync(setup)
    before = marks(setup)
    setup.double.unmark(DISTRICT, protected[0].identity)  # would be lifted, if it answered
    setup.double.set_mode("down")
    failed = sync(setup)
    assert isinstance(failed.error, TransientDeliveryError)
    assert marks(setup) == before
    with pytest.raises(ContractRefusal):
        setup.refer(protected[0])
    assert audited(setup, AuditAction.PROTECTION_SYNCED)[-1][0] == "failed"
    # The command line says so readably, exits 1, and the next run catches up.
    register_subcommands()
    env = {
        "OMSORGSHUB_HOME": str(setup.hub.settings.home),
        "OMSORGSHUB_DATABASE_URL": setup.hub.settings.database_url,
    }
    down = CliRunner().invoke(cli, ["--as", "operator:test", "protected", "sync"], env=env)
    assert down.exit_code == 1, down.output
    assert DISTRICT in down.output
    assert "FAILED" in down.output
    assert "Traceback" not in down.output
    assert "0 of 1 districts synced" in down.output
    setup.double.set_mode("up")
    up = CliRunner().invoke(cli, ["--as", "operator:test", "protected", "sync"], env=env)
    assert up.exit_code == 0, up.output
    assert "1 listed: 0 marked, 0 changed, 1 lifted, 0 skipped" in up.output
    assert ref(setup, protected[0]) not in marks(setup)


def test_the_relay_syncs_on_its_timer(tmp_path: Path, database_url: str) -> None:
    overrides = {"protected_sync_interval_seconds": "0.05"}
    with opened_setup(tmp_path, database_url, overrides) as setup:
        schedule_protected_sync(setup.hub)
        time.sleep(0.1)
        setup.hub.relay.run_once()
        _, protected = ours(setup.double)
        assert set(marks(setup)) == {ref(setup, c) for c in protected}
