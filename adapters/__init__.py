"""The adapter registry: which class serves which kind of destination system.

A table of names to dotted paths, resolved lazily (kombu's ``TRANSPORT_ALIASES``), so that
importing this package imports no HTTP, SOAP or SDK client: a worker only pays for the adapters
its configuration names, and nothing is created before Celery forks. Third-party adapters come
through the entry-point group ``omsorgshub.adapters``; a built-in name always wins over an entry
point of the same name, so an installed package cannot take over where ``http`` deliveries go.

Every adapter class is an ``AdapterFactory``: ``Cls(name, options)`` stores and validates its
settings and does no I/O; ``open()`` makes clients and ``close()`` releases them.
``StrictOptions`` is the one way adapters read their options, so that an unknown key or a wrong
type is a ``ConfigError`` naming the key, the same for every adapter.
"""

from __future__ import annotations

import difflib
import importlib
import math
from collections.abc import Iterable, Mapping
from importlib.metadata import entry_points
from typing import TypeVar, cast

from hub.errors import ConfigError
from hub.ports import Adapter, AdapterFactory

__all__ = [
    "ADAPTERS",
    "ENTRY_POINT_GROUP",
    "StrictOptions",
    "available",
    "create",
    "resolve",
]

ADAPTERS: dict[str, str] = {
    "memory": "adapters.memory:MemoryAdapter",
    "http": "adapters.http:HttpAdapter",
    "case-soap": "adapters.case_management.adapter:CaseManagementAdapter",
    "ubw": "adapters.finance_ubw.adapter:UbwFinanceAdapter",
    "sdk": "adapters.sdk.adapter:SdkAdapter",
    "medcom": "adapters.medcom.adapter:MedcomAdapter",
    "ivo": "adapters.ivo.adapter:IvoAdapter",
    "combine": "adapters.combine.adapter:CombineAdapter",
}

ENTRY_POINT_GROUP = "omsorgshub.adapters"

_T = TypeVar("_T")
_MISSING = object()


def available() -> dict[str, str]:
    """Every adapter kind this installation knows: built-ins, then entry points."""
    kinds = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    kinds.update(ADAPTERS)
    return dict(sorted(kinds.items()))


def resolve(kind: str) -> AdapterFactory:
    """Import and return the adapter class for ``kind``; ``ConfigError`` if there is none."""
    if kind in ADAPTERS:
        target = ADAPTERS[kind]
        loaded = _import_target(kind, target)
    else:
        found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == kind]
        if not found:
            raise ConfigError(_unknown_kind_detail(kind), reason="unknown_adapter", kind=kind)
        target = found[0].value
        try:
            loaded = found[0].load()
        except (ImportError, AttributeError) as exc:
            raise ConfigError(
                f"adapter kind {kind!r}: cannot load entry point {target!r} "
                f"({type(exc).__name__}: {exc})",
                reason="adapter_unloadable",
                kind=kind,
            ) from exc
    if not callable(loaded):
        raise ConfigError(
            f"adapter kind {kind!r}: {target!r} is not a class or factory",
            reason="adapter_unloadable",
            kind=kind,
        )
    return cast(AdapterFactory, loaded)


def create(kind: str, name: str, options: Mapping[str, object]) -> Adapter:
    """Build an unopened adapter instance ``name`` of ``kind`` with its ``options``."""
    return resolve(kind)(name, options)


def _import_target(kind: str, target: str) -> object:
    module_name, _, attribute = target.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"adapter kind {kind!r}: cannot import {target!r} ({type(exc).__name__}: {exc})",
            reason="adapter_unloadable",
            kind=kind,
        ) from exc


def _unknown_kind_detail(kind: str) -> str:
    known = list(available())
    close = difflib.get_close_matches(kind, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown adapter kind {kind!r}{hint} (available: {', '.join(known)})"


class StrictOptions:
    """Typed, strict reading of one adapter instance's options.

    The constructor rejects unknown keys (naming the key and listing the allowed ones, as Camel
    rejects unknown endpoint options); each getter rejects a wrong type. ``bool`` is never
    accepted where a number is expected, and an ``int`` is accepted where a ``float`` is.
    """

    def __init__(
        self, kind: str, name: str, options: Mapping[str, object], allowed: Iterable[str]
    ) -> None:
        self._where = f"adapter {name!r} ({kind})"
        self._options = options
        self._allowed = sorted(allowed)
        unknown = sorted(str(key) for key in options if key not in self._allowed)
        if unknown:
            raise ConfigError(
                f"{self._where}: unknown option {unknown[0]!r}; "
                f"allowed options: {', '.join(self._allowed) or '(none)'}",
                reason="unknown_option",
                option=unknown[0],
            )

    def required(self, key: str, expected: type[_T]) -> _T:
        value = self._options.get(key, _MISSING)
        if value is _MISSING or value is None:
            raise ConfigError(f"{self._where}: option {key!r} is required", option=key)
        return self._typed(key, value, expected)

    def get(self, key: str, expected: type[_T], default: _T) -> _T:
        value = self._options.get(key, _MISSING)
        if value is _MISSING:
            return default
        return self._typed(key, value, expected)

    def optional(self, key: str, expected: type[_T]) -> _T | None:
        value = self._options.get(key)
        return None if value is None else self._typed(key, value, expected)

    def seconds(self, key: str, default: float) -> float:
        """A positive, finite number of seconds (a timeout), ``default`` when not given."""
        value = self.get(key, float, default)
        if not (math.isfinite(value) and value > 0):
            raise self.fail(key, "must be a positive number of seconds")
        return value

    def retries(self, key: str, default: int) -> int:
        """How many times to retry inside a call: 0 to ``MAX_RETRIES``."""
        from adapters.transience import MAX_RETRIES  # tenacity is imported only when used

        value = self.get(key, int, default)
        if not 0 <= value <= MAX_RETRIES:
            raise self.fail(key, f"must be between 0 and {MAX_RETRIES}")
        return value

    def fail(self, key: str, problem: str) -> ConfigError:
        """The error for a value of the right type that is still not allowed."""
        return ConfigError(f"{self._where}: option {key!r} {problem}", option=key)

    def _typed(self, key: str, value: object, expected: type[_T]) -> _T:
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            return cast(_T, float(value))
        if isinstance(value, expected) and not (isinstance(value, bool) and expected is not bool):
            return value
        # The value itself is left out: it may be a token.
        raise self.fail(key, f"must be of type {expected.__name__}, not {type(value).__name__}")
