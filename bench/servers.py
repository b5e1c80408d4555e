"""PostgreSQL and RabbitMQ for ``--scaled-out``: a schema and a virtual host of the run's own.

A PostgreSQL schema is made for the run and dropped afterwards (as the tests do). On RabbitMQ
the product's queue name is fixed (``omsorgshub.deliver``), so a worker of someone else's on
the same virtual host could take the benchmark's tasks or the other way round. When
``rabbitmqctl`` can reach a local node, the run gets a scratch virtual host (deleted
afterwards); otherwise the given URL is used as it is, and the scenario refuses to run if the
queue already has messages or consumers there.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from kombu import Connection
from sqlalchemy import create_engine, text


def unreachable(url: str, default_port: int) -> str | None:
    """Why the server of ``url`` cannot be reached, or None."""
    parts = urlsplit(url.replace("postgresql+psycopg", "postgresql"))
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    try:
        with socket.create_connection((host, port), timeout=3):
            return None
    except OSError as exc:
        return f"{host}:{port} unreachable ({exc.strerror or exc})"


@contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A URL whose connections use a fresh schema; the schema is dropped afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in base_url else "?"
        try:
            yield f"{base_url}{sep}options=-csearch_path%3D{schema}"
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


def _rabbitmqctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60, check=False
    )


def _local(url: str) -> bool:
    return (urlsplit(url).hostname or "") in ("127.0.0.1", "localhost", "::1")


@contextmanager
def rabbitmq_vhost(amqp_url: str) -> Iterator[tuple[str, str]]:
    """Yields ``(url, how)``: a scratch virtual host's URL when one can be made, else
    ``amqp_url`` itself; ``how`` says which, for the report."""
    if not _local(amqp_url) or shutil.which("rabbitmqctl") is None:
        yield amqp_url, "the given virtual host (rabbitmqctl not usable here)"
        return
    name = f"omsorgshub-bench-{uuid.uuid4().hex[:10]}"
    try:
        made = _rabbitmqctl("add_vhost", name)
    except subprocess.TimeoutExpired:
        made = None
    if made is None or made.returncode != 0:
        yield amqp_url, "the given virtual host (rabbitmqctl could not add one)"
        return
    try:
        parts = urlsplit(amqp_url)
        user = parts.username or "guest"
        granted = _rabbitmqctl("set_permissions", "-p", name, user, ".*", ".*", ".*")
        if granted.returncode != 0:
            raise RuntimeError(f"rabbitmqctl set_permissions: {granted.stderr.strip()}")
        url = urlunsplit((parts.scheme, parts.netloc, "/" + quote(name, safe=""), "", ""))
        yield url, f"a scratch virtual host ({name}, deleted afterwards)"
    finally:
        _rabbitmqctl("delete_vhost", name)


def delete_queue(amqp_url: str, queue: str) -> None:
    """Remove a queue this benchmark declared (on a shared virtual host it would stay)."""
    with Connection(amqp_url, connect_timeout=10) as conn:
        channel: Any = conn.channel()
        try:
            channel.queue_delete(queue=queue)
        finally:
            with contextlib.suppress(Exception):
                channel.close()


def queue_in_use(amqp_url: str, queue: str) -> str | None:
    """Why ``queue`` on this virtual host is not ours alone (messages or consumers), or None."""
    with Connection(amqp_url, connect_timeout=10) as conn:
        channel: Any = conn.channel()
        try:
            _name, messages, consumers = channel.queue_declare(queue=queue, passive=True)
        except Exception:  # kombu raises a ChannelError (404) when the queue does not exist
            return None
        finally:
            with contextlib.suppress(Exception):  # a channel closed by the 404 stays closed
                channel.close()
    if messages or consumers:
        return (
            f"queue {queue} already has {messages} messages and {consumers} consumers on this "
            "virtual host; give the benchmark one of its own (--amqp-url amqp://…/<vhost>)"
        )
    return None
