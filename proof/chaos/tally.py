"""What a chaos run counts: the destination's effects, the hub's verdicts, and the figures.

The destination is the product's HTTP double, run in this process (it must outlive every kill)
and extended only to note when each idempotency key first arrived. An effect is a document the
double stored; it stores each key once, as MedCom and SDK services do, so a repeat on the wire
with the same key is no second effect. A **duplicate effect** is the same document stored for the
same destination under two keys (a message taken in twice, a delivery copied under a new id):
the double cannot see that one, so it is counted here by content digest. **Lost** is an accepted
delivery that reached the destination neither as an effect nor ended ``dead`` in the database.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, func, select

from adapters.doubles.http_double import HttpDouble
from hub.storage.tables import deliveries, messages


class RecordingDouble(HttpDouble):
    """The HTTP double, plus the monotonic time each key was first stored."""

    def __init__(self) -> None:
        super().__init__("127.0.0.1", 0)
        self.first_seen: dict[str, float] = {}
        self._seen_lock = threading.Lock()

    def _store(self, key: str, body: bytes, headers: dict[str, str]) -> tuple[str, bool]:
        reference, duplicate = super()._store(key, body, headers)
        if not duplicate:
            with self._seen_lock:
                self.first_seen.setdefault(key, time.monotonic())
        return reference, duplicate


@dataclass
class Accepted:
    """The deliveries of every 202 the load received, with when the request was sent."""

    sent_at: dict[str, float] = field(default_factory=dict)  # delivery id → monotonic time
    messages: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, delivery_ids: list[str], sent_at: float) -> None:
        with self.lock:
            self.messages += 1
            for delivery_id in delivery_ids:
                self.sent_at.setdefault(delivery_id, sent_at)


@dataclass(frozen=True)
class Figures:
    messages: int
    accepted: int  # deliveries of accepted messages
    delivered: int
    dead: Counter[str]  # reason → count
    lost: list[str]
    duplicate_effects: int
    duplicates: list[str]  # each duplicate effect: its keys, their messages and states
    unknown_effects: int  # stored under a key that is no delivery the hub has
    wire_repeats: int
    max_delay: float
    states: Counter[str]
    audit_ok: bool
    audit_text: str
    integrity: str = "ok"  # the database's own check ("ok", or what it found)

    @property
    def ok(self) -> bool:
        return (
            not self.lost
            and not self.duplicate_effects
            and not self.unknown_effects
            and (self.audit_ok)
            and self.integrity == "ok"
        )


def delivery_rows(engine: Engine) -> dict[str, tuple[str, str, str | None, str]]:
    """Every delivery: id → (destination, state, last reason, the hub's message id)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(deliveries.c.id, deliveries.c.destination, deliveries.c.state,
                   deliveries.c.last_reason, deliveries.c.message_id)
        )  # fmt: skip
        return {r.id: (r.destination, r.state, r.last_reason, r.message_id) for r in rows}


def integrity(engine: Engine) -> str:
    """SQLite's ``PRAGMA integrity_check`` (a corrupt unique index would let a message in twice
    unnoticed), and on either database whether a sender's message id is stored twice."""
    with engine.connect() as conn:
        problems: list[str] = []
        if engine.dialect.name == "sqlite":
            problems = [str(row[0]) for row in conn.exec_driver_sql("PRAGMA integrity_check(20)")]
            problems = [p for p in problems if p != "ok"]
        twice = conn.execute(
            select(messages.c.sender, messages.c.idempotency_key)
            .where(messages.c.idempotency_key.is_not(None))
            .group_by(messages.c.sender, messages.c.idempotency_key)
            .having(func.count() > 1)
            .limit(5)
        ).all()
        problems += [f"message id {key!r} of {sender} stored twice" for sender, key in twice]
    return "; ".join(problems) or "ok"


def unsettled(accepted: Accepted, double: RecordingDouble, engine: Engine) -> int:
    """Accepted deliveries neither stored at the destination nor dead (yet)."""
    stored = double.documents()
    rows = delivery_rows(engine)
    return sum(
        1
        for d in accepted.sent_at
        if d not in stored and rows.get(d, ("", "", None, ""))[1] != "dead"
    )


