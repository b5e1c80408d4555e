"""The Agreements pages in a real browser, against a served hub: a district administrator
writes a new version through the form (a wrong field first, shown beside it), sees the next
message over the HTTP API decided by it, revokes it with a reason; another district's
administrator neither sees nor reaches it; every form refuses a POST without its CSRF token."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from audit.entry import AuditAction
from audit.search import AuditQuery, search
from contracts.fileformat import dump_agreements
from hub.demo.scenario import DISTRICTS, demo_agreements
from tests.browser.conftest import refuses_every_form_without_csrf, screenshot, sign_in
from tests.browser.world import World

if TYPE_CHECKING:
    import httpx
    from playwright.sync_api import FilePayload, Page

SODERMALM, KUNGSHOLMEN = DISTRICTS[0], DISTRICTS[1]
REFERRALS = "PUB-SODERMALM-REFERRALS"
SAVE = "form.agreement-form button[type=submit]"


def _follow_up(world: World) -> httpx.Response:
    """A referral sent for a purpose the demo's agreement does not name."""
    return world.send(world.referrals.make(district=SODERMALM, purpose="follow_up"))


def _reason(response: httpx.Response) -> str:
    return str(response.json().get("reason"))


def test_a_version_from_the_form_is_enforced_and_then_revoked(page: Page, world: World) -> None:
    world.add_person("admin.sara", {"district_admin": [SODERMALM]})
    refused = _follow_up(world)
    assert refused.status_code == 403, refused.text
    assert _reason(refused) == "purpose_not_allowed"

    sign_in(page, "admin.sara")
    page.goto("/console/agreements")
    ids = page.locator("tr[data-agreement]").evaluate_all(
        "rows => rows.map(r => r.dataset.agreement)"
    )
    assert REFERRALS in ids
    assert all(i.startswith("PUB-SODERMALM-") for i in ids), ids
    screenshot(page, "agreements")

    page.click(f"a[href='/console/agreements/{REFERRALS}']")
    page.click(f"a[href='/console/agreements/{REFERRALS}/edit']")
    page.fill("#f-purposes", "referral\nfollow_up")
    controller = page.input_value("#f-controller_name")
    page.fill("#f-controller_name", "")
    page.uncheck("input[name=categories][value=identity]")
    page.click(SAVE)
    fields = page.locator(".field-error").evaluate_all("es => es.map(e => e.dataset.field)")
    assert fields == ["controller_name"]  # identity unchecked is allowed; no controller is not
    assert page.locator("#f-controller_name").get_attribute("aria-invalid") == "true"
    assert page.input_value("#f-purposes") == "referral\nfollow_up"  # what was typed stays
    assert SODERMALM in page.locator("form.agreement-form").inner_text()
    screenshot(page, "agreement-form-errors")

    page.fill("#f-controller_name", controller)
    page.check("input[name=categories][value=identity]")
    page.click(SAVE)
    page.wait_for_url(f"**/console/agreements/{REFERRALS}?done=saved-2")
    change = page.locator("section[data-version='2'] tr[data-field=purposes]")
    assert change.locator("ins").inner_text() == "follow_up"
    screenshot(page, "agreement-versions")

    accepted = _follow_up(world)
    assert accepted.status_code == 202, accepted.text

    page.fill("#reason", "Nämnden sade upp avtalet (fiktivt, test)")
    page.click("button.danger")
    page.wait_for_url(f"**/console/agreements/{REFERRALS}?done=revoked-3")
    assert "återkallat" in page.locator("h1").inner_text()
    refused_again = _follow_up(world)
    assert refused_again.status_code == 403, refused_again.text
    assert _reason(refused_again) == "revoked"

    with world.hub.reader.connect() as conn:
        changed = search(
            conn, AuditQuery(actor="user:admin.sara", action=AuditAction.AGREEMENT_CHANGED)
        )
    assert [e.agreement for e in changed] == [f"{REFERRALS}@2", f"{REFERRALS}@3"]
    assert "revoked: Nämnden sade upp avtalet" in (changed[-1].reason or "")


