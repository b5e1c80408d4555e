"""A proof command interrupted, or unable to make its run, ends with a clear message and its own
exit status, not a traceback."""

from __future__ import annotations

import argparse
import sys
import types

import pytest

import proof.__main__ as proof_main


def test_an_interrupted_command_says_so_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    interrupted = types.ModuleType("tests_interrupted_command")

    def add_arguments(parser: argparse.ArgumentParser) -> None:
        del parser

    def run(args: argparse.Namespace) -> int:
        raise KeyboardInterrupt

    interrupted.add_arguments = add_arguments  # type: ignore[attr-defined]
    interrupted.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tests_interrupted_command", interrupted)
    monkeypatch.setattr(proof_main, "COMMANDS", {"chaos": "tests_interrupted_command"})
    assert proof_main.main(["chaos"]) == 130
    err = capsys.readouterr().err
    assert err == "python -m proof chaos: interrupted; its processes are stopped\n"


def test_a_process_that_does_not_come_up_ends_the_chaos_run_unmade(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import proof.chaos as chaos_command
    import proof.chaos.runner as runner
    from proof.chaos.processes import ProcessFailed

    def too_busy(*args: object, **kwargs: object) -> bool:
        raise ProcessFailed("serve not ready after 120 s:\n=== start 9: hub serve")

    monkeypatch.setattr(runner, "chaos", too_busy)
    parser = argparse.ArgumentParser()
    chaos_command.add_arguments(parser)
    assert chaos_command.run(parser.parse_args(["--mode", "embedded"])) == 2
    out = capsys.readouterr().out
    assert out.startswith("chaos: the run could not be made: serve not ready after 120 s")
