"""The hub both crash tests kill: one district's referrals routed to one HTTP double, the
contact centre registered under the demo's agreements, and the environment its processes run
with."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from hub.demo.sandbox import DestinationSpec, Sandbox
from hub.demo.scenario import CONTACT_CENTRE, demo_agreements
from hub.services.agreements import add_agreements, register_system
from tests.child_python import fresh_env

DISTRICT = "sdn-sodermalm"
DESTINATION = "case-sodermalm"


def referral_hub(
    home: Path, settings: Mapping[str, str], double_url: str
) -> tuple[str, dict[str, str]]:
    """Set up the hub in ``home``; returns the contact centre's token and the environment of
    its processes (``settings`` as ``OMSORGSHUB_*`` variables)."""
    sandbox = Sandbox(home, overrides=dict(settings))
    sandbox.write_routes(
        {DESTINATION: DestinationSpec("http", {"url": double_url, "timeout": 5})},
        [("case.referral", DISTRICT, [DESTINATION])],
    )
    hub = sandbox.open()
    try:
        token = register_system(hub, CONTACT_CENTRE, "contact centre (e2e)", actor="e2e")
        add_agreements(hub, demo_agreements(hub.clock()), actor="e2e")
    finally:
        hub.close()
    env = fresh_env(
        {"OMSORGSHUB_HOME": str(home)} | {f"OMSORGSHUB_{k.upper()}": v for k, v in settings.items()}
    )
    return token, env
