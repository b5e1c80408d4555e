"""Envelopes POSTed by ``wrk``, a compiled load generator, at scheduled times.

The Python load generator of ``open-loop`` cost 3.6–4.1 ms of CPU per request (32 threads
with httpx), more than the hub spent on the message: on a 2-core machine it took a core the
hub needed. ``wrk`` (Debian's ``wrk``, an epoll loop in C) costs a small fraction of that, and
its LuaJIT scripting lets ``bench/wrk_schedule.lua`` keep the schedule: message ``i`` is due at
``t0 + i / rate``, each wrk thread sends its share over one keep-alive connection, and every
answer is written with its *scheduled* time, so a server that falls behind is charged for the
queue it builds. ``wrk2`` does this natively but is in no package registry here.

wrk runs for a fixed duration and cannot end itself early; each thread writes its answers to a
file when its last envelope is answered, and this module ends wrk with SIGINT once all have.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from bench.processes import tree_cpu_seconds

SCRIPT = Path(__file__).with_name("wrk_schedule.lua")
START_DELAY = 1.0  # seconds between launching wrk and the first scheduled send
MAX_SECONDS = 3600  # wrk's --duration; it is stopped as soon as every answer is in
MISSING = "needs wrk (apt-get install wrk, or any wrk 4 on PATH)"


def wrk_path() -> str | None:
    return shutil.which("wrk")


@dataclass(frozen=True)
class Answer:
    index: int
    status: int
    scheduled: float  # epoch seconds; rate 0: the start for every envelope
    sent: float  # epoch seconds
    answered: float  # epoch seconds
    message_id: str

    @property
    def latency(self) -> float:
        """From the scheduled send: what the sender waited, queue included."""
        return self.answered - self.scheduled

    @property
    def service(self) -> float:
        """From the actual send (closed loop: the only meaningful start)."""
        return self.answered - self.sent


@dataclass(frozen=True)
class Offered:
    answers: list[Answer]
    first_scheduled: float  # epoch seconds
    cpu_seconds: float  # wrk's own CPU over the run
    connections: int

    @property
    def refused(self) -> list[Answer]:
        return [a for a in self.answers if a.status != 202]


def offer(
    base_url: str,
    token: str,
    docs: list[bytes],
    rate: float,
    connections: int,
    folder: Path,
    timeout: float,
    request: tuple[str, str] = ("POST", "/api/v1/messages"),
) -> Offered:
    """POST ``docs`` to ``base_url`` at ``rate`` msg/s (0: as fast as answered) from
    ``connections`` wrk threads, one connection each; every envelope is answered or this raises
    saying why. ``request`` (method, path): ``("GET", "/healthz")`` sends one GET per envelope
    instead, the same count on the same connections, for a baseline."""
    wrk = wrk_path()
    if wrk is None:
        raise RuntimeError(MISSING)
    threads = max(1, min(connections, len(docs)))
    out = folder / f"wrk-{uuid.uuid4().hex[:8]}"
    out.mkdir()
    bodies = out / "bodies"
    bodies.write_bytes(b"\0".join(docs))
    t0 = time.time() + START_DELAY
    args = [
        wrk, "-t", str(threads), "-c", str(threads), "-d", f"{MAX_SECONDS}s",
        "--timeout", f"{max(10, int(timeout))}s", "-s", str(SCRIPT), base_url,
        "--", str(bodies), str(out), f"{t0:.6f}", str(rate), token, str(threads), *request,
    ]  # fmt: skip
    log = out / "wrk.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(args, stdout=sink, stderr=subprocess.STDOUT)
    try:
        cpu = _wait_answers(proc, out, threads, time.monotonic() + timeout + START_DELAY, log)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # wrk prints its summary and exits
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    answers = sorted(_read(out, threads), key=lambda a: a.index)
    missing = sorted(set(range(len(docs))) - {a.index for a in answers})
    if missing:
        raise RuntimeError(
            f"wrk has no answer to {len(missing)} of {len(docs)} envelopes (first: index "
            f"{missing[0]}):\n{log.read_text(errors='replace')[-2000:]}"
        )
    return Offered(answers, t0, cpu, threads)


def _wait_answers(
    proc: subprocess.Popen[bytes], out: Path, threads: int, deadline: float, log: Path
) -> float:
    """Wait until every thread wrote its answers; returns wrk's CPU seconds so far."""
    files = [out / f"wrk-{t}.tsv" for t in range(1, threads + 1)]
    while not all(f.exists() for f in files):
        if proc.poll() is not None:
            raise RuntimeError(f"wrk exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            done = sum(f.exists() for f in files)
            raise TimeoutError(f"{done} of {threads} wrk threads finished before the deadline")
        time.sleep(0.02)
    return tree_cpu_seconds(proc.pid)


def _read(out: Path, threads: int) -> list[Answer]:
    answers: list[Answer] = []
    for t in range(1, threads + 1):
        for line in (out / f"wrk-{t}.tsv").read_text().splitlines():
            if not line.strip():
                continue
            index, status, scheduled, sent, answered, message_id = line.split("\t")
            answers.append(
                Answer(
                    int(index),
                    int(status),
                    float(scheduled),
                    float(sent),
                    float(answered),
                    message_id,
                )
            )
    return answers
