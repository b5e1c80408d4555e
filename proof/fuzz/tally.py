"""What a fuzz run counts and how it judges: answers by status and kind, 5xx, echoes, memory.

An **echo** is an answer (its body or headers) that repeats something of the request the hub
should never send back: an identity number, a person's name, a bearer token, raw markup
(``<!DOCTYPE``, ``<!ENTITY``, ``xi:include``) or a line of ``/etc/passwd`` (an entity
that was expanded). Each secret is looked for as UTF-8 and as a JSON string escapes it. A
sender's own identifiers (message id, district, purpose, a path) may be quoted back to it in a
refusal, so the probes put personal data only where a document names persons.

**Memory** is sampled every ``--memory-every`` requests. It levels off when the last half of
the samples grew by at most ``--memory-slack`` MiB; with fewer than four samples the curve is
printed but not judged.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field

from proof.fuzz.probes import LEAKED_FILE_LINE, Probe

CLOSED = "closed"  # the server closed the connection instead of answering (not a 5xx)
MAX_EXAMPLES = 5


def _forms(secret: str) -> set[bytes]:
    return {secret.encode(), json.dumps(secret)[1:-1].encode()}


def echoed(probe: Probe, status: int, headers: bytes, body: bytes) -> list[str]:
    """The secrets of ``probe`` that its answer repeats."""
    if status == 202 and probe.path.endswith("/messages"):
        secrets = [s for s in probe.secrets if s.startswith("<")]  # an id and deliveries only
    else:
        secrets = probe.secrets
    answer = headers + b"\n" + body
    found = [s for s in secrets if s and any(form in answer for form in _forms(s))]
    if LEAKED_FILE_LINE.encode() in answer:
        found.append(LEAKED_FILE_LINE)
    return found


@dataclass
class Tally:
    by_status: Counter[str] = field(default_factory=Counter)
    by_kind: dict[str, Counter[str]] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)
    echoes: list[str] = field(default_factory=list)
    echo_count: int = 0
    error_count: int = 0
    memory: list[tuple[int, float]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, n: int, probe: Probe, status: str, echo: list[str]) -> None:
        with self._lock:
            self.by_status[status] += 1
            self.by_kind.setdefault(probe.kind, Counter())[status] += 1
            if status.startswith("5"):
                self.error_count += 1
                if len(self.server_errors) < MAX_EXAMPLES:
                    self.server_errors.append(f"#{n} {probe.kind} {probe.method} {probe.path}")
            if echo:
                self.echo_count += 1
                if len(self.echoes) < MAX_EXAMPLES:
                    shown = ", ".join(repr(s[:40]) for s in echo)
                    self.echoes.append(f"#{n} {probe.kind} {probe.method} {probe.path}: {shown}")

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


def memory_verdict(samples: list[tuple[int, float]], slack_mib: float) -> tuple[bool, str]:
    """(levels off or cannot be judged, what to print)."""
    if len(samples) < 4:
        return True, "too few samples to judge (needs 4)"
    mid = samples[(len(samples) - 1) // 2]
    last = samples[-1]
    growth = last[1] - mid[1]
    first_half = mid[1] - samples[0][1]
    where = f"{mid[0]:,} → {last[0]:,} requests"
    if growth <= slack_mib:
        return True, (
            f"levels off: {growth:+.1f} MiB over {where} (first half {first_half:+.1f} MiB; "
            f"allowed {slack_mib:.0f})"
        )
    return False, f"still growing: {growth:+.1f} MiB over {where} (allowed {slack_mib:.0f})"


def report(tally: Tally, seconds: float, slack_mib: float) -> tuple[bool, list[str]]:
    """(every promise held, the lines to print)."""
    lines = [
        f"requests: {tally.total:,} in {seconds:.0f} s ({tally.total / max(seconds, 1e-9):.0f}/s)"
    ]
    lines.append(
        "by status: " + ", ".join(f"{s} ×{c:,}" for s, c in sorted(tally.by_status.items()))
    )
    for kind, counts in sorted(tally.by_kind.items()):
        lines.append(f"  {kind:<20} " + ", ".join(f"{s} ×{c:,}" for s, c in sorted(counts.items())))
    lines.append(f"5xx: {tally.error_count}" + (" (must be 0)" if tally.error_count else ""))
    lines += [f"  {e}" for e in tally.server_errors]
    lines.append(f"echoes: {tally.echo_count}" + (" (must be 0)" if tally.echo_count else ""))
    lines += [f"  {e}" for e in tally.echoes]
    memory_ok = True
    if tally.memory:
        curve = ", ".join(f"{n:,}: {mib:.1f}" for n, mib in tally.memory)
        memory_ok, verdict = memory_verdict(tally.memory, slack_mib)
        lines += [f"server memory (MiB resident) after requests: {curve}", f"memory: {verdict}"]
    else:
        lines.append("memory: not measured (no server process id)")
    ok = tally.error_count == 0 and tally.echo_count == 0 and memory_ok
    lines.append("result: " + ("every promise held" if ok else "FAILED"))
    return ok, lines
