"""An agreement written in a form (``hub.services.agreement_forms``): the next version saved
through the same audited import, each problem named beside its field, a stale form refused,
the district scope held. Real database, real hub (the spine)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from audit.entry import AuditAction
from audit.search import AuditQuery, search
from hub.errors import Conflict, InputError, NotFound
from hub.services.agreement_forms import (
    agreement_choices,
    find_agreements,
    form_values,
    save_agreement_form,
    versions_compared,
)
from hub.services.agreements import import_agreements
from hub.services.principal import Principal
from tests.integration.spine import DISTRICT, SENDER, Spine

ADMIN = Principal.district_admin("person:anna", [DISTRICT])
NORR = Principal.district_admin("person:nils", ["sdn-norr"])


def test_the_next_version_from_a_form_and_what_changed(spine: Spine) -> None:
    agreement = spine.agreement()
    choices = agreement_choices(spine.hub, ADMIN)
    assert choices.districts == (DISTRICT,)
    assert SENDER in choices.senders
    assert "case-sodermalm" in choices.recipients
    assert "case.referral" in choices.message_types
    assert "identity" in choices.categories
    form = form_values(agreement)
    form["purposes"] = ["referral\nfollow_up"]
    form["retention_days"] = ["90"]
    saved = save_agreement_form(spine.hub, ADMIN, form, agreement.id)
    assert saved.version == 2
    assert saved.purposes == {"referral", "follow_up"}
    newest, first = versions_compared(spine.hub, ADMIN, agreement.id)
    assert first.previous is None
    assert first.changes == ()
    assert {c.field: c.added for c in newest.changes} == {
        "purposes": ("follow_up",),
        "retention_days": (),
    }
    with spine.hub.reader.connect() as conn:
        (entry,) = search(
            conn, AuditQuery(actor="person:anna", action=AuditAction.AGREEMENT_CHANGED)
        )
    assert entry.agreement == f"{agreement.id}@2"
    # The form was made from version 1: saving it again is refused, nothing is written.
    with pytest.raises(Conflict):
        save_agreement_form(spine.hub, ADMIN, form, agreement.id)


def test_every_problem_is_named_beside_its_field(spine: Spine) -> None:
    form = form_values(spine.agreement())
    del form["base_version"], form["id"]
    form.update(
        id=["NEW-1"],
        district=[DISTRICT],
        controller_name=[""],
        retention_days=["many"],
        valid_from=["2026-13-01"],
        categories=["identity", "gossip"],
        senders=["nobody-registered"],
        message_types=[],
    )
    with pytest.raises(InputError) as refused:
        save_agreement_form(spine.hub, ADMIN, form)
    fields = refused.value.context["fields"]
    assert isinstance(fields, dict)
    assert set(fields) == {
        "controller_name",
        "retention_days",
        "valid_from",
        "categories",
        "senders",
        "message_types",
    }
    assert "gossip" in fields["categories"]
    assert "nobody-registered" in fields["senders"]


def test_a_new_agreement_needs_a_new_id(spine: Spine) -> None:
    form = form_values(spine.agreement())
    del form["base_version"]
    with pytest.raises(InputError) as refused:
        save_agreement_form(spine.hub, ADMIN, form)
    assert refused.value.context["fields"] == {"id": f"an agreement {form['id'][0]} exists already"}
    form["id"] = ["PUB-SODERMALM-NEW"]
    assert save_agreement_form(spine.hub, ADMIN, form).version == 1


def test_another_districts_agreement_is_absent(spine: Spine) -> None:
    agreement = spine.agreement()
    assert agreement_choices(spine.hub, NORR).districts == ("sdn-norr",)
    with pytest.raises(NotFound):
        versions_compared(spine.hub, NORR, agreement.id)
    with pytest.raises(NotFound):
        save_agreement_form(spine.hub, NORR, form_values(agreement), agreement.id)
    form = form_values(agreement)
    del form["base_version"]
    form["id"] = ["NORR-TRIES"]
    with pytest.raises(InputError) as refused:  # a district the form does not offer
        save_agreement_form(spine.hub, NORR, form)
    assert "district" in refused.value.context["fields"]  # type: ignore[operator]


def test_finding_agreements_by_district_status_and_text(spine: Spine) -> None:
    agreement = spine.agreement()
    assert [a.id for a in find_agreements(spine.hub, ADMIN, text="REFERRAL")] == [agreement.id]
    assert [a.id for a in find_agreements(spine.hub, ADMIN, text=SENDER)] == [agreement.id]
    assert find_agreements(spine.hub, ADMIN, status="revoked") == []
    assert find_agreements(spine.hub, ADMIN, text="no-such-purpose") == []
    assert find_agreements(spine.hub, NORR) == []
    assert find_agreements(spine.hub, NORR, district=DISTRICT) == []


def test_a_system_the_version_names_stays_offered_though_not_registered(spine: Spine) -> None:
    agreement = spine.agreement()
    assert "case-sodermalm" in agreement.recipients
    unregistered = replace(agreement, recipients=agreement.recipients | {"old-archive"})
    (stored,) = import_agreements(spine.hub, ADMIN, [unregistered])
    assert "old-archive" not in agreement_choices(spine.hub, ADMIN).recipients
    assert "old-archive" in agreement_choices(spine.hub, ADMIN, keep=stored).recipients
    form = form_values(stored)
    form["retention_days"] = ["60"]
    saved = save_agreement_form(spine.hub, ADMIN, form, agreement.id)
    assert saved.recipients == stored.recipients


def test_the_purposes_for_protected_persons_survive_a_version_from_the_form(spine: Spine) -> None:
    # A form without the field would drop the term from the next version and refuse, from then
    # on, the protected persons the controller had allowed.
    agreement = spine.agreement()
    purpose = sorted(agreement.purposes)[0]
    allowed = replace(agreement, version=2, protected_identity_purposes=frozenset({purpose}))
    (stored,) = import_agreements(spine.hub, ADMIN, [allowed])
    form = form_values(stored)
    assert form["protected_identity_purposes"] == [purpose]
    form["retention_days"] = ["90"]
    saved = save_agreement_form(spine.hub, ADMIN, form, agreement.id)
    assert saved.version == 3
    assert saved.protected_identity_purposes == {purpose}
    form = form_values(saved)
    form["protected_identity_purposes"] = [""]  # emptied by the administrator on purpose
    emptied = save_agreement_form(spine.hub, ADMIN, form, agreement.id)
    assert emptied.protected_identity_purposes == frozenset()
