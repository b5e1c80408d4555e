"""The overview's figures and alerts from a real hub on SQLite and PostgreSQL (the spine: a
real HTTP double, the relay run pass by pass under a clock the test moves): messages per
district, type and destination, latency percentiles, retries, dead letters; the three alerts
appear when their condition holds and go when it ends; another district's principal sees none
of it; the window's count is read from an index."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from sqlalchemy import text

from hub.api.metrics import metrics_registry, render
from hub.errors import AuthenticationError, Forbidden, InputError
from hub.services.overview import alerts, overview, overview_principal, percentile
from hub.services.principal import Kind, Principal
from hub.services.users import Person
from hub.storage import overview as rows
from tests.integration.spine import DESTINATION, DISTRICT, Spine, close_spine, open_spine

OPERATOR = Principal.operator("operator:test")
NORR = Principal("operator:norr", Kind.OPERATOR, frozenset({"sdn-norr"}))


def _kinds(spine: Spine, principal: Principal = OPERATOR) -> dict[str, int]:
    return {a.kind: a.count for a in alerts(spine.hub, principal)}


def test_figures_per_district_type_and_destination(spine: Spine) -> None:
    ok = spine.send(3, prefix="ok")
    spine.clock.advance(1.5)  # delivered one and a half seconds after acceptance
    spine.hub.relay.run_once()
    spine.double.set_mode("unavailable")
    spine.send(1, prefix="retry")
    spine.hub.relay.run_once()  # 503: retrying
    spine.double.set_mode("up")
    spine.clock.advance(20)
    spine.hub.relay.run_once()  # delivered at the second attempt
    spine.double.set_mode("reject")
    spine.send(2, prefix="dead")
    spine.hub.relay.run_once()
    assert spine.states(ok) == ["delivered"] * 3

    seen = overview(spine.hub, OPERATOR, hours=1)
    assert [(s.name, s.total) for s in seen.by_district] == [(DISTRICT, 6)]
    assert [(s.name, s.total) for s in seen.by_type] == [("case.referral", 6)]
    assert [(s.name, s.total) for s in seen.by_destination] == [(DESTINATION, 6)]
    assert seen.messages == 6
    assert len(seen.starts) == len(seen.dead.values) == 12  # five-minute bars over an hour
    assert seen.dead.total == 2
    assert seen.retries.total == 1
    (figures,) = seen.destinations
    assert (figures.delivered, figures.dead, figures.waiting, figures.retries) == (4, 2, 0, 1)
    assert figures.latency[50] == 2  # three of four took 1.5 s (the class up to 2 s)
    assert figures.latency[99] == 30  # the retried one: 20 s

    hidden = overview(spine.hub, NORR, hours=24)
    assert hidden.messages == 0
    assert hidden.destinations == ()
    with pytest.raises(InputError):
        overview(spine.hub, OPERATOR, hours=5)
    with pytest.raises(AuthenticationError):
        overview(spine.hub, Principal.system("aldre-direkt"))


def test_the_alerts_come_and_go(spine: Spine) -> None:
    hub = spine.hub
    spine.send(1, prefix="first")
    hub.relay.run_once()  # delivered, and a checkpoint signed
    assert _kinds(spine) == {}

    spine.double.set_mode("unavailable")
    waiting = spine.send(2, prefix="down")
    hub.relay.run_once()
    minutes = hub.settings.alert_destination_down_minutes
    spine.clock.advance(minutes * 60 - 5)
    hub.relay.run_once()
    assert "destination_down" not in _kinds(spine)
    spine.clock.advance(10)
    hub.relay.run_once()
    assert _kinds(spine)["destination_down"] == 2
    registry, _ = metrics_registry(hub)
    scraped = render(registry).decode()
    assert f'omsorgshub_alerts{{kind="destination_down",subject="{DESTINATION}"}} 2.0' in scraped
    assert "destination_down" not in _kinds(spine, NORR)  # not its district's deliveries

    spine.double.set_mode("reject")
    spine.send(hub.settings.alert_dead_letters_min, prefix="dead")
    spine.clock.advance(60)
    hub.relay.run_once()  # the waiting two are rejected too: seven dead in the window
    assert spine.states(waiting) == ["dead", "dead"]
    found = _kinds(spine)
    assert found["dead_letters_rising"] == hub.settings.alert_dead_letters_min + 2
    assert "destination_down" not in found  # nothing is retrying any more
    assert "dead_letters_rising" not in _kinds(spine, NORR)
    spine.clock.advance(hub.settings.alert_dead_letters_minutes * 60)
    assert "dead_letters_rising" not in _kinds(spine)  # fewer than in the window before

    spine.send(1, prefix="unsigned")  # appended, not yet in a checkpoint: no relay pass
    spine.clock.advance(hub.settings.alert_checkpoint_overdue_seconds + 1)
    assert _kinds(spine)["checkpoint_overdue"] >= 1
    assert "checkpoint_overdue" in _kinds(spine, NORR)  # the trail is one for every district
    hub.relay.run_once()
    assert "checkpoint_overdue" not in _kinds(spine)


def test_a_person_sees_the_districts_of_every_role_it_holds() -> None:
    both = Person("kim", "Kim", roles={"dpo": frozenset({"a"}), "district_admin": frozenset({"b"})})
    assert overview_principal(both).districts == frozenset({"a", "b"})
    admin = Person("hub", "Hub", roles={"hub_admin": frozenset({"*"})})
    assert overview_principal(admin).districts is None
    with pytest.raises(Forbidden):
        overview_principal(Person("none", "None"))


def test_percentiles_from_the_histogram() -> None:
    assert percentile([], 50) is None
    assert percentile([(0, 98), (5, 1), (12, 1)], 50) == 0.1
    assert percentile([(0, 98), (5, 1), (12, 1)], 99) == 5
    assert percentile([(0, 98), (5, 1), (12, 1)], 100) == math.inf


def test_a_window_s_messages_are_counted_from_an_index(tmp_path: Path) -> None:
    """SQLite's plan (PostgreSQL's planner picks by statistics a tiny table does not have)."""
    spine = open_spine(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        spine.send(1)
        with spine.hub.reader.connect() as conn:
            for scope in (frozenset({DISTRICT, "sdn-norr"}), None):  # a person's; all
                query = rows.message_counts_query(conn, spine.clock(), 300, scope)
                compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
                found = conn.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
                plan = " ".join(str(r[-1]) for r in found)
                assert "COVERING INDEX ix_messages_overview (district=? AND received_at>?)" in plan
    finally:
        close_spine(spine)
