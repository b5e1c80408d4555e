"""``guards``: what the three guards (agreements, keys, audit) cost.

Rows:

- The audit trail's own rows (append at the batch sizes group commit produces, verify as the
  CLI does) are the ``audit`` scenario (``bench/scenarios/audit.py``).
- ``guards:end-to-end``: the ``end-to-end-embedded`` run with guards on; baseline the same run
  with guards off (``bench.guards_off``: no-op agreement cache, key store and audit trail,
  swapped into the built hub's ``Guards``). Target: on ≥ 0.8 × off.
- ``guards:pipeline``: the same comparison for ``ingest_many`` alone; no target.
"""

from __future__ import annotations

import time

from bench.guards_off import switch_off
from bench.processes import DoubleWatch, http_double
from bench.report import Row
from bench.scenarios.end_to_end import Delivered, measure_embedded
from bench.scenarios.pipeline import UNUSED_URL
from bench.workload import Options, documents, ingest_all, prepare_hub, scratch_folder
from hub.demo.scenario import DISTRICTS

RATIO_TARGET = 0.8
E2E_ROUNDS = 2


def run(options: Options) -> list[Row]:
    say = options.progress
    n = options.messages
    docs = documents(n)
    rows: list[Row] = []
    with scratch_folder("guards") as folder:
        pipeline = Row("guards:pipeline", n)
        for guarded in (True, False):
            state = "on" if guarded else "off"
            say(f"guards: ingest_many x{n}, guards {state}")
            prepared = prepare_hub(folder / f"pipeline-{state}", UNUSED_URL)
            try:
                if not guarded:
                    switch_off(prepared.hub, DISTRICTS)
                began = time.perf_counter()
                ingest_all(prepared.hub, docs)
                elapsed = time.perf_counter() - began
            finally:
                prepared.hub.close()
            if guarded:
                pipeline.seconds = elapsed
            else:
                pipeline.baseline_seconds = elapsed
        pipeline.notes.append("baseline: the same with guards off (bench/guards_off.py)")

        e2e = Row("guards:end-to-end", n, target_ratio=RATIO_TARGET)
        runs: dict[bool, list[Delivered]] = {True: [], False: []}
        with http_double(folder) as (double, url):
            watch = DoubleWatch(url)
            try:
                # Alternating on, off, on, off: drift on a shared machine hits both alike.
                for round_ in range(E2E_ROUNDS):
                    for guarded in (True, False):
                        state = "on" if guarded else "off"
                        say(f"guards: end to end x{n}, guards {state} ({round_ + 1})")
                        home = folder / f"e2e-{state}-{round_}"
                        runs[guarded].append(
                            measure_embedded(home, docs, url, watch, double, guards_on=guarded)
                        )
            finally:
                watch.close()
        e2e.count = n * E2E_ROUNDS
        e2e.seconds = sum(r.seconds for r in runs[True])
        e2e.baseline_seconds = sum(r.seconds for r in runs[False])
        e2e.notes += [
            f"{E2E_ROUNDS} rounds of {n} messages, guards on and off alternating; baseline: "
            "the same runs with guards off (no-op agreement cache, key store and audit trail "
            "swapped into the built hub; bench/guards_off.py)",
            *(f"guards on, round {i + 1}: {r.summary()}" for i, r in enumerate(runs[True])),
            *(f"guards off, round {i + 1}: {r.summary()}" for i, r in enumerate(runs[False])),
        ]
        rows += [pipeline, e2e]
    return rows
