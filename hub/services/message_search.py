"""The operators' view of the messages: search, counts per destination and state, dead letters,
and one message as a tree of its deliveries and their attempts.

Metadata only: types, districts, states, reason codes, times, ids. No payload is read here
(``hub.services.messages.view_payload`` does that, with a reason, audited). A search by a
business key turns the typed value into its keyed HMAC (``Hmacs.business_key``) where the
type declares the key protected, so a case or invoice number is compared, never stored; such
a search concerns a person's records and is audited (``queried``, the person as actor, the key's
name and the count, never the value). Everything is scoped to the principal's districts in
the query: an operator of district A never sees B's messages, and B's message is "absent".

The attempts of a delivery are read from the audit trail, where every attempt already leaves
its entry (``sent``, ``delivered``, ``delivery_failed``, ``dead``, ``refused``,
``replayed``): the trail is the record of what happened, so no second table repeats it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from audit.entry import AuditAction
from audit.search import AuditQuery
from audit.search import search as search_trail
from hub.errors import InputError
from hub.guards import AuditEvent
from hub.services.messages import MessageDetail, MessageSummary, show_message
from hub.services.principal import Kind, Principal
from hub.storage import message_search as rows
from hub.storage.message_search import FINAL_STATES, OPEN_STATES, DeadLetter, MessageQuery

if TYPE_CHECKING:
    from hub.bootstrap import Hub

__all__ = [
    "FINAL_STATES",
    "OPEN_STATES",
    "SENDER_MESSAGE_ID",
    "Attempt",
    "DeadLetter",
    "DeadLetters",
    "MessageFilter",
    "MessageTree",
    "Page",
    "StateCounts",
    "count_states",
    "dead_letters",
    "key_names",
    "message_tree",
    "search_messages",
]

SENDER_MESSAGE_ID = "sender_message_id"  # the key name the form offers for the idempotency key
MAX_PAGE = 200
# What happened to a delivery; ``decrypted`` (before each attempt) is left out of the tree.
_ATTEMPT_ACTIONS = {
    AuditAction.SENT,
    AuditAction.DELIVERED,
    AuditAction.DELIVERY_FAILED,
    AuditAction.DEAD,
    AuditAction.REFUSED,
    AuditAction.REPLAYED,
    AuditAction.HELD,
    AuditAction.RELEASED,
    AuditAction.REJECTED,
}


@dataclass(frozen=True)
class MessageFilter:
    """A search as the operator gives it. ``key_value`` is the typed value (a case number, an
    invoice or OCR number, the sender's message id): the service stores nothing of it."""

    since: datetime | None = None
    until: datetime | None = None
    state: str | None = None
    destination: str | None = None
    message_type: str | None = None
    key_name: str | None = None
    key_value: str | None = None
    before: tuple[datetime, str] | None = None
    page_size: int = 50


@dataclass(frozen=True)
class Page:
    messages: list[MessageSummary]
    next_cursor: tuple[datetime, str] | None  # the ``before`` of the next page, if any


def key_names(hub: Hub) -> dict[str, bool]:
    """Every business key a message type declares, with whether any type stores it as a keyed
    HMAC; the sender's message id first (stored plain: the sender's own identifier)."""
    names: dict[str, bool] = {SENDER_MESSAGE_ID: False}
    for mt in hub.registry.types():
        for key in mt.keys:
            names[key.name] = names.get(key.name, False) or key.protected
    return names


def _check(hub: Hub, f: MessageFilter) -> None:
    if f.state is not None and f.state not in (*OPEN_STATES, *FINAL_STATES):
        raise InputError(f"no delivery state {f.state!r}", reason="form_invalid")
    if f.message_type and f.message_type not in {t.name for t in hub.registry.types()}:
        raise InputError(f"no message type {f.message_type!r}", reason="form_invalid")
    if f.key_value and not f.key_name:
        raise InputError("choose which business key the value is", reason="form_invalid")
    if f.key_name and f.key_name not in key_names(hub):
        raise InputError(f"no business key {f.key_name!r}", reason="form_invalid")
    if f.since and f.until and f.until <= f.since:
        raise InputError("the time window ends before it begins", reason="form_invalid")
    if not 1 <= f.page_size <= MAX_PAGE:
        raise InputError(f"a page holds 1 to {MAX_PAGE} messages", reason="form_invalid")


def search_messages(hub: Hub, principal: Principal, f: MessageFilter) -> Page:
    """The newest messages of the principal's districts matching ``f``, one page of them."""
    principal.require(Kind.OPERATOR)
    _check(hub, f)
    key_name = f.key_name if f.key_value else None
    value = (f.key_value or "").strip()
    stored: tuple[str, ...] = ()
    if key_name and key_name != SENDER_MESSAGE_ID:
        protected = key_names(hub)[key_name]
        stored = (hub.guards.hmacs.business_key(value),) if protected else (value,)
    query = MessageQuery(
        districts=principal.districts,
        since=f.since,
        until=f.until,
        state=f.state,
        destination=f.destination,
        message_type=f.message_type,
        key_name=key_name if stored else None,
        key_values=stored,
        sender_message_id=value if key_name == SENDER_MESSAGE_ID else None,
        before=f.before,
        limit=f.page_size + 1,
    )
    with hub.engine.begin() as conn:
        found = rows.search(conn, query)
        if key_name:
            # A search by a case, invoice or message number concerns someone's records.
            hub.guards.record(conn, _searched(principal, key_name, min(len(found), f.page_size)))
    more = len(found) > f.page_size
    shown = found[: f.page_size]
    cursor = (shown[-1].message.received_at, shown[-1].message.id) if more and shown else None
    return Page(shown, cursor)


def _searched(principal: Principal, key_name: str, found: int) -> list[AuditEvent]:
    """One entry per district searched, so each district's officer sees the search."""
    districts = sorted(principal.districts) if principal.districts is not None else [None]
    reason = f"message search by {key_name}: {found} found"
    return [principal.did(AuditAction.QUERIED, district=d, reason=reason) for d in districts]


@dataclass(frozen=True)
class StateCounts:
    by_destination: dict[str, dict[str, int]]
    since: datetime  # final states are counted from here; open states however old


def count_states(hub: Hub, principal: Principal, window: timedelta) -> StateCounts:
    principal.require(Kind.OPERATOR)
    since = hub.clock() - window
    with hub.reader.connect() as conn:
        found = rows.counts(conn, principal.districts, since)
    return StateCounts(dict(sorted(found.items())), since)


@dataclass(frozen=True)
class DeadLetters:
    letters: list[DeadLetter]
    total: int


def dead_letters(
    hub: Hub, principal: Principal, *, destination: str | None = None, limit: int = 100
) -> DeadLetters:
    """Dead deliveries of the principal's districts with their reasons, newest first."""
    principal.require(Kind.OPERATOR)
    with hub.reader.connect() as conn:
        letters, total = rows.dead_letters(conn, principal.districts, destination, limit)
    return DeadLetters(letters, total)


@dataclass(frozen=True)
class Attempt:
    """One thing that happened to a delivery, as the audit trail recorded it."""

    at: str
    action: str
    outcome: str
    reason: str | None
    actor: str


@dataclass(frozen=True)
class MessageTree:
    detail: MessageDetail
    received_at: str | None  # the ``received`` entry's time, when the trail has it
    attempts: dict[str, list[Attempt]]  # destination -> attempts, oldest first


def message_tree(hub: Hub, principal: Principal, message_id: str) -> MessageTree:
    """A message, its deliveries and each delivery's attempts (404 outside the scope)."""
    detail = show_message(hub, principal, message_id)
    with hub.reader.connect() as conn:
        entries = search_trail(conn, AuditQuery(message_id=message_id, limit=10_000))
    attempts: dict[str, list[Attempt]] = {d.destination: [] for d in detail.deliveries}
    received = None
    seen: set[tuple[str, ...]] = set()
    for e in entries:
        if e.action == AuditAction.RECEIVED and received is None:
            received = e.at
        if e.action not in _ATTEMPT_ACTIONS or e.destination not in attempts:
            continue
        once = (e.at, e.action, e.destination, e.reason or "", e.actor)
        if once in seen:  # one entry per person the message names: one attempt
            continue
        seen.add(once)
        attempts[e.destination].append(Attempt(e.at, e.action, e.outcome, e.reason, e.actor))
    return MessageTree(detail, received, attempts)


def visible_destinations(hub: Hub, principal: Principal) -> list[str]:
    """The destinations routed for the principal's districts (the search form's choices)."""
    principal.require(Kind.OPERATOR)
    names: set[str] = set()
    for route in hub.routing.routes:
        if route.district == "*" or principal.covers(route.district):
            names.update(route.destinations)
    return sorted(names)


def message_types(hub: Hub) -> Sequence[str]:
    return sorted({t.name for t in hub.registry.types()})
