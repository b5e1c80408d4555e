"""``python -m bench``: run the scenarios and print each figure beside its baseline.

    python -m bench                          embedded scenarios, nothing to install
    python -m bench --scaled-out             also PostgreSQL + RabbitMQ + Celery (needs
                                             OMSORGSHUB_TEST_POSTGRES_URL and
                                             OMSORGSHUB_TEST_AMQP_URL, or the flags):
                                             end-to-end-scaled (rows end-to-end-scaled,
                                             celery-baseline-batched and -unbatched) and
                                             scaled-curve (a row per serve x worker count)
    python -m bench --only http-ingest --messages 5000 --json
    python -m bench --scale                  store growth alone: ingest rate and memory at
                                             10 k, 100 k and 1 M stored messages (20+ min;
                                             --scale-points 2000,20000 for a quick check)

The exit status is 0 when every scenario ran (a missed target is a result, not an error),
1 when one failed, 2 for bad arguments. Progress goes to stderr; the table or JSON to stdout.
"""

from __future__ import annotations

import argparse
import faulthandler
import itertools
import logging
import sys
import time
import traceback
from collections.abc import Callable
from types import ModuleType

from bench import workload
from bench.report import Progress, Row, machine, table, to_json
from bench.scenarios import (
    atl,
    audit,
    console_search,
    end_to_end,
    guards,
    http_delivery,
    http_ingest,
    ivo,
    medcom_inbound,
    open_loop,
    paced,
    pipeline,
    retention,
    scaled,
    scaled_curve,
    sdk,
    soap,
    stats,
    store_growth,
    timereports,
)
from bench.workload import Options
from hub.settings.declared import DeclaredSettings

SCENARIOS: dict[str, ModuleType] = {
    "pipeline": pipeline,
    "http-ingest": http_ingest,
    "end-to-end-embedded": end_to_end,
    "open-loop": open_loop,
    "paced": paced,
    "http-delivery": http_delivery,
    "guards": guards,
    "audit": audit,
    "soap": soap,
    "sdk": sdk,
    "medcom-inbound": medcom_inbound,
    "ivo": ivo,
    "atl": atl,
    "timereports": timereports,
    "retention": retention,
    "console-search": console_search,
    "stats": stats,
    "end-to-end-scaled": scaled,
    "scaled-curve": scaled_curve,
    store_growth.NAME: store_growth,
}
SCALED = {"end-to-end-scaled", "scaled-curve"}  # only with --scaled-out
SCALE = {store_growth.NAME}  # only with --scale (or --only)
DEFAULT_MESSAGES = 3000
WATCHDOG_SECONDS = 3600  # a run that hangs dumps every thread's stack and exits
SCALE_WATCHDOG_SECONDS = 6 * 3600  # the fill to 1 M alone takes a quarter of an hour or more


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Omsorgshub benchmark: each figure beside a baseline measured in the same "
        "run with the same number of operations.",
    )
    p.add_argument(
        "--messages",
        type=int,
        default=DEFAULT_MESSAGES,
        metavar="N",
        help=f"messages per scenario (default {DEFAULT_MESSAGES}: the embedded run takes "
        "about 1-2 minutes on 2 cores)",
    )
    p.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help=f"run only these scenarios (repeat or comma-separate): {', '.join(SCENARIOS)}",
    )
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument(
        "--scaled-out",
        action="store_true",
        help="also run end-to-end-scaled and scaled-curve (PostgreSQL, RabbitMQ, Celery)",
    )
    p.add_argument(
        "--scale",
        action="store_true",
        help=f"run {store_growth.NAME} (ingest rate and memory as the store grows; not part of "
        "the default run), alone unless --only names others",
    )
    p.add_argument(
        "--scale-points",
        default=",".join(str(n) for n in Options.scale_points),
        metavar="N,N,...",
        help=f"{store_growth.NAME}: stored-message counts to measure at, increasing (default "
        "10000,100000,1000000); --messages is the size of each of its "
        f"{store_growth.SAMPLES} samples per point",
    )
    p.add_argument("--clients", type=int, default=8, help="HTTP client threads (default 8)")
    p.add_argument(
        "--rates",
        default="100,500",
        help="open-loop: offered msg/s, comma-separated (default 100,500; 10 s each)",
    )
    p.add_argument("--postgres-url", default="", help=f"default ${scaled.POSTGRES_ENV}")
    p.add_argument("--amqp-url", default="", help=f"default ${scaled.AMQP_ENV}")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a hub setting for every hub of the run, e.g. --set ingest_commit_gather_seconds=0 "
        "(repeatable; names as in docs/CONFIGURATION.md without OMSORGSHUB_)",
    )
    args = p.parse_args(argv)
    args.settings = {}
    if args.messages < 10:
        p.error("--messages must be at least 10")
    if args.clients < 1:
        p.error("--clients must be at least 1")
    try:
        args.rates = tuple(float(r) for r in args.rates.split(",") if r.strip())
    except ValueError:
        p.error("--rates must be numbers separated by commas, e.g. 100,500")
    if not args.rates or min(args.rates) <= 0:
        p.error("--rates must be positive")
    try:
        args.scale_points = tuple(int(n) for n in args.scale_points.split(",") if n.strip())
    except ValueError:
        p.error("--scale-points must be whole numbers separated by commas, e.g. 2000,20000")
    if not args.scale_points or min(args.scale_points) < 1:
        p.error("--scale-points must be positive")
    # Each point's samples stay in the store: the next point must lie beyond them.
    stored_by_samples = store_growth.SAMPLES * args.messages
    for low, high in itertools.pairwise(args.scale_points):
        if high < low + stored_by_samples:
            p.error(
                f"--scale-points: {high} is less than {low} plus the {stored_by_samples} "
                "messages its samples store (points increase, --messages apart x3 at least)"
            )
    only = [name.strip() for value in args.only for name in value.split(",") if name.strip()]
    unknown = [name for name in only if name not in SCENARIOS]
    if unknown:
        p.error(f"unknown scenario {unknown[0]!r}; choose from {', '.join(SCENARIOS)}")
    args.only = only
    for pair in args.set:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            p.error(f"--set takes NAME=VALUE, not {pair!r}")
        if name.strip().lower() not in DeclaredSettings.model_fields:
            p.error(f"--set: no setting {name.strip()!r} (see docs/CONFIGURATION.md)")
        args.settings[name.strip().lower()] = value.strip()
    return args


