"""The small interfaces the pipeline and the delivery engine depend on.

Concrete implementations are chosen in ``hub.bootstrap`` (the one composition root); nothing
else imports SQLAlchemy- or Celery-backed implementations directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from hub.envelope import LookupRequest, LookupResult, OutboundDelivery, Receipt


@runtime_checkable
class Adapter(Protocol):
    """One destination system kind. ``deliver`` raises ``TransientDeliveryError`` or
    ``PermanentDeliveryError`` (hub.errors) on failure; it never returns a failure value.

    ``open``/``close`` make and release connections, WSDL clients and the like: a constructor
    only stores settings (Celery forks workers after import).
    """

    name: str

    def open(self) -> None: ...

    def close(self) -> None: ...

    def deliver(self, delivery: OutboundDelivery) -> Receipt: ...


@runtime_checkable
class LookupAdapter(Protocol):
    """A system the hub can ask synchronously (the contact centre's lookups). Same error
    contract as ``Adapter.deliver``: transient/permanent ``DeliveryError``s, never a failure
    value. An adapter may implement both protocols."""

    name: str

    def open(self) -> None: ...

    def close(self) -> None: ...

    def lookup(self, request: LookupRequest) -> LookupResult: ...


class AdapterFactory(Protocol):
    """What the adapter registry resolves a name to: a class taking the instance's settings."""

    def __call__(self, name: str, options: Mapping[str, object]) -> Adapter: ...


class Dispatcher(Protocol):
    """Carries claimed delivery ids to whatever executes them (in-process pool or Celery).

    A dispatcher never carries payloads. Losing a batch is allowed: the sweeper re-claims
    deliveries whose lease expired.
    """

    def dispatch(self, claims: Sequence[tuple[str, int]]) -> None:
        """Hand over ``(delivery_id, claim)`` pairs. ``claim`` fences stale workers."""
        ...

    def capacity(self) -> int:
        """How many more batches it takes now. The relay claims no more than that, so claims
        do not wait in a local queue while their lease runs out."""
        ...

    def close(self) -> None: ...
