"""The clock faults' two ways of moving the hub processes' time, and what they tell.

``system`` (the default wherever libfaketime is installed): the wall clock of every hub process
(serve, relay, the Celery worker and its pool), through libfaketime (``proof.chaos.faketime``).
``hub``: only the clock ``build_hub`` hands the hub (``proof.chaos.clocked``), the fallback
where libfaketime is missing; the run says plainly that nothing else saw the step. Either way
each process reads its offset (``+600``, ``-600``, ``+0``) from a file of its own in the run's
folder, so ``clock-step`` moves them all at once and ``clock-skew`` one alone; neither the
machine's clock nor PostgreSQL, RabbitMQ or the doubles are touched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from hub.errors import ConfigError
from proof.chaos import faketime
from proof.chaos.clocked import OFFSET_ENV
from proof.chaos.processes import Supervised, group_pids

CLOCK_WAYS = ("auto", "system", "hub")
HUB_ONLY = (
    "ONLY the hub's own clock (build_hub's clock) was stepped, {why}: time.time(), "
    "datetime.now(), SQLite, uvicorn, httpx, Celery and kombu saw the real clock"
)
NOT_INSTALLED = f"libfaketime is not installed ({faketime.INSTALL_HINT})"


@dataclass(frozen=True)
class ClockStepper:
    folder: Path  # holds clock-offset-NAME for each hub process NAME
    library: Path | None  # None: the hub's clock only
    why_hub_only: str = ""

    @classmethod
    def choose(cls, how: str, folder: Path) -> ClockStepper:
        library = faketime.find_library() if how in ("auto", "system") else None
        if how == "system" and library is None:
            raise ConfigError(
                f"--clock system needs libfaketime, not found ({faketime.INSTALL_HINT})"
            )
        why = "as --clock hub asks" if how == "hub" else NOT_INSTALLED
        return cls(folder, library, "" if library else why)

    @property
    def what(self) -> str:
        if self.library is None:
            return f"the hub's own clock only ({self.why_hub_only})"
        return f"the system clock of the hub's processes (libfaketime, {self.library})"

    def file(self, name: str) -> Path:
        return self.folder / f"clock-offset-{name}"

    def env(self, base: Mapping[str, str], name: str) -> dict[str, str]:
        """The environment of the hub process ``name`` (never of the doubles or of ``audit
        verify``), its clock right to begin with."""
        self.step(0, [name])
        if self.library is None:
            return dict(base) | {OFFSET_ENV: str(self.file(name))}
        return faketime.preload_env(self.library, self.file(name), base)

    def step(self, seconds: float, names: Iterable[str]) -> None:
        for name in names:
            faketime.write_offset(self.file(name), seconds)

    def reach(self, processes: Iterable[Supervised]) -> str:
        """Which processes the step reaches now: each with its pids, and for libfaketime whether
        every pid has it loaded (a pid without it is named: its clock did not move)."""
        if self.library is None:
            return HUB_ONLY.format(why=self.why_hub_only)
        parts = []
        for process in processes:
            popen = process.popen if process.alive() else None
            pids = group_pids(popen.pid) if popen is not None else []
            bare = [pid for pid in pids if not faketime.preloaded(pid, self.library)]
            shown = ", ".join(map(str, pids)) or "not running"
            missing = f"; NOT STEPPED, no libfaketime in {bare}" if bare else ""
            parts.append(f"{process.name} (pid {shown}{missing})")
        return "system clock (libfaketime; CLOCK_REALTIME, not monotonic) of " + ", ".join(parts)
