"""Which failures of a destination are worth trying again, and the in-call retry built from that.

Each adapter declares one :class:`Transience` (kombu's ``connection_errors``: declared once,
read by the machinery). Two places read it and nothing else decides:

- the adapter's error mapping (``adapters.http.map_outcome``, ``adapters.soap.map_soap_outcome``):
  an HTTP status in ``statuses`` or a library error in ``errors`` becomes a
  ``TransientDeliveryError``, which the hub's outbox schedules again from its database; any
  other failure is a ``PermanentDeliveryError`` and the delivery is dead at once;
- :func:`in_call_retrying`, the one in-call retry: a few quick tries inside one call,
  only for what ``retry_in_call`` accepts or a response whose status is in ``retry_statuses``,
  i.e. where repeating the request surely does no harm (it never arrived, or the system
  de-duplicates on the delivery id). Every longer schedule lives in the hub's database.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

__all__ = ["MAX_RETRIES", "InCallRetry", "Transience", "in_call_backoff", "in_call_retrying"]

MAX_RETRIES = 4  # the most any adapter's ``retries`` option allows

P = ParamSpec("P")
R = TypeVar("R")


def in_call_backoff(retry: int) -> float:
    """Seconds before in-call retry number ``retry`` (1, 2, ...): 50, 100, 200, 200 ms, each
    plus up to 50 ms of jitter."""
    return min(0.05 * 2.0 ** (retry - 1), 0.2) + random.uniform(0, 0.05)


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


class InCallRetry:
    """The in-call retry of an adapter: ``retries`` more tries (50-200 ms apart, jittered) for
    what ``transience`` says may be repeated at once; then the last outcome, as it was.

    A plain loop, built once per adapter: a call that succeeds at once (nearly every call)
    costs one function call more than none. tenacity's ``Retrying``, built per delivery, was
    a measurable part of the HTTP adapter's CPU per delivery (issue 16)."""

    __slots__ = ("_retries", "_transience")

    def __init__(self, transience: Transience, retries: int) -> None:
        self._transience = transience
        self._retries = retries

    def __call__(self, call: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        retry = 0
        while True:
            try:
                result = call(*args, **kwargs)
            except Exception as exc:
                if retry >= self._retries or not self._transience.retry_in_call(exc):
                    raise
            else:
                status = getattr(result, "status_code", None)
                if retry >= self._retries or status not in self._transience.retry_statuses:
                    return result
            retry += 1
            time.sleep(in_call_backoff(retry))


def in_call_retrying(transience: Transience, retries: int) -> InCallRetry:
    """The one in-call retry of an adapter (see :class:`InCallRetry`)."""
    return InCallRetry(transience, retries)
