"""People of the console: accounts, roles granted per district, and the principal a person
becomes for one action.

Roles: ``district_admin`` (agreements), ``dpo`` (the audit trail) and ``operator`` (messages,
deliveries, replay) are each granted for named districts, and a person may hold several, in
different districts; ``hub_admin`` (systems, people, keys) is hub-wide. ``principal_for`` turns
a person and the role an action needs into the ``Principal`` the services take, scoped to the
districts where the person holds that role: the services, not the console, then decide what
it sees (``hub.services.principal``).

Accounts are managed by an operator at the command line or by a hub administrator; every
change is recorded (``user_changed``) in the transaction that makes it, with the acting person.
Disabling an account or resetting its password ends its sessions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from contracts.model import is_code
from hub.errors import Conflict, Forbidden, InputError, NotFound
from hub.guards import AuditAction
from hub.services.passwords import check_new_password, hash_password
from hub.services.principal import Kind, Principal, as_principal
from hub.storage import people as rows

if TYPE_CHECKING:
    from hub.bootstrap import Hub

HUB_WIDE = "*"  # the district of a hub-wide role
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.@")


class Role(StrEnum):
    DISTRICT_ADMIN = "district_admin"
    DPO = "dpo"
    OPERATOR = "operator"
    HUB_ADMIN = "hub_admin"


ROLES = tuple(r.value for r in Role)
_MANAGERS = (Kind.OPERATOR, Kind.HUB_ADMIN)


@dataclass(frozen=True)
class Person:
    name: str
    display_name: str
    active: bool = True
    # role -> the districts where it is held ({"*"} for hub_admin)
    roles: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @property
    def actor(self) -> str:
        """The person as the audit trail's actor."""
        return f"user:{self.name}"

    def holds(self, role: Role | str) -> bool:
        return bool(self.roles.get(str(role)))

    def districts(self) -> list[str]:
        return sorted({d for ds in self.roles.values() for d in ds if d != HUB_WIDE})


def principal_for(person: Person, role: Role | str) -> Principal:
    """The principal ``person`` is for an action that needs ``role``: scoped to the districts
    where the person holds it. A role the person does not hold is refused (403): which roles
    exist is no secret, unlike which objects do."""
    role = Role(role)
    districts = person.roles.get(role.value, frozenset())
    if not districts:
        raise Forbidden(
            f"{person.name!r} does not hold the role {role.value}", reason="role_missing"
        )
    if role is Role.HUB_ADMIN:
        return Principal.hub_admin(person.actor)
    if role is Role.DPO:
        return Principal.dpo(person.actor, districts)
    if role is Role.OPERATOR:
        return Principal.operator(person.actor, districts)
    return Principal.district_admin(person.actor, districts)


def _person(conn: Connection, name: str) -> Person | None:
    user = rows.get_user(conn, name)
    if user is None:
        return None
    return Person(user.name, user.display_name, user.active, _roles(rows.roles_of(conn, name)))


def _roles(found: Iterable[rows.RoleRow]) -> dict[str, frozenset[str]]:
    roles: dict[str, set[str]] = {}
    for r in found:
        roles.setdefault(r.role, set()).add(r.district)
    return {role: frozenset(ds) for role, ds in roles.items()}


def find_person(hub: Hub, name: str) -> Person | None:
    """The person named (for the sessions module, which has checked who is asking)."""
    with hub.reader.connect() as conn:
        return _person(conn, name)


def _check_name(name: str) -> None:
    if not 1 <= len(name) <= 100 or not set(name) <= _NAME_CHARS:
        raise InputError(
            f"user name {name!r} must be 1-100 of a-z 0-9 - _ . @ (lower case)",
            reason="user_name_invalid",
        )


def _record(hub: Hub, conn: Connection, principal: Principal, name: str, what: str) -> None:
    hub.guards.record(conn, [principal.did(AuditAction.USER_CHANGED, source=name, reason=what)])


def add_user(
    hub: Hub, actor: Principal | str, name: str, display_name: str, password: str | None
) -> Person:
    """A new account. ``password`` None: it can sign in only once a password is set (or
    through an external identity provider, once one is configured)."""
    principal = as_principal(actor)
    principal.require_hub_wide(*_MANAGERS)
    _check_name(name)
    if not display_name.strip() or len(display_name) > 200:
        raise InputError("a display name of 1-200 characters is needed")
    if password is not None:
        check_new_password(name, password)
    digest = hash_password(password) if password is not None else None
    with hub.engine.begin() as conn:
        if rows.get_user(conn, name) is not None:
            raise Conflict(f"user {name!r} exists already", reason="user_exists")
        rows.insert_user(conn, name, display_name.strip(), digest, hub.clock())
        _record(hub, conn, principal, name, "account added")
    return Person(name, display_name.strip())


