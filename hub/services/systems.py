"""Registered systems and administrators: register, list, (de)activate, rotate a token.

Every change is stored together with its audit entry (``system_registered``,
``system_changed``) in one transaction. Only an operator at the command line or a hub
administrator (console) manages systems.

A ``system`` sends messages and asks lookups; its agreements decide what it may send. An
``admin`` (a district administrator's tool) manages agreements through the API for the
districts it is bound to, and nothing else: an administrator without a district is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from contracts.model import is_code
from hub.errors import ConfigError, InputError, NotFound
from hub.guards import AuditAction, AuditEvent
from hub.services.authentication import DISTRICT_ROLES, ROLES, new_token
from hub.services.principal import Kind, Principal, as_principal
from hub.storage import systems as rows
from hub.storage.systems import SystemRow

if TYPE_CHECKING:
    from hub.bootstrap import Hub

__all__ = [
    "Rotation",
    "SystemRow",
    "list_systems",
    "register_system",
    "rotate_token",
    "set_system_active",
]


def _event(actor: Principal, name: str, reason: str) -> AuditEvent:
    return actor.did(AuditAction.SYSTEM_CHANGED, source=name, reason=reason)


def _districts(role: str, districts: Iterable[str]) -> frozenset[str]:
    scope = frozenset(districts)
    bad = sorted(d for d in scope if not is_code(d))
    if bad:
        raise InputError(f"district {bad[0]!r} must be 1-100 of A-Z a-z 0-9 . _ -")
    if role in DISTRICT_ROLES and not scope:
        raise InputError(f"a {role} token acts for at least one district: give --district")
    if role not in DISTRICT_ROLES and scope:
        raise InputError(
            "only an administrator's or a data-protection officer's token is bound to "
            "districts; a system's agreements decide what it may send"
        )
    return scope


def _expiry(hub: Hub, now: datetime, days: int | None) -> datetime:
    days = hub.settings.token_expiry_days if days is None else days
    if not 1 <= days <= 3650:
        raise InputError(f"a token expires in 1 to 3650 days, not {days}")
    return now + timedelta(days=days)


def register_system(
    hub: Hub,
    name: str,
    description: str,
    actor: Principal | str,
    role: str = "system",
    *,
    districts: Iterable[str] = (),
    expires_in_days: int | None = None,
) -> str:
    """Register a system; returns its bearer token (shown once, stored hashed)."""
    principal = as_principal(actor)
    principal.require_hub_wide(Kind.OPERATOR, Kind.HUB_ADMIN)
    if role not in ROLES:
        raise ConfigError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if not name or len(name) > 100 or not all(c.isalnum() or c in "-_." for c in name):
        raise ConfigError(f"system name {name!r} must be 1–100 letters, digits, '-', '_' or '.'")
    scope = _districts(role, districts)
    now = hub.clock()
    expires_at = _expiry(hub, now, expires_in_days)
    token, digest = new_token()
    with hub.engine.begin() as conn:
        if rows.get_system(conn, name) is not None:
            raise ConfigError(f"system {name!r} is already registered")
        rows.insert_system(
            conn,
            name=name,
            token_hash=digest,
            description=description,
            role=role,
            districts=scope,
            created_at=now,
            expires_at=expires_at,
        )
        where = f" for {', '.join(sorted(scope))}" if scope else ""
        hub.guards.record(
            conn,
            [
                principal.did(
                    AuditAction.SYSTEM_REGISTERED,
                    source=name,
                    reason=f"role {role}{where}; token expires {expires_at:%Y-%m-%d}",
                )
            ],
        )
    return token


def list_systems(hub: Hub, actor: Principal | str) -> list[SystemRow]:
    principal = as_principal(actor)
    principal.require_hub_wide(Kind.OPERATOR, Kind.HUB_ADMIN)
    with hub.reader.connect() as conn:
        return rows.all_systems(conn)


def set_system_active(
    hub: Hub, name: str, active: bool, actor: Principal | str, reason: str
) -> None:
    """(De)activate a system's token, e.g. when it has leaked. Takes effect in every API
    process within the token cache's lifetime (``hub.services.authentication``: 5 s)."""
    principal = as_principal(actor)
    principal.require_hub_wide(Kind.OPERATOR, Kind.HUB_ADMIN)
    if not reason.strip():
        raise InputError("a reason is required: it is recorded in the audit trail")
    with hub.engine.begin() as conn:
        if not rows.set_active(conn, name, active):
            raise NotFound(f"no system named {name!r}")
        what = "activated" if active else "deactivated"
        hub.guards.record(conn, [_event(principal, name, f"{what}: {reason}")])
    hub.authenticator.forget()


@dataclass(frozen=True)
class Rotation:
    token: str  # the new token: shown once
    expires_at: datetime
    old_valid_until: datetime  # the replaced token works until then


def rotate_token(
    hub: Hub,
    actor: Principal | str,
    name: str,
    *,
    overlap_hours: float | None = None,
    expires_in_days: int | None = None,
) -> Rotation:
    """Issue a new token; the old one keeps working until the overlap ends (never past its
    own expiry), so the system can switch without an outage. A token still in the overlap of
    an earlier rotation stops at once."""
    principal = as_principal(actor)
    principal.require_hub_wide(Kind.OPERATOR, Kind.HUB_ADMIN)
    hours = hub.settings.token_overlap_hours if overlap_hours is None else overlap_hours
    if not 0 <= hours <= 24 * 90:
        raise InputError(f"the overlap is 0 to 2160 hours, not {hours:g}")
    now = hub.clock()
    expires_at = _expiry(hub, now, expires_in_days)
    token, digest = new_token()
    with hub.engine.begin() as conn:
        current = rows.get_system(conn, name)
        if current is None:
            raise NotFound(f"no system named {name!r}")
        old_until = now + timedelta(hours=hours)
        if current.expires_at is not None:
            old_until = min(old_until, max(now, current.expires_at))
        rows.replace_token(
            conn, name, token_hash=digest, expires_at=expires_at, previous_until=old_until
        )
        hub.guards.record(
            conn,
            [
                _event(
                    principal,
                    name,
                    f"token rotated: the old one works until {old_until:%Y-%m-%d %H:%M} UTC, "
                    f"the new one expires {expires_at:%Y-%m-%d}",
                )
            ],
        )
    hub.authenticator.forget()
    return Rotation(token, expires_at, old_until)
