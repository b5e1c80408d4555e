"""The protected-identity marks' API on a real hub (SQLite and PostgreSQL) and the real SOAP
double of the case system: an administrator of the district syncs now and reads how many
persons are marked and how the last sync went; another district's administrator sees and syncs
none of it; a case system that is down is reported, not raised; the status read and the sync
are each audited with counts only."""

from __future__ import annotations

import httpx

from adapters.doubles.case_management_seed import SeededClient
from audit.entry import AuditAction
from hub.services.agreements import register_system
from tests.integration.api_server import problem_of
from tests.integration.case_management.confidentiality import DISTRICT, Setup, ours

DESTINATION = "case-sodermalm"


def _tokens(setup: Setup) -> tuple[str, str]:
    own = register_system(
        setup.hub, "sodermalm-admin", "district admin", "test", "admin", districts=[DISTRICT]
    )
    other = register_system(
        setup.hub, "norr-admin", "district admin", "test", "admin", districts=["sdn-norr"]
    )
    return own, other


def _call(setup: Setup, token: str, method: str, path: str) -> httpx.Response:
    return httpx.request(
        method,
        f"{setup.api.url}/api/v1/protected{path}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
        trust_env=False,
    )


def _never_synced(district: str, source: str | None) -> dict[str, object]:
    """A district's row of ``GET /api/v1/protected`` before any sync."""
    return {
        "district": district, "source": source, "marked": 0, "last_sync": None,
        "last_sync_ok": None, "last_sync_detail": None, "last_ok": None, "failures": 0,
    }  # fmt: skip


def _ref(setup: Setup, client: SeededClient) -> str:
    return setup.hub.guards.hmacs.subject_ref(client.identity.canonical)


def test_an_administrator_syncs_and_reads_the_marks_of_its_district(setup: Setup) -> None:
    own, other = _tokens(setup)
    (before,) = _call(setup, own, "GET", "").json()["districts"]
    assert before == _never_synced(DISTRICT, DESTINATION)
    synced = _call(setup, own, "POST", "/sync")
    assert synced.status_code == 200, synced.text
    assert synced.json()["failed"] == 0
    (done,) = synced.json()["districts"]
    assert (done["district"], done["ok"], done["listed"], done["marked"]) == (DISTRICT, True, 2, 2)

    (after,) = _call(setup, own, "GET", "").json()["districts"]
    assert (after["marked"], after["last_sync_ok"], after["failures"]) == (2, True, 0)
    assert after["last_sync"] == after["last_ok"]
    assert after["last_sync_detail"] == "2 listed: 2 marked, 0 changed, 0 lifted, 0 skipped"
    _, protected = ours(setup.double)
    answer = _call(setup, own, "GET", "").text
    assert all(_ref(setup, c) not in answer for c in protected)  # counts only
    assert all(c.identity.canonical not in answer for c in protected)

    # Another district's administrator: none of this district, and no sync of it.
    assert _call(setup, other, "GET", "").json()["districts"] == [_never_synced("sdn-norr", None)]
    problem_of(_call(setup, other, "POST", f"/sync?district={DISTRICT}"), 404, "unknown_district")
    problem_of(_call(setup, other, "POST", "/sync?district=sdn-norr"), 404, "no_protected_source")
    nothing = _call(setup, other, "POST", "/sync").json()
    assert (nothing["failed"], nothing["districts"]) == (0, [])
    problem_of(_call(setup, setup.token, "GET", ""), 401, "unauthenticated")

    reads = setup.entries(AuditAction.PROTECTION_REPORTED)
    assert reads[:3] == [
        ("ok", "status: 0 marked, never synced"),
        ("ok", "status: 2 marked, last sync ok"),
        ("ok", "status: 2 marked, last sync ok"),
    ]
    assert reads[3] == ("ok", "status: 0 marked, never synced")  # the other district's read
    synced_entries = setup.entries(AuditAction.PROTECTION_SYNCED)
    assert synced_entries == [("ok", "2 listed: 2 marked, 0 changed, 0 lifted, 0 skipped")]


def test_a_case_system_down_is_reported_and_counted_until_it_answers(setup: Setup) -> None:
    own, _ = _tokens(setup)
    assert _call(setup, own, "POST", "/sync").json()["failed"] == 0
    setup.double.set_mode("down")
    for _ in range(2):
        down = _call(setup, own, "POST", f"/sync?district={DISTRICT}")
        assert down.status_code == 200, down.text
        (failed,) = down.json()["districts"]
        assert (failed["ok"], failed["reason"]) == (False, "destination_unavailable")
    (status,) = _call(setup, own, "GET", "").json()["districts"]
    assert (status["marked"], status["last_sync_ok"], status["failures"]) == (2, False, 2)
    assert status["last_sync_detail"] == "destination_unavailable"
    assert status["last_ok"] < status["last_sync"]
    assert setup.entries(AuditAction.PROTECTION_REPORTED)[-1] == (
        "ok",
        "status: 2 marked, last sync failed (2 since the last success)",
    )
    setup.double.set_mode("up")
    _call(setup, own, "POST", "/sync")
    (status,) = _call(setup, own, "GET", "").json()["districts"]
    assert (status["last_sync_ok"], status["failures"]) == (True, 0)
    assert status["last_ok"] == status["last_sync"]
