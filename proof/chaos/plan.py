"""Which faults a chaos run injects, and when: a plan drawn from the seed before anything runs.

A fault fires when the count of accepted messages crosses its trigger, a share of ``--messages``
drawn at random from the seed (between 5 % and 90 %), so the same seed gives the same faults in
the same order at the same point of the load, whatever the machine's speed. Faults that have not
fired when the load ends (it ended faster than they) fire one after another before the run
settles.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from hub.errors import ConfigError

# name → (modes it applies to, what it does). Kept in the order the report prints them.
FAULTS: dict[str, tuple[frozenset[str], str]] = {
    "kill-serve": (frozenset({"embedded", "scaled"}), "kill -9 of `omsorgshub serve`, restarted"),
    "kill-relay": (frozenset({"scaled"}), "kill -9 of `omsorgshub relay`, restarted"),
    "kill-worker": (frozenset({"scaled"}), "kill -9 of the Celery worker and its pool, restarted"),
    "broker-restart": (frozenset({"scaled"}), "RabbitMQ `rabbitmqctl stop_app` / `start_app`"),
    "db-restart": (frozenset({"scaled"}), "PostgreSQL `pg_ctlcluster … restart`"),
    "outage": (frozenset({"embedded", "scaled"}), "the destination down (--outage-seconds)"),
    "disk-full": (frozenset({"embedded", "scaled"}), "the data folder's tmpfs filled to the brim"),
    "db-readonly": (frozenset({"embedded", "scaled"}), "the database read-only for a while"),
    "clock-step": (
        frozenset({"embedded", "scaled"}),
        "the system clock of every hub process stepped forward, then back (--clock)",
    ),
    "clock-skew": (
        frozenset({"scaled"}),
        "the same for one hub process drawn from the seed, the others on the real clock",
    ),
}
SHORT = {
    "embedded": "kill-serve:2,outage,clock-step",
    "scaled": "kill-serve,kill-relay,kill-worker,broker-restart,outage,clock-step",
}
FIRST_TRIGGER, LAST_TRIGGER = 0.05, 0.90


@dataclass(frozen=True)
class Fault:
    name: str
    trigger: int  # fires once this many messages are accepted


def applicable(mode: str) -> list[str]:
    return [name for name, (modes, _what) in FAULTS.items() if mode in modes]


def parse_faults(text: str, mode: str) -> dict[str, int]:
    """``"kill-serve:7,outage"`` → ``{"kill-serve": 7, "outage": 1}``; ``all`` = every fault of
    the mode once; an unknown name or a fault of the other mode is an error naming it."""
    wanted: dict[str, int] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, _, count = part.partition(":")
        if name == "all":
            for each in applicable(mode):
                wanted[each] = wanted.get(each, 0) + 1
            continue
        if name not in FAULTS:
            raise ConfigError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
        if mode not in FAULTS[name][0]:
            raise ConfigError(f"fault {name!r} needs --mode scaled (there is no such process)")
        if count and not (count.isdigit() and int(count) > 0):
            raise ConfigError(f"fault {part!r}: the count after ':' must be a positive number")
        wanted[name] = wanted.get(name, 0) + (int(count) if count else 1)
    return wanted


def draw(wanted: dict[str, int], messages: int, seed: int) -> list[Fault]:
    """The faults in the order they fire, each at its seeded trigger."""
    rng = random.Random(seed)
    low, high = max(1, int(messages * FIRST_TRIGGER)), max(1, int(messages * LAST_TRIGGER))
    faults = [
        Fault(name, rng.randint(low, max(low, high)))
        for name, count in wanted.items()
        for _ in range(count)
    ]
    return sorted(faults, key=lambda f: (f.trigger, f.name))
