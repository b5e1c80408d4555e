"""The console over HTTP on a real hub (SQLite and PostgreSQL) served by uvicorn, without a
browser: cookie flags behind a TLS proxy (``X-Forwarded-Proto: https`` from 127.0.0.1, which
uvicorn trusts by default) and over plain http, the security headers, and what a request
without a session or with a stale form token gets."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from hub.services.principal import Principal
from hub.services.users import add_user, grant
from tests.integration.api_server import serve
from tests.integration.spine import DISTRICT, Spine

PASSWORD = "fiktivt-losenord-1"


@contextmanager
def _client(spine: Spine, scheme: str) -> Iterator[httpx.Client]:
    add_user(spine.hub, Principal.operator("operator:test"), "anna", "Anna Fiktiv", PASSWORD)
    grant(spine.hub, "operator:test", "anna", "dpo", [DISTRICT])
    server = serve(spine.hub)
    headers = {"X-Forwarded-Proto": scheme}
    try:
        with httpx.Client(base_url=server.url, headers=headers, trust_env=False) as client:
            yield client
    finally:
        server.stop()


def _cookie(answer: httpx.Response, name: str) -> str:
    """The Set-Cookie header of ``name``. A ``Secure`` cookie is sent back by hand: the client
    speaks plain http to the proxy's side of uvicorn, where a browser would speak TLS."""
    (cookie,) = [c for c in answer.headers.get_list("set-cookie") if c.startswith(f"{name}=")]
    return cookie


def _pair(cookie: str) -> str:
    return cookie.split(";", 1)[0]


def _sign_in(client: httpx.Client) -> str:
    """Signs in; returns the Set-Cookie header of the session."""
    page = client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    answer = client.post(
        "/console/login",
        data={"csrf_token": token[1], "name": "anna", "password": PASSWORD},
        headers={"Cookie": _pair(_cookie(page, "osh_login_csrf"))},
    )
    assert answer.status_code == 303, answer.text
    return _cookie(answer, "osh_session")


def test_over_tls_the_session_cookie_is_secure(spine: Spine) -> None:
    with _client(spine, "https") as client:
        cookie = _sign_in(client)
        assert "; Secure" in cookie
        assert "; HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        home = client.get("/console/", headers={"Cookie": _pair(cookie)})
    assert home.status_code == 200
    assert "frame-ancestors 'none'" in home.headers["content-security-policy"]
    assert home.headers["cache-control"] == "no-store"


def test_over_plain_http_the_cookie_is_not_secure_by_default(spine: Spine) -> None:
    with _client(spine, "http") as client:
        cookie = _sign_in(client)
    assert "Secure" not in cookie
    assert "HttpOnly" in cookie


def test_without_a_session_pages_lead_to_sign_in_and_a_stale_token_is_refused(
    spine: Spine,
) -> None:
    with _client(spine, "http") as client:
        away = client.get("/console/")
        assert (away.status_code, away.headers["location"]) == (303, "/console/login?expired=1")
        posted = client.post("/console/logout", data={"csrf_token": "x"})
        assert posted.status_code == 303  # no session: to the sign-in page, nothing done
        client.cookies.set("osh_session", _pair(_sign_in(client)).split("=", 1)[1])
        stale = client.post("/console/logout", data={"csrf_token": "x"})
        assert stale.status_code == 403
        assert 'data-reason="csrf_token_invalid"' in stale.text
        assert "Traceback" not in stale.text
        assert client.get("/console/").status_code == 200  # still signed in
        unknown = client.get("/console/no/such/page")
        assert unknown.status_code == 404
        assert 'data-reason="page_not_found"' in unknown.text
        api = client.get("/api/v1/no-such").headers["content-type"]
        assert api == "application/problem+json"  # the API keeps its problems
