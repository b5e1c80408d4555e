"""The audit trail as a data-protection officer reads it through the services: by action, one
entry (absent outside the officer's districts), a person's extract of the officer's districts
only, the trail's state; each read audited with the officer as actor. Real database (spine)."""

from __future__ import annotations

import pytest

from audit.entry import AuditAction
from hub.errors import AuthenticationError, InputError, NotFound
from hub.services.audit_integrity import trail_status
from hub.services.audit_queries import AuditFilter, audit_entry, report, search_audit
from hub.services.principal import Principal
from tests.integration.spine import DISTRICT, Spine

DPO = Principal.dpo("user:dpo.test", [DISTRICT])
NORR = Principal.dpo("user:dpo.norr", ["sdn-norr"])
OPERATOR = Principal.operator("operator:test")


def test_a_dpo_reads_its_districts_entries_and_each_read_is_audited(spine: Spine) -> None:
    person = next(spine.people)
    spine.hub.ingestor.ingest("aldre-direkt", spine.envelope("m-dpo", person))
    number = person.identity.formatted()
    found = search_audit(spine.hub, DPO, AuditFilter(subject=number, action="received"))
    assert [e.action for e in found] == [AuditAction.RECEIVED]
    assert search_audit(spine.hub, NORR, AuditFilter(subject=number)) == []
    seq = found[0].seq
    assert audit_entry(spine.hub, DPO, seq).seq == seq
    with pytest.raises(NotFound):
        audit_entry(spine.hub, NORR, seq)
    with pytest.raises(InputError):
        search_audit(spine.hub, DPO, AuditFilter(action="no_such_action"))
    assert len(report(spine.hub, DPO, number, "se", "csv").accesses) >= 1
    assert report(spine.hub, NORR, number, "se", "csv").accesses == ()
    mine = search_audit(spine.hub, OPERATOR, AuditFilter(actor=DPO.name))
    assert [(e.action, e.reason) for e in mine] == [
        (AuditAction.AUDIT_SEARCHED, "1 entries"),
        (AuditAction.AUDIT_SEARCHED, f"entry {seq} viewed"),
        (AuditAction.EXPORTED, "art. 15 subject report (csv, 2 accesses)"),
    ]
    assert all(e.subject_ref for e in mine)  # the entry viewed is an access to the person, too


def test_the_trail_state(spine: Spine) -> None:
    before = trail_status(spine.hub, DPO)
    spine.send(2)
    after = trail_status(spine.hub, DPO)
    assert after.last_seq > before.last_seq
    assert after.unsigned == after.last_seq - after.last_checkpoint_seq
    assert after.verified_at is None
    with pytest.raises(AuthenticationError):
        trail_status(spine.hub, Principal.district_admin("admin:x", [DISTRICT]))
