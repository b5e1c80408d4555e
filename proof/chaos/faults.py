"""How each fault is injected and undone. Every injector restores what it broke in a
``finally``, whatever happens, before the next fault starts.

The servers' faults act on the machine's own RabbitMQ node and PostgreSQL cluster (as root:
``rabbitmqctl``, ``pg_ctlcluster``), so they need both on 127.0.0.1; the read-only database is
the run's own PostgreSQL database (``default_transaction_read_only`` and its sessions ended), or
on SQLite the data folder's tmpfs remounted read-only and ``serve`` restarted onto it. The
destination's outage runs beside the other faults (a timer ends it); the others run one at a
time.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlalchemy import create_engine, text

from proof.chaos.rig import Rig

BALLAST_CHUNK = b"\0" * (1 << 20)


class Skipped(Exception):
    """This fault cannot be injected here; the message says why."""


@dataclass(frozen=True)
class Timings:
    outage_seconds: float
    hold_seconds: float  # how long disk-full, read-only and each clock step last
    clock_step_seconds: float
    server_down_seconds: float  # broker and database stay stopped this long


@dataclass
class Injector:
    rig: Rig
    timings: Timings
    rng: random.Random
    say: Callable[[str], None]
    timers: list[threading.Timer] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # clock steps: how far, which processes

    def inject(self, name: str) -> None:
        action = {
            "kill-serve": lambda: self.kill("serve"),
            "kill-relay": lambda: self.kill("relay"),
            "kill-worker": lambda: self.kill("worker"),
            "broker-restart": self.broker_restart,
            "db-restart": self.db_restart,
            "outage": self.outage,
            "disk-full": self.disk_full,
            "db-readonly": self.db_readonly,
            "clock-step": self.clock_step,
            "clock-skew": self.clock_skew,
        }[name]
        action()

    # -- processes ---------------------------------------------------------------------------

    def kill(self, name: str) -> None:
        process = self.rig.processes[name]
        process.kill()
        time.sleep(self.rng.uniform(0.2, 2.0))
        process.start()
        process.wait_ready()

    # -- servers -----------------------------------------------------------------------------

    def broker_restart(self) -> None:
        _local_or_skip(self.rig.env.get("OMSORGSHUB_BROKER_URL", ""), "RabbitMQ")
        _run("rabbitmqctl", "stop_app")
        try:
            time.sleep(self.timings.server_down_seconds)
        finally:
            _run("rabbitmqctl", "start_app")

    def db_restart(self) -> None:
        version, cluster = _cluster_of(self.rig.database_url)
        try:
            _run("pg_ctlcluster", version, cluster, "stop", "-m", "fast")
            time.sleep(self.timings.server_down_seconds)
        finally:
            _run("pg_ctlcluster", version, cluster, "start")

    # -- the destination ---------------------------------------------------------------------

    def outage(self) -> None:
        double = self.rig.double
        double.set_mode("down")
        timer = threading.Timer(self.timings.outage_seconds, double.set_mode, args=("up",))
        timer.daemon = True
        timer.start()
        self.timers.append(timer)

    def end_outages(self) -> None:
        """Wait for every outage to end (the settling counts on a destination that is up)."""
        for timer in self.timers:
            timer.join()
        self.rig.double.set_mode("up")

    # -- the data folder and the database ----------------------------------------------------

    def disk_full(self) -> None:
        if not self.rig.mounted:
            raise Skipped(f"the data folder is no tmpfs of its own ({self.rig.mount_problem})")
        ballast = self.rig.home / "chaos-ballast"
        try:
            with ballast.open("wb") as out:
                with contextlib.suppress(OSError):
                    while True:
                        out.write(BALLAST_CHUNK)
                        out.flush()
                with contextlib.suppress(OSError):  # the last partial chunk
                    os.fsync(out.fileno())
            time.sleep(self.timings.hold_seconds)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
        finally:
            ballast.unlink(missing_ok=True)

    def db_readonly(self) -> None:
        if self.rig.mode == "scaled":
            self._postgres_readonly()
            return
        if not self.rig.mounted:
            raise Skipped(f"the data folder is no tmpfs of its own ({self.rig.mount_problem})")
        # A mount with files open for writing cannot be made read-only (EBUSY), and no one can
        # take write access from SQLite's open connections: so serve is killed, the folder
        # remounted read-only under it and serve started on it, as after a volume error.
        serve, home = self.rig.processes["serve"], str(self.rig.home)
        serve.kill()
        done = subprocess.run(
            ["mount", "-o", "remount,ro", home], capture_output=True, text=True, timeout=60
        )
        try:
            if done.returncode != 0:
                raise Skipped(f"remount read-only refused: {done.stderr.strip()[:200]}")
            serve.start()
            time.sleep(self.timings.hold_seconds)
            serve.kill()
        finally:
            _run("mount", "-o", "remount,rw", home)
            serve.start()
            serve.wait_ready()

    def _postgres_readonly(self) -> None:
        name = self.rig.database_name
        read_only = text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
        writable = text(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
        admin = create_engine(self.rig.admin_url, isolation_level="AUTOCOMMIT")
        end_sessions = text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = :name AND pid <> pg_backend_pid()"
        )
        try:
            with admin.connect() as conn:
                conn.execute(read_only)
                conn.execute(end_sessions, {"name": name})
            try:
                time.sleep(self.timings.hold_seconds)
            finally:
                with admin.connect() as conn:
                    conn.execute(writable)
                    conn.execute(end_sessions, {"name": name})
        finally:
            admin.dispose()

    # -- the clock ---------------------------------------------------------------------------

    def clock_step(self) -> None:
        """Every hub process's clock forward by the step, then as far behind, each for the hold
        (one machine's clock stepped, as by NTP); which processes, and how, goes to the report."""
        self._step(list(self.rig.processes))

    def clock_skew(self) -> None:
        """The same, for one hub process drawn from the seed while the others keep the real
        clock: scaled out, one host whose clock is wrong."""
        self._step([self.rng.choice(sorted(self.rig.processes))])

    def _step(self, names: list[str]) -> None:
        clock, step = self.rig.clock, self.timings.clock_step_seconds
        hold = self.timings.hold_seconds
        reached = clock.reach(self.rig.processes[name] for name in names)
        try:
            clock.step(step, names)
            time.sleep(hold)
            clock.step(-step, names)
            time.sleep(hold)
        finally:
            clock.step(0, names)
        others = sorted(set(self.rig.processes) - set(names))
        self.notes.append(
            f"{step:+g} s for {hold:g} s, then {-step:+g} s for {hold:g} s; {reached}"
            + (f"; {', '.join(others)} kept the real clock" if others else "")
        )


def _run(*args: str) -> None:
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {(done.stderr or done.stdout).strip()[:300]}")


def _local_or_skip(url: str, server: str) -> None:
    if (urlsplit(url).hostname or "") not in ("127.0.0.1", "localhost", "::1"):
        raise Skipped(f"{server} is not on this machine; it can be restarted only here")


def _cluster_of(database_url: str) -> tuple[str, str]:
    """The (version, name) of the local PostgreSQL cluster listening on the URL's port."""
    _local_or_skip(database_url.replace("+psycopg", ""), "PostgreSQL")
    port = str(urlsplit(database_url.replace("+psycopg", "")).port or 5432)
    try:
        listing = subprocess.run(
            ["pg_lsclusters", "--no-header"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Skipped(f"pg_lsclusters cannot run ({exc})") from exc
    for line in listing.splitlines():
        cells = line.split()
        if len(cells) >= 3 and cells[2] == port:
            return cells[0], cells[1]
    raise Skipped(f"no local PostgreSQL cluster listens on port {port} (pg_lsclusters)")
