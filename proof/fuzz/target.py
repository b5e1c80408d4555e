"""The hub under fuzz: one it starts itself, or one at a given URL.

Started here, it is the product's own ``python -m hub serve`` (embedded mode: API, relay and
delivery in one process) on a fresh sandbox (``bench.workload.prepare_hub``: the demo's
agreements and routes, the contact centre registered), every destination pointed at the HTTP
double in a process of its own, so an accepted message is delivered as in production. Both
processes are started by this command and stopped by their own ids
(``bench.processes.child``). The resident memory is read from ``/proc/<pid>/status``.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.processes import Child, child, child_env, free_port, http_double, wait_http


@dataclass
class Target:
    url: str
    token: str  # the sender's bearer token; "" when not known
    pid: int | None  # the server process, for its memory; None when not known
    server: Child | None = None

    def alive(self) -> bool:
        return self.server is None or self.server.alive()

    def tail(self) -> str:
        return self.server.tail(30) if self.server is not None else ""


def resident_mib(pid: int | None) -> float | None:
    """The process's resident set size in MiB (Linux), or None when it cannot be read."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


@contextmanager
def started_hub(say: Callable[[str], None]) -> Iterator[Target]:
    """A fresh embedded hub served by ``python -m hub serve`` on a free port, with the HTTP
    double as every destination; both are stopped and the folder removed afterwards."""
    from bench.workload import prepare_hub  # the hub itself: only when a run needs it

    with tempfile.TemporaryDirectory(prefix="omsorgshub-fuzz-") as scratch:
        folder = Path(scratch)
        with http_double(folder) as (_double, delivery_url):
            prepared = prepare_hub(folder / "home", delivery_url)
            prepared.hub.close()
            port = free_port()
            env = child_env(
                {"OMSORGSHUB_HOME": str(prepared.sandbox.home), "OMSORGSHUB_LOG_LEVEL": "WARNING"}
            )
            args = [sys.executable, "-m", "hub", "serve", "--host", "127.0.0.1"]
            with child("serve", [*args, "--port", str(port)], env, folder) as server:
                url = f"http://127.0.0.1:{port}"
                wait_http(server, url + "/healthz")
                say(f"fuzz: serving {url} (pid {server.pid}), destinations at {delivery_url}")
                yield Target(url, prepared.token, server.pid, server)
