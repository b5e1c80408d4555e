"""``omsorgshub demo --serve`` as a user runs it: after its summary the demo prints the
console's address and one login per role; each printed login signs in over HTTP and reaches its
overview; the accounts live in the demo's data folder only; SIGTERM stops it cleanly (exit 0,
its servers closed)."""

from __future__ import annotations

import re
import signal
import sys
from pathlib import Path

import httpx

from tests.child_python import fresh_env
from tests.e2e.processes import Processes

SMALL = ("--referrals", "4", "--visits", "0", "--events", "0", "--payments", "0")
LOGIN = re.compile(
    r"^\s+(?P<role>district_admin|dpo|operator|hub_admin)\s+(?P<name>\S+)\s+(?P<password>\S+)\s+\(",
    re.MULTILINE,
)
CONSOLE = re.compile(r"^Console: (?P<url>http://127\.0\.0\.1:\d+)/console/$", re.MULTILINE)


def _sign_in(url: str, name: str, password: str) -> str:
    """Sign in through the login form as a browser would; returns the start page."""
    with httpx.Client(base_url=url, timeout=30, trust_env=False) as client:
        form = client.get("/console/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None, form.text
        answer = client.post(
            "/console/login", data={"csrf_token": token[1], "name": name, "password": password}
        )
        assert answer.status_code == 303, (name, answer.status_code, answer.text[:300])
        assert answer.headers["location"] == "/console/"
        home = client.get("/console/")
        assert home.status_code == 200, home.text[:300]
        return home.text


def test_the_served_demo_prints_a_login_per_role_that_signs_in(tmp_path: Path) -> None:
    env = fresh_env({"OMSORGSHUB_HOME": str(tmp_path / "home")})
    args = [sys.executable, "-m", "hub", "demo", *SMALL, "--outage", "0", "--serve"]
    with Processes(tmp_path / "logs") as procs:
        demo = procs.start("demo", args, env, cwd=tmp_path)
        procs.wait_for(
            "the demo logins",
            lambda: len(LOGIN.findall(demo.log.read_text(errors="replace"))) == 4,
            timeout=240,
            watch=[demo],
        )
        printed = demo.log.read_text(errors="replace")
        found = CONSOLE.search(printed)
        assert found is not None, printed
        logins = {m["role"]: (m["name"], m["password"]) for m in LOGIN.finditer(printed)}
        assert set(logins) == {"district_admin", "dpo", "operator", "hub_admin"}
        for role, (name, password) in logins.items():
            home = _sign_in(found["url"], name, password)
            assert f"({name})" in home, role  # the header names who signed in
            assert 'class="overview"' in home, role  # every role sees its districts' traffic

        demo.popen.send_signal(signal.SIGTERM)
        assert demo.popen.wait(timeout=60) == 0, demo.tail()
        assert "Stopping." in demo.tail()
    assert (tmp_path / "home" / "demo" / "hub.db").is_file()
    assert not (tmp_path / "home" / "hub.db").exists()  # only the demo's own folder
