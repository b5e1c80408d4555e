"""Ctrl-C during a proof command ends it with one line and status 130, not a traceback."""

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
