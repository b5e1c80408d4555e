"""``ivo``: IVO reporting on the embedded SQLite database (issue 12).

Rows:

- ``ivo:track``: decisions tracked per second from stored execution events
  (``track_events``: read each ``case.execution_event`` v2, decrypt it, fold it into its
  decision, seal the decision again, mark the event applied, audit ``decrypted``). Baseline:
  bare SQLAlchemy Core inserts of as many rows of the tracking table's shape (decision id,
  keyed reference, a blob of the same size), 500 per transaction, into a scratch table of the
  same database: the storage floor of writing the tracked state at all.
- ``ivo:report``: the quarter's worklist for every tracked decision (10,000 at the default
  ``--messages 3000``; decisions = messages × 10/3): unseal each, apply the due rules, build
  the rows, audit the export, write the CSV and the PDF. Baseline: a bare ``csv.DictWriter``
  of the same rows to a file: what any report costs, so the ratio shows the unsealing, the due
  rules, the audit entries and the PDF on top.

The events are made (``hub.demo.ivo_events``) and ingested before the clock starts.
"""

from __future__ import annotations

import csv
import os
import random
import time

from sqlalchemy import Column, Integer, LargeBinary, MetaData, String, Table, func, insert, select

from bench.report import Row
from bench.workload import Options, scratch_folder
from hub.bootstrap import Hub
from hub.demo.fictional import FictionalPeople
from hub.demo.ivo_events import decision_life, event_envelope, ivo_agreements
from hub.demo.sandbox import DestinationSpec, Sandbox
from hub.ivo.model import Quarter
from hub.ivo.pdf import worklist_pdf
from hub.ivo.worklist import COLUMNS, csv_values
from hub.services.agreements import add_agreements, register_system
from hub.services.ivo_reports import build_worklist
from hub.services.ivo_tracking import track_events
from hub.services.principal import Principal
from hub.storage.tables import ivo_decisions

DISTRICT = "sdn-sodermalm"
APP = "lifecare"
QUARTER = Quarter.parse("2026Q3")
BATCH = 500
OPERATOR = Principal.operator("operator:bench")


def run(options: Options) -> list[Row]:
    decisions = max(30, options.messages * 10 // 3)
    with scratch_folder("ivo") as folder:
        sandbox = Sandbox(
            folder / "hub",
            overrides={"ivo_municipality": "Exempelstad kommun", "ivo_administrations": "*=Nämnd"},
        )
        spec = DestinationSpec("http", {"url": "http://127.0.0.1:9/unused", "timeout": 1})
        sandbox.write_routes(
            {"case-sodermalm": spec, "ivo": spec},
            [("case.execution_event", DISTRICT, ["case-sodermalm"])],
        )
        hub = sandbox.open()  # not started: nothing is delivered, only stored
        try:
            register_system(hub, APP, "case system (bench, fictional data)", actor="bench")
            add_agreements(
                hub,
                ivo_agreements(
                    hub.clock(), DISTRICT, execution_app=APP, event_recipient="case-sodermalm",
                    hub_sender=hub.settings.ivo_sender, ivo_destination="ivo",
                ),
                actor="bench",
            )  # fmt: skip
            events = _ingest(hub, decisions, options)
            options.progress(f"ivo: tracking {decisions} decisions from {events} events")
            began = time.perf_counter()
            tracked = track_events(hub, OPERATOR, batch=BATCH)
            track_seconds = time.perf_counter() - began
            if tracked.decisions != decisions:
                raise RuntimeError(f"tracked {tracked.decisions} of {decisions} decisions")
            blob = _blob_size(hub)
            insert_seconds = _bare_inserts(hub, decisions, blob)
            options.progress(f"ivo: the {QUARTER} worklist of {decisions} tracked decisions")
            began = time.perf_counter()
            worklist = build_worklist(hub, OPERATOR, DISTRICT, str(QUARTER), out_dir=folder / "out")
            report_seconds = time.perf_counter() - began
            began = time.perf_counter()
            worklist_pdf("again", worklist.rows)
            pdf_seconds = time.perf_counter() - began
            began = time.perf_counter()
            with (folder / "bare.csv").open("w", encoding="utf-8", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=COLUMNS)
                writer.writeheader()
                for row in worklist.rows:
                    writer.writerow(csv_values(row))
            csv_seconds = time.perf_counter() - began
        finally:
            hub.close()
    return [
        Row(
            scenario="ivo:track",
            count=decisions,
            seconds=track_seconds,
            baseline_seconds=insert_seconds,
            unit="decision",
            notes=[
                f"{events} execution events (v2) of {decisions} decisions applied by "
                f"track_events in batches of {BATCH}; baseline: bare inserts of as many "
                f"{blob}-byte rows, {BATCH} per transaction"
            ],
        ),
        Row(
            scenario="ivo:report",
            count=decisions,
            seconds=report_seconds,
            baseline_seconds=csv_seconds,
            unit="decision",
            notes=[
                f"{len(worklist.rows)} of {decisions} tracked decisions due in {QUARTER}, "
                f"CSV and PDF (the PDF alone, made again: {pdf_seconds:.1f} s); baseline: "
                "csv.DictWriter of the same rows"
            ],
        ),
    ]


def _ingest(hub: Hub, decisions: int, options: Options) -> int:
    rng = random.Random(12)
    documents = []
    for i, person in enumerate(FictionalPeople(12).take(decisions)):
        for event in decision_life(person, rng, QUARTER, decision_id=f"B-BENCH-{i:06d}"):
            documents.append(event_envelope(person, DISTRICT, event))
    options.progress(f"ivo: ingesting {len(documents)} execution events (untimed)")
    for start in range(0, len(documents), 200):
        results = hub.ingestor.ingest_many(APP, documents[start : start + 200])
        failed = [r for r in results if isinstance(r, Exception)]
        if failed:
            raise RuntimeError(f"ingest refused {len(failed)} events, first: {failed[0]!r}")
    return len(documents)


def _blob_size(hub: Hub) -> int:
    with hub.reader.connect() as conn:
        size = conn.execute(select(func.avg(func.length(ivo_decisions.c.ciphertext)))).scalar()
    return int(size or 0)


def _bare_inserts(hub: Hub, count: int, size: int) -> float:
    scratch = Table(
        "bench_bare_tracking",
        MetaData(),
        Column("district", String(100), primary_key=True),
        Column("decision_id", String(64), primary_key=True),
        Column("subject_ref", String(64), nullable=False),
        Column("key_version", Integer, nullable=False),
        Column("ciphertext", LargeBinary, nullable=False),
    )
    scratch.create(hub.engine)
    rows = [
        {
            "district": DISTRICT,
            "decision_id": f"B-BARE-{i:06d}",
            "subject_ref": os.urandom(32).hex(),
            "key_version": 1,
            "ciphertext": os.urandom(size),
        }
        for i in range(count)
    ]
    began = time.perf_counter()
    for start in range(0, count, BATCH):
        with hub.engine.begin() as conn:
            conn.execute(insert(scratch), rows[start : start + BATCH])
    return time.perf_counter() - began