def chosen(args: argparse.Namespace) -> list[str]:
    wanted = set(args.only) | (SCALE if args.scale else set())
    if wanted:
        return [name for name in SCENARIOS if name in wanted]
    return [
        name for name in SCENARIOS if name not in SCALE and (args.scaled_out or name not in SCALED)
    ]


def run_one(name: str, options: Options) -> tuple[list[Row], bool]:
    """The scenario's rows; a scenario that fails gives one row saying why (and False)."""
    run: Callable[[Options], list[Row]] = SCENARIOS[name].run
    try:
        return run(options), True
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        return [Row(name, options.messages, skipped=f"FAILED: {type(exc).__name__}: {exc}")], False


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names = chosen(args)
    watchdog = SCALE_WATCHDOG_SECONDS if SCALE & set(names) else WATCHDOG_SECONDS
    faulthandler.dump_traceback_later(watchdog, exit=True)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    progress = Progress(quiet=args.quiet)
    workload.SETTINGS.update(args.settings)
    options = Options(
        messages=args.messages,
        clients=args.clients,
        postgres_url=args.postgres_url,
        amqp_url=args.amqp_url,
        rates=args.rates,
        scale_points=args.scale_points,
        progress=progress,
    )
    rows: list[Row] = []
    ok = True
    began = time.monotonic()
    for name in names:
        progress(f"== {name}")
        scenario_rows, fine = run_one(name, options)
        rows += scenario_rows
        ok = ok and fine
        for row in scenario_rows:
            state = row.skipped or f"{row.rate:,.0f} {row.unit}/s"
            progress(f"   {row.scenario}: {state}")
    elapsed = time.monotonic() - began
    faulthandler.cancel_dump_traceback_later()
    if args.json:
        settings = {"messages": args.messages, "clients": args.clients, "seconds": elapsed}
        print(to_json(rows, settings))
    else:
        m = machine()
        print(
            f"Omsorgshub benchmark: {args.messages} messages per scenario, {elapsed:.0f} s; "
            f"Python {m['python']} on {m['platform']}, {m['cpus']} CPUs, load average "
            f"{m['load_average_at_end']} at the end\n"
        )
        print(table(rows))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
