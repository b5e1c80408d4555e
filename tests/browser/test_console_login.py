"""The console's door in a real browser: sign in, the header, sign out, the login throttle,
CSRF on every form, and no identity number in any URL."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.browser.conftest import (
    identity_in_url,
    refuses_every_form_without_csrf,
    screenshot,
    sign_in,
)
from tests.browser.world import PASSWORD, World

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


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


def test_five_wrong_passwords_throttle_even_the_right_one(page: Page, world: World) -> None:
    world.add_person("operator.bo", {"operator": ["sdn-kungsholmen"]})
    for _ in range(5):
        page.goto("/console/login")
        page.fill("#name", "operator.bo")
        page.fill("#password", "fel-losenord-123")
        page.click("button[type=submit]")
        assert page.locator("[data-reason='login.failed']").count() == 1
    page.fill("#name", "operator.bo")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    assert page.locator("[data-reason='login.throttled']").count() == 1
    assert "/console/login" in page.url
    screenshot(page, "login-throttled")


def test_every_form_refuses_a_missing_csrf_token(page: Page, world: World) -> None:
    world.add_person("admin.cilla", {"district_admin": ["sdn-farsta"]})
    assert refuses_every_form_without_csrf(page, "/console/login") == 1
    sign_in(page, "admin.cilla")
    assert refuses_every_form_without_csrf(page, "/console/") == 2  # sign out, everywhere
    page.goto("/console/")
    assert "admin.cilla" in page.locator("header").inner_text()  # still signed in


def test_sign_out_everywhere_ends_the_other_browser_s_session(
    page: Page, world: World, browser: Browser
) -> None:
    world.add_person("dpo.dan", {"dpo": ["sdn-sodermalm"]})
    other = browser.new_context(base_url=world.url)
    try:
        elsewhere = other.new_page()
        sign_in(elsewhere, "dpo.dan")
        sign_in(page, "dpo.dan")
        page.click("header form[action='/console/logout-everywhere'] button")
        page.wait_for_url("**/console/login?out=1")
        elsewhere.goto("/console/")
        elsewhere.wait_for_url("**/console/login?expired=1")
    finally:
        other.close()


def test_cookies_are_http_only_and_same_site_strict(page: Page, world: World) -> None:
    world.add_person("dpo.eva", {"dpo": ["sdn-sodermalm"]})
    sign_in(page, "dpo.eva")
    (session,) = [c for c in page.context.cookies() if c["name"] == "osh_session"]
    assert session["httpOnly"]
    assert session["sameSite"] == "Strict"
    assert session["path"] == "/console"
    assert page.evaluate("document.cookie") == ""  # no script can read it


def test_the_url_check_sees_identity_numbers_in_every_form() -> None:
    # Guards the check every browser test ends with (the ``page`` fixture) against seeing
    # nothing: it runs without a browser.
    for url in (
        "http://127.0.0.1:1/console/audit?subject=19121212-1212",
        "http://127.0.0.1:1/console/audit?subject=191212121212",
        "http://127.0.0.1:1/console/audit/121212%2B1212",
        "http://127.0.0.1:1/console/x?q=1212121212",
    ):
        assert identity_in_url(url), url
    message = "http://127.0.0.1:1/console/messages/0e9d6a2c-4b1f-4c3e-9a7d-123456789012"
    assert not identity_in_url(message)
    assert not identity_in_url("http://127.0.0.1:49101/console/login?expired=1")


def test_signing_in_and_out_by_keyboard_alone(page: Page, world: World) -> None:
    world.add_person("operator.kim", {"operator": ["sdn-farsta"]})
    page.goto("/console/login")
    # The name field takes the focus by itself (autofocus); a busy machine may apply that after
    # the load event, and keys typed before it would go nowhere.
    page.wait_for_function("document.activeElement && document.activeElement.id === 'name'")
    page.keyboard.type("operator.kim")
    page.keyboard.press("Tab")
    page.wait_for_function("document.activeElement && document.activeElement.id === 'password'")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")  # the skip link moves the focus to the content
    assert page.evaluate("document.activeElement.id") == "main"
    page.focus("header form[action='/console/logout'] button")
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/login?out=1")
