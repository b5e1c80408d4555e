"""Fixtures of the browser tests: a real hub (``tests/browser/world.py``), Debian's Chromium
driven by Playwright, signing in, and screenshots for the documentation.

Playwright cannot download its own browser here; it launches ``/usr/bin/chromium`` (Debian's
``chromium`` package, which ``.ci/run`` installs). Without Playwright or Chromium the tests
skip, saying which is missing; in CI (``CI=true``) that skip fails the run, as for every server
(``tests/servers.py``, ``tests/conftest.py``).

The hub is started once per test module (a few seconds); each test gets a browser context of
its own, so cookies never leak from one test to the next. Names of people should be unique per
module (``World.add_person``).
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

import pytest

from hub.console.web import CSRF_FIELD
from tests.browser.world import PASSWORD, World, start_world
from tests.e2e.processes import Processes
from tests.servers import in_ci

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path(os.environ.get("OMSORGSHUB_TEST_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"
# Every run takes the screenshots; only a run asked to refresh the documentation's copies
# writes them into docs/console/ (otherwise each test run would leave the tree changed).
REFRESH_DOCS = os.environ.get("OMSORGSHUB_TEST_SCREENSHOTS") == "docs"


def _missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "Playwright for Python is not installed (pip install -e '.[test]')"
    if not CHROMIUM.exists():
        return f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    missing = _missing()
    if missing:
        if in_ci():
            pytest.fail(f"browser tests: {missing}; in CI .ci/run installs it", pytrace=False)
        pytest.skip(f"browser tests: {missing}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[World]:
    """One hub per test module, served by its own process (stopped at the module's end)."""
    yield from served_world(tmp_path_factory)


def served_world(
    tmp_path_factory: pytest.TempPathFactory, case_systems: Mapping[str, str] | None = None
) -> Iterator[World]:
    """The ``world`` fixture's body, for a module whose world needs case systems too."""
    folder = tmp_path_factory.mktemp("console")
    with Processes(folder / "logs") as procs:
        made = start_world(folder / "hub", procs, case_systems)
        try:
            yield made
        finally:
            made.hub.close()


# An identity number (personnummer, samordningsnummer, CPR) in any form, with or without
# century and separator: none may ever appear in a URL the console's pages lead to. The hub's
# own ids (UUIDs) are taken out first: their last group may be twelve digits by chance.
IDENTITY_IN_URL = re.compile(r"(?<!\d)(\d{2})?\d{6}[-+]?\d{4}(?!\d)")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


def identity_in_url(url: str) -> bool:
    return IDENTITY_IN_URL.search(_UUID.sub("", unquote(url.split("//", 1)[-1]))) is not None


@pytest.fixture
def page(browser: Browser, world: World) -> Iterator[Page]:
    """A fresh browser context (no cookies) on the world's hub. Every URL the page requests is
    recorded; at the end of the test none may hold an identity number."""
    context = browser.new_context(
        base_url=world.url, viewport={"width": 1280, "height": 800}, locale="sv-SE"
    )
    context.set_default_timeout(15_000)
    opened = context.new_page()
    requested: list[str] = []
    opened.on("request", lambda request: requested.append(request.url))
    yield opened
    context.close()
    leaking = [u for u in requested if identity_in_url(u)]
    assert leaking == [], "an identity number in a URL"


def refuses_every_form_without_csrf(page: Page, path: str) -> int:
    """Submit each form of the page at ``path`` with its CSRF field removed: every one must be
    refused (403, ``csrf_token_invalid``) before it acts. Returns how many forms there were."""
    page.goto(path)
    count = page.locator("form[method=post]").count()
    for i in range(count):
        page.goto(path)
        form = page.locator("form[method=post]").nth(i)
        form.locator(f"input[name={CSRF_FIELD}]").evaluate("field => field.remove()")
        with page.expect_response(lambda r: r.request.method == "POST") as answer:
            form.evaluate("form => form.submit()")  # no browser-side validation
        assert answer.value.status == 403, (path, i, answer.value.status)
        page.locator("[data-reason=csrf_token_invalid]").wait_for()  # the refusal's page
    return count


def sign_in(page: Page, name: str, password: str = PASSWORD) -> None:
    """Sign in through the login form; asserts the home page is reached."""
    page.goto("/console/login")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/")


def screenshot(page: Page, name: str) -> Path:
    """Take the page as ``<name>.png``: into ``docs/console/`` (linked from the README) when
    ``OMSORGSHUB_TEST_SCREENSHOTS=docs``, else into a temporary folder."""
    folder = SCREENSHOTS if REFRESH_DOCS else _scratch()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 0, path
    return path


def _scratch() -> Path:
    import tempfile

    return Path(tempfile.gettempdir()) / "omsorgshub-console-screenshots"
