"""Agreements through the administrators' API, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from audit.entry import AuditAction
from audit.search import AuditQuery, search
from hub.bootstrap import Hub
from hub.demo.sandbox import Sandbox
from hub.errors import InputError
from hub.services.agreements import add_agreements, parse_agreements, register_system
from hub.services.systems import rotate_token
from tests.integration.api_server import ServerThread, serve
from tests.integration.spine import Clock

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "agreement-sodermalm.toml"
FARSTA_IDS = ("FAR-2026-001", "FAR-2026-002")


def farsta_text() -> str:
    """The example file as another district's: the same agreements, Farsta's ids."""
    text = EXAMPLE.read_text().replace("sdn-sodermalm", "sdn-farsta")
    return text.replace("PUB-2026-014", FARSTA_IDS[0]).replace("PUB-2026-015", FARSTA_IDS[1])


@dataclass
class Admin:
    hub: Hub
    api: ServerThread
    admin_token: str
    system_token: str
    clock: Clock

    def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        *,
        content: bytes | None = None,
        json: object = None,
        content_type: str | None = None,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.admin_token}"}
        if content_type:
            headers["Content-Type"] = content_type
        return httpx.request(
            method,
            f"{self.api.url}/api/v1/admin{path}",
            headers=headers,
            content=content,
            json=json,
            timeout=30,
            trust_env=False,
        )


@pytest.fixture
def admin(tmp_path: Path, database_url: str) -> Iterator[Admin]:
    clock = Clock()
    hub = Sandbox(tmp_path / "hub", database_url=database_url).open(clock=clock)
    admin_token = register_system(
        hub, "sdn-sodermalm-admin", "district admin", "test", "admin", districts=["sdn-sodermalm"]
    )
    system_token = register_system(hub, "aldre-direkt", "contact centre", "test")
    api = serve(hub)
    yield Admin(hub, api, admin_token, system_token, clock)
    api.stop()
    hub.close()


def _upload(admin: Admin, text: str) -> httpx.Response:
    return admin.call("POST", "/agreements", content=text.encode(), content_type="application/toml")


def test_import_list_history_and_revoke(admin: Admin) -> None:
    uploaded = _upload(admin, EXAMPLE.read_text())
    assert uploaded.status_code == 200, uploaded.text
    stored, _time_reports = uploaded.json()
    agreement_id = stored["id"]
    assert stored["ref"] == f"{agreement_id}@1"
    assert stored["changed_by"] == "admin:sdn-sodermalm-admin"

    listing = admin.call("GET", "/agreements").json()
    assert f"{agreement_id}@1" in [a["ref"] for a in listing]
    assert len(listing) == 2

    missing_reason = admin.call("POST", f"/agreements/{agreement_id}/revoke", json={})
    assert (missing_reason.status_code, missing_reason.json()["reason"]) == (
        422,
        "request_invalid",
    )
    revoked = admin.call(
        "POST", f"/agreements/{agreement_id}/revoke", json={"reason": "contract ended"}
    )
    assert revoked.status_code == 200, revoked.text
    assert (revoked.json()["status"], revoked.json()["revoked_reason"]) == (
        "revoked",
        "contract ended",
    )
    history = admin.call("GET", f"/agreements/{agreement_id}").json()
    assert [(v["version"], v["status"]) for v in history] == [(1, "active"), (2, "revoked")]
    with admin.hub.reader.connect() as conn:
        changes = search(conn, AuditQuery(action=AuditAction.AGREEMENT_CHANGED))
    assert [e.actor for e in changes] == ["admin:sdn-sodermalm-admin"] * 3  # 2 added, 1 revoked


def test_only_admin_tokens_manage_agreements(admin: Admin) -> None:
    denied = admin.call("GET", "/agreements", token=admin.system_token)
    assert (denied.status_code, denied.json()["reason"]) == (401, "unauthenticated")
    # ...and an admin token cannot send messages.
    sent = httpx.post(
        f"{admin.api.url}/api/v1/messages",
        content=b"<x/>",
        headers={"Authorization": f"Bearer {admin.admin_token}", "Content-Type": "application/xml"},
        trust_env=False,
    )
    assert sent.status_code == 401


def test_a_bad_agreement_file_is_refused_naming_the_key(admin: Admin) -> None:
    text = EXAMPLE.read_text().replace("purposes =", "porposes =", 1)
    refused = _upload(admin, text)
    assert refused.status_code == 422
    body = refused.json()
    assert body["reason"] == "agreement_file_invalid"
    assert "porposes" in body["detail"]
    wrong_type = admin.call("POST", "/agreements", content=b"{}", content_type="application/json")
    assert wrong_type.status_code == 415
    assert admin.call("GET", "/agreements/NOPE-1").status_code == 404


def _farsta(admin: Admin) -> None:
    """Farsta's agreements, stored by an operator (every district)."""
    add_agreements(admin.hub, parse_agreements(admin.hub, farsta_text(), "farsta"), "test")


