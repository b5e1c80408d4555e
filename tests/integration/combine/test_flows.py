"""Visits to Pulsen Combine (its double as its own process), the compensation basis back to
each provider only, and the continuity and follow-up figures against an independent count."""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import httpx
import pytest
from lxml import etree

from adapters.doubles.combine_double import CombineDouble
from audit.search import AuditQuery, search
from hub.demo.fictional import FictionalPeople
from hub.demo.homecare import (
    RECEIVERS,
    PlannedVisit,
    approve,
    fortnight,
    store_checked,
    visit_envelope,
)
from hub.demo.scenario import TIME_APP
from hub.guards import AuditAction
from hub.services.agreements import register_system
from hub.services.compensation import deliver_compensation
from hub.services.homecare_stats import client_continuity, continuity, reported_time
from hub.services.principal import Principal
from hub.services.timereport_approval import decide_batch
from tests.integration.api_server import problem_of, serve
from tests.integration.combine.world import DISTRICT, ZONE, CombineWorld, combine_world

FIRST = date(2026, 11, 1)
PERIOD = "2026-11-01..2026-11-14"
BASIS_NS = "{urn:omsorgshub:timereport.compensation_basis:1}"
OFFICER = Principal.operator("officer-test")


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[CombineWorld]:
    with combine_world(tmp_path, database_url) as made:
        yield made


def _send(world: CombineWorld, visits: list[PlannedVisit]) -> list[str]:
    # generated history, stored as checked time (the checks: tests/integration/test_timereports*)
    return store_checked(world.hub, TIME_APP, [visit_envelope(v, DISTRICT, ZONE) for v in visits])


def _visits(clients: int, days: int = 14, seed: int = 4) -> list[PlannedVisit]:
    people = FictionalPeople(seed, kind="personnummer").take(clients)
    return fortnight(people, FIRST, random.Random(seed), days=days, zone=ZONE)


