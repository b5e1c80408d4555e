"""Running one piece of work in several threads at once, for the tests of concurrent writers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def run_threads(count: int, work: Callable[[int], T], timeout: float = 60) -> list[T]:
    """``work(0)`` … ``work(count - 1)``, each in a thread of its own; their results in that
    order. Fails the test with every exception a thread raised."""
    results: dict[int, T] = {}
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = work(i)
        except BaseException as exc:  # reported by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    assert not errors, errors
    return [results[i] for i in range(count)]
