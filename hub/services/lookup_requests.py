"""A lookup as the faces ask it: who asks decides on whose behalf.

A system asks for itself: it is the requester the agreement must name. An operator at the
command line asks on behalf of a named system (``--system``), and is recorded as the actor
beside it. The lookup itself (guards, adapter, audit) is ``hub.services.lookups``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from contracts.model import is_code
from hub.envelope import LookupResult
from hub.errors import InputError
from hub.services.lookups import LookupQuestion
from hub.services.principal import Kind, Principal

if TYPE_CHECKING:
    from hub.bootstrap import Hub


def ask_lookup(
    hub: Hub,
    principal: Principal,
    *,
    lookup: str,
    district: str,
    purpose: str,
    subject: str,
    scheme: str = "se",
    params: Mapping[str, str] | None = None,
    consent: str | None = None,
    on_behalf_of: str | None = None,
) -> LookupResult:
    principal.require(Kind.SYSTEM, Kind.OPERATOR)
    for name, value in (("lookup", lookup), ("district", district), ("purpose", purpose)):
        # Checked before anything is asked or audited: a control character in a code is
        # refused by PostgreSQL's text columns, which would close the audit trail (503).
        if not is_code(value):
            raise InputError(
                f"{name} must be a code of letters, digits, '.', '_' or '-'",
                reason=f"invalid_{name}",
            )
    if principal.kind is Kind.SYSTEM:
        if on_behalf_of not in (None, principal.name):
            raise InputError("a system asks only for itself")
        requester = principal.name
    elif not on_behalf_of:
        raise InputError("say on whose behalf you ask: the system the agreement names (--system)")
    else:
        requester = on_behalf_of
    principal.visible(district, f"no district {district!r} in scope")
    return hub.lookups.ask(
        LookupQuestion(
            requester=requester,
            actor=principal.name,
            lookup=lookup,
            district=district,
            purpose=purpose,
            subject=subject,
            scheme=scheme,
            params=params,
            consent=consent,
        )
    )
