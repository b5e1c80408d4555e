"""The API's description, health and readiness over real HTTP (uvicorn on 127.0.0.1, httpx).

Moved out of test_api_ingest.py (which kept the ingest paths) and extended with what issue 10
item 5 asks: the OpenAPI contract (bearer scheme, problem+json errors, lookup kinds), the
framework's own 404/405 as problem+json, and readiness that checks the broker.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.bootstrap import build_hub
from hub.demo.sandbox import Sandbox
from hub.demo.scenario import free_port
from tests.integration.api_server import (
    API,
    PROBLEM,
    ApiServer,
    Referrals,
    running_api,
    serve,
)

# -- description and health -----------------------------------------------------------------


def test_openapi_lists_the_xml_ingest_operation(api: ApiServer) -> None:
    with api.client(system=None) as client:
        response = client.get("/openapi.json")

    assert response.status_code == 200
    post: dict[str, Any] = response.json()["paths"][API]["post"]
    assert "application/xml" in post["requestBody"]["content"]
    assert post["requestBody"]["required"] is True
    assert {"202", "400", "401", "403", "409", "413", "415", "422"} <= set(post["responses"])


def test_health_and_readiness(api: ApiServer) -> None:
    with api.client(system=None) as client:
        health = client.get("/healthz")
        ready = client.get("/readyz")

    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


@pytest.fixture(params=["sqlite", "postgres"])
def unreachable_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an API whose database is gone: a SQLite file in a folder that does not
    exist, or a PostgreSQL port where nothing listens. Keys come from a working first run."""
    home = tmp_path / "home"
    Sandbox(home).open().close()
    gone = {
        "sqlite": f"sqlite:///{tmp_path / 'removed-folder' / 'hub.db'}",
        "postgres": "postgresql+psycopg://postgres@127.0.0.1:1/omsorgshub",
    }[request.param]
    hub = build_hub(Sandbox(home, database_url=gone).settings())
    server = serve(hub)
    yield server.url
    server.stop()
    hub.close()


def test_not_ready_when_the_database_cannot_be_reached(unreachable_database: str) -> None:
    with httpx.Client(base_url=unreachable_database, timeout=30, trust_env=False) as client:
        ready = client.get("/readyz")
        health = client.get("/healthz")

    assert (ready.status_code, ready.json()) == (
        503,
        {"status": "unavailable", "reason": "database_unreachable"},
    )
    assert health.status_code == 200, "the process is alive even without its database"


def test_ingest_is_503_when_the_database_cannot_be_reached(
    unreachable_database: str, referrals: Referrals
) -> None:
    with httpx.Client(base_url=unreachable_database, timeout=30, trust_env=False) as client:
        response = client.post(
            API,
            content=referrals.make().body,
            headers={"Authorization": "Bearer osh_any", "Content-Type": "application/xml"},
        )

    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["reason"].endswith("_unavailable")


def test_401_names_the_bearer_scheme(api: ApiServer, referrals: Referrals) -> None:
    response = api.post(referrals.make().body, system=None)

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


# -- the contract (issue 10 item 5) ----------------------------------------------------------

ERROR_STATUSES = {"401", "403", "404", "409", "413", "415", "422", "503"}
OPEN_PATHS = {"/healthz", "/readyz", "/metrics"}


def openapi(api: ApiServer) -> dict[str, Any]:
    with api.client(system=None) as client:
        response = client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


FHIR_OUTCOMES = {("/api/v1/fhir/$process-message", "400")}


def test_openapi_declares_the_bearer_scheme_and_problem_errors(api: ApiServer) -> None:
    document = openapi(api)

    scheme = document["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert document["security"] == [{"bearer": []}]
    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "reason"} <= set(problem["required"])

    ingest = document["paths"][API]["post"]
    assert ERROR_STATUSES - {"404"} <= set(ingest["responses"])
    assert {"application/xml", "text/xml"} == set(ingest["requestBody"]["content"])
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            if path in OPEN_PATHS:
                assert operation["security"] == [], where
                continue
            assert "security" not in operation, f"{where} overrides the bearer scheme"
            assert "401" in operation["responses"], where
            for status, response in operation["responses"].items():
                if (path, status) in FHIR_OUTCOMES:
                    # FHIR's $process-message answers a body that is no message bundle with
                    # an OperationOutcome, as FHIR clients expect (hub/api/fhir.py).
                    assert list(response["content"]) == ["application/fhir+json"], where
                    continue
                if status.startswith(("4", "5")):
                    content = response["content"]
                    assert list(content) == [PROBLEM], (where, status)
                    schema = content[PROBLEM]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Problem"}, (where, status)


def test_openapi_lists_the_lookup_kinds(api: ApiServer) -> None:
    document = openapi(api)

    lookup = document["components"]["schemas"]["LookupBody"]["properties"]["lookup"]
    assert lookup["enum"] == ["client_summary", "invoice_status"]


@pytest.mark.parametrize(
    ("method", "path", "status", "reason"),
    [
        ("GET", "/no/such/path", 404, "not_found"),
        ("GET", API, 405, "method_not_allowed"),
        ("DELETE", f"{API}/some-id", 405, "method_not_allowed"),
    ],
)
def test_the_framework_s_own_errors_are_problems(
    api: ApiServer, method: str, path: str, status: int, reason: str
) -> None:
    with api.client() as client:
        response = client.request(method, path)

    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert (body["status"], body["reason"], body["instance"]) == (status, reason, path)
    assert body["type"] == f"urn:omsorgshub:problem:{reason}"
    assert body["title"] == {404: "Not Found", 405: "Method Not Allowed"}[status]
    if status == 405:
        assert "allow" in response.headers


def test_titles_are_human_text(api: ApiServer, referrals: Referrals) -> None:
    unauthenticated = api.post(referrals.make().body, system=None)
    refused = api.post(referrals.make(district="sdn-okanda").body)

    assert unauthenticated.json()["title"] == "Authentication required"
    assert refused.json()["title"] == "No route for the message"


def probe_with_broker(tmp_path: Path, broker_url: str) -> tuple[httpx.Response, httpx.Response]:
    """``/readyz`` and ``/healthz`` of an API on SQLite whose broker is ``broker_url``."""
    with (
        running_api(
            tmp_path / "home", f"sqlite:///{tmp_path / 'hub.db'}", {"broker_url": broker_url}
        ) as api,
        api.client(system=None) as client,
    ):
        return client.get("/readyz"), client.get("/healthz")


def test_not_ready_when_the_broker_cannot_be_reached(tmp_path: Path) -> None:
    closed = free_port()  # nothing listens there
    ready, health = probe_with_broker(tmp_path, f"amqp://guest:guest@127.0.0.1:{closed}//")

    assert (ready.status_code, ready.json()) == (
        503,
        {"status": "unavailable", "reason": "broker_unreachable"},
    )
    assert health.status_code == 200


def test_ready_when_the_broker_answers(tmp_path: Path, amqp_url: str) -> None:
    ready, _ = probe_with_broker(tmp_path, amqp_url)

    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
