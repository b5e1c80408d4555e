"""Witnesses: copies of the signed head kept where the hub's database and data folder are not.

Whoever can write the database and the data folder can cut the trail's tail together with its
checkpoints and the last lines of ``checkpoints.jsonl``. A witness on another host (a WORM
mount, a syslog server, a time-stamping authority) keeps what the hub signed out of their
reach; ``verify`` against a witness then names the first entry that went missing.

The port is one verb, ``publish(head)``; ``required`` says whether a failing witness closes the
trail after the configured time (time-stamping, as X-Road's message log does). Every witness
writes the head as one JSON line (the checkpoint format, possibly with extra fields) so that
``read_witness`` reads any of their records: a witness file, a syslog extract, a token file.

Implementations here: ``FileWitness`` (an append-only file on another path) and
``SyslogWitness`` (UDP syslog via the standard library); ``timestamping.TimestampWitness``
(RFC 3161).
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

from audit.checkpoint import Checkpoint

log = logging.getLogger(__name__)

SYSLOG_TAG = "omsorgshub-audit-head"


class Witness(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def required(self) -> bool:
        """True when appends must stop once this witness has failed for too long."""
        ...

    def publish(self, head: Checkpoint) -> None:
        """Keep ``head`` outside the hub's host; raise ``OSError``/``ValueError`` on failure."""
        ...


class FileWitness:
    """One JSON line per head, appended and fsynced, to a file on another mount.

    Opened per publication (every few seconds), so nothing is held open across a fork and a
    remounted path is picked up."""

    required = False

    def __init__(self, path: Path) -> None:
        self._path = path
        self.name = f"file:{path}"

    def publish(self, head: Checkpoint) -> None:
        append_line(self._path, head.to_json_line())


def append_line(path: Path, line: str) -> None:
    """Append ``line`` and a newline to ``path`` (made if missing) in one write, fsynced before
    returning: how a witness keeps its record (``FileWitness``, the time-stamp tokens)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


class SyslogWitness:
    """The head as one syslog message (UDP, facility ``authpriv``) to a collector elsewhere.

    UDP gives no receipt: the witness is as good as the collector and the network. Keep the
    time-stamping witness for a confirmed anchor."""

    required = False

    def __init__(self, host: str, port: int) -> None:
        self._address = (host, port)
        self.name = f"syslog:{host}:{port}"

    def publish(self, head: Checkpoint) -> None:
        handler = _RaisingSysLogHandler(
            address=self._address,
            facility=logging.handlers.SysLogHandler.LOG_AUTHPRIV,
            socktype=socket.SOCK_DGRAM,
        )
        handler.append_nul = False  # one clean line per head in the collector's file
        handler.setFormatter(logging.Formatter(f"{SYSLOG_TAG}: %(message)s"))
        record = logging.LogRecord(
            "audit.witness", logging.INFO, __file__, 0, head.to_json_line(), None, None
        )
        try:
            handler.emit(record)
        finally:
            handler.close()


class _RaisingSysLogHandler(logging.handlers.SysLogHandler):
    """``emit`` reports a failed send instead of printing it: a witness must know."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - stdlib name
        raise  # re-raises the error emit() is handling


def parse_syslog_address(text: str) -> tuple[str, int]:
    """``host:port`` (port 514 when left out) of a syslog collector."""
    host, _, port = text.rpartition(":")
    if not host:
        return text, 514
    try:
        return host.strip("[]"), int(port)
    except ValueError as exc:
        raise ValueError(f"not a syslog address (host:port): {text!r}") from exc


def read_witness(path: Path) -> Iterator[Checkpoint]:
    """The heads a witness kept: any line holding a checkpoint JSON object (a witness file,
    ``checkpoints.jsonl``, a syslog extract with other lines around them, a token file).
    Lines without one are skipped; a line that holds one but is malformed raises
    ``ValueError`` naming its line number."""
    with path.open(encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, start=1):
            start = line.find("{")
            if start < 0 or '"signature"' not in line:
                continue
            try:
                data = json.loads(line[start:])
                if not isinstance(data, dict):
                    raise ValueError("not a JSON object")
                known = {k: data[k] for k in ("seq", "hash", "at", "key_id", "signature")}
                yield Checkpoint.from_json_line(json.dumps(known))
            except (ValueError, KeyError) as exc:
                raise ValueError(f"{path}:{number}: not a witnessed head: {exc}") from exc


class WitnessPublisher:
    """Offers the newest checkpoint to every witness, keeping per witness what it has; a
    witness that failed gets the newest checkpoint again at the next pass."""

    def __init__(self, witnesses: Sequence[Witness]) -> None:
        self._witnesses = list(witnesses)
        self._latest: Checkpoint | None = None
        self._done: dict[str, int] = {}

    @property
    def has_required(self) -> bool:
        return any(w.required for w in self._witnesses)

    def offer(self, cp: Checkpoint) -> None:
        if self._latest is None or cp.seq > self._latest.seq:
            self._latest = cp

    def publish_due(self) -> int | None:
        """Publish the newest checkpoint where it is missing. Returns its seq when every
        required witness holds it now (the trail is anchored up to there), else None."""
        cp = self._latest
        if cp is None or not self._witnesses:
            return None
        anchored = self.has_required
        newly = False
        for witness in self._witnesses:
            if self._done.get(witness.name, 0) >= cp.seq:
                continue
            try:
                witness.publish(cp)
            except Exception as exc:  # a witness down must not stop the others
                log.error("witness %s did not take head %d: %s", witness.name, cp.seq, exc)
                anchored = anchored and not witness.required
                continue
            self._done[witness.name] = cp.seq
            newly = newly or witness.required
        return cp.seq if anchored and newly else None