def list_users(hub: Hub, actor: Principal | str) -> list[Person]:
    principal = as_principal(actor)
    principal.require_hub_wide(*_MANAGERS)
    with hub.reader.connect() as conn:
        roles = rows.all_roles(conn)
        return [
            Person(u.name, u.display_name, u.active, _roles(roles.get(u.name, [])))
            for u in rows.all_users(conn)
        ]


def _existing(conn: Connection, name: str) -> Person:
    person = _person(conn, name)
    if person is None:
        raise NotFound(f"no user named {name!r}", reason="user_not_found")
    return person


def set_user_active(hub: Hub, actor: Principal | str, name: str, active: bool, reason: str) -> None:
    """Disable (or enable again) an account; disabling ends its sessions at once."""
    principal = as_principal(actor)
    principal.require_hub_wide(*_MANAGERS)
    if not reason.strip():
        raise InputError("a reason is required: it is recorded in the audit trail")
    now = hub.clock()
    with hub.engine.begin() as conn:
        _existing(conn, name)
        rows.set_active(conn, name, active)
        ended = 0 if active else rows.end_sessions_of(conn, name, now)
        what = "enabled" if active else f"disabled ({ended} sessions ended)"
        _record(hub, conn, principal, name, f"{what}: {reason.strip()}"[:200])


def reset_password(hub: Hub, actor: Principal | str, name: str, password: str) -> int:
    """Set a new password; every session of the account ends. Returns the sessions ended."""
    principal = as_principal(actor)
    principal.require_hub_wide(*_MANAGERS)
    check_new_password(name, password)
    digest = hash_password(password)
    now = hub.clock()
    with hub.engine.begin() as conn:
        _existing(conn, name)
        rows.set_password(conn, name, digest, now)
        ended = rows.end_sessions_of(conn, name, now)
        _record(hub, conn, principal, name, f"password reset ({ended} sessions ended)")
    return ended


def _districts_for(role: Role, districts: Iterable[str]) -> list[str]:
    scope = sorted(set(districts))
    if role is Role.HUB_ADMIN:
        if scope:
            raise InputError("hub_admin is hub-wide: give no --district", reason="role_scope")
        return [HUB_WIDE]
    if not scope:
        raise InputError(
            f"{role.value} is granted per district: give --district", reason="role_scope"
        )
    bad = [d for d in scope if not is_code(d)]
    if bad:
        raise InputError(f"district {bad[0]!r} must be 1-100 of A-Z a-z 0-9 . _ -")
    return scope


def _role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InputError(
            f"role must be one of {', '.join(ROLES)}, not {role!r}", reason="role_unknown"
        ) from None


def grant(
    hub: Hub, actor: Principal | str, name: str, role: str, districts: Iterable[str] = ()
) -> list[str]:
    """Grant ``role`` in ``districts``; returns the districts newly granted."""
    principal = as_principal(actor)
    principal.require_hub_wide(*_MANAGERS)
    which = _role(role)
    scope = _districts_for(which, districts)
    now = hub.clock()
    with hub.engine.begin() as conn:
        _existing(conn, name)
        added = [d for d in scope if rows.grant(conn, name, which.value, d, now, principal.name)]
        if added:
            _record(hub, conn, principal, name, f"granted {which.value} in {' '.join(added)}")
    return added


def revoke(
    hub: Hub, actor: Principal | str, name: str, role: str, districts: Iterable[str] = ()
) -> list[str]:
    """Revoke ``role`` in ``districts`` (every district when none are named); returns the
    districts it was revoked in."""
    principal = as_principal(actor)
    principal.require_hub_wide(*_MANAGERS)
    which = _role(role)
    with hub.engine.begin() as conn:
        person = _existing(conn, name)
        scope = sorted(set(districts)) or sorted(person.roles.get(which.value, frozenset()))
        if which is Role.HUB_ADMIN:
            scope = [HUB_WIDE]
        removed = [d for d in scope if rows.revoke(conn, name, which.value, d)]
        if removed:
            _record(hub, conn, principal, name, f"revoked {which.value} in {' '.join(removed)}")
    return removed
