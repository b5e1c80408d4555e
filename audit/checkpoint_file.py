"""``<home>/audit/checkpoints.jsonl``: the local copy of the checkpoints, one JSON line each.

It lies in the hub's own data folder, so it guards against a database-only attacker; against
one who also holds the data folder, the witnesses (``witness.py``) keep copies elsewhere.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from audit.checkpoint import Checkpoint

CHECKPOINT_FILE_NAME = "checkpoints.jsonl"


def append_checkpoint(folder: Path, cp: Checkpoint) -> None:
    """Append ``cp`` as one line to ``folder/checkpoints.jsonl``, durably: one write() on an
    O_APPEND descriptor under an exclusive lock, so lines of several processes never
    interleave."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CHECKPOINT_FILE_NAME
    created = not path.exists()
    data = (cp.to_json_line() + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        with _exclusive(fd):
            os.write(fd, data)
            os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        _fsync_dir(folder)


@contextlib.contextmanager
def _exclusive(fd: int) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: O_APPEND alone
        yield
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":  # pragma: no cover
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
