"""Real processes, faults injected at seeded random times; counts lost and duplicate effects.

``python -m proof chaos --mode embedded|scaled --messages N --faults LIST --seed S`` starts the
hub's real processes (``serve``; ``relay`` and a Celery worker when scaled, on PostgreSQL and
RabbitMQ) and the HTTP double as every destination, posts N fictional referrals over HTTP from
several clients, and injects the faults of LIST while they flow. Then it waits for the outbox
to settle and prints: accepted, delivered, dead (with reasons), lost (accepted and neither
delivered nor dead), duplicate effects, the maximum delivery delay and whether ``omsorgshub audit
verify`` passes. The exit status is 1 when anything was lost, duplicated or refused, or the
trail does not verify; 2 when the run could not be made.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from proof.chaos.plan import FAULTS, SHORT

POSTGRES_ENV = "OMSORGSHUB_TEST_POSTGRES_URL"
AMQP_ENV = "OMSORGSHUB_TEST_AMQP_URL"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = __doc__
    parser.epilog = "faults:\n" + "\n".join(
        f"  {name:15} {what} ({' and '.join(sorted(modes))})"
        for name, (modes, what) in FAULTS.items()
    )
    parser.add_argument("--mode", choices=("embedded", "scaled"), default="embedded")
    parser.add_argument("--messages", type=int, default=1000, help="messages to send (1000)")
    parser.add_argument(
        "--faults",
        default=None,
        help="comma-separated NAME[:COUNT], or 'all' (every fault of the mode once); default: "
        f"embedded {SHORT['embedded']!r}, scaled {SHORT['scaled']!r}",
    )
    parser.add_argument("--seed", type=int, default=17, help="seed of the fault times (17)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent senders (4)")
    parser.add_argument(
        "--rate", type=float, default=0.0,
        help="messages per second, to spread the load over the faults (0: as fast as it goes)",
    )  # fmt: skip
    parser.add_argument(
        "--outage-seconds", type=float, default=10.0, help="destination down this long (10)"
    )
    parser.add_argument(
        "--hold-seconds", type=float, default=5.0,
        help="disk full, database read-only and each clock step last this long (5)",
    )  # fmt: skip
    parser.add_argument(
        "--clock-step-seconds", type=float, default=600.0,
        help="the clock steps this far forward, then as far behind (600)",
    )  # fmt: skip
    parser.add_argument(
        "--clock", choices=("auto", "system", "hub"), default="auto",
        help="what clock-step moves: system = the wall clock of every hub process (libfaketime);"
        " hub = only the hub's own clock; auto = system where libfaketime is installed (auto)",
    )  # fmt: skip
    parser.add_argument(
        "--server-down-seconds", type=float, default=3.0,
        help="RabbitMQ and PostgreSQL stay stopped this long when restarted (3)",
    )  # fmt: skip
    parser.add_argument(
        "--settle-seconds", type=float, default=300.0,
        help="after the load and the faults, wait this long at most for every delivery (300)",
    )  # fmt: skip
    parser.add_argument("--disk-mb", type=int, default=512, help="size of the data tmpfs (512)")
    parser.add_argument("--postgres-url", default=os.environ.get(POSTGRES_ENV, ""))
    parser.add_argument("--amqp-url", default=os.environ.get(AMQP_ENV, ""))
    parser.add_argument(
        "--keep", type=Path, default=None, help="keep the run's folder (logs) under this folder"
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", dest="settings",
        help="a hub setting for every hub process of the run, over the run's own (repeatable; "
        "names as in docs/CONFIGURATION.md without OMSORGSHUB_), e.g. --set delivery_process=true",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from hub.errors import HubError
    from proof.chaos.processes import ProcessFailed
    from proof.chaos.runner import ChaosOptions, chaos

    try:
        options = ChaosOptions.from_args(args)
        figures_ok = chaos(options, say=lambda line: print(line, flush=True))
    except HubError as exc:
        print(f"chaos: {exc}", flush=True)
        return 2
    except ProcessFailed as exc:
        # A process of the rig that does not come up (after a kill, on a machine too busy to
        # start it within its timeout) ends the run unmade, with the process's log tail.
        print(f"chaos: the run could not be made: {exc}", flush=True)
        return 2
    return 0 if figures_ok else 1
