"""The log review API over real HTTP with a data-protection officer's token: draw a sample,
list it, decide, a second verdict 409 unless it amends, the coverage report; another
district's token sees nothing (404), a system's token is no DPO's (401)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import httpx

from audit.entry import AuditAction, AuditEvent
from hub.demo.scenario import CONTACT_CENTRE, DISTRICTS
from hub.services.systems import register_system
from hub.services.users import add_user, grant
from tests.integration.api_server import PROBLEM, ApiServer

SODERMALM, NORR = DISTRICTS[0], "sdn-norr"
ZONE = ZoneInfo("Europe/Stockholm")
DAY = datetime(2026, 11, 11).date()  # a Wednesday


def client(api: ApiServer, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{api.url}/api/v1/review",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
        trust_env=False,
    )


def test_a_dpo_token_samples_decides_and_reports(api: ApiServer) -> None:
    add_user(api.hub, "test", "dpo.vera", "DPO (fictional)", None)
    grant(api.hub, "test", "dpo.vera", "dpo", [SODERMALM])
    mine = register_system(api.hub, "dpo-tool", "(test)", "test", role="dpo", districts=[SODERMALM])
    theirs = register_system(api.hub, "dpo-norr", "(test)", "test", role="dpo", districts=[NORR])
    events = [
        AuditEvent(
            action=AuditAction.VIEWED,
            actor="user:officer.test",
            district=SODERMALM,
            subject_ref=f"hapi{h}",
            at=datetime.combine(DAY, time(h), ZONE).astimezone(UTC),
        )
        for h in (3, 9, 10, 11)
    ]
    with api.hub.engine.begin() as conn:
        api.hub.guards.record(conn, events)
    body = {
        "district": SODERMALM,
        "first_day": "2026-11-09",
        "last_day": "2026-11-13",
        "assign_to": "dpo.vera",
        "random": 1,
    }
    with client(api, mine) as dpo, client(api, theirs) as other:
        absent = other.post("/samples", json=body)
        assert absent.status_code == 404
        assert absent.headers["content-type"].startswith(PROBLEM)
        drawn = dpo.post("/samples", json=body)
        assert drawn.status_code == 200, drawn.text
        sample = drawn.json()
        assert (
            sample["accesses"],
            sample["by_rule"]["off_hours"],
            sample["by_rule"]["random"],
        ) == (
            4,
            1,
            1,
        )
        assert sample["assigned_to"] == "user:dpo.vera"
        night = next(i for i in sample["items"] if i["rules"] == ["off_hours"])
        assert other.get("/items").json() == {"items": []}
        assert (
            len(dpo.get("/items", params={"sample": sample["id"], "open": True}).json()["items"])
            == 2
        )

        path = f"/items/{night['id']}/verdicts"
        assert other.post(path, json={"verdict": "ok"}).status_code == 404
        assert dpo.post(path, json={"verdict": "follow_up"}).status_code == 422
        first = dpo.post(path, json={"verdict": "ok"})
        assert first.status_code == 200, first.text
        again = dpo.post(path, json={"verdict": "follow_up", "note": "night work?"})
        assert again.status_code == 409
        assert again.json()["reason"] == "review_item_decided"
        amended = dpo.post(
            path, json={"verdict": "follow_up", "note": "night work?", "amend_reason": "no duty"}
        ).json()
        assert [(v["revision"], v["verdict"], v["decided_by"]) for v in amended["verdicts"]] == [
            (1, "ok", "dpo:dpo-tool"),
            (2, "follow_up", "dpo:dpo-tool"),
        ]

        report = dpo.get("/report", params={"district": SODERMALM, "month": "2026-11"}).json()
        assert (report["accesses"], report["picked"], report["follow_up"], report["open"]) == (
            4,
            2,
            1,
            1,
        )
        assert (
            other.get("/report", params={"district": SODERMALM, "month": "2026-11"}).status_code
            == 404
        )
    with client(api, api.tokens[CONTACT_CENTRE]) as system:
        assert system.get("/items").status_code == 401
    decided = api.audit(AuditAction.REVIEW_DECIDED, actor="dpo:dpo-tool")
    assert [e.reason for e in decided] == [
        f"item {night['id']} rev 1: ok",
        f"item {night['id']} rev 2: follow_up (amends rev 1: no duty); night work?",
    ]
