"""The Messages pages in a real browser, against a served hub: an operator finds a dead letter
by its case number (a destination that was down), replays it with a reason and sees it
delivered once the destination is back; the payload view refuses without a reason and audits
the view with it; another district's message is a 404 by URL and absent from every list;
every form refuses a POST without its CSRF token; saved filters are the person's own."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import httpx

from audit.entry import AuditAction
from hub.demo.scenario import DISTRICTS
from hub.services.messages import show_message
from hub.services.principal import Principal
from tests.browser.conftest import refuses_every_form_without_csrf, screenshot, sign_in
from tests.browser.world import World
from tests.integration.api_server import Document, wait_until

if TYPE_CHECKING:
    from playwright.sync_api import Page

SODERMALM, KUNGSHOLMEN = DISTRICTS[0], DISTRICTS[1]
EVERYONE = Principal.operator("operator:test")  # the test's own look at the stored rows


def _case_id(document: Document) -> str:
    found = re.search(rb"CaseId>([^<]+)<", document.body)
    assert found is not None
    return found.group(1).decode()


def _sent(world: World, district: str) -> tuple[str, Document]:
    document = world.referrals.make(district=district)
    answer = world.send(document)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"]), document


def _states(world: World, message_id: str) -> list[str]:
    return [d.state for d in show_message(world.hub, EVERYONE, message_id).deliveries]


def _dead_letter(world: World, district: str) -> tuple[str, Document]:
    """A referral whose destination is down until its attempts run out; the double is up
    again when this returns."""
    world.double_mode("down")
    try:
        message_id, document = _sent(world, district)
        wait_until(lambda: _states(world, message_id) == ["dead"], "the delivery to die", 60)
    finally:
        world.double_mode("up")
    return message_id, document


def _double_requests(world: World) -> int:
    stats = httpx.get(f"{world.double_url}/_stats", timeout=10, trust_env=False).json()
    return int(stats["unique"])


def test_an_operator_finds_a_dead_letter_by_case_number_and_replays_it(
    page: Page, world: World
) -> None:
    world.add_person("op.olle", {"operator": [SODERMALM]})
    message_id, document = _dead_letter(world, SODERMALM)
    stored_before = _double_requests(world)

    sign_in(page, "op.olle")
    page.goto("/console/messages")
    dead_cell = page.locator("tr[data-destination=case-sodermalm] td[data-state=dead]")
    assert int(dead_cell.inner_text()) >= 1
    assert page.locator("meta[http-equiv=refresh]").count() == 1
    screenshot(page, "messages")

    page.goto("/console/messages/search")
    page.select_option("#m-key_name", "case_id")
    page.fill("#m-key_value", _case_id(document))
    page.click("#search-submit")
    rows = page.locator("#results tr[data-message]")
    assert rows.count() == 1
    assert rows.first.get_attribute("data-message") == message_id
    assert rows.first.get_attribute("data-state") == "dead"
    screenshot(page, "messages-search")

    rows.first.locator("a").click()
    page.wait_for_url(f"**/console/messages/{message_id}")
    delivery = page.locator("li[data-delivery]")
    assert delivery.get_attribute("data-state") == "dead"
    attempts = delivery.locator("ol.attempts li").evaluate_all(
        "items => items.map(i => i.dataset.action)"
    )
    assert attempts.count("delivery_failed") >= 1
    assert attempts[-1] == "dead"
    screenshot(page, "messages-detail")

    page.check(f"#pick-{delivery.get_attribute('data-delivery')}")
    page.fill("#replay-reason", "destination back after outage")
    page.click("#replay-submit")
    page.wait_for_url(f"**/console/messages/{message_id}?done=replayed-1-0")
    wait_until(lambda: _states(world, message_id) == ["delivered"], "the replay to deliver", 30)
    page.reload()
    assert page.locator("li[data-delivery]").get_attribute("data-state") == "delivered"
    assert _double_requests(world) == stored_before + 1
    replayed = world.audit(actor="user:op.olle", action=AuditAction.REPLAYED)
    assert [(e.message_id, e.reason) for e in replayed] == [
        (message_id, "destination back after outage")
    ]
    queried = world.audit(actor="user:op.olle", action=AuditAction.QUERIED)
    assert [e.reason for e in queried] == ["message search by case_id: 1 found"]


def test_the_payload_view_needs_a_reason_and_is_audited(page: Page, world: World) -> None:
    world.add_person("op.petra", {"operator": [SODERMALM]})
    message_id, document = _sent(world, SODERMALM)
    sign_in(page, "op.petra")
    page.goto(f"/console/messages/{message_id}")
    page.click("#payload-link")
    page.wait_for_url(f"**/console/messages/{message_id}/payload")
    assert page.locator("#payload").count() == 0
    screenshot(page, "messages-payload-reason")
    with page.expect_response(lambda r: r.request.method == "POST") as refused:
        page.locator("#payload-form").evaluate("form => form.submit()")  # no browser check
    assert refused.value.status == 422
    page.locator("#payload-problem").wait_for()  # the form again, with the problem
    assert page.locator("#payload").count() == 0
    assert world.audit(actor="user:op.petra", action=AuditAction.VIEWED) == []

    page.fill("#payload-reason", "the district asks whether the referral arrived")
    page.click("#payload-submit")
    assert "CaseReferral" in page.locator("#payload").inner_text()
    viewed = world.audit(actor="user:op.petra", action=AuditAction.VIEWED)
    assert viewed
    assert {e.message_id for e in viewed} == {message_id}
    assert {e.reason for e in viewed} == {"the district asks whether the referral arrived"}
    ref = world.hub.guards.hmacs.subject_ref(document.person.identity.canonical)
    assert {e.subject_ref for e in viewed} == {ref}  # the person the view concerned


def test_another_districts_message_is_out_of_reach(page: Page, world: World) -> None:
    world.add_person("op.kalle", {"operator": [SODERMALM]})
    message_id, document = _dead_letter(world, KUNGSHOLMEN)
    sign_in(page, "op.kalle")
    for path in (f"/console/messages/{message_id}", f"/console/messages/{message_id}/payload"):
        answer = page.goto(path)
        assert answer is not None
        assert answer.status == 404, path
    page.goto("/console/messages/search")
    page.select_option("#m-key_name", "case_id")
    page.fill("#m-key_value", _case_id(document))
    page.click("#search-submit")
    assert page.locator("#results caption").get_attribute("data-found") == "0"
    page.goto("/console/messages/dead")
    listed = page.locator("tr[data-message]").evaluate_all("rs => rs.map(r => r.dataset.message)")
    assert message_id not in listed
    page.goto("/console/messages")
    assert page.locator("tr[data-destination=case-kungsholmen]").count() == 0
    # A replay of its delivery by a hand-made POST (with this person's CSRF token) is a 404.
    (delivery,) = show_message(world.hub, EVERYONE, message_id).deliveries
    page.goto("/console/messages/dead")
    page.locator("#replay").evaluate(
        """(form, id) => { const box = document.createElement('input');
           box.type = 'hidden'; box.name = 'delivery_id'; box.value = id; form.append(box);
           form.querySelector('[name=reason]') ||
             form.insertAdjacentHTML('beforeend', '<input name=reason value=x>');
           form.querySelector('[name=reason]').value = 'guessing'; form.submit(); }""",
        delivery.id,
    )
    page.locator("[data-reason=not_found]").wait_for()
    assert _states(world, message_id) == ["dead"]
    world.add_person("dpo.dora", {"dpo": [SODERMALM]})
    page.context.clear_cookies()
    sign_in(page, "dpo.dora")
    denied = page.goto("/console/messages")
    assert denied is not None
    assert denied.status == 403


def test_forms_refuse_a_post_without_csrf_and_saved_filters_are_ones_own(
    page: Page, world: World
) -> None:
    world.add_person("op.siv", {"operator": [SODERMALM]})
    message_id, _ = _dead_letter(world, SODERMALM)
    sign_in(page, "op.siv")
    page.goto("/console/messages/search")
    page.select_option("#m-state", "dead")
    page.fill("#m-save_name", "döda hos mig")
    page.click("#save-filter")
    page.wait_for_url("**/console/messages/search?done=saved")
    page.click("#saved a")
    assert page.locator("#m-state").input_value() == "dead"
    found = page.locator("#results tr[data-message]").evaluate_all(
        "rs => rs.map(r => r.dataset.message)"
    )
    assert message_id in found
    screenshot(page, "messages-saved")
    assert refuses_every_form_without_csrf(page, "/console/messages/search") == 4
    assert refuses_every_form_without_csrf(page, "/console/messages/dead") == 3
    assert refuses_every_form_without_csrf(page, f"/console/messages/{message_id}") == 3
    assert refuses_every_form_without_csrf(page, f"/console/messages/{message_id}/payload") == 3
    for path in ("/console/messages/replay", "/console/messages/filters"):
        answer = page.request.post(path, form={"reason": "x", "delivery_id": "y"})
        assert answer.status == 403, path
    assert _states(world, message_id) == ["dead"]

    world.add_person("op.tore", {"operator": [SODERMALM]})
    page.context.clear_cookies()
    sign_in(page, "op.tore")
    page.goto("/console/messages/search")
    assert page.locator("#saved li[data-filter]").count() == 0
    page.goto("/console/messages/dead")
    screenshot(page, "messages-dead")
