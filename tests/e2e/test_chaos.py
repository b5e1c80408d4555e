"""``python -m proof chaos``, short runs (issue 17 §1): about 1,000 messages through real
processes while they are killed, the broker restarts and the destination goes down.

What they prove: at the end nothing accepted is lost (delivered or dead), no effect happened
twice at the destination, and the audit trail verifies: the command's own verdict (exit 0) and
the figures it prints. The long runs (10,000 messages, every fault) are by hand; their figures
are in ``docs/RELIABILITY.md``.
"""

from __future__ import annotations

import argparse
import re

import pytest

import proof.chaos
from tests.e2e.processes import require_rabbitmqctl

MESSAGES = 1000


def _chaos(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m proof chaos")
    proof.chaos.add_arguments(parser)
    return parser.parse_args(list(argv))


def _figure(printed: str, label: str) -> int:
    found = re.search(rf"^{label}:\s+(\d+)", printed, re.MULTILINE)
    assert found, f"no {label!r} line in:\n{printed}"
    return int(found.group(1))


def _assert_held(status: int, printed: str, faults: dict[str, int]) -> None:
    assert status == 0, printed
    assert _figure(printed, "messages accepted") == MESSAGES, printed
    assert _figure(printed, "LOST") == 0, printed
    assert _figure(printed, "DUPLICATE EFFECTS") == 0, printed
    accepted = int(re.search(r"\((\d+) deliveries\)", printed).group(1))  # type: ignore[union-attr]
    delivered, dead = _figure(printed, "delivered \\(effects\\)"), _figure(printed, "dead")
    assert delivered + dead == accepted, printed
    assert "audit verify:           passes" in printed, printed
    assert "hits: 0 — no personal data outside the destination" in printed, printed  # the scan
    injected = re.search(r"^faults injected:\s+(.*)$", printed, re.MULTILINE)
    assert injected, printed
    for name, times in faults.items():
        assert f"{name} x{times}" in injected.group(1), printed  # each fault really happened


def test_embedded_short_run_kills_serve_twice_and_an_outage_lose_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = _chaos(
        "--mode", "embedded", "--messages", str(MESSAGES), "--rate", "60",
        "--faults", "kill-serve:2,outage", "--outage-seconds", "60", "--settle-seconds", "90",
    )  # fmt: skip
    status = proof.chaos.run(args)
    _assert_held(status, capsys.readouterr().out, {"kill-serve": 2, "outage": 1})


def test_scaled_short_run_kills_each_process_restarts_the_broker_and_an_outage_lose_nothing(
    capsys: pytest.CaptureFixture[str], postgres_base_url: str, amqp_url: str
) -> None:
    require_rabbitmqctl("the broker restart needs rabbitmqctl")
    args = _chaos(
        "--mode", "scaled", "--messages", str(MESSAGES), "--rate", "60",
        "--faults", "kill-serve,kill-relay,kill-worker,broker-restart,outage",
        "--outage-seconds", "60", "--settle-seconds", "90",
        "--postgres-url", postgres_base_url, "--amqp-url", amqp_url,
    )  # fmt: skip
    status = proof.chaos.run(args)
    faults = {"kill-serve": 1, "kill-relay": 1, "kill-worker": 1, "broker-restart": 1}
    _assert_held(status, capsys.readouterr().out, faults | {"outage": 1})
