"""``http-delivery``: the client CPU of one delivery by the generic HTTP adapter (issue 16).

One thread calls ``HttpAdapter.deliver`` against the HTTP double in a process of its own (a
referral document of 600-840 bytes, the adapter's headers, a fresh delivery id each, one
kept-alive connection), and, in the same run with the same documents and headers, two bare
clients POST the same requests: a ``urllib3.HTTPConnectionPool`` (the baseline: the floor of the
library the adapter uses) and an ``httpx.Client`` (the library it used before). Blocks of 100
calls, the three in turn and the order reversed every other block, so background load hits all
alike. Measured per block: the calling thread's CPU time (``time.thread_time``: nothing else of
this process runs meanwhile, and the double's CPU is its own process's) and the wall time.
Reported: the median CPU per call over the blocks for each, since CPU per call hardly depends
on how busy the shared machine is and wall time does. The row's rate is the adapter's wall-clock
rate beside the bare urllib3 pool's; no target, the notes carry the figures.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

import httpx
import urllib3

from adapters.http import HttpAdapter, _headers_for
from bench.processes import http_double
from bench.report import Row
from bench.scenarios.soap import _deliveries
from bench.workload import Options, interleave, scratch_folder

BLOCK = 100


def run(options: Options) -> list[Row]:
    blocks = max(2, min(options.messages, 5000) // BLOCK)
    count = (blocks + 1) * BLOCK  # a first block each, not counted, warms the connections
    with scratch_folder("http-delivery") as folder, http_double(folder) as (_double, url):
        options.progress(f"http-delivery: {blocks} blocks of {BLOCK} POSTs each way, one thread")
        adapter = HttpAdapter("bench-http", {"url": url})
        adapter.open()
        target = urllib3.util.parse_url(url)
        pool = urllib3.HTTPConnectionPool(target.host or "", target.port, timeout=10.0)
        client = httpx.Client(timeout=10.0, follow_redirects=False, trust_env=False)
        try:
            ours = _deliveries("adapter", count)
            # The bare clients' requests are built before the clock: theirs is the HTTP alone.
            by_urllib3 = [(d.document, _headers_for(d)) for d in _deliveries("urllib3", count)]
            by_httpx = [(d.document, _headers_for(d)) for d in _deliveries("httpx", count)]
            path = target.request_uri

            def adapter_call(i: int) -> None:
                adapter.deliver(ours[i])

            def urllib3_call(i: int) -> None:
                body, headers = by_urllib3[i]
                answer = pool.urlopen("POST", path, body=body, headers=headers)
                assert answer.status == 201, answer.status

            def httpx_call(i: int) -> None:
                body, headers = by_httpx[i]
                answer = client.post(url, content=body, headers=headers)
                assert answer.status_code == 201, answer.status_code

            runners: dict[str, Callable[[int], None]] = {
                "adapter": adapter_call,
                "urllib3": urllib3_call,
                "httpx": httpx_call,
            }
            measured = interleave(runners, blocks, BLOCK)
        finally:
            adapter.close()
            pool.close()
            client.close()
    calls = blocks * BLOCK
    cpu, wall = measured.cpu_per_call, measured.wall
    per_call = {name: 1e6 * statistics.median(values) for name, values in cpu.items()}
    spread = {name: 1e6 * (max(v) - min(v)) for name, v in cpu.items()}
    row = Row(
        scenario="http-delivery:adapter",
        count=calls,
        seconds=wall["adapter"],
        baseline_seconds=wall["urllib3"],
        unit="call",
    )
    row.notes.append(
        "client CPU per call, median of "
        f"{blocks} blocks of {BLOCK} (spread): "
        + ", ".join(f"{n} {per_call[n]:,.0f} µs ({spread[n]:,.0f})" for n in runners)
        + f"; wall per call: adapter {1e3 * wall['adapter'] / calls:.2f} ms, bare urllib3 "
        f"{1e3 * wall['urllib3'] / calls:.2f} ms, bare httpx {1e3 * wall['httpx'] / calls:.2f} ms"
    )
    return [row]
