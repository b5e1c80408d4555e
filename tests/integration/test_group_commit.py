"""Group commit under concurrency: every item settled once, failures isolated, no thread hangs."""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from hub.errors import GuardUnavailable, HubError, InputError
from hub.ingest.group_commit import GroupCommitter
from hub.storage.engine import make_engine


class Recorder:
    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.lock = threading.Lock()
        self.explode_on: int | None = None

    def write(self, conn: Connection, items: list[int]) -> list[str | HubError]:
        conn.execute(text("INSERT INTO t (n) VALUES (:n)"), [{"n": n} for n in items])
        with self.lock:
            self.batches.append(list(items))
        if self.explode_on is not None and self.explode_on in items:
            raise RuntimeError("the disk is gone")  # the whole batch fails
        return [InputError(f"odd {n}") if n % 7 == 0 else f"ok {n}" for n in items]


def _made(
    tmp_path: Path, wait_seconds: float = 0.0, gather_seconds: float = 0.0
) -> tuple[GroupCommitter[Connection, int, str], Recorder]:
    engine = make_engine(f"sqlite:///{tmp_path / 'gc.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER PRIMARY KEY)"))
    recorder = Recorder()
    gc = GroupCommitter(
        engine.begin,
        recorder.write,
        max_batch=50,
        wait_seconds=wait_seconds,
        gather_seconds=gather_seconds,
    )
    return gc, recorder


@pytest.fixture
def committer(tmp_path: Path) -> tuple[GroupCommitter[Connection, int, str], Recorder]:
    return _made(tmp_path)


def test_many_threads_each_get_exactly_their_own_results(
    committer: tuple[GroupCommitter[Connection, int, str], Recorder],
) -> None:
    gc, recorder = committer
    rng = random.Random(5)
    sizes = [rng.choice([0, 1, 1, 1, 3, 20]) for _ in range(400)]
    starts = [sum(sizes[:i]) for i in range(len(sizes))]

    def submit(k: int) -> tuple[int, list[str | HubError]]:
        items = list(range(starts[k], starts[k] + sizes[k]))
        return k, gc.submit_many(items)

    with ThreadPoolExecutor(16) as pool:
        done = list(pool.map(submit, range(len(sizes)), timeout=60))
    for k, results in done:
        items = range(starts[k], starts[k] + sizes[k])
        assert len(results) == len(items)
        for n, result in zip(items, results, strict=True):
            if n % 7 == 0:
                assert isinstance(result, InputError)
            else:
                assert result == f"ok {n}"
    written = sorted(n for batch in recorder.batches for n in batch)
    assert written == list(range(sum(sizes)))  # each item written once, none lost
    assert len(recorder.batches) < len([s for s in sizes if s])  # commits were shared


def test_a_failed_batch_fails_its_items_and_nothing_hangs(
    committer: tuple[GroupCommitter[Connection, int, str], Recorder],
) -> None:
    gc, recorder = committer
    recorder.explode_on = 3
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda n: gc.submit_many([n]), range(1, 60), timeout=60))
    failed = [r[0] for r in results if isinstance(r[0], GuardUnavailable)]
    assert failed  # the batch holding item 3 failed as a whole...
    assert all(r[0].reason == "storage_unavailable" for r in results if r[0] in failed)
    assert gc.submit_many([100]) == ["ok 100"]  # ...and the committer goes on working


def _announced(
    gc: GroupCommitter[Connection, int, str],
    item: int,
    *,
    ready: threading.Event | None = None,
    preparing: threading.Event | None = None,
) -> threading.Thread:
    """A caller that announces ``item`` (``preparing`` is set once it has) and, once
    ``ready`` is set, submits it."""

    def prepare() -> int:
        if preparing is not None:
            preparing.set()
        if ready is not None and not ready.wait(30):
            raise TimeoutError("never released")
        return item

    thread = threading.Thread(target=gc.prepare_and_submit, args=(prepare,))
    thread.start()
    return thread


def test_a_writer_waits_for_callers_still_preparing(tmp_path: Path) -> None:
    # A budget far beyond the test's pace: whichever caller leads must wait for the other.
    gc, recorder = _made(tmp_path, wait_seconds=30)
    go, slow_in, fast_in = threading.Event(), threading.Event(), threading.Event()
    slow = _announced(gc, 2, ready=go, preparing=slow_in)
    assert slow_in.wait(30)
    fast = _announced(gc, 1, preparing=fast_in)
    assert fast_in.wait(30)
    go.set()  # both are announced now: whichever submits first leads and waits for the other
    slow.join(30)
    fast.join(30)
    assert [sorted(b) for b in recorder.batches] == [[1, 2]]


def test_a_lone_caller_and_a_failed_preparation_wait_for_nobody(tmp_path: Path) -> None:
    gc, recorder = _made(tmp_path, wait_seconds=30)
    began = time.monotonic()
    assert gc.prepare_and_submit(lambda: 1) == "ok 1"

    def broken() -> int:
        raise InputError("not XML")

    with pytest.raises(InputError):
        gc.prepare_and_submit(broken)  # its announcement is withdrawn
    assert gc.prepare_and_submit(lambda: 3) == "ok 3"
    assert time.monotonic() - began < 10  # far below the 30 s budget: nobody waited for it
    assert recorder.batches == [[1], [3]]


def test_steady_callers_share_transactions_within_the_gathering_window(tmp_path: Path) -> None:
    """Three senders, each one item every 30 ms, never announced ahead (as at 100 msg/s):
    with a window far beyond the pace, the writer waits for the callers the rate says are due,
    and 15 items share a few transactions instead of taking one each."""
    gc, recorder = _made(tmp_path, gather_seconds=0.5)

    def sender(first: int) -> None:
        time.sleep(first * 0.01)
        for n in range(first, 15, 3):
            gc.submit_many([n])
            time.sleep(0.03)

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(n for batch in recorder.batches for n in batch) == list(range(15))
    assert len(recorder.batches) <= 8


def test_a_caller_sending_back_to_back_is_not_held_by_the_window(tmp_path: Path) -> None:
    """One client, each request after the last one's answer: it arrives often, but a window
    held open for its next request closes empty. After two such misses the writer stops
    gathering (probing now and then), so 40 requests do not each wait the 0.2 s window."""
    gc, recorder = _made(tmp_path, gather_seconds=0.2)
    began = time.monotonic()
    for n in range(40):
        gc.submit_many([n])
    elapsed = time.monotonic() - began
    assert len(recorder.batches) == 40  # every item of its own: there was nobody to wait for
    assert elapsed < 6.0  # without the pause: 39 windows of 0.2 s, at least 7.8 s
