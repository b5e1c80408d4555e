"""The log review page in a real browser, against a served hub: a data-protection officer
draws a sample of the month, finds the night-time access the rules picked, records a verdict,
cannot change it and records an amendment with its reason instead; the coverage follows; every
step is audited with the person as actor; each form refuses a post without its CSRF token."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from audit.entry import AuditAction, AuditEvent
from hub.demo.scenario import DISTRICTS
from tests.browser.conftest import refuses_every_form_without_csrf, screenshot, sign_in
from tests.browser.world import World

if TYPE_CHECKING:
    from playwright.sync_api import Page

SODERMALM = DISTRICTS[0]
ZONE = ZoneInfo("Europe/Stockholm")


def _accesses(world: World) -> None:
    """A case officer's views this month: one at 02:00 (off hours), three at 10:00."""
    today = datetime.now(ZONE).date()
    at = [datetime.combine(today, time(h), ZONE).astimezone(UTC) for h in (2, 10, 10, 10)]
    events = [
        AuditEvent(
            action=AuditAction.VIEWED,
            actor="user:officer.test",
            district=SODERMALM,
            subject_ref=f"hview{i}",
            at=moment + timedelta(seconds=i),
        )
        for i, moment in enumerate(at)
    ]
    with world.hub.engine.begin() as conn:
        world.hub.guards.record(conn, events)


def test_a_dpo_draws_a_sample_and_records_verdicts(page: Page, world: World) -> None:
    world.add_person("dpo.rut", {"dpo": [SODERMALM]})
    _accesses(world)
    sign_in(page, "dpo.rut")
    page.goto("/console/audit")
    page.click("#review-link")
    page.wait_for_url("**/console/audit/review")
    page.fill("#s-random", "1")
    page.click("#draw button[type=submit]")
    page.wait_for_url("**/console/audit/review?district=*")
    night = page.locator("tr[data-item][data-rules=off_hours]")
    assert night.count() == 1
    assert page.locator("tr[data-item][data-rules=random]").count() == 1
    item = night.get_attribute("data-item")
    row = f"tr[data-item='{item}']"

    page.locator(f"{row} select[name=verdict]").select_option("ok")
    page.locator(f"{row} button[type=submit]").click()
    page.wait_for_url("**/console/audit/review")
    assert page.locator(row).get_attribute("data-verdict") == "ok"

    # A second verdict must say why it amends the first; it is added beside it.
    page.locator(f"{row} select[name=verdict]").select_option("follow_up")
    page.locator(f"{row} input[name=note]").fill("Nattarbete? Fråga chefen.")
    page.locator(f"{row} input[name=amend_reason]").fill("Ingen jour den natten")
    page.locator(f"{row} button[type=submit]").click()
    page.wait_for_url("**/console/audit/review")
    assert page.locator(row).get_attribute("data-verdict") == "follow_up"
    assert page.locator(f"{row} .verdict").count() == 2
    cover = page.locator("dl[data-decided]")
    assert cover.get_attribute("data-decided") == "1"
    assert cover.get_attribute("data-picked") == "2"
    screenshot(page, "audit-review")

    # The service refuses to change a verdict without a reason (the form asks for one; a
    # post without it is a 409 page).
    token = page.locator(f"{row} input[name=csrf_token]").first.get_attribute("value") or ""
    answer = page.request.post(
        f"/console/audit/review/items/{item}", form={"verdict": "ok", "csrf_token": token}
    )
    assert answer.status == 409
    assert "review_item_decided" in answer.text()

    mine = [e.action for e in world.audit(actor="user:dpo.rut")]
    assert mine.count(AuditAction.REVIEW_SAMPLED) == 1
    assert mine.count(AuditAction.REVIEW_DECIDED) == 2
    assert AuditAction.REVIEW_REPORTED in mine


def test_every_review_form_refuses_a_post_without_its_csrf_token(page: Page, world: World) -> None:
    world.add_person("dpo.siv", {"dpo": [SODERMALM]})
    sign_in(page, "dpo.siv")
    assert refuses_every_form_without_csrf(page, "/console/audit/review") >= 3
    assert AuditAction.REVIEW_SAMPLED not in [e.action for e in world.audit(actor="user:dpo.siv")]
