"""A whole hub for the browser tests: ``python -m hub serve`` as its own process, in a folder
set up like the demo's, with a destination double as its own process too.

The world has the demo's three districts, the contact centre and the time-reporting app as
registered systems with the demo's agreements, and one HTTP double as every destination
(``tests.integration.api_server.routes``), so messages can be sent, delivered, retried and made
dead (``double_mode``). A module that needs a case system answering SOAP (its lists of
protected persons) passes ``case_systems``: district -> the URL of a case-management double,
routed for ``lookup.client_summary`` of that district. The test process keeps a hub of its
own on the same folder and database for set-up (people, systems) and for reading what the
served hub wrote; the browser talks only to the served process.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx

from adapters.doubles.http_double import HttpDouble
from audit.entry import AuditEntry
from audit.search import AuditQuery, search
from hub.bootstrap import Hub
from hub.demo.sandbox import DestinationSpec, Sandbox
from hub.demo.scenario import CONTACT_CENTRE, TIME_APP, demo_agreements, free_port
from hub.services.agreements import add_agreements, register_system
from hub.services.users import add_user, grant
from tests.child_python import fresh_env
from tests.e2e.processes import Processes, hub_command
from tests.integration.api_server import Document, Referrals, routes

PASSWORD = "fiktivt-losenord-1"  # every test person's password unless a test sets another
SYSTEMS = (CONTACT_CENTRE, TIME_APP)


@dataclass
class World:
    url: str
    home: Path
    hub: Hub
    tokens: dict[str, str]
    double_url: str  # the double's base URL (its /_control, /_stats)
    referrals: Referrals

    def add_person(
        self,
        name: str,
        roles: Mapping[str, Iterable[str]],
        *,
        password: str = PASSWORD,
        display_name: str | None = None,
    ) -> str:
        """An account with ``roles`` (role -> districts; ``[]`` for hub_admin); returns its
        name. Set up as an operator at the hub's command line would."""
        add_user(self.hub, "operator:test", name, display_name or f"Testa {name.title()}", password)
        for role, districts in roles.items():
            grant(self.hub, "operator:test", name, role, list(districts))
        return name

    def audit(self, **query: Any) -> list[AuditEntry]:
        """Audit entries as the served hub wrote them, e.g. ``audit(actor="user:anna",
        action=AuditAction.VIEWED)`` to prove that a page showing personal data was recorded."""
        with self.hub.reader.connect() as conn:
            return search(conn, AuditQuery(**query))

    def send(self, document: Document, system: str = CONTACT_CENTRE) -> httpx.Response:
        with httpx.Client(base_url=self.url, timeout=30, trust_env=False) as client:
            return client.post(
                "/api/v1/messages",
                content=document.body,
                headers={
                    "Authorization": f"Bearer {self.tokens[system]}",
                    "Content-Type": "application/xml",
                },
            )

    def double_mode(self, mode: str, times: int | None = None) -> None:
        """Make the destination double misbehave (``down``, ``reject``, …; see its module)."""
        body: dict[str, object] = {"mode": mode}
        if times is not None:
            body["times"] = times
        answer = httpx.post(f"{self.double_url}/_control", json=body, timeout=10, trust_env=False)
        answer.raise_for_status()


def start_world(
    home: Path, procs: Processes, case_systems: Mapping[str, str] | None = None
) -> World:
    double_port = free_port()
    double = procs.start(
        "http-double",
        [sys.executable, "-m", "adapters.doubles.http_double", "--port", str(double_port)],
        fresh_env({}),
    )
    base = f"http://127.0.0.1:{double_port}"
    procs.wait_for(
        "the destination double", lambda: _answers(f"{base}/_stats"), timeout=30, watch=[double]
    )
    sandbox = Sandbox(home)
    destinations, table = routes(cast(HttpDouble, _Url(f"{base}/messages")))
    for district, url in (case_systems or {}).items():
        name = f"case-soap-{district.removeprefix('sdn-')}"
        destinations[name] = DestinationSpec("case-soap", {"url": url, "timeout": 5})
        table.append(("lookup.client_summary", district, [name]))
    sandbox.write_routes(destinations, table)
    hub = sandbox.open()
    tokens = {name: register_system(hub, name, "browser test", "test") for name in SYSTEMS}
    add_agreements(hub, demo_agreements(hub.clock()), actor="test")
    port = free_port()
    env = fresh_env({"OMSORGSHUB_HOME": str(home)})
    server = procs.start("serve", hub_command("serve", "--port", str(port)), env)
    url = f"http://127.0.0.1:{port}"
    procs.wait_for(
        "the hub to serve", lambda: _answers(f"{url}/readyz"), timeout=60, watch=[server]
    )
    return World(url, home, hub, tokens, base, Referrals(seed=11))


@dataclass(frozen=True)
class _Url:
    """What ``routes()`` reads of a double: its URL (this double runs in another process)."""

    url: str


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2, trust_env=False).status_code == 200
    except httpx.TransportError:
        return False
