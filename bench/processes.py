"""Processes the scenarios start: the HTTP double, ``omsorgshub serve``, the relay, Celery.

Every process is started by this benchmark, on 127.0.0.1, and stopped by its own id (SIGTERM,
then SIGKILL after a grace period). Each child gets an environment without the caller's
``OMSORGSHUB_*`` settings, so the sandbox's folder and URLs are the only configuration.
"""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMSORGSHUB_")}
    env.update(extra)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


@dataclass
class Child:
    name: str
    process: subprocess.Popen[str]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def cpu_seconds(self) -> float:
        """CPU seconds (user + system) used so far by the process and its descendants."""
        return tree_cpu_seconds(self.pid)

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, grace: float = 15.0) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds incl. reaped children) from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # After the command: state, ppid, ... utime, stime, cutime, cstime are fields 14-17.
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[1]), sum(int(x) for x in fields[11:15]) / ticks


def _tree(root: int) -> tuple[list[int], dict[int, tuple[int, float]]]:
    """``root`` and its live descendants, and the /proc/<pid>/stat reading of each."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir() if Path("/proc/self/stat").exists() else ():
        if entry.name.isdigit() and (st := _stat(int(entry.name))) is not None:
            stats[int(entry.name)] = st
    children: dict[int, list[int]] = {}
    for pid, (ppid, _cpu) in stats.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            found.append(pid)
        todo += children.get(pid, [])
    return found, stats


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds of ``root`` and every live descendant (Linux /proc; 0 elsewhere)."""
    pids, stats = _tree(root)
    return sum(stats[pid][1] for pid in pids)


def proc_numbers(path: str, keys: Sequence[str]) -> dict[str, int]:
    """The first number after each ``key:`` of a /proc file in ``key: value`` lines
    (``/proc/<pid>/status``, ``/proc/<pid>/io``); 0 for a key it lacks, all 0 when the file
    cannot be read (the process is gone, or not Linux)."""
    found = dict.fromkeys(keys, 0)
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        key, _, rest = line.partition(":")
        if key in found and rest.split():
            found[key] = int(rest.split()[0])
    return found


def tree_rss_mib(root: int) -> float:
    """Resident memory (VmRSS) of ``root`` and every live descendant, in MiB (0 elsewhere)."""
    pids = _tree(root)[0]
    return sum(proc_numbers(f"/proc/{pid}/status", ["VmRSS"])["VmRSS"] for pid in pids) / 1024


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot, from /proc/stat ((0, 0) elsewhere)."""
    try:
        values = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values) - idle, sum(values)


class MachineCpu:
    """How busy the whole machine's CPUs were between construction and ``share()``: every
    process counts, this benchmark's and anyone else's (the machine may be shared)."""

    def __init__(self) -> None:
        self._busy, self._total = _machine_ticks()

    def busy(self) -> float | None:
        """The fraction of all cores' time that was busy since construction (None: unknown)."""
        busy, total = _machine_ticks()
        if total <= self._total:
            return None
        return (busy - self._busy) / (total - self._total)

    def share(self) -> str:
        used = self.busy()
        if used is None:
            return "machine CPU: unknown"
        cpus = os.cpu_count() or 1
        return f"machine CPU {used:.0%} busy (all {cpus} cores, every process on the machine)"


def own_cpu_seconds() -> float:
    """CPU seconds (user + system) this process has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def server_pid(command: str) -> int | None:
    """The main process of a local server named ``command`` in ``/proc/<pid>/comm`` (one whose
    parent is named otherwise: PostgreSQL's postmaster, RabbitMQ's ``beam.smp``), or None.
    Only read, for its CPU: the benchmark neither starts nor stops these."""
    proc = Path("/proc")

    def comm(pid: str) -> str:
        try:
            return (proc / pid / "comm").read_text().strip()
        except OSError:
            return ""

    found = []
    for entry in proc.iterdir() if proc.joinpath("self", "stat").exists() else ():
        if entry.name.isdigit() and comm(entry.name) == command:
            st = _stat(int(entry.name))
            if st is not None and comm(str(st[0])) != command:
                found.append(int(entry.name))
    return min(found) if found else None


class CpuShares:
    """CPU used over a window by kinds of process, as shares of one core, beside how busy the
    whole machine was. Each kind is a function returning CPU seconds used so far (a child's
    ``cpu_seconds``, a sum over several, ``own_cpu_seconds``)."""

    def __init__(self, kinds: Mapping[str, Callable[[], float]]) -> None:
        self._kinds = dict(kinds)
        self._start = {name: used() for name, used in self._kinds.items()}
        self._machine = MachineCpu()
        self.spent: dict[str, float] = {}  # CPU seconds per kind, as of the last ``used``

    def used(self, seconds: float) -> str:
        """The shares over ``seconds``, then the rest of the machine (every other process and
        the kernel, in shares of one core too) and the machine's busy fraction."""
        busy, machine = self._machine.busy(), self._machine.share()
        self.spent = {name: now() - self._start[name] for name, now in self._kinds.items()}
        used = {name: spent / seconds for name, spent in self.spent.items()}
        shares = [f"{name} {share:.0%}" for name, share in used.items()]
        if busy is not None:
            rest = busy * (os.cpu_count() or 1) - sum(used.values())
            shares.append(f"anything else on the machine {max(0.0, rest):.0%}")
        return "CPU (share of one core): " + ", ".join(shares) + f"; {machine}"