def test_approved_visits_reach_combine_once_and_the_basis_only_its_provider(
    world: CombineWorld,
) -> None:
    visits = _visits(6, days=3)
    _send(world, visits)
    world.relay_until_quiet()
    assert world.imports() == {}  # held until each provider approves its batch
    assert approve(world.hub, visits, "test") == 2
    world.relay_until_quiet()
    imports = world.imports()
    assert len(imports) == len(visits)
    assert {i["visit"]["externalVisitId"] for i in imports.values()} == {
        v.visit.visit_id for v in visits
    }
    _send(world, visits)  # the apps send again: repeats, nothing new reaches Combine
    world.relay_until_quiet()
    assert world.imports() == imports

    run = deliver_compensation(world.hub, OFFICER, district=DISTRICT, month="2026-11")
    assert {o.provider: o.state for o in run.outcomes} == dict.fromkeys(RECEIVERS, "delivered")
    with world.hub.reader.connect() as conn:  # the fetch is audited once per client named
        queried = search(conn, AuditQuery(action=AuditAction.QUERIED))
    hmacs = world.hub.guards.hmacs
    assert sorted(e.subject_ref or "" for e in queried) == sorted(
        hmacs.subject_ref(c) for c in {v.client for v in visits}
    )
    world.relay_until_quiet()
    for provider, destination in RECEIVERS.items():
        documents = list(world.receivers[destination].documents().values())
        assert len(documents) == 1, destination
        basis = etree.fromstring(documents[0])
        assert basis.findtext(f"{BASIS_NS}ProviderId") == provider
        clients = {c.text.replace("-", "") for c in basis.iter(f"{BASIS_NS}Client") if c.text}
        mine = {v.client for v in visits if v.provider == provider}
        assert clients == mine  # every client of this provider, and no one else's
        minutes = sum(int(line.get("minutes", "0")) for line in basis.iter(f"{BASIS_NS}Line"))
        expected = sum(
            int((v.visit.actual_end - v.visit.actual_start).total_seconds() // 60)
            for v in visits
            if v.provider == provider
        )
        assert minutes == expected

    again = deliver_compensation(world.hub, OFFICER, district=DISTRICT, month="2026-11")
    assert {o.state for o in again.outcomes} == {"repeat"}
    world.relay_until_quiet()
    assert all(d.unique == 1 for d in world.receivers.values())


def test_a_basis_no_agreement_allows_is_neither_fetched_nor_sent(world: CombineWorld) -> None:
    visits = _visits(2, days=1)
    _send(world, visits)
    approve(world.hub, visits, "test")
    world.relay_until_quiet()
    run = deliver_compensation(
        world.hub, OFFICER, district="sdn-farsta", month="2026-11", providers=["prov-testvard"]
    )
    (outcome,) = run.outcomes
    assert outcome.state == "failed"
    assert outcome.reason is not None
    assert all(d.unique == 0 for d in world.receivers.values())


def _independent(visits: list[PlannedVisit], first: date, last: date) -> dict[str, set[str]]:
    staff: dict[str, set[str]] = defaultdict(set)
    for v in visits:
        if first <= v.day <= last:
            staff[v.client].add(v.visit.staff_id)
            if v.visit.second_staff_id:
                staff[v.client].add(v.visit.second_staff_id)
    return staff


def test_continuity_of_a_fortnight_matches_an_independent_count(world: CombineWorld) -> None:
    visits = _visits(12, days=16)  # two days beyond the period: not counted
    _send(world, visits)
    expected = _independent(visits, FIRST, date(2026, 11, 14))
    hmacs = world.hub.guards.hmacs
    by_ref = {hmacs.subject_ref(client)[:16]: len(s) for client, s in expected.items()}

    listed = continuity(world.hub, OFFICER, PERIOD, per="client")
    assert {c.client_ref: c.staff for c in listed.clients} == by_ref

    provider_of = {v.client: v.provider for v in visits}
    for group in continuity(world.hub, OFFICER, PERIOD, per="provider").groups:
        counts = [len(s) for c, s in expected.items() if provider_of[c] == group.provider]
        assert group.clients == len(counts)
        assert group.max == max(counts)
        assert group.mean == _one(Decimal(sum(counts)) / len(counts))
        assert group.median == _one(Decimal(str(statistics.median(counts))))
    (district,) = continuity(world.hub, OFFICER, PERIOD).groups
    assert (district.district, district.clients) == (DISTRICT, 12)

    someone = visits[0]
    (figure,) = client_continuity(
        world.hub, OFFICER, PERIOD, someone.visit.client.formatted(), reason="case review"
    )
    assert figure.staff == len(expected[someone.client])


def test_small_groups_are_suppressed(world: CombineWorld) -> None:
    _send(world, _visits(2, days=2))
    groups = continuity(world.hub, OFFICER, PERIOD, per="provider").groups
    assert groups
    assert all(g.suppressed and g.mean is None for g in groups)


def test_follow_up_of_reported_time(tmp_path: Path, database_url: str) -> None:
    visits = _visits(4, days=3)
    # Received on 5 November: the visits of the 1st are 4 days old (late, over 3 days), those
    # of the 2nd exactly 3 (not late).
    with combine_world(tmp_path, database_url, datetime(2026, 11, 5, 12, tzinfo=UTC)) as world:
        _send(world, visits)
        rows = {r.provider: r for r in reported_time(world.hub, OFFICER, "2026-11")}
    for provider in RECEIVERS:
        mine = [v.visit for v in visits if v.provider == provider]
        row = rows[provider]
        assert row.visits == len(mine)
        planned = [(v.planned_start, v.planned_end) for v in mine]
        assert row.planned_minutes == sum(
            int((end - start).total_seconds() // 60) for start, end in planned if start and end
        )
        assert row.reported_minutes == sum(
            int((v.actual_end - v.actual_start).total_seconds() // 60) for v in mine
        )
        manual = sum(1 for v in mine if v.confirmation == "manual")
        assert row.manual_percent == _one(Decimal(100 * manual) / len(mine))
        late = [v for v in visits if v.provider == provider and v.day == FIRST]
        assert row.late == len(late)
        assert row.late_percent == _one(Decimal(100 * len(late)) / len(mine))


def _one(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def test_the_api_gives_continuity_to_an_admin_of_the_district_only(world: CombineWorld) -> None:
    visits = _visits(6, days=14)
    _send(world, visits)
    own = register_system(world.hub, "sod-admin", "admin", "test", "admin", districts=[DISTRICT])
    other = register_system(
        world.hub, "far-admin", "admin", "test", "admin", districts=["sdn-farsta"]
    )
    server = serve(world.hub)
    try:

        def get(token: str, **params: str) -> httpx.Response:
            return httpx.get(
                f"{server.url}/api/v1/stats/continuity",
                params={"period": PERIOD, **params},
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
                trust_env=False,
            )

        answer = get(own, per="provider")
        assert answer.status_code == 200, answer.text
        groups = {g["provider"]: g for g in answer.json()["groups"]}
        assert set(groups) == set(RECEIVERS)
        assert all(g["clients"] == 3 and not g["suppressed"] for g in groups.values())
        listed = get(own, per="client").json()["clients"]
        assert len(listed) == 6  # six clients, one provider each
        assert all(v.visit.client.canonical not in str(listed) for v in visits)
        with world.hub.reader.connect() as conn:
            viewed = search(conn, AuditQuery(action=AuditAction.VIEWED))
        assert len(viewed) == 6
        assert {e.subject_ref for e in viewed} == {
            world.hub.guards.hmacs.subject_ref(v.client) for v in visits
        }
        assert get(other, per="provider").json()["groups"] == []
        followup = httpx.get(
            f"{server.url}/api/v1/stats/followup",
            params={"month": "2026-11"},
            headers={"Authorization": f"Bearer {own}"},
            timeout=30,
            trust_env=False,
        )
        assert followup.status_code == 200, followup.text
        counted = {p["provider"]: p["visits"] for p in followup.json()["providers"]}
        assert counted == {p: sum(1 for v in visits if v.provider == p) for p in RECEIVERS}
        problem_of(get(other, district=DISTRICT), 404, "not_found")
        problem_of(get(own, period="2026-11-14..2026-11-01"), 422, "invalid_period")
    finally:
        server.stop()


def test_rejected_time_counts_in_no_figure(world: CombineWorld) -> None:
    visits = _visits(8, days=14)
    _send(world, visits)
    operator = Principal.operator("test")
    rejected = next(v for v in visits if v.provider == "prov-testvard")
    decide_batch(
        world.hub,
        operator,
        rejected.batch,
        "reject",
        provider="prov-testvard",
        reason="wrong staff",
    )
    groups = continuity(world.hub, OFFICER, PERIOD, per="provider").groups
    assert [(g.provider, g.clients) for g in groups] == [("prov-exempla-omsorg", 4)]
    rows = reported_time(world.hub, OFFICER, "2026-11")
    assert [(r.provider, r.visits) for r in rows] == [
        ("prov-exempla-omsorg", sum(1 for v in visits if v.provider == "prov-exempla-omsorg"))
    ]


class MixedUpCombine(CombineDouble):
    """A Combine that answers every provider with the first provider's basis."""

    def basis(self, provider: str, month: str) -> dict[str, object]:
        return super().basis(sorted(RECEIVERS)[0], month)


def test_a_basis_of_another_provider_is_never_delivered(tmp_path: Path, database_url: str) -> None:
    with combine_world(tmp_path, database_url, combine=MixedUpCombine()) as world:
        visits = _visits(6, days=2)
        _send(world, visits)
        approve(world.hub, visits, "test")
        world.relay_until_quiet()
        run = deliver_compensation(world.hub, OFFICER, district=DISTRICT, month="2026-11")
        outcomes = {o.provider: o for o in run.outcomes}
        first, second = sorted(RECEIVERS)
        assert outcomes[first].state == "delivered"
        assert (outcomes[second].state, outcomes[second].reason) == (
            "failed",
            "basis_provider_mismatch",
        )
        world.relay_until_quiet()
        assert world.receivers[RECEIVERS[first]].unique == 1
        assert world.receivers[RECEIVERS[second]].unique == 0


def test_the_command_line_pulls_the_basis_and_writes_continuity_csv(world: CombineWorld) -> None:
    from click.testing import CliRunner

    from hub.cli.main import cli, register_subcommands

    register_subcommands()
    settings = world.hub.settings
    env = {
        "OMSORGSHUB_HOME": str(settings.home),
        "OMSORGSHUB_COMPENSATION_RECEIVERS": settings.compensation_receivers,
    }
    if settings.database_url:
        env["OMSORGSHUB_DATABASE_URL"] = settings.database_url

    def run(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(cli, ["--as", "operator:officer", *args], env=env)
        assert result.exit_code == code, result.output
        return result.output

    visits = _visits(6, days=14)
    _send(world, visits)
    approve(world.hub, visits, "test")
    world.relay_until_quiet()
    said = run("timereports", "compensation", "--month", "2026-11", "--district", DISTRICT)
    assert said.count(" delivered ") == 2, said
    world.clock.advance(60)  # the command's hub stamped the deliveries with the real clock
    world.relay_until_quiet()
    assert all(d.unique == 1 for d in world.receivers.values())

    csv_text = run("stats", "continuity", "--period", PERIOD, "--per", "provider")
    lines = csv_text.strip().splitlines()
    assert lines[0] == "period,district,provider,clients,mean,median,max"
    assert [line.split(",")[2:4] for line in lines[1:]] == [[p, "3"] for p in sorted(RECEIVERS)]
    someone = visits[0]
    expected = _independent(visits, FIRST, date(2026, 11, 14))[someone.client]
    one = run(
        "stats", "continuity", "--period", PERIOD, "--client",
        someone.visit.client.formatted(), "--reason", "complaint 2026-11",
    )  # fmt: skip
    assert one.strip().splitlines()[1].endswith(f",{someone.provider},{len(expected)}")
    assert "invalid_period" in run("stats", "continuity", "--period", "soon", code=2)


def test_a_visit_whose_payload_ended_is_left_out_of_the_follow_up(
    tmp_path: Path, database_url: str
) -> None:
    # What the retention job leaves of a payload (the SHREDDED marker): the month's follow-up
    # counts the visits still kept instead of failing on the one that is gone.
    from sqlalchemy import select, update

    from hub.keys.crypto import SHREDDED
    from hub.storage.tables import messages

    with combine_world(tmp_path, database_url, datetime(2026, 11, 5, 12, tzinfo=UTC)) as world:
        _send(world, _visits(4, days=3))
        before = sum(r.visits for r in reported_time(world.hub, OFFICER, "2026-11"))
        with world.hub.engine.begin() as conn:
            ended = conn.execute(
                select(messages.c.id)
                .where(messages.c.message_type == "timereport.visit")
                .order_by(messages.c.id)
                .limit(1)
            ).scalar_one()
            conn.execute(update(messages).where(messages.c.id == ended).values(ciphertext=SHREDDED))
        after = sum(r.visits for r in reported_time(world.hub, OFFICER, "2026-11"))
    assert before > 1
    assert after == before - 1
