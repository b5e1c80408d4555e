"""Where personal data could lie after a run, each read as bytes: the files of the data folder
(database, WAL, keys, audit files), logs, temp files, stray exports, every stored column of the
database (PostgreSQL keeps its files out of reach, so its columns are what is read) and the
messages waiting in the broker's queues.

Reading a queue must not change what the hub will do: messages are fetched without
acknowledgement and handed back when the channel closes, so they stay in their queue, in their
order (RabbitMQ marks them redelivered). Only messages that are ready can be read; what a live
consumer holds unacknowledged is out of sight, which is why the scan runs after the run.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Per queue: a run with a stuck worker might hold thousands; enough to judge, bounded memory.
MAX_QUEUE_MESSAGES = 10_000


@dataclass(frozen=True)
class Place:
    kind: str  # "database", "wal", "log", "temp", "stray export", "column", "queue", ...
    name: str  # a path, "table.column" or "queue NAME"
    data: bytes


def file_kind(path: Path) -> str:
    name = path.name
    if name.endswith(("-wal", "-shm", "-journal")):
        return "wal"
    if name.endswith((".db", ".sqlite", ".sqlite3")):
        return "database"
    if name.endswith((".log", ".jsonl", ".out", ".err")):
        return "log"
    return "file"


def files_under(root: Path, kind: str | None = None) -> Iterator[Place]:
    """Every regular file under ``root`` (``kind`` or one told by its name), sorted by path."""
    if root.is_file():
        yield Place(kind or file_kind(root), str(root), root.read_bytes())
        return
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        try:
            data = path.read_bytes()
        except OSError:  # gone between listing and reading (a WAL checkpointed away)
            continue
        yield Place(kind or file_kind(path), str(path), data)


def database_columns(database_url: str) -> Iterator[Place]:
    """One place per column of every table in the database (reflected: a table added later
    is read too); values are joined with NUL bytes."""
    from sqlalchemy import MetaData, create_engine, select

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            reflected = MetaData()
            reflected.reflect(bind=conn)
            for table in reflected.tables.values():
                values: dict[str, list[bytes]] = {c.name: [] for c in table.columns}
                for row in conn.execute(select(table)).mappings():
                    for column, value in row.items():
                        if value is None:
                            continue
                        raw = value if isinstance(value, bytes | memoryview) else str(value)
                        values[column].append(raw.encode() if isinstance(raw, str) else bytes(raw))
                for column, parts in values.items():
                    yield Place("column", f"{table.name}.{column}", b"\0".join(parts))
    finally:
        engine.dispose()


def sqlite_files(database_url: str) -> list[Path]:
    """The SQLite file of ``database_url`` and its WAL/shared-memory/journal files."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or not url.database:
        return []
    main = Path(url.database)
    return [p for p in (main, *(Path(f"{main}{s}") for s in ("-wal", "-shm", "-journal")))]


def _rabbitmq_queue_names(vhost: str) -> list[str] | None:
    if shutil.which("rabbitmqctl") is None:
        return None
    done = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "-p", vhost, "--no-table-headers", "name"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        return None
    return [line.strip() for line in done.stdout.splitlines() if line.strip()]


def _known_queue_names() -> list[str]:
    from worker import DEAD_LETTER_QUEUE, QUEUE

    return [QUEUE, DEAD_LETTER_QUEUE, "celery"]


def queue_contents(amqp_url: str, names: Sequence[str] = (), when: str = "") -> Iterator[Place]:
    """The ready messages of every queue of the URL's virtual host (``rabbitmqctl`` lists
    them; without it, the hub's own queues), bodies and headers, left in their queues.
    ``when`` says when they were read, in the place's name ("before any worker")."""
    from urllib.parse import unquote, urlsplit

    import kombu

    vhost = unquote(urlsplit(amqp_url).path[1:]) or "/"
    queues = list(names) or _rabbitmq_queue_names(vhost) or _known_queue_names()
    with kombu.Connection(amqp_url, connect_timeout=10) as conn:
        for name in queues:
            channel: Any = conn.channel()  # py-amqp's Channel (kombu types it loosely)
            parts: list[bytes] = []
            try:
                while len(parts) < MAX_QUEUE_MESSAGES:
                    message = channel.basic_get(name, no_ack=False)
                    if message is None:
                        break
                    body = message.body
                    parts.append(body if isinstance(body, bytes) else str(body).encode())
                    parts.append(repr(message.headers).encode())
                    parts.append(repr(message.properties).encode())
            except conn.channel_errors:  # the queue does not exist (here)
                pass
            finally:
                # Closing without an ack hands every fetched message back to its queue.
                with suppress(OSError, *conn.channel_errors):
                    channel.close()
            read = f"{len(parts) // 3} messages" + (f", {when}" if when else "")
            yield Place("queue", f"queue {name} ({read})", b"\0".join(parts))
