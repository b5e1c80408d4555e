"""Signed heads kept outside the host: an append-only witness file, syslog over UDP, and RFC
3161 time-stamps from the TSA double on 127.0.0.1. A tail cut together with the checkpoints in
the database and the last lines of ``checkpoints.jsonl`` is named against a witness; time-
stamping down for longer than the limit closes the trail."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.doubles.tsa_double import TsaDouble
from audit.alarm import AnchorOverdueError
from audit.checkpoint import read_checkpoints
from audit.signing import load_verifier
from audit.stored import check_stamps, verify_stored
from audit.tables import audit_head
from audit.timestamping import TimestampWitness
from audit.trail import load_checkpoints
from audit.verify import VerifyReport, write_export
from audit.witness import FileWitness, SyslogWitness, Witness, read_witness
from tests.child_python import run_module
from tests.integration.audit.audit_setup import (
    BACKENDS,
    Setup,
    delivery_event,
    open_setup,
    roll_back_to_checkpoint,
)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> pytest.FixtureRequest:
    return request


def relay_pass(s: Setup) -> int | None:
    """What the relay does each pass (hub/outbox/relay.py ``checkpoint_if_due``)."""
    with s.engine.begin() as conn:
        cp = s.trail.checkpoint(conn) if s.trail.checkpoint_due(conn) else None
    if cp is not None:
        s.trail.publish_checkpoint(cp)
    anchored = s.trail.publish_to_witnesses()
    if anchored is not None:
        with s.engine.begin() as conn:
            s.trail.record_anchor(conn, anchored)
    return anchored


def fill(s: Setup, n: int) -> None:
    for start in range(0, n, 5):
        with s.engine.begin() as conn:
            s.trail.append(conn, [delivery_event(i) for i in range(start, start + 5)])
        relay_pass(s)
        s.clock.now += timedelta(seconds=1)


def stored(s: Setup, *elsewhere: Path) -> VerifyReport:
    kept = [cp for path in elsewhere for cp in read_witness(path)]
    with s.engine.connect() as conn:
        return verify_stored(conn, load_verifier(s.public_pem), kept_elsewhere=kept)


def test_tail_cut_with_its_local_copies_is_named_against_the_witness_file(
    backend: pytest.FixtureRequest, tmp_path: Path
) -> None:
    worm = tmp_path / "worm" / "audit-heads.jsonl"  # another mount in real life
    worm.parent.mkdir()
    with open_setup(backend, tmp_path, witnesses=[FileWitness(worm)]) as s:
        fill(s, 55)
        assert [cp.seq for cp in read_witness(worm)] == [10, 20, 30, 40, 50]
        # The attacker holds the database and the data folder: cut entries 31.., their
        # checkpoints, the last lines of checkpoints.jsonl, and roll the head back to the
        # signed head of 30.
        roll_back_to_checkpoint(s, 30)
        local = s.trail.checkpoint_file
        kept = [line for line in local.read_text().splitlines() if json.loads(line)["seq"] <= 30]
        local.write_text("\n".join(kept) + "\n")

        assert stored(s, local).ok  # what is left on the host is consistent
        report = stored(s, local, worm)
        assert (report.ok, report.first_bad_seq) == (False, 31)
        assert "entries 31..50 are missing" in report.problem

        # Offline too: an export, the (cut) local file and the witness, public key alone.
        export = tmp_path / "audit.jsonl"
        with s.engine.connect() as conn:
            write_export(conn, export)
        done = run_module(
            "audit",
            "verify",
            str(export),
            str(local),
            str(s.public_pem),
            "--witness",
            str(worm),
            timeout=60,
        )
        assert done.returncode == 1, done.stdout + done.stderr
        assert "FAILED at entry 31" in done.stdout


class UdpCollector:
    """A syslog collector on 127.0.0.1: one UDP socket, datagrams read on request."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5)
        self.port = self.sock.getsockname()[1]

    def receive(self) -> str:
        data, _ = self.sock.recvfrom(65536)
        return data.decode()


@pytest.fixture
def collector() -> Iterator[UdpCollector]:
    c = UdpCollector()
    yield c
    c.sock.close()


def test_syslog_witness_sends_each_head_to_the_collector(
    backend: pytest.FixtureRequest, tmp_path: Path, collector: UdpCollector
) -> None:
    witness = SyslogWitness("127.0.0.1", collector.port)
    with open_setup(backend, tmp_path, witnesses=[witness]) as s:
        fill(s, 20)
        lines = [collector.receive(), collector.receive()]
        assert all(line.startswith("<86>omsorgshub-audit-head: {") for line in lines), lines
        extract = tmp_path / "syslog-extract.log"
        extract.write_text("unrelated line\n" + "\n".join(lines) + "\n")
        assert [cp.seq for cp in read_witness(extract)] == [10, 20]
        with s.engine.connect() as conn:
            assert list(read_witness(extract)) == load_checkpoints(conn)
        assert stored(s, extract).ok


@pytest.fixture
def tsa() -> Iterator[TsaDouble]:
    with TsaDouble() as double:
        yield double


def test_time_stamps_from_the_tsa_double_verify(
    backend: pytest.FixtureRequest, tmp_path: Path, tsa: TsaDouble
) -> None:
    tokens = tmp_path / "timestamps.jsonl"
    witness = TimestampWitness(tsa.url, tokens)
    with open_setup(backend, tmp_path, witnesses=[witness], anchor_within=30) as s:
        fill(s, 20)
        verifier = load_verifier(s.public_pem)
        result = check_stamps(tokens, [tsa.root_certificate], verifier)
        assert (result.problem, result.checked, result.latest_seq) == (None, 2, 20)
        assert tsa.stats()["granted"] == 2
        with s.engine.connect() as conn:
            assert conn.execute(audit_head.select()).one().anchored_seq == 20
        assert stored(s, tokens).ok  # a token file is a witness too

        # A token moved onto another head no longer verifies.
        lines = tokens.read_text().splitlines()
        first, second = json.loads(lines[0]), json.loads(lines[1])
        first["tst"] = second["tst"]
        tokens.write_text(json.dumps(first) + "\n")
        bad = check_stamps(tokens, [tsa.root_certificate], verifier)
        assert bad.problem is not None
        assert "head 10" in bad.problem


def test_time_stamping_down_longer_than_the_limit_closes_the_trail(
    backend: pytest.FixtureRequest, tmp_path: Path, tsa: TsaDouble
) -> None:
    witnesses: list[Witness] = [TimestampWitness(tsa.url, tmp_path / "ts.jsonl", timeout=2)]
    with open_setup(backend, tmp_path, witnesses=witnesses, anchor_within=30) as s:
        fill(s, 10)  # stamped
        tsa.set_mode("down")
        fill(s, 10)  # entries 11..20: not stamped
        s.clock.now += timedelta(seconds=25)
        with s.engine.begin() as conn:
            s.trail.append(conn, [delivery_event(1)])  # within the limit: still open
        s.clock.now += timedelta(seconds=10)
        with (
            pytest.raises(AnchorOverdueError, match="not been time-stamped for over 30 s"),
            s.engine.begin() as conn,
        ):
            s.trail.append(conn, [delivery_event(2)])
        tsa.set_mode("up")
        assert relay_pass(s) == 20  # the relay retries the failed witness with head 20
        with s.engine.begin() as conn:
            (entry,) = s.trail.append(conn, [delivery_event(3)])
        assert entry.seq == 22
        assert [cp.seq for cp in read_checkpoints(s.trail.checkpoint_file)] == [10, 20]
