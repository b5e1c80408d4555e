"""The clock-step fault's two ways of moving the hub processes' time, and what it tells.

``system`` (the default wherever libfaketime is installed): the wall clock of every hub process
(serve, relay, the Celery worker and its pool), through libfaketime (``proof.chaos.faketime``).
``hub``: only the clock ``build_hub`` hands the hub (``proof.chaos.clocked``), the fallback
where libfaketime is missing; the run says plainly that nothing else saw the step. Either way
one file of the run holds the offset (``+600``, ``-600``, ``+0``), which both read, and neither
the machine's clock nor PostgreSQL, RabbitMQ or the doubles are touched.
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
    file: Path
    library: Path | None  # None: the hub's clock only
    why_hub_only: str = ""

    @classmethod
    def choose(cls, how: str, file: Path) -> ClockStepper:
        library = faketime.find_library() if how in ("auto", "system") else None
        if how == "system" and library is None:
            raise ConfigError(
                f"--clock system needs libfaketime, not found ({faketime.INSTALL_HINT})"
            )
        why = "as --clock hub asks" if how == "hub" else NOT_INSTALLED
        stepper = cls(file, library, "" if library else why)
        stepper.step(0)
        return stepper

    @property
    def what(self) -> str:
        if self.library is None:
            return f"the hub's own clock only ({self.why_hub_only})"
        return f"the system clock of the hub's processes (libfaketime, {self.library})"

    def env(self, base: Mapping[str, str]) -> dict[str, str]:
        """The environment of a hub process (never of the doubles or of ``audit verify``)."""
        if self.library is None:
            return dict(base) | {OFFSET_ENV: str(self.file)}
        return faketime.preload_env(self.library, self.file, base)

    def step(self, seconds: float) -> None:
        faketime.write_offset(self.file, seconds)

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
