"""``atl``: the working-time check of one month for 1,000 assistants (issue 13).

Rows:

- ``atl:check``: ``atl report`` of November for 1,000 assistants (``--messages`` / 3, at most
  1,000: the default run has 1,000), one client each, a month of weekday shifts, every
  twentieth with a short daily rest: find the month's shift reports by their business keys,
  decrypt each under audit, run every rule of the statutory rule set, list the violations.
  Baseline: the same shifts, already in memory, summed per assistant in a bare loop: what
  touching the month's shifts at all costs, so the ratio shows the store, the decryption, the
  audit entries and the rules on top.

The rules alone (``hub.atl.rules.check`` on the in-memory shifts) are given in the notes. The
shift reports are ingested before the clock starts.
"""

from __future__ import annotations

import time
from datetime import date, timedelta

from bench.report import Row
from bench.workload import Options, scratch_folder
from hub.atl.config import ATL, LAW_DEFAULTS
from hub.atl.rules import Shift, check
from hub.atl.shifts import TYPE
from hub.demo.atl_world import (
    ASSISTANCE_APP,
    PURPOSE,
    SHIFT_ARCHIVE,
    atl_agreement,
    clean_month,
    shift_report,
    short_rest_month,
)
from hub.demo.fictional import FictionalPeople, build_envelope
from hub.demo.sandbox import DestinationSpec, Sandbox
from hub.services.agreements import add_agreements, register_system
from hub.services.atl import violations_report
from hub.services.principal import Principal

ASSISTANTS = 1000  # at the default --messages; fewer in a smaller run (the smoke test)
DISTRICT = "sdn-sodermalm"
PERIOD = (date(2026, 11, 1), date(2026, 11, 30))
OPERATOR = Principal.operator("operator:bench")


def run(options: Options) -> list[Row]:
    assistants = min(ASSISTANTS, max(40, options.messages // 3))
    months = {i: short_rest_month(2026, 11) if i % 20 == 0 else clean_month(2026, 11)
              for i in range(assistants)}  # fmt: skip
    with scratch_folder("atl") as folder:
        sandbox = Sandbox(folder / "hub")
        sandbox.write_routes(
            {SHIFT_ARCHIVE: DestinationSpec("memory", {})}, [(TYPE, DISTRICT, [SHIFT_ARCHIVE])]
        )
        hub = sandbox.open()  # not started: nothing is delivered, only stored
        try:
            register_system(hub, ASSISTANCE_APP, "provider app (bench)", actor="bench")
            add_agreements(hub, [atl_agreement(hub.clock(), DISTRICT)], actor="bench")
            options.progress(f"atl: ingesting a month of shifts for {assistants} assistants")
            people = FictionalPeople(31, kind="personnummer").take(assistants)
            envelopes = [
                _envelope(i, p.identity.canonical, months[i]) for i, p in enumerate(people)
            ]
            for start in range(0, len(envelopes), 100):
                batch = envelopes[start : start + 100]
                for result in hub.ingestor.ingest_many(ASSISTANCE_APP, batch):
                    if isinstance(result, Exception):
                        raise RuntimeError(f"atl bench: a shift report was refused: {result}")
            options.progress("atl: checking the month")
            began = time.perf_counter()
            rows = violations_report(hub, OPERATOR, period="2026-11")
            check_seconds = time.perf_counter() - began
        finally:
            hub.close()
    expected = len([i for i in months if i % 20 == 0])
    if len(rows) != expected:
        raise RuntimeError(f"atl bench: {len(rows)} violations, expected {expected}")
    began = time.perf_counter()
    for shifts in months.values():
        check(shifts, LAW_DEFAULTS[ATL], PERIOD)
    rules_seconds = time.perf_counter() - began
    began = time.perf_counter()
    totals = [_hours(shifts) for shifts in months.values()]
    bare_seconds = time.perf_counter() - began
    assert len(totals) == assistants
    return [
        Row(
            scenario="atl:check",
            count=assistants,
            seconds=check_seconds,
            baseline_seconds=bare_seconds,
            unit="assistant",
            notes=[
                f"a month of {sum(len(s) for s in months.values())} shifts, {expected} "
                f"violations found; the rules alone: {assistants / rules_seconds:,.0f} "
                "assistants/s; baseline: the same shifts summed per assistant in memory"
            ],
        )
    ]


def _envelope(i: int, client: str, shifts: list[Shift]) -> bytes:
    body = shift_report(
        assistant=f"A-{i:05d}", client=client, period="2026-11", shifts=shifts, report_id=f"R-{i}"
    )
    return build_envelope(
        message_type=TYPE, version="1", district=DISTRICT, purpose=PURPOSE, body=body,
        message_id=f"BENCH-ATL-{i:05d}",
    )  # fmt: skip


def _hours(shifts: list[Shift]) -> timedelta:
    total = timedelta(0)
    for s in shifts:
        for start, end in s.worked():
            total += end - start
    return total
