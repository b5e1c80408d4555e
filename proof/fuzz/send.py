"""The sending loop: threads take request numbers in order, each with its own keep-alive
client; the answers are tallied, memory sampled, and the run stops early if the server dies."""

from __future__ import annotations

import argparse
import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from proof.fuzz.probes import Context, Probe, probe
from proof.fuzz.tally import CLOSED, Tally, echoed, report
from proof.fuzz.target import Target, resident_mib, started_hub

TIMEOUT = "timeout"


def say(text: str) -> None:
    print(text, flush=True)


@contextmanager
def _target(args: argparse.Namespace) -> Iterator[Target]:
    if args.url:
        yield Target(args.url.rstrip("/"), args.token, args.pid)
    else:
        with started_hub(say) as target:
            yield target


def fuzz(args: argparse.Namespace) -> int:
    with _target(args) as target:
        return _run(target, args)


def _send(client: httpx.Client, p: Probe) -> tuple[str, bytes, bytes]:
    """(status or CLOSED/TIMEOUT, raw headers, body) of one request."""
    try:
        headers = [(name.encode(), value) for name, value in p.headers.items()]
        r = client.request(p.method, p.path, headers=headers, content=p.body or None)
    except httpx.TimeoutException:
        return TIMEOUT, b"", b""
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
        return CLOSED, b"", b""
    raw_headers = b"\n".join(k + b": " + v for k, v in r.headers.raw)
    return str(r.status_code), raw_headers, r.content


def _run(target: Target, args: argparse.Namespace) -> int:
    ctx = Context(target.token, args.seed)
    tally = Tally()
    total, every = args.requests, args.memory_every
    numbers = itertools.count()
    lock = threading.Lock()
    died: list[str] = []
    timeouts: list[int] = []
    start = time.monotonic()

    def sample(done: int) -> None:
        mib = resident_mib(target.pid)
        if mib is None:
            return
        with lock:
            tally.memory.append((done, mib))
        rate = done / max(time.monotonic() - start, 1e-9)
        say(f"fuzz: {done:,} requests ({rate:.0f}/s), server {mib:.1f} MiB resident")

    def worker() -> None:
        with httpx.Client(base_url=target.url, timeout=args.timeout, trust_env=False) as client:
            while not died:
                with lock:
                    n = next(numbers)
                if n >= total:
                    return
                p = probe(ctx, n)
                try:
                    status, headers, body = _send(client, p)
                except httpx.TransportError as exc:  # connection refused and the like
                    if not target.alive():
                        died.append(f"the server died at request #{n} ({p.kind}):\n{target.tail()}")
                        return
                    status, headers, body = f"transport error ({type(exc).__name__})", b"", b""
                if status == TIMEOUT:
                    timeouts.append(n)
                tally.record(n, p, status, echoed(p, _code(status), headers, body))
                if (n + 1) % every == 0:
                    sample(n + 1)

    sample(0)
    threads = [threading.Thread(target=worker, name=f"fuzz-{i}") for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - start
    if total % every and not died:
        sample(total)
    tally.memory.sort()
    ok, lines = report(tally, seconds, args.memory_slack)
    if timeouts:
        lines.insert(-1, f"unanswered within {args.timeout:.0f} s: {len(timeouts)} (must be 0)")
        ok = False
    if died:
        lines.insert(-1, died[0])
        ok = False
    if not ok:
        lines[-1] = "result: FAILED"
    say(f"fuzz: seed {args.seed}, {args.clients} clients, target {target.url}")
    for line in lines:
        say(line)
    return 0 if ok else 1


def _code(status: str) -> int:
    return int(status) if status.isdigit() else 0
