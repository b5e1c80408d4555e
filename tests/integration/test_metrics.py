"""``/metrics`` for operators: delivery states from the database and outcomes."""

from __future__ import annotations

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
