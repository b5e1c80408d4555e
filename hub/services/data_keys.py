"""Per-district data keys as an operator manages them: list, rotate, re-wrap, shred.

Each change is audited in the transaction that makes it (``key_rotated``, ``key_rewrapped``,
``key_shredded``). Only an operator at the command line manages keys; the district scope is
still applied, so a scoped principal of the console to come sees only its districts' keys.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from hub.errors import NotFound
from hub.guards import AuditAction, AuditEvent
from hub.keys.store import KeyInfo
from hub.services.ivo_tracking import reseal_tracked
from hub.services.principal import Kind, Principal

if TYPE_CHECKING:
    from hub.bootstrap import Hub

__all__ = ["KeyInfo", "key_districts", "list_keys", "rewrap_keys", "rotate_keys", "shred_key"]

# (district, payloads moved so far in this pass, payloads to move in this pass)
Progress = Callable[[str, int, int], None]


def _event(principal: Principal, action: AuditAction, district: str, reason: str) -> AuditEvent:
    return principal.did(action, district=district, reason=reason)


def list_keys(hub: Hub, principal: Principal) -> list[KeyInfo]:
    """The key versions of the principal's districts. Changing keys (rotate, re-wrap, shred)
    is hub-wide: an operator at the command line or a hub administrator."""
    principal.require(Kind.OPERATOR, Kind.HUB_ADMIN)
    with hub.reader.connect() as conn:
        infos = hub.guards.keys.list(conn)
    return principal.only_visible(infos, lambda i: i.district)


def key_districts(hub: Hub, principal: Principal, district: str | None) -> list[str]:
    """``district`` if given (and in scope), else every district in scope that has a key."""
    principal.require_hub_wide(Kind.OPERATOR, Kind.HUB_ADMIN)
    if district:
        principal.visible(district, f"no district {district!r} in scope")
        return [district]
    return sorted({i.district for i in list_keys(hub, principal)})


def rotate_keys(hub: Hub, principal: Principal, district: str | None) -> list[tuple[str, int]]:
    """Make a new key version current; older versions still decrypt until re-wrapped."""
    done: list[tuple[str, int]] = []
    for d in key_districts(hub, principal, district):
        with hub.engine.begin() as conn:
            version = hub.guards.keys.rotate(conn, d)
            hub.guards.record(conn, [_event(principal, AuditAction.KEY_ROTATED, d, f"v{version}")])
        done.append((d, version))
    return done


def rewrap_keys(
    hub: Hub,
    principal: Principal,
    district: str | None,
    *,
    batch: int,
    progress: Progress | None = None,
) -> list[tuple[str, int]]:
    """Move stored payloads to the current key version, ``batch`` at a time, one audited
    transaction per ten batches (plaintext stays in memory). Returns payloads moved per
    district."""
    done: list[tuple[str, int]] = []
    for d in key_districts(hub, principal, district):

        def report(moved: int, of: int, d: str = d) -> None:
            if progress is not None:
                progress(d, moved, of)

        total = 0
        while True:
            with hub.engine.begin() as conn:
                moved = hub.guards.keys.rewrap(
                    conn, d, batch=batch, progress=report, limit=batch * 10
                )
                if moved:
                    hub.guards.record(
                        conn, [_event(principal, AuditAction.KEY_REWRAPPED, d, f"{moved} payloads")]
                    )
            total += moved
            if moved == 0:
                break
        with hub.engine.begin() as conn:  # IVO tracking states are sealed like payloads
            states = reseal_tracked(hub, conn, d)
            if states:
                hub.guards.record(
                    conn,
                    [_event(principal, AuditAction.KEY_REWRAPPED, d, f"{states} tracked states")],
                )
        done.append((d, total + states))
    return done


def shred_key(hub: Hub, principal: Principal, district: str, version: int) -> None:
    """Destroy a key version: payloads under it become unreadable, for ever (retention end)."""
    principal.require_hub_wide(Kind.OPERATOR, Kind.HUB_ADMIN)
    if not principal.covers(district):
        raise NotFound(f"no key version {version} of {district}")
    with hub.engine.begin() as conn:
        hub.guards.keys.shred(conn, district, version)
        hub.guards.record(
            conn, [_event(principal, AuditAction.KEY_SHREDDED, district, f"v{version}")]
        )
