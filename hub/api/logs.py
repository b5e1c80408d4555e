"""Log set-up for ``serve`` and ``relay``, and the hub's own events as log records.

``--log-format json`` (setting ``log_format``) writes one JSON object a line
(python-json-logger), for a log shipper to index without parsing text. The hub's events go to
the ``omsorgshub.events`` logger with their fields as structured attributes:

- ``accepted``: ``message_id``, ``sender``, ``deliveries`` (how many), ``duplicate``;
- ``refused``: ``sender`` (when known), ``status``, ``reason`` (the reason code);
- ``delivered``, ``retrying``, ``dead``, ``refused_delivery``, ``awaiting_receipt`` (handed to
  an SDK message service, its receipt awaited): ``delivery_id``, ``destination``, ``reason``.

Ids and reason codes only: never a payload, a name, an identity number, nor a refusal's detail
(which may quote the document). The text format shows the same events as ``key=value`` lines.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

if TYPE_CHECKING:
    from hub.bootstrap import Hub
    from hub.outbox.delivery import AttemptOutcome

events = logging.getLogger("omsorgshub.events")

_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The event names of attempt outcomes; a delivery refused by the agreements is told apart from
# a message refused at the door.
_OUTCOME_EVENTS = {"refused": "refused_delivery"}


class _TextEventFormatter(logging.Formatter):
    """Text lines; an event's fields follow its name as ``key=value``."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line += " " + " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        return line


def configure_logging(level: str, log_format: str) -> None:
    """Root logging to stderr in ``text`` or ``json``; uvicorn's loggers follow the root."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"levelname": "level", "name": "logger"},
                reserved_attrs=[*RESERVED_ATTRS, "fields"],  # its keys are top-level already
            )
        )
    else:
        handler.setFormatter(_TextEventFormatter(_TEXT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True


def event(name: str, **fields: object) -> None:
    """Log one of the hub's events. JSON: the fields are top-level keys; text: ``key=value``."""
    if events.isEnabledFor(logging.INFO):
        events.info(name, extra={"event": name, "fields": fields, **fields})


def log_outcome(outcome: AttemptOutcome) -> None:
    state = outcome.state.value
    event(
        _OUTCOME_EVENTS.get(state, state),
        delivery_id=outcome.delivery_id,
        destination=outcome.destination,
        reason=outcome.reason,
    )


def log_outcomes(hub: Hub) -> None:
    """Log every delivery outcome this process records (embedded worker or Celery worker)."""
    hub.on_outcome(log_outcome)
