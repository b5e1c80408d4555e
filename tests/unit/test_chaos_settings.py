"""``python -m proof chaos --set NAME=VALUE``: a hub setting for every process of the run."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.errors import ConfigError
from proof.chaos.rig import HUB_SETTINGS, _env
from proof.chaos.runner import parse_settings


def test_settings_are_read_by_their_declared_names() -> None:
    assert parse_settings(["delivery_process=true", " RELAY_BATCH = 5 "]) == {
        "delivery_process": "true",
        "relay_batch": "5",
    }


@pytest.mark.parametrize(
    ("pair", "said"),
    [("delivery_process", "NAME=VALUE"), ("=true", "NAME=VALUE"), ("no_such=1", "no setting")],
)
def test_a_bad_pair_is_refused_saying_why(pair: str, said: str) -> None:
    with pytest.raises(ConfigError, match=said):
        parse_settings([pair])


def test_the_processes_get_the_run_settings_with_the_given_ones_over_them(tmp_path: Path) -> None:
    given = {**HUB_SETTINGS, "relay_batch": "5", "delivery_process": "true"}
    env = _env(tmp_path, "", "", given)
    assert env["OMSORGSHUB_RELAY_BATCH"] == "5"
    assert env["OMSORGSHUB_DELIVERY_PROCESS"] == "true"
    assert env["OMSORGSHUB_LEASE_SECONDS"] == HUB_SETTINGS["lease_seconds"]
