"""Scratch space on shared servers, so a scan run never reads or writes anyone else's data: a
PostgreSQL schema of its own and a RabbitMQ virtual host of its own, both removed afterwards.

Without ``rabbitmqctl`` (a broker on another host) the URL's own virtual host is used as given:
the scan then reads whatever is queued there, which is the point of scanning it.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote, urlsplit, urlunsplit

from hub.errors import ConfigError


@contextmanager
def scratch_schema(postgres_url: str) -> Iterator[str]:
    """A URL whose connections use a fresh schema (dropped on exit)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    schema = f"proof_scan_{uuid.uuid4().hex[:10]}"
    engine = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except SQLAlchemyError as exc:
        engine.dispose()
        raise ConfigError(f"PostgreSQL: cannot create a scratch schema: {exc}") from exc
    sep = "&" if "?" in postgres_url else "?"
    try:
        yield f"{postgres_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def _rabbitmqctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60, check=False
    )


@contextmanager
def scratch_vhost(amqp_url: str) -> Iterator[str]:
    """An AMQP URL on a virtual host of its own when ``rabbitmqctl`` can make one (deleted on
    exit); otherwise ``amqp_url`` itself."""
    if shutil.which("rabbitmqctl") is None or _rabbitmqctl("list_vhosts").returncode != 0:
        yield amqp_url
        return
    parts = urlsplit(amqp_url)
    name = f"proof-scan-{uuid.uuid4().hex[:10]}"
    made = _rabbitmqctl("add_vhost", name)
    if made.returncode != 0:
        raise ConfigError(f"RabbitMQ: cannot add a virtual host: {made.stderr.strip()}")
    try:
        allowed = _rabbitmqctl(
            "set_permissions", "-p", name, parts.username or "guest", ".*", ".*", ".*"
        )
        if allowed.returncode != 0:
            raise ConfigError(f"RabbitMQ: cannot set permissions: {allowed.stderr.strip()}")
        yield urlunsplit((parts.scheme, parts.netloc, "/" + quote(name, safe=""), "", ""))
    finally:
        _rabbitmqctl("delete_vhost", name)
