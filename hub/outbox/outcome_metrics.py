"""Delivery outcomes counted across processes: the API, its embedded worker, Celery workers.

Outcomes happen where deliveries run. Embedded, that is the API process itself; scaled out, it
is any number of ``celery -A worker worker`` processes (each forking children) that serve no
HTTP, so a counter in the API's memory would count nothing. With the setting ``metrics_dir``
each process writes its own counts to ``<metrics_dir>/counter_<pid>.db`` in prometheus_client's
multiprocess file format (an mmap'd file of float values, written at each outcome: no server,
no lock between processes), and ``/metrics`` of any API process on the same machine or volume
sums every file with prometheus_client's ``MultiProcessCollector``. Files of processes that
ended stay and keep counting in the totals, as counters should.

Why the files and not prometheus_client's global multiprocess switch: that one is chosen from
the ``PROMETHEUS_MULTIPROC_DIR`` environment variable when ``prometheus_client`` is first
imported, which the hub's settings cannot reach; writing the files with an explicit path keeps
the choice in the hub's settings and leaves every other metric of the process alone.
Without ``metrics_dir``, each process counts only its own outcomes, in memory.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector

if TYPE_CHECKING:
    from hub.bootstrap import Hub
    from hub.outbox.delivery import AttemptOutcome

NAME = "omsorgshub_delivery_outcomes"
HELP = "Delivery attempt outcomes recorded by the hub's processes"
LABELS = ["destination", "state"]


class OutcomeCounter:
    """Counts outcomes in memory and, with a folder, in this process's multiprocess file."""

    def __init__(self, folder: Path | None = None) -> None:
        self._folder = folder
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self._file: MmapedDict | None = None
        self._pid = 0

    def record(self, outcome: AttemptOutcome) -> None:
        labels = (outcome.destination, outcome.state.value)
        with self._lock:
            self._counts[labels] += 1
            if self._folder is not None:
                self._write(labels)

    def _write(self, labels: tuple[str, str]) -> None:
        assert self._folder is not None
        if self._file is None or self._pid != os.getpid():  # first use, or after a fork
            if self._file is not None:
                self._file.close()  # type: ignore[no-untyped-call]
            self._counts = Counter({labels: self._counts[labels]})  # a child starts afresh
            self._pid = os.getpid()
            self._folder.mkdir(parents=True, exist_ok=True)
            self._file = MmapedDict(str(self._folder / f"counter_{self._pid}.db"))  # type: ignore[no-untyped-call]
        key = mmap_key(NAME, f"{NAME}_total", LABELS, list(labels), HELP)
        self._file.write_value(key, float(self._counts[labels]), 0.0)  # type: ignore[no-untyped-call]

    def collect(self) -> Iterator[Metric]:
        """This process's counts, or every process's from the folder."""
        if self._folder is not None:
            if self._folder.is_dir():
                collector = MultiProcessCollector(None, path=str(self._folder))  # type: ignore[no-untyped-call]
                yield from collector.collect()  # type: ignore[no-untyped-call]
            return
        family = CounterMetricFamily(NAME, HELP, labels=LABELS)
        with self._lock:
            for labels, n in sorted(self._counts.items()):
                family.add_metric(list(labels), n)
        yield family

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()  # type: ignore[no-untyped-call]
                self._file = None


def count_outcomes(hub: Hub) -> OutcomeCounter:
    """An ``OutcomeCounter`` told of every outcome ``hub`` records in this process."""
    folder = Path(hub.settings.metrics_dir) if hub.settings.metrics_dir else None
    counter = OutcomeCounter(folder)
    hub.on_outcome(counter.record)
    return counter
