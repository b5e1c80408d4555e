"""The people page in a real browser: a hub administrator adds an account and grants it a role
in one district, the new person signs in and holds exactly that; every change is in the audit
trail with the administrator as actor; other roles are refused the page; its forms refuse a
missing CSRF token."""

from __future__ import annotations

from typing import TYPE_CHECKING

from audit.entry import AuditAction
from audit.search import AuditQuery, search
from tests.browser.conftest import refuses_every_form_without_csrf, screenshot, sign_in
from tests.browser.world import PASSWORD, World

if TYPE_CHECKING:
    from playwright.sync_api import Page


def test_a_hub_admin_adds_a_person_and_grants_a_role(page: Page, world: World) -> None:
    world.add_person("root.rut", {"hub_admin": []}, display_name="Rut Rotsdotter")
    sign_in(page, "root.rut")
    page.click("header nav >> text=Användare")
    page.wait_for_url("**/console/users")
    page.fill("#add-name", "dpo.fia")
    page.fill("#add-display", "Fia Fiktiv")
    page.fill("#add-password", "kort")
    page.locator("#add-password").evaluate("field => field.removeAttribute('minlength')")
    page.click("form[action='/console/users/add'] button")
    assert page.locator("[data-reason=password_too_short]").count() == 1  # the service's own

    page.goto("/console/users")
    page.fill("#add-name", "dpo.fia")
    page.fill("#add-display", "Fia Fiktiv")
    page.fill("#add-password", PASSWORD)
    page.click("form[action='/console/users/add'] button")
    page.wait_for_url("**/console/users?done=added")
    page.select_option("#role-name", "dpo.fia")
    page.select_option("#role-role", "dpo")
    page.fill("#role-districts", "sdn-farsta")
    page.click("form[action='/console/users/role'] button[value=grant]")
    page.wait_for_url("**/console/users?done=granted")
    row = page.locator("tr[data-user='dpo.fia']").inner_text()
    assert "Dataskyddsombud" in row
    assert "sdn-farsta" in row
    screenshot(page, "users")

    with world.hub.reader.connect() as conn:
        changes = search(conn, AuditQuery(action=AuditAction.USER_CHANGED, actor="user:root.rut"))
    assert [(e.source, e.reason) for e in changes] == [
        ("dpo.fia", "account added"),
        ("dpo.fia", "granted dpo in sdn-farsta"),
    ]

    page.click("header form[action='/console/logout'] button")
    sign_in(page, "dpo.fia")
    assert "sdn-farsta" in page.locator("header .roles").inner_text()
    page.goto("/console/users")
    assert page.locator("[data-reason=role_missing]").count() == 1  # a DPO is no hub admin


def test_the_people_page_forms_refuse_a_missing_csrf_token(page: Page, world: World) -> None:
    world.add_person("root.sven", {"hub_admin": []})
    sign_in(page, "root.sven")
    assert refuses_every_form_without_csrf(page, "/console/users") == 5
