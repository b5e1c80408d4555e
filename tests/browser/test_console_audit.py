"""The Audit pages in a real browser, against a served hub: a data-protection officer searches
the trail by a person (the number typed into a POSTed form, never in a URL the browser
visited), opens an entry, sees the trail's state, downloads the art. 15 extract as PDF and CSV;
each of these is audited with the person as actor; another district's officer finds nothing
and reaches no entry; a form without its CSRF token is refused."""

from __future__ import annotations

from typing import TYPE_CHECKING

from audit.entry import AuditAction
from audit.search import AuditQuery, search
from hub.demo.scenario import DISTRICTS
from tests.browser.conftest import refuses_every_form_without_csrf, screenshot, sign_in
from tests.browser.world import World

if TYPE_CHECKING:
    from playwright.sync_api import Page

SODERMALM, FARSTA = DISTRICTS[0], DISTRICTS[2]
SEARCH = "button[name=do][value=search]"


def _entries(world: World, actor: str) -> list[tuple[str, str]]:
    with world.hub.reader.connect() as conn:
        found = search(conn, AuditQuery(actor=actor))
    return [(e.action, e.reason or "") for e in found]


def test_a_dpo_searches_by_person_and_downloads_the_extract(page: Page, world: World) -> None:
    world.add_person("dpo.erik", {"dpo": [SODERMALM]})
    document = world.referrals.make(district=SODERMALM)
    assert world.send(document).status_code == 202
    number = document.person.identity
    visited: list[str] = []
    page.on("request", lambda request: visited.append(request.url))

    sign_in(page, "dpo.erik")
    page.goto("/console/audit")
    assert page.locator("dd[data-verified]").get_attribute("data-verified") == "never"
    page.click("#verify")
    page.wait_for_url("**/console/audit")
    assert page.locator("dd[data-verified]").get_attribute("data-verified") == "ok"
    screenshot(page, "audit")
    page.fill("#a-subject", number.formatted())
    page.click(SEARCH)
    rows = page.locator("tr[data-seq]")
    assert rows.count() >= 1
    assert set(rows.locator("td:nth-child(5)").all_inner_texts()) == {SODERMALM}
    assert "received" in rows.locator("td:nth-child(4)").all_inner_texts()
    screenshot(page, "audit-results")

    seq = rows.first.get_attribute("data-seq")
    rows.first.locator("a").click()
    page.wait_for_url(f"**/console/audit/entries/{seq}")
    assert page.locator("dl[data-seq]").get_attribute("data-seq") == seq
    screenshot(page, "audit-entry")

    page.goto("/console/audit")
    page.fill("#a-subject", number.formatted())
    with page.expect_download() as pdf:
        page.click("button[name=do][value=pdf]")
    assert pdf.value.suggested_filename.endswith(".pdf")
    assert pdf.value.path().read_bytes().startswith(b"%PDF")
    with page.expect_download() as csv:
        page.click("button[name=do][value=csv]")
    text = csv.value.path().read_text(encoding="utf-8")
    assert text.startswith("time_utc,action")
    assert "received" in text
    assert number.canonical not in text

    mine = _entries(world, "user:dpo.erik")
    searched = [r for a, r in mine if a == AuditAction.AUDIT_SEARCHED]
    assert len(searched) == 2  # the search and the entry viewed
    assert AuditAction.AUDIT_VERIFIED in [a for a, _ in mine]
    assert f"entry {seq} viewed" in searched
    exported = [r for a, r in mine if a == AuditAction.EXPORTED]
    assert len(exported) == 2
    assert any("pdf" in r for r in exported)
    assert any("csv" in r for r in exported)

    assert visited
    digits = number.canonical
    for url in visited:
        assert number.formatted() not in url, url
        assert digits not in url, url
        assert digits[2:] not in url, url
    logs = [p for p in (world.home.parent / "logs").iterdir() if p.is_file()]
    assert logs
    for log in logs:  # the served hub's own log (requests, events) and the double's
        text = log.read_text(encoding="utf-8", errors="replace")
        assert digits[2:] not in text, log
        assert number.formatted() not in text, log


def test_another_districts_officer_finds_nothing_and_reaches_no_entry(
    page: Page, world: World
) -> None:
    world.add_person("dpo.frida", {"dpo": [FARSTA]})
    document = world.referrals.make(district=SODERMALM)
    assert world.send(document).status_code == 202
    with world.hub.reader.connect() as conn:
        ref = world.hub.guards.hmacs.subject_ref(document.person.identity.canonical)
        (received,) = search(conn, AuditQuery(subject_ref=ref, action=AuditAction.RECEIVED))
    sign_in(page, "dpo.frida")
    page.goto("/console/audit")
    page.fill("#a-subject", document.person.identity.formatted())
    page.click(SEARCH)
    assert page.locator("caption[data-found]").get_attribute("data-found") == "0"
    answer = page.goto(f"/console/audit/entries/{received.seq}")
    assert answer is not None
    assert answer.status == 404
    unknown = page.goto("/console/audit/entries/987654321")
    assert unknown is not None
    assert unknown.status == 404
    page.goto("/console/audit")
    page.fill("#a-subject", document.person.identity.formatted())
    with page.expect_download() as csv:
        page.click("button[name=do][value=csv]")
    assert csv.value.path().read_text(encoding="utf-8").count("\n") == 1  # the header only


def test_the_search_refuses_a_post_without_its_csrf_token_and_an_agreement_admin(
    page: Page, world: World
) -> None:
    world.add_person("dpo.gun", {"dpo": [SODERMALM]})
    sign_in(page, "dpo.gun")
    for path in ("/console/audit/search", "/console/audit/verify"):
        answer = page.request.post(path, form={"actor": "x", "do": "search"})
        assert answer.status == 403, path
        assert "csrf_token_invalid" in answer.text(), path
    assert refuses_every_form_without_csrf(page, "/console/audit") == 4  # with the header's two
    assert [a for a, _ in _entries(world, "user:dpo.gun")] == [AuditAction.SIGNED_IN]
    world.add_person("admin.hans", {"district_admin": [SODERMALM]})
    page.context.clear_cookies()
    sign_in(page, "admin.hans")
    denied = page.goto("/console/audit")
    assert denied is not None
    assert denied.status == 403
