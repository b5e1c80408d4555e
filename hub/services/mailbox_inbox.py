"""Pulling the hub's own functional mailboxes (SDK): each new message ingested once.

A destination whose adapter is an ``InboxPoller`` with an inbox (the ``sdk`` adapter with
``inbox_functional_address``) is asked for the messages waiting there; each comes as a
``mailbox.message`` envelope from the registered system the adapter names (``inbox_system``,
e.g. ``sdk-inbox``: the mailbox is a sender like any other, with its own agreements) and goes
through the normal ingest pipeline: validation, agreement check, encryption, audit, routing.

Once: the SDK ``messageId`` is the envelope's ``MessageId``, i.e. the sender's idempotency key.
A message already stored under it is not even fetched again (``known``), and were it fetched,
ingest would answer it as a repeat and store nothing. The sender system must be registered and
active; an unknown or deactivated one ingests nothing (``inbox_sender_unknown``).

Run by ``omsorgshub sdk poll`` (once) and by ``serve`` every ``inbox_poll_seconds``
(:func:`start_inbox_polling`): a thread of the serving process, not the relay's loop, because
pulling a mailbox is ingest, not delivery, and must not slow the relay's passes.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from hub.bootstrap import Hub
from hub.errors import HubError
from hub.ports import InboxPoller
from hub.storage import systems as system_rows
from hub.storage.messages import find_by_key

log = logging.getLogger(__name__)


@dataclass
class InboxResult:
    ingested: list[str] = field(default_factory=list)  # hub message ids
    repeats: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # SDK message id -> reason


def inbox_pollers(hub: Hub) -> list[tuple[str, InboxPoller]]:
    """The destinations with an inbox to poll, opened."""
    found: list[tuple[str, InboxPoller]] = []
    for name in sorted(hub.routing.destinations):
        adapter = hub.adapters.get(name)
        if isinstance(adapter, InboxPoller) and adapter.inbox_interval is not None:
            found.append((name, adapter))
    return found


def poll_inbox(hub: Hub, destination: str, poller: InboxPoller) -> InboxResult:
    """Ingest what waits in one destination's inbox; errors per message, never raised."""
    result = InboxResult()

    def known(sender: str, key: str) -> bool:
        with hub.reader.connect() as conn:
            return find_by_key(conn, sender, key) is not None

    for document in poller.poll_inbox(known):
        with hub.reader.connect() as conn:
            system = system_rows.get_system(conn, document.sender)
        if system is None or not system.active:
            result.failed[document.key] = "inbox_sender_unknown"
            log.warning("inbox of %s: system %r is not registered", destination, document.sender)
            continue
        try:
            stored = hub.ingestor.ingest(document.sender, document.envelope)
        except HubError as exc:
            result.failed[document.key] = exc.reason
            log.warning("inbox of %s: message %s refused: %s", destination, document.key, exc)
            continue
        if stored.duplicate:
            result.repeats += 1
        else:
            result.ingested.append(stored.message_id)
    return result


def poll_inboxes(hub: Hub) -> dict[str, InboxResult]:
    """Every inbox once (``omsorgshub sdk poll``); a destination that cannot be reached is
    reported by its reason and the others are still polled."""
    results: dict[str, InboxResult] = {}
    for name, poller in inbox_pollers(hub):
        try:
            results[name] = poll_inbox(hub, name, poller)
        except HubError as exc:
            results[name] = InboxResult(failed={"*": exc.reason})
            log.warning("inbox of %s could not be polled: %s", name, exc)
    return results


def start_inbox_polling(hub: Hub, stop: threading.Event) -> list[threading.Thread]:
    """A daemon thread per inbox, polling every ``inbox_interval`` seconds until ``stop``."""
    threads = []
    for name, poller in inbox_pollers(hub):
        thread = threading.Thread(
            target=_poll_forever, args=(hub, name, poller, stop), name=f"inbox-{name}", daemon=True
        )
        thread.start()
        threads.append(thread)
    return threads


def _poll_forever(hub: Hub, name: str, poller: InboxPoller, stop: threading.Event) -> None:
    interval = poller.inbox_interval or 30.0
    while not stop.wait(interval):
        try:
            poll_inbox(hub, name, poller)
        except HubError as exc:
            log.warning("inbox of %s could not be polled: %s", name, exc)
        except Exception:
            log.exception("inbox of %s: poll failed", name)