def test_the_new_agreement_form_and_the_import_page(page: Page, world: World) -> None:
    world.add_person("admin.tove", {"district_admin": [SODERMALM]})
    sign_in(page, "admin.tove")
    page.goto("/console/agreements/new")
    offered = page.locator("input[name=message_types]").evaluate_all("es => es.map(e => e.value)")
    assert "case.referral" in offered
    assert page.locator("#f-district option").all_inner_texts() == [SODERMALM]
    screenshot(page, "agreement-new")
    page.goto("/console/agreements/import")
    broken: FilePayload = {
        "name": "avtal.toml",
        "mimeType": "text/plain",
        "buffer": b"[[agreement]]\nid = 1\n",
    }
    page.set_input_files("#file", files=broken)
    page.click("form[enctype] button[type=submit]")
    assert page.locator("pre[data-reason=import_failed]").is_visible()
    screenshot(page, "agreement-import")

    (time,) = [a for a in demo_agreements(world.hub.clock()) if a.id == "PUB-SODERMALM-TIME"]
    imported = replace(time, id="PUB-SODERMALM-IMPORTED", retention_days=400)
    good: FilePayload = {
        "name": "avtal.toml",
        "mimeType": "text/plain",
        "buffer": dump_agreements([imported]).encode(),
    }
    page.set_input_files("#file", files=good)
    page.click("form[enctype] button[type=submit]")
    page.wait_for_url("**/console/agreements?done=imported-1")
    assert page.locator("tr[data-agreement='PUB-SODERMALM-IMPORTED']").count() == 1


def test_another_districts_agreements_are_out_of_sight_and_reach(page: Page, world: World) -> None:
    world.add_person("admin.kurt", {"district_admin": [KUNGSHOLMEN]})
    sign_in(page, "admin.kurt")
    page.goto("/console/agreements")
    ids = page.locator("tr[data-agreement]").evaluate_all("rs => rs.map(r => r.dataset.agreement)")
    assert ids
    assert all(i.startswith("PUB-KUNGSHOLMEN-") for i in ids), ids
    page.goto("/console/agreements?district=" + SODERMALM)
    assert page.locator("tr[data-agreement]").count() == 0
    for path in ("", "/edit"):
        answer = page.goto(f"/console/agreements/{REFERRALS}{path}")
        assert answer is not None
        assert answer.status == 404
        unknown = page.goto(f"/console/agreements/NO-SUCH-AGREEMENT{path}")
        assert unknown is not None
        assert unknown.status == 404
    csrf = page.locator("header input[name=csrf_token]").first.get_attribute("value")
    revoke = page.request.post(
        f"/console/agreements/{REFERRALS}/revoke", form={"csrf_token": csrf or "", "reason": "x"}
    )
    assert revoke.status == 404


def test_every_form_refuses_a_post_without_its_csrf_token(page: Page, world: World) -> None:
    world.add_person("admin.ulla", {"district_admin": [SODERMALM]})
    sign_in(page, "admin.ulla")
    posts: dict[str, dict[str, str | float | bool]] = {
        "/console/agreements/new": {"id": "NO-CSRF"},
        "/console/agreements/PUB-SODERMALM-TIME/edit": {"base_version": "1"},
        "/console/agreements/PUB-SODERMALM-TIME/revoke": {"reason": "no token"},
        "/console/agreements/import": {},
    }
    for path, form in posts.items():
        answer = page.request.post(path, form=form)
        assert answer.status == 403, path
        assert "csrf_token_invalid" in answer.text(), path
    for path in (
        "/console/agreements/new",
        "/console/agreements/PUB-SODERMALM-TIME/edit",
        "/console/agreements/PUB-SODERMALM-TIME",  # the revocation
        "/console/agreements/import",
    ):
        assert refuses_every_form_without_csrf(page, path) == 3, path  # and the header's two
    page.goto("/console/agreements/PUB-SODERMALM-TIME")
    assert "gällande" in page.locator("h1").inner_text()  # nothing was revoked
    with world.hub.reader.connect() as conn:
        assert (
            search(conn, AuditQuery(actor="user:admin.ulla", action=AuditAction.AGREEMENT_CHANGED))
            == []
        )