LOCAL_SERVERS = {"postgres": "postgres", "rabbitmq": "beam.smp"}  # kind -> /proc comm


def local_servers_cpu() -> dict[str, Callable[[], float]]:
    """CPU seconds so far of PostgreSQL and RabbitMQ (every process of each) when they run on
    this machine: the kinds of ``CpuShares`` for the servers a scaled-out run uses. They may
    serve others too; their share is the server's, not only the benchmark's."""
    found = {kind: server_pid(command) for kind, command in LOCAL_SERVERS.items()}
    return {kind: partial(tree_cpu_seconds, pid) for kind, pid in found.items() if pid is not None}


def children_cpu(children: Sequence[Child]) -> Callable[[], float]:
    """CPU seconds so far of several children (and their descendants) together."""
    return lambda: sum(c.cpu_seconds() for c in children)


@contextmanager
def child(name: str, args: Sequence[str], env: Mapping[str, str], log_dir: Path) -> Iterator[Child]:
    """Run ``args`` (cwd: the repository) with output to ``<log_dir>/<name>.log``; stop it on
    exit."""
    log = log_dir / f"{name}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            list(args),
            cwd=REPO_ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    c = Child(name, proc, log)
    try:
        yield c
    finally:
        c.stop()


@contextmanager
def http_double(log_dir: Path, timeout: float = 60.0) -> Iterator[tuple[Child, str]]:
    """The HTTP double in a process of its own on a free port; yields it and the delivery URL
    it prints on its first line."""
    args = [sys.executable, "-m", "adapters.doubles.http_double", "--port", "0"]
    with child("http-double", args, child_env({}), log_dir) as c:
        url = printed_url(c, "the HTTP double", timeout)
        wait_http(c, url.rsplit("/", 1)[0] + "/_stats")
        yield c, url


def printed_url(c: Child, what: str, timeout: float = 60.0) -> str:
    """The ``http://`` URL a double prints on its last log line once it listens; raises if the
    process dies or ``timeout`` passes first (``what`` names it in the error)."""
    deadline = time.monotonic() + timeout
    url = ""
    while not url.startswith("http://"):
        if not c.alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start:\n{c.tail()}")
        time.sleep(0.05)
        url = c.tail(1).strip()
    return url


def wait_http(c: Child, url: str, timeout: float = 60.0) -> None:
    """Poll ``url`` until it answers 200, the process dies, or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        if not c.alive():
            raise RuntimeError(f"{c.name} exited with {c.process.returncode}:\n{c.tail()}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{c.name} did not answer {url} within {timeout:.0f} s:\n{c.tail()}")
        time.sleep(0.1)


class DoubleWatch:
    """Reads the double's counters over HTTP (``GET /_stats``)."""

    def __init__(self, delivery_url: str) -> None:
        self._base = delivery_url.rsplit("/", 1)[0]
        self._client = httpx.Client(timeout=10, trust_env=False)

    def unique(self) -> int:
        stats = self._client.get(self._base + "/_stats").json()
        return int(stats["unique"])

    def reset(self) -> None:
        self._client.post(self._base + "/_reset", content=b"").raise_for_status()

    def wait_for(self, count: int, timeout: float, every: float = 0.02) -> float:
        """Poll until the double has ``count`` distinct documents; returns the monotonic time
        it was seen. Raises ``TimeoutError`` with how many arrived."""
        deadline = time.monotonic() + timeout
        while True:
            seen = self.unique()
            now = time.monotonic()
            if seen >= count:
                return now
            if now > deadline:
                raise TimeoutError(f"the double has {seen} of {count} after {timeout:.0f} s")
            time.sleep(every)

    def close(self) -> None:
        self._client.close()
