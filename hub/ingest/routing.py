"""The routing table: which destinations receive a message of a type from a district.

A destination is a named adapter instance with its options and its retry policy. The table is
a strict TOML file (``routes_file``)::

    [destinations.paraplyet-sodermalm]
    adapter = "http"                       # a name in the adapter registry
    options = { url = "http://127.0.0.1:9101/messages", timeout = 5 }
    retry = { max_attempts = 8, cap_seconds = 120 }   # optional; overrides the global defaults

    [[routes]]
    type = "case.referral"
    district = "sdn-sodermalm"             # or "*" for every district
    destinations = ["paraplyet-sodermalm"]

MedCom receivers (SOR/EAN → district) are the table's ``[medcom]`` part
(``hub.ingest.medcom_routing``). Explicit recipients in an envelope must be among the routed
destinations; they narrow the delivery to themselves. Routing is decided at ingest; the
agreement check is repeated at every delivery attempt (contracts/).
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from hub.errors import ConfigError, RoutingError
from hub.ingest.medcom_routing import MedcomReceiver, parse_medcom
from hub.outbox.retry import RetryPolicy


@dataclass(frozen=True)
class Destination:
    name: str
    adapter: str
    options: Mapping[str, object]
    retry: RetryPolicy


@dataclass(frozen=True)
class Route:
    message_type: str
    district: str  # "*" matches every district
    destinations: tuple[str, ...]


@dataclass(frozen=True)
class RoutingTable:
    destinations: Mapping[str, Destination]
    routes: tuple[Route, ...] = field(default=())
    medcom_receivers: tuple[MedcomReceiver, ...] = ()  # [medcom] (hub.ingest.medcom_routing)

    def destinations_for(
        self, message_type: str, district: str, recipients: Sequence[str] = ()
    ) -> tuple[str, ...]:
        routed: list[str] = []
        for route in self.routes:
            if route.message_type == message_type and route.district in ("*", district):
                routed.extend(d for d in route.destinations if d not in routed)
        if not routed:
            raise RoutingError(
                f"no destination is routed for type {message_type!r} from district {district!r}",
                reason="no_route",
            )
        if not recipients:
            return tuple(routed)
        unknown = [r for r in recipients if r not in routed]
        if unknown:
            raise RoutingError(
                f"recipient(s) {', '.join(map(repr, unknown))} are not routed for type "
                f"{message_type!r} from district {district!r}; routed: {', '.join(routed)}",
                reason="recipient_not_routed",
            )
        return tuple(dict.fromkeys(recipients))

    def destination(self, name: str) -> Destination:
        try:
            return self.destinations[name]
        except KeyError:
            raise ConfigError(f"destination {name!r} is not in the routing table") from None


_DEST_KEYS = {"adapter", "options", "retry"}
_ROUTE_KEYS = {"type", "district", "destinations"}
_TOP_KEYS = {"destinations", "routes", "medcom"}


def _check_keys(table: Mapping[str, object], allowed: set[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{where}: unknown key {key!r}{hint}; allowed: {sorted(allowed)}")


def parse_routing(data: Mapping[str, object], defaults: RetryPolicy, origin: str) -> RoutingTable:
    _check_keys(data, _TOP_KEYS, origin)
    raw_dests = data.get("destinations", {})
    if not isinstance(raw_dests, dict):
        raise ConfigError(f"{origin}: [destinations] must be a table")
    destinations: dict[str, Destination] = {}
    for name, raw in raw_dests.items():
        where = f"{origin} [destinations.{name}]"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where} must be a table")
        _check_keys(raw, _DEST_KEYS, where)
        adapter = raw.get("adapter")
        if not isinstance(adapter, str):
            raise ConfigError(f"{where}: 'adapter' is required and must be a string")
        options = raw.get("options", {})
        retry = raw.get("retry", {})
        if not isinstance(options, dict) or not isinstance(retry, dict):
            raise ConfigError(f"{where}: 'options' and 'retry' must be tables")
        destinations[name] = Destination(
            name=name,
            adapter=adapter,
            options=MappingProxyType(dict(options)),
            retry=defaults.overridden(retry, where),
        )
    raw_routes = data.get("routes", [])
    if not isinstance(raw_routes, list):
        raise ConfigError(f"{origin}: [[routes]] must be an array of tables")
    routes: list[Route] = []
    for i, raw in enumerate(raw_routes, start=1):
        where = f"{origin} route #{i}"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where} must be a table")
        _check_keys(raw, _ROUTE_KEYS, where)
        mtype, district, dests = raw.get("type"), raw.get("district", "*"), raw.get("destinations")
        if not isinstance(mtype, str) or not isinstance(district, str):
            raise ConfigError(f"{where}: 'type' and 'district' must be strings")
        if not isinstance(dests, list) or not dests or not all(isinstance(d, str) for d in dests):
            raise ConfigError(f"{where}: 'destinations' must be a non-empty list of names")
        for d in dests:
            if d not in destinations:
                close = difflib.get_close_matches(d, list(destinations), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(f"{where}: unknown destination {d!r}{hint}")
        routes.append(Route(mtype, district, tuple(dests)))
    medcom = parse_medcom(data["medcom"], origin) if "medcom" in data else ()
    for receiver in medcom:
        for d in receiver.recipients:
            if d not in destinations:
                raise ConfigError(
                    f"{origin}: medcom receiver {receiver.sor}: unknown destination {d!r}"
                )
    return RoutingTable(MappingProxyType(destinations), tuple(routes), medcom)


def load_routing(path: Path, defaults: RetryPolicy) -> RoutingTable:
    """Read and validate the routing table; a missing file is an empty table (nothing routed)."""
    if not path.exists():
        return RoutingTable(MappingProxyType({}), ())
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return parse_routing(data, defaults, str(path))
