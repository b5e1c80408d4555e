"""``python -m proof chaos``: the fault plan drawn from the seed, and the steppable clock that
the hub's processes run with under the command (issue 17 §1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import hub.bootstrap
from hub.errors import ConfigError
from proof.chaos.clocked import SteppedClock, install
from proof.chaos.plan import applicable, draw, parse_faults


def test_faults_parse_with_counts_and_all_means_every_fault_of_the_mode_once() -> None:
    assert parse_faults("kill-serve:3, outage", "embedded") == {"kill-serve": 3, "outage": 1}
    assert parse_faults("all", "scaled") == dict.fromkeys(applicable("scaled"), 1)
    assert "kill-worker" not in applicable("embedded")


@pytest.mark.parametrize(
    ("text", "mode", "named"),
    [
        ("kill-serve,explode", "embedded", "'explode'"),
        ("kill-worker", "embedded", "--mode scaled"),
        ("kill-serve:0", "embedded", "positive"),
        ("outage:x", "scaled", "positive"),
    ],
)
def test_a_wrong_fault_is_an_error_that_names_it(text: str, mode: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        parse_faults(text, mode)


def test_the_same_seed_draws_the_same_plan_and_another_seed_another() -> None:
    wanted = {"kill-serve": 5, "outage": 1, "clock-step": 1}
    plan = draw(wanted, 1000, seed=17)
    assert plan == draw(wanted, 1000, seed=17)
    assert plan != draw(wanted, 1000, seed=18)
    assert len(plan) == 7
    assert [f.trigger for f in plan] == sorted(f.trigger for f in plan)
    assert all(50 <= f.trigger <= 900 for f in plan)  # inside the load, never at its ends


def test_the_stepped_clock_follows_its_file(tmp_path: Path) -> None:
    offset = tmp_path / "offset"
    clock = SteppedClock(offset)
    assert abs(clock() - datetime.now(UTC)) < timedelta(seconds=1)  # no file: no offset
    offset.write_text("600")
    clock._read_at = float("-inf")  # as if the re-read interval had passed
    assert clock() - datetime.now(UTC) > timedelta(seconds=599)
    offset.write_text("-600")
    clock._read_at = float("-inf")
    assert datetime.now(UTC) - clock() > timedelta(seconds=599)


def test_install_makes_the_stepped_clock_build_hubs_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    defaults = hub.bootstrap.build_hub.__kwdefaults__
    assert defaults is not None
    monkeypatch.setitem(defaults, "clock", defaults["clock"])  # restored after the test
    install(tmp_path / "offset")
    assert isinstance(defaults["clock"], SteppedClock)
