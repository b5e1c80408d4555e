"""``/metrics`` for operators: delivery states from the database and outcomes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.integration.api_server import Referrals, running_api, wait_until


def _scrape(url: str) -> str:
    response = httpx.get(f"{url}/metrics", timeout=10, trust_env=False)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def test_metrics_count_deliveries_and_outcomes(tmp_path: Path, database_url: str) -> None:
    referrals = Referrals()
    with running_api(tmp_path / "hub", database_url) as api:
        assert api.post(referrals.make().body).status_code == 202
        assert api.post(referrals.make().body).status_code == 202
        before = _scrape(api.url)
        assert "omsorgshub_up 1.0" in before
        assert 'omsorgshub_deliveries{destination="case-sodermalm",state="pending"} 2.0' in before

        api.start_delivery()
        wait_until(lambda: api.double.stats()["unique"] == 2, "both deliveries")
        wait_until(
            lambda: 'state="delivered"} 2.0' in _scrape(api.url), "the delivered count to show"
        )
        after = _scrape(api.url)
        assert (
            'omsorgshub_delivery_outcomes_total{destination="case-sodermalm",state="delivered"} 2.0'
            in after
        )


def test_http_latency_by_route_template_and_status(tmp_path: Path, database_url: str) -> None:
    referrals = Referrals()
    with running_api(tmp_path / "hub", database_url) as api:
        accepted = api.post(referrals.make().body)
        assert accepted.status_code == 202
        assert api.post(b"<not-xml", content_type="image/svg+xml").status_code == 415
        with api.client() as client:
            assert client.get(accepted.headers["location"]).status_code == 200
            assert client.get("/no/such/path").status_code == 404
        scraped = _scrape(api.url)

    family = "omsorgshub_http_request_duration_seconds"
    for method, route, status in [
        ("POST", "/api/v1/messages", "202"),
        ("POST", "/api/v1/messages", "415"),
        ("GET", "/api/v1/messages/{message_id}", "200"),
        ("GET", "unmatched", "404"),
    ]:
        labels = f'method="{method}",route="{route}",status="{status}"'
        assert f"{family}_count{{{labels}}} 1.0" in scraped, scraped
        assert f'{family}_bucket{{le="+Inf",{labels}}} 1.0' in scraped
    assert accepted.json()["id"] not in scraped, "a route label must be the template, not an id"


# Stands in for a Celery worker process: it records outcomes through the same counter the
# worker attaches to its hub (worker.py), into the shared folder, and exits.
_WORKER = """
import sys
from pathlib import Path
from hub.outbox.outcome_metrics import OutcomeCounter
from hub.outbox.delivery import AttemptOutcome
from hub.envelope import DeliveryState
counter = OutcomeCounter(Path(sys.argv[1]))
for _ in range(int(sys.argv[2])):
    counter.record(AttemptOutcome("d-1", "case-sodermalm", DeliveryState.DELIVERED))
counter.record(AttemptOutcome("d-2", "case-sodermalm", DeliveryState.DEAD, "destination_rejected"))
"""


def test_outcomes_of_several_processes_are_summed(tmp_path: Path, database_url: str) -> None:
    folder = tmp_path / "metrics"
    referrals = Referrals()
    with running_api(tmp_path / "hub", database_url, {"metrics_dir": str(folder)}) as api:
        assert api.post(referrals.make().body).status_code == 202
        api.start_delivery()  # this process delivers one itself
        wait_until(lambda: api.double.stats()["unique"] == 1, "the API's own delivery")
        for count in (3, 4):  # two worker processes, one after the other, both ended
            subprocess.run(
                [sys.executable, "-c", _WORKER, str(folder), str(count)], check=True, timeout=60
            )
        wait_until(lambda: 'state="dead"} 2.0' in _scrape(api.url), "the workers' counts")
        scraped = _scrape(api.url)

    outcomes = "omsorgshub_delivery_outcomes_total"
    assert f'{outcomes}{{destination="case-sodermalm",state="delivered"}} 8.0' in scraped
    assert f'{outcomes}{{destination="case-sodermalm",state="dead"}} 2.0' in scraped
    assert len(list(folder.glob("counter_*.db"))) == 3
