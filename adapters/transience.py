"""Which failures of a destination are worth trying again, and the in-call retry built from that.

Each adapter declares one :class:`Transience` (kombu's ``connection_errors``: declared once,
read by the machinery). Two places read it and nothing else decides:

- the adapter's error mapping (``adapters.http.map_outcome``, ``adapters.soap.map_soap_outcome``):
  an HTTP status in ``statuses`` or a library error in ``errors`` becomes a
  ``TransientDeliveryError``, which the hub's outbox schedules again from its database; any
  other failure is a ``PermanentDeliveryError`` and the delivery is dead at once;
- :func:`in_call_retrying`, the one in-call retry (tenacity): a few quick tries inside one call,
  only for what ``retry_in_call`` accepts or a response whose status is in ``retry_statuses``,
  i.e. where repeating the request surely does no harm (it never arrived, or the system
  de-duplicates on the delivery id). Every longer schedule lives in the hub's database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tenacity import (
    RetryCallState,
    Retrying,
    retry_base,
    retry_if_exception,
    retry_if_result,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

__all__ = ["IN_CALL_BACKOFF", "MAX_RETRIES", "Transience", "in_call_retrying"]

MAX_RETRIES = 4  # the most any adapter's ``retries`` option allows
IN_CALL_BACKOFF = wait_exponential(multiplier=0.05, max=0.2) + wait_random(0, 0.05)


def _never(error: BaseException) -> bool:
    return False


@dataclass(frozen=True)
class Transience:
    """One adapter's classification of its failures (see the module docstring)."""

    statuses: frozenset[int]  # HTTP statuses, without a protocol answer, that are transient
    errors: tuple[type[BaseException], ...]  # library errors that are transient
    retry_in_call: Callable[[BaseException], bool] = _never  # repeated at once, in the call
    retry_statuses: frozenset[int] = field(default_factory=frozenset)  # likewise, responses

    def is_transient_status(self, status: int | None) -> bool:
        return status is not None and status in self.statuses


def in_call_retrying(transience: Transience, retries: int) -> Retrying:
    """The in-call retry of an adapter: ``retries`` more tries (50-200 ms apart, jittered) for
    what ``transience`` says may be repeated at once; then the last outcome, as it was."""
    condition: retry_base = retry_if_exception(transience.retry_in_call)
    if transience.retry_statuses:
        statuses = transience.retry_statuses
        condition = condition | retry_if_result(lambda response: _status_of(response) in statuses)
    return Retrying(
        stop=stop_after_attempt(retries + 1),
        wait=IN_CALL_BACKOFF,
        retry=condition,
        retry_error_callback=_last_outcome,
    )


def _status_of(response: object) -> object:
    """A response's HTTP status: ``status_code`` in httpx and requests, ``status`` in urllib3."""
    status = getattr(response, "status_code", None)
    return getattr(response, "status", None) if status is None else status


def _last_outcome(state: RetryCallState) -> Any:
    """After the last try: return its result or re-raise its exception."""
    assert state.outcome is not None
    return state.outcome.result()
