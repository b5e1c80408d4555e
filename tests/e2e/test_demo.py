"""``omsorgshub demo`` as a user runs it: a whole process, a fresh environment, real sockets.

What it proves: the demo sets up every flow on the embedded default (SQLite, embedded worker,
the API over HTTP, the case-management, UBW and HTTP doubles on 127.0.0.1) and every accepted
message reaches its destination exactly once in effect, through an outage of the case system
(retries show on every case destination), except the deliberate 31-day deferral, which ends
dead with its reason. The refusals, the contact centre's lookups (two answered, one refused
for want of consent), the audit verification and the looked-up person's extract are shown,
and no identity number is printed. The exit status is the verdict: 0 when all is well, 1 when
deliveries cannot finish (the case system stays down past the demo's timeout).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from adapters.doubles.case_management_double import seed_clients
from adapters.doubles.ubw_double import TOLVAN

CASE_DESTINATIONS = ("case-sodermalm", "case-kungsholmen", "case-farsta")
DESTINATIONS = (*CASE_DESTINATIONS, "combine-timereports", "finance-ubw")
SMALL = ("--referrals", "30", "--visits", "20", "--events", "12", "--payments", "6")
ROW = re.compile(
    r"^\s+(?P<name>\S+)\s+(?:case-soap|combine|http|ubw)\s+(?P<sent>\d+)\s+(?P<delivered>\d+)"
    r"\s+(?P<retried>\d+)\s+(?P<dead>\d+)\s+\d+\s+\d+\s+(?P<saw>\d+)$",
    re.MULTILINE,
)


@dataclass(frozen=True)
class Row:
    sent: int
    delivered: int
    retried: int
    dead: int
    saw: int


def run_demo(tmp_path: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """``python -m hub demo ARGS`` with nothing of this process's environment but PATH."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8",
        "PYTHONUNBUFFERED": "1",
        "OMSORGSHUB_HOME": str(tmp_path / "home"),
    }
    return subprocess.run(
        [sys.executable, "-m", "hub", "demo", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
    )


def table(output: str) -> dict[str, Row]:
    return {
        m["name"]: Row(*(int(m[k]) for k in ("sent", "delivered", "retried", "dead", "saw")))
        for m in ROW.finditer(output)
    }


def test_the_demo_runs_every_flow_through_an_outage(tmp_path: Path) -> None:
    # Three seconds, so that every case district has a delivery due while the case system is
    # down even when a loaded machine makes the relay lag the stream: with one second, CI once
    # saw all of one district's deliveries fall outside the outage (retried 0).
    result = run_demo(tmp_path, *SMALL, "--outage", "3", "--rate", "50")
    out = result.stdout
    assert result.returncode == 0, out + result.stderr

    rows = table(out)
    assert set(rows) == set(DESTINATIONS), out
    for name, row in rows.items():
        meant_dead = 1 if name == "finance-ubw" else 0
        assert row.sent > meant_dead, (name, out)
        assert (row.delivered, row.dead) == (row.sent - meant_dead, meant_dead), (name, out)
        assert row.saw == row.delivered, (name, out)  # stored once each, none lost
    assert sum(rows[n].sent for n in CASE_DESTINATIONS) == 30 + 12
    assert rows["combine-timereports"].sent == 20
    assert rows["finance-ubw"].sent == 6 + 3
    for name in CASE_DESTINATIONS:  # the case system was down: every district retried
        assert rows[name].retried > 0, (name, out)
    assert re.search(r"31-day deferral to finance-ubw: dead — deferral_too_long: .*31 days", out)

    assert "outside its agreement): 403 type_not_allowed" in out
    assert "external entity: 400 forbidden_dtd" in out
    assert re.search(r"client summary in sdn-\w+ \(consent recorded\): 200 — \w+ \w+: ", out)
    assert re.search(r"invoice status by OCR reference \(consent recorded\): 200 — invoice", out)
    assert "invoice status without recorded consent: 403 consent_missing" in out
    assert "Referral follow-up: 30 referrals wait for a callback in 3 districts" in out
    assert "; 1 closed by the district's answer (the SDK reply above)" in out
    overdue = re.search(r"GET /api/v1/referrals/overdue as at .*: (\d+) overdue", out)
    assert overdue, out
    assert int(overdue[1]) > 0
    assert re.search(r"\n    [0-9a-f-]{36}  (normal|urgent)\s+deadline .* h late\n", out), out
    entered = re.search(r"submitted (\d+) complete reports.*\n.*the ivo robot entered (\d+)", out)
    assert entered, out
    assert entered[1] == entered[2] != "0"
    assert f"submitted again: 0 new, {entered[1]} already sent; IVO holds {entered[1]}" in out
    assert "to UBW: 1 voucher (the clean month); held: 1" in out
    assert re.search(r"[0-9a-f-]{36}: daily_rest 10.0 h \(limit 11.0 h\)", out), out
    assert "UBW now holds 2 vouchers of these two, the released one once" in out
    assert re.search(r"Audit trail: \d+ entries, \d+ signed checkpoints — verifies", out)
    extract = out[out.index("Art. 15 extract") :]
    assert ",queried,looked up by aldre-direkt," in extract

    numbers = {TOLVAN, f"{TOLVAN[:8]}-{TOLVAN[8:]}", f"{TOLVAN[2:8]}-{TOLVAN[8:]}"}
    for client in seed_clients():
        numbers |= {client.identity.canonical, client.identity.formatted()}
    printed = [n for n in numbers if n in out]
    assert printed == [], "identity numbers in the demo's output"


def test_the_demo_fails_when_deliveries_cannot_finish(tmp_path: Path) -> None:
    args = ("--referrals", "6", "--visits", "0", "--events", "0", "--payments", "0")
    result = run_demo(tmp_path, *args, "--outage", "60", "--timeout", "2", "--rate", "2")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "gave up waiting after 2 s" in result.stdout


def test_the_demo_explains_its_options(tmp_path: Path) -> None:
    result = run_demo(tmp_path, "--help", timeout=30)
    assert result.returncode == 0, result.stderr
    flat = " ".join(result.stdout.split())
    for option, words in [
        ("--referrals", "Case referrals"),
        ("--visits", "Visit time reports"),
        ("--events", "Execution events"),
        ("--payments", "payment vouchers"),
        ("--outage", "case system"),
        ("--rate", "Messages per second"),
        ("--serve", "Keep running"),
        ("--timeout", "Give up waiting"),
    ]:
        assert option in flat, option
        assert words in flat, option
    assert not (tmp_path / "home").exists()  # --help touches nothing
