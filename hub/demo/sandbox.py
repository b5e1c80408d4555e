"""A hub in a folder of its own, set up in a few calls: for the demo, the tests and ``bench/``.

Shipped with the product like the doubles are (a fake you can trust is one that is used by the
real thing): ``Sandbox`` writes settings and a routing table into its folder, initializes keys
and the database, and builds the hub; ``register_system`` and ``add_agreements`` of
``hub.services.agreements`` do the rest with their audit entries.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from hub.bootstrap import Hub, build_hub, utc_now
from hub.ports import Dispatcher
from hub.services.initialize import initialize
from hub.settings import Settings, load_settings


@dataclass(frozen=True)
class DestinationSpec:
    adapter: str
    options: Mapping[str, object]
    retry: Mapping[str, float] = field(default_factory=dict)


def _toml_inline(values: Mapping[str, object]) -> str:
    # JSON scalars are valid TOML scalars for the strings and numbers used here; a table
    # (an SDK destination's recipients) is written as a nested inline table, keys quoted.
    def value(v: object) -> str:
        return _toml_inline(v) if isinstance(v, Mapping) else json.dumps(v)

    return "{ " + ", ".join(f"{json.dumps(k)} = {value(v)}" for k, v in values.items()) + " }"


def routes_toml(
    destinations: Mapping[str, DestinationSpec], routes: Sequence[tuple[str, str, Sequence[str]]]
) -> str:
    """A routing table file: ``routes`` are ``(message type, district or "*", destinations)``."""
    lines: list[str] = []
    for name, spec in destinations.items():
        lines += [f"[destinations.{name}]", f"adapter = {json.dumps(spec.adapter)}"]
        lines.append(f"options = {_toml_inline(spec.options)}")
        if spec.retry:
            lines.append(f"retry = {_toml_inline(spec.retry)}")
        lines.append("")
    for message_type, district, dests in routes:
        lines += [
            "[[routes]]",
            f"type = {json.dumps(message_type)}",
            f"district = {json.dumps(district)}",
            f"destinations = {json.dumps(list(dests))}",
            "",
        ]
    return "\n".join(lines)


@dataclass
class Sandbox:
    home: Path
    database_url: str = ""
    broker_url: str = ""
    overrides: Mapping[str, str] = field(default_factory=dict)

    def settings(self) -> Settings:
        env = {"OMSORGSHUB_HOME": str(self.home)}
        if self.database_url:
            env["OMSORGSHUB_DATABASE_URL"] = self.database_url
        if self.broker_url:
            env["OMSORGSHUB_BROKER_URL"] = self.broker_url
        for key, value in self.overrides.items():
            env[f"OMSORGSHUB_{key.upper()}"] = value
        return load_settings(env, cwd=self.home)

    def write_routes(
        self,
        destinations: Mapping[str, DestinationSpec],
        routes: Sequence[tuple[str, str, Sequence[str]]],
    ) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.settings().routes_file.write_text(routes_toml(destinations, routes))

    def open(
        self,
        *,
        dispatcher: Dispatcher | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> Hub:
        settings = self.settings()
        initialize(settings)
        return build_hub(settings, dispatcher=dispatcher, clock=clock)