def count(
    accepted: Accepted, double: RecordingDouble, engine: Engine, audit: tuple[bool, str]
) -> Figures:
    stored = double.documents()
    rows = delivery_rows(engine)
    dead: Counter[str] = Counter()
    lost: list[str] = []
    for delivery_id in accepted.sent_at:
        _destination, state, reason, _message = rows.get(delivery_id, ("?", "missing", None, ""))
        if delivery_id in stored:
            continue
        if state == "dead":
            dead[reason or "unknown"] += 1
        else:
            lost.append(delivery_id)
    effects, unknown = _effects(double, stored, rows)
    began = min(accepted.sent_at.values(), default=0.0)
    duplicates = [
        _described(keys, double, rows, began) for keys in effects.values() if len(keys) > 1
    ]
    delays = [
        double.first_seen[d] - sent for d, sent in accepted.sent_at.items()
        if d in double.first_seen
    ]  # fmt: skip
    return Figures(
        messages=accepted.messages,
        accepted=len(accepted.sent_at),
        delivered=sum(1 for d in accepted.sent_at if d in stored),
        dead=dead,
        lost=lost,
        duplicate_effects=sum(len(keys) - 1 for keys in effects.values()),
        duplicates=duplicates,
        unknown_effects=unknown,
        wire_repeats=double.duplicates,
        max_delay=max(delays, default=0.0),
        states=Counter(rows[d][1] for d in accepted.sent_at if d in rows),
        audit_ok=audit[0],
        audit_text=audit[1],
        integrity=integrity(engine),
    )


def _effects(
    double: RecordingDouble,
    stored: Mapping[str, bytes],
    rows: Mapping[str, tuple[str, str, str | None, str]],
) -> tuple[dict[tuple[str, str], list[str]], int]:
    """The keys stored per (destination, document digest), and the number of effects that
    belong to no message.

    A key the hub has no delivery of (a delivery re-sent under a new id) is put with the
    destination of its message (the ``X-Omsorgshub-Message-Id`` header) when that message has
    one destination, so it counts as the duplicate it is.
    """
    destinations: dict[str, set[str]] = {}
    for destination, _state, _reason, message_id in rows.values():
        destinations.setdefault(message_id, set()).add(destination)
    effects: dict[tuple[str, str], list[str]] = {}
    unknown = 0
    for key, body in stored.items():
        if key in rows:
            destination = rows[key][0]
        else:
            message_id = double.headers_of(key).get("x-omsorgshub-message-id", "")
            candidates = destinations.get(message_id, set())
            if len(candidates) != 1:
                unknown += 1
                continue
            destination = next(iter(candidates))
        effects.setdefault((destination, hashlib.sha256(body).hexdigest()), []).append(key)
    return effects, unknown


def _described(
    keys: Sequence[str],
    double: RecordingDouble,
    rows: Mapping[str, tuple[str, str, str | None, str]],
    began: float,
) -> str:
    """One duplicate effect as the report names it, so that it can be chased in the kept
    logs and database: each key, when it was first stored, and the hub's row of it."""
    parts = []
    for key in keys:
        seen = double.first_seen.get(key)
        at = f"stored {seen - began:.1f} s after the first request" if seen else "stored"
        if key in rows:
            _destination, state, _reason, message_id = rows[key]
            parts.append(f"{key} ({at}; delivery of message {message_id}, {state})")
        else:
            header = double.headers_of(key).get("x-omsorgshub-message-id", "?")
            parts.append(f"{key} ({at}; NO delivery row; header message id {header})")
    return " = ".join(parts)


def report(
    figures: Figures,
    faults: Mapping[str, int],
    skipped: Mapping[str, str],
    clock_steps: Sequence[str] = (),
) -> str:
    f = figures
    dead = ", ".join(f"{reason} {n}" for reason, n in f.dead.most_common()) or "none"
    lines = [
        f"messages accepted:      {f.messages} ({f.accepted} deliveries)",
        f"delivered (effects):    {f.delivered}",
        f"dead:                   {sum(f.dead.values())} ({dead})",
        f"LOST:                   {len(f.lost)}"
        + (f" (first: {', '.join(f.lost[:5])})" if f.lost else ""),
        f"DUPLICATE EFFECTS:      {f.duplicate_effects}",
        *(f"  the same document:    {d}" for d in f.duplicates),
        f"effects of no delivery: {f.unknown_effects}",
        f"repeats on the wire:    {f.wire_repeats} (same key, applied once)",
        f"max delivery delay:     {f.max_delay:.1f} s (request sent → first stored)",
        f"database states:        {dict(sorted(f.states.items()))}",
        "audit verify:           " + ("passes" if f.audit_ok else "FAILS: " + f.audit_text),
        f"database integrity:     {f.integrity}",
        "faults injected:        "
        + (", ".join(f"{name} x{n}" for name, n in faults.items()) or "none"),
    ]
    lines += [f"fault skipped:          {name}: {why}" for name, why in skipped.items()]
    lines += [f"clock stepped:          {step}" for step in clock_steps]
    lines.append("result:                 " + ("OK" if f.ok else "FAILED"))
    return "\n".join(lines)
