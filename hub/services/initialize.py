"""``omsorgshub init``: data folder, master key, audit signing key, database — in that order.

Safe to run again: an existing master key or signing key is kept (overwriting the master key
would make every stored payload unreadable), and migrations only apply what is missing.
"""

from __future__ import annotations

from audit.signing import generate_signing_key
from hub.keys.store import init_master_key
from hub.settings import Settings
from hub.storage.engine import make_engine
from hub.storage.migrate import upgrade

ROUTES_TEMPLATE = """\
# The routing table: which destinations receive a message of a type from a district.
# Nothing is routed until you add routes; an unrouted message is refused with 422 no_route.
# Unknown keys are errors. See docs/ARCHITECTURE.md ("Formats").
#
# [destinations.case-sodermalm]
# adapter = "http"                                  # http, case-soap, ubw, memory
# options = { url = "https://case.example.invalid/messages", timeout = 10 }
# retry = { base_seconds = 2, cap_seconds = 300, max_attempts = 12, max_age_seconds = 86400 }
#
# [[routes]]
# type = "case.referral"
# district = "sdn-sodermalm"                        # or "*" for every district
# destinations = ["case-sodermalm"]
"""


def initialize(settings: Settings) -> list[str]:
    """Create what is missing; returns one line per thing done, for the user."""
    done: list[str] = []
    settings.home.mkdir(parents=True, exist_ok=True)
    settings.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    if settings.master_key:
        done.append("master key: from OMSORGSHUB_MASTER_KEY")
    elif settings.master_key_file.exists():
        done.append(f"master key kept: {settings.master_key_file} (never overwritten)")
    else:
        init_master_key(settings.master_key_file)
        done.append(f"master key created: {settings.master_key_file} (0600); back it up offline")
    if not settings.audit_private_key_file.exists():
        generate_signing_key(settings.audit_private_key_file, settings.audit_public_key_file)
        done.append(f"audit signing key created; public key: {settings.audit_public_key_file}")
    if not settings.routes_file.exists():
        settings.routes_file.write_text(ROUTES_TEMPLATE)
        done.append(f"routing table template written: {settings.routes_file} (nothing routed yet)")
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    done.append(f"database ready: {settings.shown()['database_url']}")
    return done
