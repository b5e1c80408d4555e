"""The routing table and the retry schedule: strict parsing, exact behaviour."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.errors import ConfigError, RoutingError
from hub.ingest.routing import parse_routing
from hub.outbox.retry import RetryPolicy

DEFAULTS = RetryPolicy(base_seconds=2, cap_seconds=60, max_attempts=5, max_age_seconds=3600)
TABLE = {
    "destinations": {
        "case-a": {"adapter": "http", "options": {"url": "http://127.0.0.1:1/m"}},
        "case-b": {"adapter": "memory", "retry": {"max_attempts": 2}},
    },
    "routes": [
        {"type": "case.referral", "district": "sdn-a", "destinations": ["case-a"]},
        {"type": "case.referral", "district": "*", "destinations": ["case-b"]},
    ],
}


def test_routes_match_district_and_wildcard_and_narrow_to_recipients() -> None:
    table = parse_routing(TABLE, DEFAULTS, "routes.toml")
    assert table.destinations_for("case.referral", "sdn-a") == ("case-a", "case-b")
    assert table.destinations_for("case.referral", "sdn-x") == ("case-b",)
    assert table.destinations_for("case.referral", "sdn-a", ["case-b"]) == ("case-b",)
    assert table.destination("case-b").retry.max_attempts == 2
    assert table.destination("case-a").retry == DEFAULTS


def test_unrouted_types_and_recipients_are_refused_with_the_reason() -> None:
    table = parse_routing(TABLE, DEFAULTS, "routes.toml")
    with pytest.raises(RoutingError) as caught:
        table.destinations_for("timereport.visit", "sdn-a")
    assert caught.value.reason == "no_route"
    with pytest.raises(RoutingError) as caught:
        table.destinations_for("case.referral", "sdn-x", ["case-a"])
    assert caught.value.reason == "recipient_not_routed"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"destinations": {"d": {"adaptor": "http"}}}, "unknown key 'adaptor'"),
        ({"routes": [{"type": "t", "destinations": ["nope"]}]}, "unknown destination 'nope'"),
        ({"destinations": {"d": {"adapter": "http", "retry": {"max_atempts": 1}}}}, "max_atempts"),
        ({"route": []}, "unknown key 'route' (did you mean 'routes'?)"),
    ],
)
def test_the_routing_file_is_strict(change: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_routing(change, DEFAULTS, "routes.toml")
    assert message in str(caught.value)


def test_backoff_is_exponential_jittered_capped_and_ends() -> None:
    created = datetime(2026, 1, 1, tzinfo=UTC)
    rng = random.Random(1)
    delays = []
    for attempt in range(1, 5):
        due = DEFAULTS.next_attempt(attempt, created, created, rng)
        assert due is not None
        delays.append((due - created).total_seconds())
    for attempt, delay in enumerate(delays, start=1):
        ceiling = min(60, 2 * 2 ** (attempt - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert DEFAULTS.next_attempt(5, created, created) is None  # attempts exhausted
    late = created + timedelta(seconds=3599)
    assert DEFAULTS.next_attempt(1, created, late) is None  # would pass the maximum age


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
@pytest.mark.parametrize("key", ["base_seconds", "max_attempts"])
def test_a_retry_value_of_nan_or_inf_is_named_not_a_crash(key: str, value: float) -> None:
    """TOML writes ``nan`` and ``inf``; found by tests/unit/test_config_file_properties.py."""
    table = {"destinations": {"d": {"adapter": "memory", "retry": {key: value}}}}
    with pytest.raises(ConfigError, match=f"retry {key} must be a finite non-negative number"):
        parse_routing(table, DEFAULTS, "routes.toml")


def test_the_example_routing_tables_read_and_make_their_adapters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/examples/routes.toml is what the README copies; routes-ivo.toml is a section to
    add to it (apart because its robot needs a password in the environment to start)."""
    import adapters
    from hub.ingest.routing import load_routing

    examples = Path(__file__).parents[2] / "docs" / "examples"
    base = (examples / "routes.toml").read_text(encoding="utf-8")
    table = load_routing(examples / "routes.toml", DEFAULTS)
    for name in table.destinations:
        spec = table.destination(name)
        assert adapters.create(spec.adapter, spec.name, spec.options).name == name
    both = tmp_path / "routes.toml"
    both.write_text(base + "\n" + (examples / "routes-ivo.toml").read_text(encoding="utf-8"))
    monkeypatch.setenv("IVO_ESERVICE_PASSWORD", "made-up")
    ivo = load_routing(both, DEFAULTS).destination("ivo-eservice")
    assert adapters.create(ivo.adapter, ivo.name, ivo.options).name == "ivo-eservice"
