"""The overview on the console's start page, in a real browser against a served hub: messages
sent over the HTTP API show up per district, type and destination, with latency percentiles
and dead letters; five deliveries refused by the destination raise the dead-letters alert; an
operator of another district sees none of it; another window is a link away. Screenshot."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from hub.demo.scenario import DISTRICTS
from hub.envelope import DeliveryState
from hub.storage import messages as message_rows
from tests.browser.conftest import screenshot, sign_in
from tests.browser.world import World

if TYPE_CHECKING:
    from playwright.sync_api import Page

SODERMALM, KUNGSHOLMEN = DISTRICTS[0], DISTRICTS[1]
FINAL = {DeliveryState.DELIVERED.value, DeliveryState.DEAD.value}


def _settled(world: World, expected: int, within: float = 60) -> None:
    """Wait until ``expected`` deliveries are delivered or dead (the served hub's worker)."""
    deadline = time.monotonic() + within
    while True:
        with world.hub.reader.connect() as conn:
            counts = message_rows.count_by_state(conn)
        done = sum(n for states in counts.values() for s, n in states.items() if s in FINAL)
        if done >= expected:
            return
        assert time.monotonic() < deadline, counts
        time.sleep(0.1)


def _send(world: World, district: str, count: int) -> None:
    for _ in range(count):
        answer = world.send(world.referrals.make(district=district))
        assert answer.status_code == 202, answer.text


def test_an_operator_sees_the_traffic_and_the_alerts_of_its_district(
    page: Page, world: World
) -> None:
    world.add_person("operator.olle", {"operator": [SODERMALM]})
    _send(world, SODERMALM, 4)
    _send(world, KUNGSHOLMEN, 2)
    _settled(world, 6)
    world.double_mode("reject", times=5)  # the destination refuses: five dead letters
    _send(world, SODERMALM, 5)
    _settled(world, 11)

    sign_in(page, "operator.olle")
    overview = page.locator("section.overview")
    assert overview.locator(".totals").get_attribute("data-messages") == "9"
    districts = page.locator("[data-chart='overview.by_district'] tr[data-series]")
    assert districts.evaluate_all("rs => rs.map(r => r.dataset.series)") == [SODERMALM]
    types = page.locator("[data-chart='overview.by_type'] tr[data-series]")
    assert types.evaluate_all("rs => rs.map(r => r.dataset.series)") == ["case.referral"]
    row = page.locator("tr[data-destination='case-sodermalm']")
    assert row.locator("[data-dead]").inner_text() == "5"
    assert row.locator("[data-p='50']").inner_text().startswith("≤")
    assert page.locator("tr[data-destination='case-kungsholmen']").count() == 0
    alert = page.locator("[data-alert='dead_letters_rising']")
    assert "Döda brev ökar: 5 leveranser" in alert.inner_text()
    assert page.locator("svg.chart").count() == 5  # three flows, failures, latency
    screenshot(page, "overview")

    page.click("a[data-hours='1']")
    page.wait_for_url("**/console/?hours=1")
    assert page.locator("a[data-hours='1']").get_attribute("aria-current") == "true"
    assert page.locator(".totals").get_attribute("data-messages") == "9"
    bad = page.goto("/console/?hours=5")
    assert bad is not None
    assert bad.status == 422
    assert page.locator("[data-reason=window_invalid]").count() == 1


def test_another_district_and_a_person_without_a_role(page: Page, world: World) -> None:
    world.add_person("operator.kaj", {"operator": [KUNGSHOLMEN], "dpo": ["sdn-farsta"]})
    _send(world, KUNGSHOLMEN, 1)
    sign_in(page, "operator.kaj")
    scope = page.locator("section.overview .scope").inner_text()
    assert "sdn-farsta, sdn-kungsholmen" in scope  # every district it holds a role in
    series = page.locator("[data-chart='overview.by_district'] tr[data-series]")
    assert SODERMALM not in series.evaluate_all("rs => rs.map(r => r.dataset.series)")
    assert page.locator("[data-alert='dead_letters_rising']").count() == 0

    page.click("header form[action='/console/logout'] button")
    world.add_person("nobody.nils", {})
    sign_in(page, "nobody.nils")
    assert page.locator("section.overview").count() == 0
    assert "ingen roll" in page.locator("main").inner_text()
