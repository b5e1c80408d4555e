"""``python -m bench`` stays runnable: every embedded scenario runs on a small count.

Speed is not asserted here (it is measured by the benchmark itself, docs/BENCHMARKS.md); this
only keeps the benchmark from rotting: each scenario must run and report a rate and a baseline.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).parents[2]


def test_every_embedded_scenario_runs_and_reports_a_baseline() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMSORGSHUB_")}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--messages", "120", "--json", "--quiet"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    rows = {row["scenario"]: row for row in report["rows"]}
    for scenario in (
        "pipeline",
        "http-ingest",
        "end-to-end-embedded",
        "open-loop@100/s",
        "paced@100/s",
        "soap:case-refer",
        "medcom-inbound",
        "retention",
    ):
        assert scenario in rows, f"{scenario} missing from {sorted(rows)}"
    for name, row in rows.items():
        assert row["skipped"] is None, (name, row["skipped"])
        assert row["rate"] > 0, name
        assert row["baseline_rate"] > 0, name


def test_a_setting_to_try_is_checked_before_anything_runs() -> None:
    """``--set NAME=VALUE`` names a hub setting; a typo stops the run at once (status 2)."""
    for wrong, said in (("no_such_setting=1", "no setting"), ("workers", "NAME=VALUE")):
        run = subprocess.run(
            [sys.executable, "-m", "bench", "--set", wrong, "--only", "pipeline"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 2
        assert said in run.stderr
        assert "Traceback" not in run.stderr
