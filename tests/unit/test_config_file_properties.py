"""Agreement files, routing tables and settings under Hypothesis: generated valid files read
back to what was written, and arbitrary or mutated text is read or refused with the hub's own
error (``AgreementFileError``, ``ConfigError``), never another exception."""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.errors import AgreementFileError
from contracts.fileformat import dump_agreements, parse_agreements
from contracts.model import Agreement
from hub.demo.sandbox import DestinationSpec, routes_toml
from hub.demo.scenario import demo_agreements
from hub.errors import ConfigError
from hub.ingest.routing import parse_routing
from hub.outbox.retry import RetryPolicy
from hub.settings import SETTINGS, load_settings
from schemas.registry import CATEGORIES, default_registry

BOUNDED = settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
# Loading settings reads files and builds a pydantic model: fewer examples keep it to seconds.
SETTINGS_BOUNDED = settings(BOUNDED, max_examples=50)
KNOWN_TYPES = frozenset(t.name for t in default_registry().types())
SEED = demo_agreements(datetime(2026, 1, 1, tzinfo=UTC))[0]
DEFAULTS = RetryPolicy(base_seconds=2, cap_seconds=60, max_attempts=5, max_age_seconds=3600)

# The model's rule for names: not blank, at most 200 characters.
names = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=30
).filter(str.strip)
toml_scalars = st.one_of(
    st.text(max_size=20),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(),
    st.booleans(),
    st.datetimes(timezones=st.just(UTC)),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def _refusal(call: Callable[[], object], error: type[Exception]) -> str | None:
    """The text of ``error`` if ``call`` raises it (any other exception fails the test)."""
    try:
        call()
    except error as exc:
        return str(exc)
    return None


def _parse(text: str) -> list[Agreement]:
    return parse_agreements(text, known_categories=CATEGORIES, known_types=KNOWN_TYPES)


@BOUNDED
@given(
    names,
    names,
    st.frozensets(st.sampled_from(sorted(CATEGORIES)), min_size=1),
    st.frozensets(names, min_size=1, max_size=3),
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    st.integers(1, 10_000),
)
def test_generated_agreements_round_trip(
    controller: str,
    reference: str,
    categories: frozenset[str],
    purposes: frozenset[str],
    valid_from: datetime,
    retention: int,
) -> None:
    agreement = replace(
        SEED,
        controller_name=controller,
        legal_reference=reference,
        categories=categories,
        purposes=purposes,
        valid_from=valid_from,
        valid_to=valid_from + timedelta(days=retention),
        retention_days=retention,
        consent_required=SEED.consent_required & categories,
    )
    assert _parse(dump_agreements([agreement])) == [agreement]


@BOUNDED
@given(st.text(max_size=400))
def test_arbitrary_text_is_an_agreement_file_or_refused(text: str) -> None:
    refusal = _refusal(lambda: _parse(text), AgreementFileError)
    assert refusal is None or refusal.strip()


@BOUNDED
@given(
    st.sampled_from([f for f in tomllib.loads(dump_agreements([SEED]))["agreement"][0]]),
    toml_values,
)
def test_an_agreement_with_one_value_replaced_is_read_or_refused(key: str, value: object) -> None:
    table = tomllib.loads(dump_agreements([SEED]))
    table["agreement"][0][key] = value
    refusal = _refusal(lambda: _parse(tomli_w.dumps(table)), AgreementFileError)
    assert refusal is None or refusal.strip()


@BOUNDED
@given(
    st.dictionaries(st.sampled_from(["destinations", "routes", "extra"]), toml_values, max_size=3)
)
def test_arbitrary_routing_data_is_a_table_or_refused(data: dict[str, object]) -> None:
    refusal = _refusal(lambda: parse_routing(data, DEFAULTS, "routes.toml"), ConfigError)
    assert refusal is None or "routes.toml" in refusal


retry_values = st.dictionaries(
    st.sampled_from(["base_seconds", "cap_seconds", "max_attempts", "max_age_seconds"]),
    st.one_of(st.integers(-5, 10**6), st.floats(), st.text(max_size=5)),
    max_size=4,
)


@BOUNDED
@given(
    st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9-]{0,15}", fullmatch=True),
        st.tuples(st.sampled_from(["http", "memory"]), retry_values),
        min_size=1,
        max_size=4,
    ),
    st.sampled_from(sorted(KNOWN_TYPES)),
    st.sampled_from(["*", "sdn-farsta"]),
)
def test_generated_routing_tables_route_what_they_say(
    destinations: dict[str, tuple[str, dict[str, object]]], message_type: str, district: str
) -> None:
    specs = {
        name: DestinationSpec(adapter, {"url": "http://127.0.0.1:9/m"})
        for name, (adapter, _) in destinations.items()
    }
    text = routes_toml(specs, [(message_type, district, list(specs))])
    data = tomllib.loads(text)
    for name, (_, retry) in destinations.items():
        data["destinations"][name]["retry"] = retry
    try:
        table = parse_routing(data, DEFAULTS, "routes.toml")
    except ConfigError:
        return
    assert table.destinations_for(message_type, "sdn-farsta") == tuple(specs)
    for destination in table.destinations.values():
        policy = destination.retry
        for value in (policy.base_seconds, policy.cap_seconds, policy.max_age_seconds):
            assert math.isfinite(value), f"{destination.name}: {policy}"
            assert value >= 0, f"{destination.name}: {policy}"


settings_keys = st.sampled_from(sorted(s.key for s in SETTINGS))


@SETTINGS_BOUNDED
@given(
    st.dictionaries(
        st.one_of(
            settings_keys.map(lambda k: f"OMSORGSHUB_{k.upper()}"), st.just("OMSORGSHUB_WOKERS")
        ),
        st.text(
            st.characters(codec="utf-8", exclude_categories=["Cs"], exclude_characters="\x00"),
            max_size=20,
        ),
        max_size=4,
    )
)
def test_arbitrary_environment_gives_settings_or_a_config_error(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    env = {**environ, "OMSORGSHUB_HOME": str(tmp_path)}
    env.pop("OMSORGSHUB_CONFIG", None)
    refusal = _refusal(lambda: load_settings(env, cwd=tmp_path), ConfigError)
    assert refusal is None or refusal.strip()


@SETTINGS_BOUNDED
@given(
    st.one_of(
        st.text(max_size=200),
        st.dictionaries(settings_keys, toml_values, max_size=4).map(tomli_w.dumps),
    )
)
def test_arbitrary_settings_file_gives_settings_or_a_config_error(
    tmp_path: Path, text: str
) -> None:
    file = tmp_path / "omsorgshub.toml"
    file.write_text(text, encoding="utf-8")
    home = {"OMSORGSHUB_HOME": str(tmp_path)}
    refusal = _refusal(lambda: load_settings(home, cwd=tmp_path), ConfigError)
    assert refusal is None or refusal.strip()


def test_a_wrong_setting_is_still_named() -> None:
    """Guard for the tests above: a refusal they accept is the readable one."""
    with pytest.raises(ConfigError, match="workers"):
        load_settings({"OMSORGSHUB_WORKERS": "many", "OMSORGSHUB_HOME": "/nonexistent"})
