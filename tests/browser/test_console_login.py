"""The console's door in a real browser: sign in, the header, sign out, the login throttle,
CSRF on every form, and no identity number in any URL."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.browser.conftest import screenshot, sign_in
from tests.browser.world import World

if TYPE_CHECKING:
    from playwright.sync_api import Page


def test_sign_in_shows_the_roles_and_their_sections_then_sign_out(page: Page, world: World) -> None:
    world.add_person("dpo.anna", {"dpo": ["sdn-sodermalm", "sdn-farsta"]})
    page.goto("/console/")
    page.wait_for_url("**/console/login?expired=1")
    screenshot(page, "login")
    sign_in(page, "dpo.anna")
    header = page.locator("header").inner_text()
    assert "Dataskyddsombud" in header
    assert "sdn-farsta, sdn-sodermalm" in header
    nav = page.locator("header nav").inner_text()
    assert "Granskningslogg" in nav
    assert "Avtal" not in nav  # not a district administrator
    screenshot(page, "home")

    page.click("text=English")
    assert "Data-protection officer" in page.locator("header").inner_text()

    page.click("header form[action='/console/logout'] button")
    page.wait_for_url("**/console/login?out=1")
    page.goto("/console/")
    page.wait_for_url("**/console/login?expired=1")
