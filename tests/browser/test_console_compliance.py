"""The Compliance pages in a real browser, against a served hub: a district's steward (its
administrator and data-protection officer) sees the retention status of the district's stored
messages, places a legal hold on one person and lifts it again (each audited with the person
as actor), reads the art. 30 record and downloads it as CSV, and downloads the month's
chargeback basis; a data-protection officer of another district sees none of it and cannot lift
the district's hold; every form refuses a post without its CSRF token. A district
administrator counts what retention would end and then ends it (only once the confirmation is
ticked), and syncs the protected-identity marks from the district's case system (the SOAP
double, which this module's world routes for Södermalm) and sees the count and a failure;
every read and run leaves its audit entry."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import update

from adapters.doubles.case_management_double import CaseManagementDouble
from audit.entry import AuditAction
from hub.demo.scenario import DISTRICTS
from hub.services.legal_holds import place_hold
from hub.services.principal import Principal
from hub.storage.tables import messages
from tests.browser.conftest import (
    refuses_every_form_without_csrf,
    screenshot,
    served_world,
    sign_in,
)
from tests.browser.world import World

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

SODERMALM, KUNGSHOLMEN = DISTRICTS[0], DISTRICTS[1]
TOLVAN = "19121212-1212"  # the Tax Agency's published test identity, valid check digit


@pytest.fixture(scope="module")
def case_system() -> Iterator[CaseManagementDouble]:
    """Södermalm's case system (SOAP on 127.0.0.1): two persons it marks as protected."""
    with CaseManagementDouble() as double:
        yield double


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, browser: Browser, case_system: CaseManagementDouble
) -> Iterator[World]:
    yield from served_world(tmp_path_factory, {SODERMALM: case_system.url})


def _download(page: Page, link: str) -> list[list[str]]:
    with page.expect_download() as download:
        page.click(link)
    path = download.value.path()
    return list(csv.reader(Path(path).read_text(encoding="utf-8").splitlines()))


def _sent(world: World, district: str) -> str:
    answer = world.send(world.referrals.make(district=district))
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def _aged(world: World, ids: list[str]) -> None:
    """Received three years ago: past the demo agreements' retention (730 days)."""
    with world.hub.engine.begin() as conn:
        conn.execute(
            update(messages)
            .where(messages.c.id.in_(ids))
            .values(received_at=datetime.now(UTC) - timedelta(days=3 * 365))
        )


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


def test_an_administrator_counts_then_ends_retention(page: Page, world: World) -> None:
    # Kungsholmen: no test of this module holds its messages.
    world.add_person("admin.eva", {"district_admin": [KUNGSHOLMEN], "dpo": [KUNGSHOLMEN]})
    _aged(world, [_sent(world, KUNGSHOLMEN), _sent(world, KUNGSHOLMEN)])
    _sent(world, KUNGSHOLMEN)  # a fresh one, not due
    sign_in(page, "admin.eva")
    page.goto("/console/compliance")
    page.click("#run-count button[type=submit]")
    counted = page.locator("#run-result")
    assert counted.get_attribute("data-dry-run") == "yes"
    assert counted.get_attribute("data-due") == "2"
    assert counted.get_attribute("data-shredded") == "0"
    assert page.locator(f"#run-result tr[data-district='{SODERMALM}']").count() == 0
    screenshot(page, "compliance-retention-count")

    # Ending needs the confirmation: the browser asks for the box, and the hub checks it too.
    token = page.locator("#run-end input[name=csrf_token]").get_attribute("value") or ""
    unconfirmed = page.request.post(
        "/console/compliance/run", form={"mode": "end", "csrf_token": token}
    )
    assert unconfirmed.status == 422
    assert "confirmation_required" in unconfirmed.text()
    assert world.audit(actor="user:admin.eva", action=AuditAction.RETENTION_ENDED) == []
    page.check("#run-confirm")
    page.click("#run-end button[type=submit]")
    ended = page.locator("#run-result")
    assert ended.get_attribute("data-dry-run") == "no"
    assert ended.get_attribute("data-shredded") == "2"
    rows = page.locator(f"#retention tr[data-district='{KUNGSHOLMEN}']")
    assert (
        sum(int(rows.nth(i).get_attribute("data-shredded") or 0) for i in range(rows.count())) == 2
    )
    assert sum(int(rows.nth(i).get_attribute("data-due") or 0) for i in range(rows.count())) == 0

    runs = [e.reason for e in world.audit(actor="user:admin.eva", action=AuditAction.RETENTION_RUN)]
    assert runs == [
        "dry run: 2 due, 0 held under 1 rules; nothing changed",
        "run: 2 of 2 due shredded in 1 batches, 0 held",
    ]
    assert len(world.audit(actor="user:admin.eva", action=AuditAction.RETENTION_ENDED)) == 1
    reads = world.audit(actor="user:admin.eva", action=AuditAction.RETENTION_REPORTED)
    assert len(reads) == 3  # the page, after the count, after the run
    assert {e.district for e in reads} == {KUNGSHOLMEN}


