"""An operator's saved message searches, per person: a name and the search's metadata fields.

A saved filter keeps the state, destination, type, the business key's *name* and the width of
the time window in hours (a saved search means "the last N hours", not a fixed past day). A
business key's value is never saved: it would lie in the database in plain text, where the
hub keeps protected keys only as HMACs. Only the person who saved a filter sees it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from hub.errors import InputError, NotFound
from hub.services.principal import Kind, Principal
from hub.storage import saved_filters as rows

if TYPE_CHECKING:
    from hub.bootstrap import Hub

MAX_NAME = 100
MAX_HOURS = 24 * 366


@dataclass(frozen=True)
class SavedFilter:
    name: str
    hours: int = 24
    state: str = ""
    destination: str = ""
    message_type: str = ""
    key_name: str = ""


def _user(principal: Principal) -> str:
    """The console person behind ``principal`` (saved filters are a person's own)."""
    principal.require(Kind.OPERATOR)
    kind, _, name = principal.name.partition(":")
    if kind != "user" or not name:
        raise InputError("saved filters belong to a console person", reason="not_a_person")
    return name


def _check(f: SavedFilter) -> None:
    if not f.name.strip() or len(f.name) > MAX_NAME:
        raise InputError(f"a saved filter needs a name of 1 to {MAX_NAME} characters")
    if not 1 <= f.hours <= MAX_HOURS:
        raise InputError(f"a saved filter's window is 1 to {MAX_HOURS} hours")


def save_filter(hub: Hub, principal: Principal, f: SavedFilter) -> None:
    """Save ``f`` under its name (replacing the person's filter of that name)."""
    user = _user(principal)
    _check(f)
    fields = {k: v for k, v in asdict(f).items() if k != "name"}
    with hub.engine.begin() as conn:
        rows.put(conn, user, f.name.strip(), json.dumps(fields, sort_keys=True), hub.clock())


def saved_filters(hub: Hub, principal: Principal) -> list[SavedFilter]:
    user = _user(principal)
    with hub.reader.connect() as conn:
        found = rows.of_user(conn, user)
    return [SavedFilter(name=name, **json.loads(text)) for name, text in found]


def saved_filter(hub: Hub, principal: Principal, name: str) -> SavedFilter:
    for f in saved_filters(hub, principal):
        if f.name == name:
            return f
    raise NotFound(f"no saved filter {name!r}", reason="filter_not_found")


def delete_filter(hub: Hub, principal: Principal, name: str) -> None:
    user = _user(principal)
    with hub.engine.begin() as conn:
        if not rows.remove(conn, user, name):
            raise NotFound(f"no saved filter {name!r}", reason="filter_not_found")
