"""``python -m bench --scale``: which scenarios it chooses and how its points are read."""

from __future__ import annotations

import pytest

from bench.__main__ import chosen, parse_args
from bench.scenarios.store_growth import NAME, SAMPLES, Point, label


def test_points_are_labelled_in_thousands_and_millions() -> None:
    assert [label(n) for n in (2_000, 10_000, 1_000_000, 2_500)] == ["2k", "10k", "1M", "2500"]


def test_store_growth_runs_only_when_asked_for() -> None:
    assert NAME not in chosen(parse_args([]))
    assert chosen(parse_args(["--scale"])) == [NAME]
    assert chosen(parse_args(["--only", NAME])) == [NAME]


def test_points_are_read_and_must_lie_beyond_the_samples_before_them() -> None:
    args = parse_args(["--scale", "--scale-points", "2000,20000", "--messages", "500"])
    assert args.scale_points == (2_000, 20_000)
    with pytest.raises(SystemExit):
        parse_args(["--scale-points", "2000,3000", "--messages", "500"])
    with pytest.raises(SystemExit):
        parse_args(["--scale-points", "10k"])


def test_io_is_given_per_message_of_all_samples() -> None:
    point = Point(10_000, size=100)
    count = 100 * SAMPLES
    assert point.io_per_message([count * 1024, count * 2560]) == "read 1.0 KiB, wrote 2.5 KiB"
