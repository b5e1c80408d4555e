"""The Compliance pages in a real browser, against a served hub: a district's steward (its
administrator and data-protection officer) sees the retention status of the district's stored
messages, places a legal hold on one person and lifts it again (each audited with the person
as actor), reads the art. 30 record and downloads it as CSV, and downloads the month's
chargeback basis; a data-protection officer of another district sees none of it and cannot lift
the district's hold; every form refuses a post without its CSRF token."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from audit.entry import AuditAction
from hub.demo.scenario import DISTRICTS
from hub.services.legal_holds import place_hold
from hub.services.principal import Principal
from tests.browser.conftest import refuses_every_form_without_csrf, screenshot, sign_in
from tests.browser.world import World

if TYPE_CHECKING:
    from playwright.sync_api import Page

SODERMALM, KUNGSHOLMEN = DISTRICTS[0], DISTRICTS[1]
TOLVAN = "19121212-1212"  # the Tax Agency's published test identity, valid check digit


def _download(page: Page, link: str) -> list[list[str]]:
    with page.expect_download() as download:
        page.click(link)
    path = download.value.path()
    return list(csv.reader(Path(path).read_text(encoding="utf-8").splitlines()))


def _sent(world: World, district: str) -> None:
    answer = world.send(world.referrals.make(district=district))
    assert answer.status_code == 202, answer.text


def test_a_steward_sees_retention_and_places_and_lifts_a_hold(page: Page, world: World) -> None:
    world.add_person("steward.ada", {"dpo": [SODERMALM], "district_admin": [SODERMALM]})
    _sent(world, SODERMALM)
    sign_in(page, "steward.ada")
    page.click("a[href='/console/compliance']")
    page.wait_for_url("**/console/compliance")
    rules = page.locator(f"#retention tr[data-district='{SODERMALM}']")
    assert rules.count() >= 1
    assert sum(int(rules.nth(i).get_attribute("data-stored") or 0) for i in range(rules.count()))
    assert page.locator(f"#retention tr[data-district='{KUNGSHOLMEN}']").count() == 0

    page.select_option("#h-district", SODERMALM)
    page.fill("#h-subject", TOLVAN)
    page.fill("#h-reason", "Tillsynsärende hos IVO")
    page.click("#place button[type=submit]")
    page.wait_for_url("**/console/compliance?done=placed")
    hold = page.locator("#holds tr[data-active=yes]")
    assert hold.count() == 1
    shown = page.content()
    assert TOLVAN not in shown
    assert "191212121212" not in shown
    screenshot(page, "compliance-retention")

    hold.locator("input[name=reason]").fill("Tillsynen avslutad")
    hold.locator("button[type=submit]").click()
    page.wait_for_url("**/console/compliance?done=lifted")
    assert page.locator("#holds tr[data-active=yes]").count() == 0
    assert page.locator("#holds tr[data-active=no]").count() == 1

    mine = [e.action for e in world.audit(actor="user:steward.ada")]
    assert mine.count(AuditAction.LEGAL_HOLD_PLACED) == 1
    assert mine.count(AuditAction.LEGAL_HOLD_LIFTED) == 1


def test_a_steward_downloads_the_record_and_the_chargeback(page: Page, world: World) -> None:
    world.add_person("steward.bo", {"dpo": [SODERMALM], "district_admin": [SODERMALM]})
    _sent(world, SODERMALM)  # a call of this month for the chargeback
    sign_in(page, "steward.bo")
    page.goto("/console/compliance")
    page.click("#record-link")
    page.wait_for_url("**/console/compliance/record")
    assert page.locator(f"#record tr[data-district='{SODERMALM}']").count() >= 1
    assert page.locator(f"#record tr[data-district='{KUNGSHOLMEN}']").count() == 0
    record = _download(page, "#record-csv")
    assert record[0][:2] == ["district", "controller"]
    assert len(record) > 1
    assert {row[0] for row in record[1:]} == {SODERMALM}
    screenshot(page, "compliance-record")
    pdf = page.request.get("/console/compliance/record.pdf")
    assert pdf.status == 200
    assert pdf.body().startswith(b"%PDF")

    page.click("#stats-link")
    page.wait_for_url("**/console/compliance/stats")
    now = datetime.now(UTC)
    last = f"{now.year - (now.month == 1)}-{(now.month - 2) % 12 + 1:02d}"
    assert page.locator("h1").inner_text().endswith(last)
    page.fill("#st-month", now.strftime("%Y-%m"))
    page.click("form.filters button[type=submit]")
    page.wait_for_url(f"**/console/compliance/stats?month={now:%Y-%m}")
    basis = _download(page, "#chargeback-csv")
    assert basis[0] == [
        "month", "district", "ordering_unit", "item", "quantity", "unit_price", "amount",
        "price_from",
    ]  # fmt: skip
    assert all(row[1] == SODERMALM for row in basis[1:])
    assert any(row[3] == "calls" and int(row[4]) >= 1 for row in basis[1:])
    screenshot(page, "compliance-stats")
    wrong = page.request.get("/console/compliance/stats?month=2026-13")
    assert wrong.status == 422  # a page naming the reason, not a traceback
    assert "invalid_month" in wrong.text()

    exported = [e.reason for e in world.audit(actor="user:steward.bo", action="exported")]
    assert "art30 record" in exported
    assert f"chargeback {now:%Y-%m}" in exported


def test_another_districts_officer_sees_none_of_it(page: Page, world: World) -> None:
    held = place_hold(
        world.hub, Principal.operator("operator:test"), SODERMALM, reason="Rättslig prövning"
    )
    _sent(world, SODERMALM)
    world.add_person("dpo.kim", {"dpo": [KUNGSHOLMEN]})
    sign_in(page, "dpo.kim")
    page.goto("/console/compliance")
    assert page.locator(f"tr[data-district='{SODERMALM}']").count() == 0
    assert page.locator(f"tr[data-hold='{held.id}']").count() == 0
    assert page.locator("#stats-link").count() == 0  # statistics: administrators only
    token = page.locator("input[name=csrf_token]").first.get_attribute("value") or ""
    lifted = page.request.post(
        f"/console/compliance/holds/{held.id}/lift", form={"reason": "x", "csrf_token": token}
    )
    assert lifted.status == 404
    placed = page.request.post(
        "/console/compliance/holds",
        form={"district": SODERMALM, "reason": "x", "csrf_token": token},
    )
    assert placed.status == 404
    page.goto("/console/compliance/record")
    assert page.locator(f"#record tr[data-district='{SODERMALM}']").count() == 0
    assert page.request.get("/console/compliance/stats").status == 403
    assert page.request.get("/console/compliance/chargeback.csv").status == 403
    mine = [e.action for e in world.audit(actor="user:dpo.kim")]
    assert AuditAction.LEGAL_HOLD_LIFTED not in mine
    assert AuditAction.LEGAL_HOLD_PLACED not in mine


def test_every_compliance_form_refuses_a_post_without_its_csrf_token(
    page: Page, world: World
) -> None:
    world.add_person("dpo.siv", {"dpo": [SODERMALM]})
    place_hold(world.hub, Principal.operator("operator:test"), SODERMALM, reason="Prövning")
    sign_in(page, "dpo.siv")
    assert refuses_every_form_without_csrf(page, "/console/compliance") >= 2
    mine = [e.action for e in world.audit(actor="user:dpo.siv")]
    assert AuditAction.LEGAL_HOLD_PLACED not in mine
    assert AuditAction.LEGAL_HOLD_LIFTED not in mine