def test_an_officer_may_read_but_neither_run_nor_sync(page: Page, world: World) -> None:
    world.add_person("dpo.tor", {"dpo": [SODERMALM]})
    sign_in(page, "dpo.tor")
    page.goto("/console/compliance")
    assert page.locator("#run").count() == 0
    token = page.locator("input[name=csrf_token]").first.get_attribute("value") or ""
    ran = page.request.post("/console/compliance/run", form={"mode": "count", "csrf_token": token})
    assert ran.status == 403
    page.click("#protected-link")
    page.wait_for_url("**/console/compliance/protected")
    assert page.locator(f"#protected tr[data-district='{SODERMALM}']").count() == 1
    assert page.locator("#sync").count() == 0
    synced = page.request.post("/console/compliance/protected/sync", form={"csrf_token": token})
    assert synced.status == 403
    assert world.audit(actor="user:dpo.tor", action=AuditAction.RETENTION_RUN) == []
    assert world.audit(actor="user:dpo.tor", action=AuditAction.PROTECTION_SYNCED) == []
    assert len(world.audit(actor="user:dpo.tor", action=AuditAction.PROTECTION_REPORTED)) == 1


def test_an_administrator_syncs_the_protected_marks_and_sees_a_failure(
    page: Page, world: World, case_system: CaseManagementDouble
) -> None:
    world.add_person("admin.lo", {"district_admin": [SODERMALM]})
    sign_in(page, "admin.lo")
    page.goto("/console/compliance")
    page.click("#protected-link")
    page.wait_for_url("**/console/compliance/protected")
    row = page.locator(f"#protected tr[data-district='{SODERMALM}']")
    assert (row.get_attribute("data-marked"), row.get_attribute("data-ok")) == ("0", "never")
    assert page.locator(f"#protected tr[data-district='{KUNGSHOLMEN}']").count() == 0

    page.click("#sync button[type=submit]")
    done = page.locator(f"#sync-result tr[data-district='{SODERMALM}']")
    assert (done.get_attribute("data-ok"), done.get_attribute("data-listed")) == ("yes", "2")
    assert (row.get_attribute("data-marked"), row.get_attribute("data-ok")) == ("2", "yes")
    shown = page.content()
    protected = [c for c in case_system.protected if c.district == SODERMALM]
    assert all(c.identity.canonical not in shown for c in protected)
    assert all(c.identity.formatted() not in shown for c in protected)
    screenshot(page, "compliance-protected")

    case_system.set_mode("down")
    try:
        page.click("#sync button[type=submit]")
        failed = page.locator(f"#sync-result tr[data-district='{SODERMALM}']")
        assert failed.get_attribute("data-ok") == "no"
        assert "destination_unavailable" in failed.inner_text()
    finally:
        case_system.set_mode("up")
    assert (row.get_attribute("data-marked"), row.get_attribute("data-ok")) == ("2", "no")
    assert row.get_attribute("data-failures") == "1"

    runs = world.audit(actor="user:admin.lo", action=AuditAction.PROTECTION_SYNCED)
    assert [(e.district, e.outcome) for e in runs] == [(SODERMALM, "ok"), (SODERMALM, "failed")]
    reads = world.audit(actor="user:admin.lo", action=AuditAction.PROTECTION_REPORTED)
    assert [e.reason for e in reads] == [
        "status: 0 marked, never synced",
        "status: 2 marked, last sync ok",
        "status: 2 marked, last sync failed (1 since the last success)",
    ]


def test_the_administrators_forms_refuse_a_post_without_its_csrf_token(
    page: Page, world: World
) -> None:
    world.add_person("admin.ulf", {"district_admin": [KUNGSHOLMEN]})
    sign_in(page, "admin.ulf")
    # Beside the two sign-out forms of every page: place a hold, count, end; sync now.
    assert refuses_every_form_without_csrf(page, "/console/compliance") == 2 + 3
    assert refuses_every_form_without_csrf(page, "/console/compliance/protected") == 2 + 1
    assert world.audit(actor="user:admin.ulf", action=AuditAction.RETENTION_RUN) == []
    assert world.audit(actor="user:admin.ulf", action=AuditAction.PROTECTION_SYNCED) == []
