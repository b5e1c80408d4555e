"""``python -m proof chaos``: the fault plan drawn from the seed, and the steppable clock that
the hub's processes run with under the command (issue 17 §1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import hub.bootstrap
from hub.errors import ConfigError
from proof.chaos import faketime
from proof.chaos.clocked import OFFSET_ENV, SteppedClock, install
from proof.chaos.plan import applicable, draw, parse_faults
from proof.chaos.stepper import ClockStepper


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


def test_without_libfaketime_the_step_falls_back_to_the_hubs_clock_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(faketime.LIBRARY_ENV, str(tmp_path / "no-such-libfaketime.so.1"))
    with pytest.raises(ConfigError, match="--clock system needs libfaketime"):
        ClockStepper.choose("system", tmp_path)
    stepper = ClockStepper.choose("auto", tmp_path)
    assert stepper.library is None
    env = stepper.env({"PATH": "/bin"}, "relay")
    assert env[OFFSET_ENV] == str(tmp_path / "clock-offset-relay")
    assert (tmp_path / "clock-offset-relay").read_text().strip() == "+0"  # right to begin with
    assert "LD_PRELOAD" not in env
    assert "ONLY the hub's own clock" in stepper.reach([])  # never a silent pretence
    assert "libfaketime is not installed" in stepper.reach([])


def test_with_libfaketime_a_hub_process_gets_the_preload_and_not_the_hub_clock_offset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    library = tmp_path / "libfaketime.so.1"
    library.write_bytes(b"")
    monkeypatch.setenv(faketime.LIBRARY_ENV, str(library))
    stepper = ClockStepper.choose("auto", tmp_path)
    env = stepper.env({"LD_PRELOAD": "/lib/other.so", "FAKETIME": "@2000-01-01 00:00:00"}, "serve")
    assert env["LD_PRELOAD"] == f"{library}:/lib/other.so"
    assert env["FAKETIME_TIMESTAMP_FILE"] == str(tmp_path / "clock-offset-serve")
    assert (env["FAKETIME_NO_CACHE"], env["FAKETIME_DONT_FAKE_MONOTONIC"]) == ("1", "1")
    assert "FAKETIME" not in env  # it would override the file
    assert OFFSET_ENV not in env  # never stepped twice
    assert ClockStepper.choose("hub", tmp_path).library is None


def test_the_offset_file_reads_the_same_for_libfaketime_and_the_hub_clock(tmp_path: Path) -> None:
    offset = tmp_path / "offset"
    for seconds, text in ((600, "+600"), (-600, "-600"), (0, "+0"), (2.5, "+2.5")):
        faketime.write_offset(offset, seconds)
        assert offset.read_text().strip() == text  # libfaketime's relative form
        clock = SteppedClock(offset)
        assert clock.offset() == timedelta(seconds=seconds)  # and the fallback's
