"""Opened adapters by destination name, shared by the delivery executor and the lookups.

An adapter is made and opened on first use (never at import or start-up, STYLE 2), outside the
pool's lock so a slow WSDL load for one destination does not hold up the others.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from adapters import create as create_adapter
from hub.ingest.routing import RoutingTable
from hub.ports import Adapter


class AdapterPool:
    """Opened adapters by destination name, made on first use (never at import or start-up)."""

    def __init__(
        self,
        routing: RoutingTable,
        factory: Callable[[str, str, Mapping[str, object]], Adapter] = create_adapter,
    ) -> None:
        self._routing = routing
        self._factory = factory
        self._open: dict[str, Adapter] = {}
        self._lock = threading.Lock()

    def get(self, destination: str) -> Adapter:
        adapter = self._open.get(destination)
        if adapter is not None:
            return adapter
        # Opened outside the pool's lock: an adapter that loads a WSDL from a slow host must
        # not hold up the first delivery to every other destination.
        spec = self._routing.destination(destination)
        made = self._factory(spec.adapter, destination, spec.options)
        made.open()
        with self._lock:
            adapter = self._open.setdefault(destination, made)
        if adapter is not made:  # another thread opened one first
            made.close()
        return adapter

    def close(self) -> None:
        with self._lock:
            for adapter in self._open.values():
                adapter.close()
            self._open.clear()