def _farsta_versions(admin: Admin) -> list[int]:
    with admin.hub.reader.connect() as conn:
        return [a.version for a in admin.hub.agreement_store.history(conn, FARSTA_IDS[0])]


def test_an_admin_sees_and_changes_only_its_districts(admin: Admin) -> None:
    _farsta(admin)
    assert _upload(admin, EXAMPLE.read_text()).status_code == 200
    listing = admin.call("GET", "/agreements").json()
    assert {a["district"] for a in listing} == {"sdn-sodermalm"}
    assert len(listing) == 2

    other = FARSTA_IDS[0]
    absent = admin.call("GET", "/agreements/NO-SUCH-1")
    for answer in (
        admin.call("GET", f"/agreements/{other}"),
        admin.call("POST", f"/agreements/{other}/revoke", json={"reason": "not mine"}),
    ):
        assert (answer.status_code, answer.json()["reason"]) == (404, "agreement_not_found")
        # Worded as for an id that does not exist: the answer reveals nothing.
        assert answer.json()["detail"] == absent.json()["detail"].replace("NO-SUCH-1", other)
    # Amending Farsta's agreement by giving it Södermalm as district: 404 too, nothing stored.
    amend = farsta_text().replace("sdn-farsta", "sdn-sodermalm")
    amended = _upload(admin, amend.replace('senders = ["aldre-direkt"]', 'senders = ["outside"]'))
    assert (amended.status_code, amended.json()["reason"]) == (404, "agreement_not_found")
    assert _farsta_versions(admin) == [1]


def test_an_import_naming_another_district_is_refused_whole_and_audited(admin: Admin) -> None:
    _farsta(admin)
    farsta_amended = farsta_text().replace('senders = ["aldre-direkt"]', 'senders = ["outside"]')
    mixed = EXAMPLE.read_text() + "\n[[agreement]]" + farsta_amended.split("[[agreement]]", 1)[1]
    for text in (farsta_amended, mixed):
        refused = _upload(admin, text)
        assert (refused.status_code, refused.json()["reason"]) == (403, "district_not_allowed")
        assert "sdn-farsta" in refused.json()["detail"]
    assert _farsta_versions(admin) == [1]
    assert admin.call("GET", "/agreements").json() == []  # not even Södermalm's part was stored
    with admin.hub.reader.connect() as conn:
        refusals = search(conn, AuditQuery(action=AuditAction.REFUSED))
    assert [(e.actor, e.district, (e.reason or "").split(":")[0]) for e in refusals] == [
        ("admin:sdn-sodermalm-admin", "sdn-farsta", "district_not_allowed")
    ] * 2


def test_an_admin_without_a_district_is_refused(admin: Admin) -> None:
    with pytest.raises(InputError, match="at least one district"):
        register_system(admin.hub, "nowhere-admin", "", "test", "admin")


def test_an_expired_token_is_refused_with_its_reason(admin: Admin) -> None:
    short = register_system(
        admin.hub, "farsta-admin", "", "test", "admin", districts=["sdn-farsta"], expires_in_days=1
    )
    assert admin.call("GET", "/agreements", token=short).status_code == 200
    admin.clock.now += timedelta(days=1, seconds=1)
    expired = admin.call("GET", "/agreements", token=short)
    assert (expired.status_code, expired.json()["reason"]) == (401, "token_expired")
    assert "expired" in expired.json()["detail"]
    # A token with the default expiry (a year) still works.
    assert admin.call("GET", "/agreements").status_code == 200


def test_a_rotated_token_works_until_the_overlap_ends(admin: Admin) -> None:
    old = admin.admin_token
    assert admin.call("GET", "/agreements", token=old).status_code == 200  # cached now
    rotation = rotate_token(admin.hub, "operator:test", "sdn-sodermalm-admin", overlap_hours=2)
    new = rotation.token
    assert new != old
    assert rotation.old_valid_until == admin.clock.now + timedelta(hours=2)
    for token in (old, new):
        assert admin.call("GET", "/agreements", token=token).status_code == 200
    admin.clock.now += timedelta(hours=2, seconds=1)
    after = admin.call("GET", "/agreements", token=old)
    assert (after.status_code, after.json()["reason"]) == (401, "token_expired")
    assert "replaced by a rotation" in after.json()["detail"]
    assert admin.call("GET", "/agreements", token=new).status_code == 200
    with admin.hub.reader.connect() as conn:
        changes = search(conn, AuditQuery(action=AuditAction.SYSTEM_CHANGED))
    assert [e.source for e in changes] == ["sdn-sodermalm-admin"]
    assert "token rotated" in (changes[0].reason or "")


@pytest.mark.parametrize("path", ["/agreements/%00", "/agreements/%00/revoke"])
def test_an_agreement_id_with_a_nul_byte_is_404(admin: Admin, path: str) -> None:
    method = "POST" if path.endswith("revoke") else "GET"
    response = admin.call(method, path, json={"reason": "probe"} if method == "POST" else None)
    assert response.status_code == 404, response.text
    assert response.json()["reason"] == "agreement_not_found"
