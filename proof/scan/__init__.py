"""Leak scan: search what a run left behind for the fictional people it sent, in many encodings.

Without ``--home`` the command makes its own run first: a hub in a temporary folder receives
``--messages`` referrals over HTTP naming ``--people`` distinctive fictional people and
delivers them to the HTTP double (embedded: SQLite and ``serve``; with ``--amqp-url`` and a
PostgreSQL ``--database-url``: ``serve --no-worker``, the relay and a Celery worker, in a
scratch schema and virtual host). Then it scans the data folder (database files and WAL, keys,
audit files, metrics), every stored column of the database, the broker's queues, the processes'
logs, their temp folder and the folders where nothing should have been written, for every name
and identity number in UTF-8, UTF-16 LE/BE, JSON escapes, Latin-1, hex and base64 (numbers
with and without hyphen and century).

With ``--home DIR --names-from FILE`` it scans an existing run's data folder instead (plus any
``--logs``, ``--temp`` folders and ``--amqp-url``).

It prints the hits per place and exits 1 when any place outside the destination holds a hit,
or when the control fails: the destination double's records must show every person (without
them, a self-test stands in). Exit 2: the run or the scan could not be made.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from proof.scan.scanner import scan_places, scan_run

__all__ = ["add_arguments", "run", "scan_places", "scan_run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = __doc__
    parser.add_argument("--home", type=Path, help="scan this data folder instead of making a run")
    parser.add_argument(
        "--names-from", type=Path, help="JSON lines of the people sent (required with --home; "
        "fields given_name, family_name, scheme se|dk, identity)",
    )  # fmt: skip
    parser.add_argument(
        "--amqp-url", help="RabbitMQ to scan (and, for a run of our own, to use: scaled out)"
    )
    parser.add_argument(
        "--database-url", help="database to scan (default: the home's setting) or, for a run "
        "of our own, a PostgreSQL URL to use (a scratch schema is made in it)",
    )  # fmt: skip
    parser.add_argument("--logs", type=Path, nargs="*", default=[], help="log files to scan")
    parser.add_argument("--temp", type=Path, nargs="*", default=[], help="temp folders to scan")
    parser.add_argument("--messages", type=int, default=300, help="messages of our own run")
    parser.add_argument("--people", type=int, default=40, help="distinct people in our run")
    parser.add_argument(
        "--folder", type=Path, help="where our run lives (default: a temporary folder, removed "
        "afterwards); must not exist yet; kept",
    )  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="list only places with hits")


def run(args: argparse.Namespace) -> int:
    from hub.errors import HubError

    try:
        if args.home is not None:
            return _scan_existing(args)
        if args.folder is not None:
            return _scan_own_run(args, args.folder)
        with tempfile.TemporaryDirectory(prefix="proof-scan-") as folder:
            return _scan_own_run(args, Path(folder) / "run")
    except (HubError, RuntimeError, ValueError, OSError) as exc:
        print(f"proof scan: {exc}", file=sys.stderr)
        return 2


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _scan_existing(args: argparse.Namespace) -> int:
    from proof.scan.needles import read_people

    if args.names_from is None:
        raise ValueError("--home needs --names-from FILE: the people the run sent")
    if not args.home.is_dir():
        raise ValueError(f"--home {args.home}: no such folder")
    result = scan_run(
        args.home, read_people(args.names_from), database_url=args.database_url,
        amqp_url=args.amqp_url, logs=args.logs, temp_dirs=args.temp,
        skip=[args.names_from.resolve()], say=_say,
    )  # fmt: skip
    print(result.report(every_place=not args.quiet))
    return 0 if result.ok else 1


def _scan_own_run(args: argparse.Namespace, folder: Path) -> int:
    from contextlib import ExitStack

    from sqlalchemy.exc import SQLAlchemyError

    from bench.servers import postgres_schema, rabbitmq_vhost
    from hub.errors import ConfigError
    from proof.scan.named_run import make_run

    if args.messages < 1 or args.people < 1:
        raise ValueError("--messages and --people must be at least 1")
    with ExitStack() as stack:
        database_url = args.database_url or ""
        if database_url.startswith("postgresql"):
            # A schema and a virtual host of the run's own, as the benchmark makes them.
            try:
                database_url = stack.enter_context(postgres_schema(database_url))
            except SQLAlchemyError as exc:
                raise ConfigError(f"PostgreSQL: cannot create a scratch schema: {exc}") from exc
        broker_url = stack.enter_context(rabbitmq_vhost(args.amqp_url))[0] if args.amqp_url else ""
        named = make_run(
            folder, messages=args.messages, people=args.people, database_url=database_url,
            broker_url=broker_url, say=_say,
        )  # fmt: skip
        result = scan_run(
            named.home, named.people, database_url=database_url or None,
            amqp_url=broker_url or None, logs=[named.logs, *args.logs],
            temp_dirs=[named.temp, *args.temp], export_dirs=[named.work, named.user],
            control=named.documents, extra=named.queued, say=_say,
        )  # fmt: skip
    mode = "scaled (PostgreSQL, RabbitMQ, Celery)" if broker_url else "embedded"
    print(f"run: {mode}, {named.sent} messages accepted and delivered in {named.seconds:.1f} s")
    print(result.report(every_place=not args.quiet))
    return 0 if result.ok else 1
