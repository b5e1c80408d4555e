"""Agreements through the administrators' API, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from audit.entry import AuditAction
from audit.search import AuditQuery, search
from hub.bootstrap import Hub
from hub.demo.sandbox import Sandbox
from hub.services.agreements import register_system
from tests.integration.api_server import ServerThread, serve

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "agreement-sodermalm.toml"


@dataclass
class Admin:
    hub: Hub
    api: ServerThread
    admin_token: str
    system_token: str

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
    hub = Sandbox(tmp_path / "hub", database_url=database_url).open()
    admin_token = register_system(
        hub, "sdn-sodermalm-admin", "district admin", "test", "admin", districts=["sdn-sodermalm"]
    )
    system_token = register_system(hub, "aldre-direkt", "contact centre", "test")
    api = serve(hub)
    yield Admin(hub, api, admin_token, system_token)
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
