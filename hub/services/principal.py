"""Who acts: the principal every use case in ``hub.services`` takes.

A principal carries three things and nothing else:

- ``name``, written to the audit trail as the actor (``operator:anna``, ``admin:sdn-x-admin``,
  a system's own name);
- ``kind``, what sort of actor it is, which decides the use cases it may call at all;
- ``districts``, the city districts it may act for, or ``None`` for all of them.

Who may see which district is decided here and in the services, never in a face: an object of
a district outside the principal's scope is reported as absent (``NotFound``, 404), the same
answer a truly absent object gets, so a scope cannot be probed, and lists leave such objects
out.

The kinds are named for the roles of the web console (district_admin, dpo, operator,
hub_admin): a console user who holds different roles in different districts becomes, for one
action, the principal of the role that action needs, scoped to the districts where the user
holds it (``hub.services.users.principal_for``). An operator at the command line holds the
hub's keys and acts for every district; an operator of the console acts for the districts
where the role was granted. Use cases that are hub-wide by nature (systems, keys, people)
call ``require_hub_wide``: a scoped principal of an allowed kind is refused there too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from audit.entry import AuditAction, AuditEvent, Outcome
from hub.errors import AuthenticationError, NotFound

T = TypeVar("T")


class Kind(StrEnum):
    OPERATOR = "operator"  # at the command line of the hub's host: every district
    SYSTEM = "system"  # a registered system: sends messages, asks lookups
    DISTRICT_ADMIN = "district_admin"  # manages its districts' agreements (token or console)
    DPO = "dpo"  # a data-protection officer: reads the audit trail of its districts
    HUB_ADMIN = "hub_admin"  # console: systems, people and keys of the whole hub
    # A municipality's e-service: the art. 15 extract of the one person its own
    # e-identification proved, and nothing else (hub.services.own_access_log).
    ACCESS_LOG = "access_log"


@dataclass(frozen=True)
class Principal:
    name: str
    kind: Kind
    districts: frozenset[str] | None  # None: every district

    @classmethod
    def operator(cls, name: str, districts: Iterable[str] | None = None) -> Principal:
        """Someone at the hub's command line: they hold the master key, so every district
        (``districts`` None). A console operator is scoped to the districts of the role."""
        if districts is None:
            return cls(name, Kind.OPERATOR, None)
        return cls(name, Kind.OPERATOR, _scope(districts, "an operator"))

    @classmethod
    def dpo(cls, name: str, districts: Iterable[str]) -> Principal:
        return cls(name, Kind.DPO, _scope(districts, "a data-protection officer"))

    @classmethod
    def hub_admin(cls, name: str) -> Principal:
        return cls(name, Kind.HUB_ADMIN, None)

    @classmethod
    def system(cls, name: str) -> Principal:
        """A registered system: its agreements, not a scope, decide what it may send or ask."""
        return cls(name, Kind.SYSTEM, None)

    @classmethod
    def access_log(cls, name: str) -> Principal:
        """A system holding only the own-access-log grant: every district's entries about the
        person it proved, never anything else."""
        return cls(name, Kind.ACCESS_LOG, None)

    @classmethod
    def district_admin(cls, name: str, districts: Iterable[str]) -> Principal:
        return cls(name, Kind.DISTRICT_ADMIN, _scope(districts, "a district administrator"))

    def did(
        self, action: AuditAction, *, outcome: Outcome = Outcome.OK, **fields: Any
    ) -> AuditEvent:
        """The audit entry of something this principal did: the one place where who acted
        becomes the entry's actor, so no use case can record someone else by mistake.
        ``fields`` are the entry's other text fields (district, reason, …); a name that is not
        one is a ``TypeError``, as in the constructor."""
        return AuditEvent(actor=self.name, action=action, outcome=outcome, **fields)

    def covers(self, district: str) -> bool:
        return self.districts is None or district in self.districts

    def scope_text(self) -> str:
        return "every district" if self.districts is None else ", ".join(sorted(self.districts))

    def require(self, *kinds: Kind) -> None:
        """Refuse a use case this kind of principal may not call (401: the wrong credential)."""
        if self.kind not in kinds:
            allowed = ", ".join(k.value for k in kinds)
            raise AuthenticationError(f"{self.name!r} is a {self.kind.value}; this needs {allowed}")

    def require_hub_wide(self, *kinds: Kind) -> None:
        """``require``, and refuse a principal scoped to districts: for use cases that concern
        the whole hub (systems, keys, people), which no district's role reaches."""
        self.require(*kinds)
        if self.districts is not None:
            raise AuthenticationError(
                f"{self.name!r} acts for {self.scope_text()}; this concerns the whole hub",
                reason="needs_hub_wide_role",
            )

    def visible(self, district: str, detail: str, reason: str = "not_found") -> None:
        """``NotFound`` for an object of a district outside the scope. Callers pass the very
        detail and reason an absent object gets, so the answer reveals nothing."""
        if not self.covers(district):
            raise NotFound(detail, reason=reason)

    def only_visible(self, items: Iterable[T], district: Callable[[T], str]) -> list[T]:
        return [i for i in items if self.covers(district(i))]


def _scope(districts: Iterable[str], who: str) -> frozenset[str]:
    scope = frozenset(districts)
    if not scope:
        raise ValueError(f"{who} acts for at least one district")
    return scope


def as_principal(actor: Principal | str) -> Principal:
    """A bare name is an operator acting for every district: the in-process callers (the demo,
    ``bench/``, test set-up) that hold the hub's keys anyway and name themselves for the audit
    trail."""
    return actor if isinstance(actor, Principal) else Principal.operator(actor)
