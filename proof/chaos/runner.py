"""One chaos run from start to figures: the rig up, load and faults side by side, the settling,
the counts and ``audit verify``."""

from __future__ import annotations

import argparse
import random
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hub.errors import ConfigError
from proof.chaos.faults import Injector, Skipped, Timings
from proof.chaos.load import Load
from proof.chaos.plan import SHORT, Fault, draw, parse_faults
from proof.chaos.rig import Rig, rig
from proof.chaos.tally import count, report, unsettled
from proof.scan.named_run import distinctive_people, envelope
from proof.scan.scanner import scan_run

SETTLE_POLL = 0.5


@dataclass(frozen=True)
class ChaosOptions:
    mode: str
    messages: int
    faults: dict[str, int]
    seed: int
    clients: int
    rate: float
    timings: Timings
    settle_seconds: float
    disk_mb: int
    clock: str  # auto | system | hub (proof.chaos.stepper)
    postgres_url: str
    amqp_url: str
    keep: Path | None
    settings: dict[str, str]  # --set NAME=VALUE: over the rig's HUB_SETTINGS

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ChaosOptions:
        if args.messages < 1 or args.clients < 1:
            raise ConfigError("--messages and --clients must be at least 1")
        if args.mode == "scaled":
            missing = [
                f"--{flag}-url (or {env})" for flag, env, url in (
                    ("postgres", "OMSORGSHUB_TEST_POSTGRES_URL", args.postgres_url),
                    ("amqp", "OMSORGSHUB_TEST_AMQP_URL", args.amqp_url),
                ) if not url
            ]  # fmt: skip
            if missing:
                raise ConfigError("--mode scaled needs " + " and ".join(missing))
        return cls(
            mode=args.mode, messages=args.messages,
            faults=parse_faults(args.faults or SHORT[args.mode], args.mode), seed=args.seed,
            clients=args.clients, rate=args.rate,
            timings=Timings(args.outage_seconds, args.hold_seconds, args.clock_step_seconds,
                            args.server_down_seconds),
            settle_seconds=args.settle_seconds, disk_mb=args.disk_mb, clock=args.clock,
            postgres_url=args.postgres_url, amqp_url=args.amqp_url, keep=args.keep,
            settings=parse_settings(args.settings),
        )  # fmt: skip


def parse_settings(pairs: list[str]) -> dict[str, str]:
    """``--set NAME=VALUE`` pairs as settings, each name one the hub declares."""
    from hub.settings.declared import DeclaredSettings

    settings: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip().lower()
        if not sep or not name:
            raise ConfigError(f"--set takes NAME=VALUE, not {pair!r}")
        if name not in DeclaredSettings.model_fields:
            raise ConfigError(f"--set: no setting {name!r} (see docs/CONFIGURATION.md)")
        settings[name] = value.strip()
    return settings


SCANNED_PEOPLE = 100  # persons the run's messages name (and the scan looks for)


def chaos(options: ChaosOptions, say: Callable[[str], None]) -> bool:
    """Run, print the figures; True when nothing was lost, duplicated or refused and the audit
    trail verifies."""
    plan = draw(options.faults, options.messages, options.seed)
    # People with invented, distinctive names, so the leak scan at the end cannot hit by chance.
    people = distinctive_people(min(options.messages, SCANNED_PEOPLE), options.seed)
    rng = random.Random(options.seed)
    docs = [envelope(people[i % len(people)], i, rng) for i in range(options.messages)]
    say(f"chaos: {options.mode}, {options.messages} messages, seed {options.seed}, faults: "
        + (", ".join(f"{f.name}@{f.trigger}" for f in plan) or "none"))  # fmt: skip
    signal.signal(signal.SIGTERM, _exit_cleanly)  # undo mounts, servers and processes
    began = time.monotonic()
    with rig(
        options.mode, options.postgres_url, options.amqp_url, options.disk_mb, options.keep,
        options.clock, options.settings,
    ) as r:  # fmt: skip
        say(f"chaos: processes up in {r.folder}; sending")
        if {"clock-step", "clock-skew"} & options.faults.keys():
            say(f"chaos: the clock faults move {r.clock.what}")
        load = Load(r.url, r.token, docs, options.clients, options.rate)
        sender = threading.Thread(target=load.run, name="chaos-load")
        sender.start()
        try:
            injector = Injector(r, options.timings, random.Random(options.seed), say)
            done, skipped = _inject(plan, injector, load, sender, began, say)
        finally:
            if sys.exc_info()[0] is not None:  # interrupted: the senders stop too
                load.stop.set()
            sender.join()
        injector.end_outages()
        say(f"chaos: load sent and faults over at {time.monotonic() - began:.0f} s "
            f"({load.retries} resends); settling")  # fmt: skip
        _restart_the_dead(r, say)
        _settle(r, load, options.settle_seconds)
        verified = r.hub_command("audit", "verify")
        audit = (verified.returncode == 0, (verified.stdout + verified.stderr).strip()[-400:])
        figures = count(load.accepted, r.double, r.engine, audit)
        say(report(figures, done, skipped, injector.notes))
        # The leak scan of what the run left (issue 17 §4): data folder, database, logs; the
        # destination's documents are the control that the scan can find these people.
        scanned = scan_run(
            r.home,
            people,
            database_url=r.database_url or None,
            logs=[r.folder / "logs"],
            control=r.double.documents(),
        )
        say(scanned.report(every_place=False))
        if load.refused:
            say(f"REFUSED: {len(load.refused)} messages, first: {load.refused[0]}")
        say(f"chaos: {time.monotonic() - began:.0f} s in all; logs in {r.folder / 'logs'}"
            + ("" if options.keep else " (removed; --keep to keep them)"))  # fmt: skip
        return figures.ok and not load.refused and scanned.ok


def _exit_cleanly(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _inject(
    plan: list[Fault],
    injector: Injector,
    load: Load,
    sender: threading.Thread,
    began: float,
    say: Callable[[str], None],
) -> tuple[Counter[str], dict[str, str]]:
    done: Counter[str] = Counter()
    skipped: dict[str, str] = {}
    for fault in plan:
        while sender.is_alive() and load.accepted.messages < fault.trigger:
            time.sleep(0.05)
        if fault.name in skipped:
            continue
        at = time.monotonic() - began
        try:
            injector.inject(fault.name)
        except Skipped as why:
            skipped[fault.name] = str(why)
            say(f"  {at:6.1f} s  {fault.name}: skipped, {why}")
            continue
        done[fault.name] += 1
        say(f"  {at:6.1f} s  {fault.name} at {load.accepted.messages} accepted "
            f"(took {time.monotonic() - began - at:.1f} s)")  # fmt: skip
    return done, skipped


def _restart_the_dead(r: Rig, say: Callable[[str], None]) -> None:
    """A process that died by itself (not by a kill of ours) is a finding: say so, start it."""
    for process in r.processes.values():
        if not process.alive():
            say(f"chaos: {process.name} had exited by itself; last lines:\n{process.tail()}")
            process.start()
            process.wait_ready()


def _settle(r: Rig, load: Load, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while unsettled(load.accepted, r.double, r.engine) and time.monotonic() < deadline:
        time.sleep(SETTLE_POLL)
