"""Rows of results, the printed table, the JSON form, and progress lines on stderr."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field


@dataclass
class Row:
    """One measured figure and its baseline.

    ``target_rate`` is an absolute floor (msg/s or entries/s); ``target_ratio`` a floor on
    ``rate / baseline_rate``. A row without either has no target (``met`` is None). A row that
    could not be measured has ``skipped`` set to the reason.
    """

    scenario: str
    count: int = 0
    seconds: float = 0.0
    baseline_seconds: float = 0.0
    unit: str = "msg"
    target_rate: float | None = None
    target_ratio: float | None = None
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0

    @property
    def baseline_rate(self) -> float:
        return self.count / self.baseline_seconds if self.baseline_seconds > 0 else 0.0

    @property
    def ratio(self) -> float:
        return self.rate / self.baseline_rate if self.baseline_rate > 0 else 0.0

    @property
    def target(self) -> str:
        if self.target_rate is not None:
            return f">= {self.target_rate:,.0f} {self.unit}/s"
        if self.target_ratio is not None:
            return f">= {self.target_ratio:.1f}x baseline"
        return "-"

    @property
    def met(self) -> bool | None:
        if self.skipped is not None:
            return None
        if self.target_rate is not None:
            return self.rate >= self.target_rate
        if self.target_ratio is not None:
            return self.ratio >= self.target_ratio
        return None

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data.update(
            rate=round(self.rate, 1),
            baseline_rate=round(self.baseline_rate, 1),
            ratio=round(self.ratio, 3),
            target=self.target,
            met=self.met,
        )
        return data


_HEAD = ("scenario", "messages", "seconds", "msg/s", "baseline msg/s", "ratio", "target", "met?")


def _cells(row: Row) -> tuple[str, ...]:
    if row.skipped is not None:
        return (row.scenario, "-", "-", "-", "-", "-", row.target, "skipped")
    met = {True: "yes", False: "NO", None: "-"}[row.met]
    count = f"{row.count:,}" + ("" if row.unit == "msg" else f" {row.unit}")
    return (
        row.scenario,
        count,
        f"{row.seconds:.2f}",
        f"{row.rate:,.0f}",
        f"{row.baseline_rate:,.0f}" if row.baseline_seconds else "-",
        f"{row.ratio:.2f}x" if row.baseline_seconds else "-",
        row.target,
        met,
    )


def table(rows: Sequence[Row]) -> str:
    """The results as a fixed-width table, then each row's notes and skip reasons."""
    lines = [_HEAD, *(_cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(_HEAD))]
    out = []
    for n, line in enumerate(lines):
        cells = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    notes = [
        f"  {r.scenario}: {text}"
        for r in rows
        for text in ([f"skipped: {r.skipped}"] if r.skipped else r.notes)
    ]
    if notes:
        out += ["", "notes:", *notes]
    return "\n".join(out)


def machine() -> dict[str, object]:
    """What the figures were measured on (printed with them and stored in the JSON)."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_at_end": [round(x, 2) for x in load],
        "time": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }


def to_json(rows: Sequence[Row], options: dict[str, object]) -> str:
    return json.dumps(
        {"machine": machine(), "options": options, "rows": [r.as_json() for r in rows]},
        indent=2,
        ensure_ascii=False,
    )


class Progress:
    """Progress lines on stderr (stdout keeps the table or the JSON)."""

    def __init__(self, quiet: bool = False) -> None:
        self._quiet = quiet
        self._started = time.monotonic()

    def __call__(self, text: str) -> None:
        if not self._quiet:
            elapsed = time.monotonic() - self._started
            print(f"[{elapsed:6.1f}s] {text}", file=sys.stderr, flush=True)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]
