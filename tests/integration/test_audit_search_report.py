"""Searching the audit trail and the art. 15 subject extract, on a real SQLite file."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import re
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, create_engine, event

from audit.entry import AuditAction, AuditEvent, Outcome
from audit.report import subject_report, to_csv, to_pdf
from audit.search import AuditQuery, format_entries, search
from audit.signing import Ed25519Signer
from audit.tables import metadata
from audit.trail import AuditTrail

HMAC_KEY = b"test-subject-key"
TOLVAN = "191212121212"  # fictional, valid check digits
BERTIL = "194001019000"
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def subject_ref(pnr: str) -> str:
    return hmac.new(HMAC_KEY, pnr.encode(), hashlib.sha256).hexdigest()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'hub.db'}")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    metadata.create_all(engine)
    trail = AuditTrail(Ed25519Signer(Ed25519PrivateKey.generate()), tmp_path / "cp")
    tolvan, bertil = subject_ref(TOLVAN), subject_ref(BERTIL)

    def ev(action: AuditAction, actor: str, at: datetime, **fields: Any) -> AuditEvent:
        defaults = {"district": "sodermalm", "purpose": "care_planning", "subject_ref": tolvan}
        return AuditEvent(action, actor, at=at, **{**defaults, **fields})

    minute = timedelta(minutes=1)
    agreement = "sodermalm-aldre-direkt@3"
    events = [
        ev(AuditAction.RECEIVED, "paraplyet", T0, source="paraplyet", message_id="m1",
           agreement=agreement),
        ev(AuditAction.DELIVERED, "hub-worker", T0 + minute, destination="aldre-direkt",
           message_id="m1", agreement=agreement),
        ev(AuditAction.VIEWED, "anna.handlaggare", T0 + 2 * minute, message_id="m1"),
        ev(AuditAction.DELIVERY_FAILED, "hub-worker", T0 + 3 * minute, destination="ubw",
           message_id="m2", outcome=Outcome.FAILED, reason="destination_unavailable",
           agreement="sodermalm-ubw@1"),
        ev(AuditAction.DELIVERED, "hub-worker", T0 + timedelta(days=1), destination="ubw",
           message_id="m2", agreement="sodermalm-ubw@1", purpose="invoicing"),
        ev(AuditAction.DELIVERED, "hub-worker", T0 + timedelta(days=2),
           destination='=HYPERLINK("x")', message_id="m3", subject_ref=bertil,
           district="kungsholmen", agreement="kungsholmen-aldre-direkt@1"),
    ]  # fmt: skip
    with engine.begin() as conn:
        trail.append(conn, events)
    yield engine
    engine.dispose()


def test_search_by_each_filter(engine: Engine) -> None:
    tolvan = subject_ref(TOLVAN)
    with engine.connect() as conn:
        assert [e.seq for e in search(conn, AuditQuery(subject_ref=tolvan))] == [1, 2, 3, 4, 5]
        assert [e.seq for e in search(conn, AuditQuery(actor="anna.handlaggare"))] == [3]
        assert [e.seq for e in search(conn, AuditQuery(district="kungsholmen"))] == [6]
        assert [e.seq for e in search(conn, AuditQuery(message_id="m2"))] == [4, 5]
        q = AuditQuery(subject_ref=tolvan, action=AuditAction.DELIVERED)
        assert [e.seq for e in search(conn, q)] == [2, 5]
        q = AuditQuery(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3))
        assert [e.seq for e in search(conn, q)] == [2, 3]
        q = AuditQuery(subject_ref=tolvan, limit=2, newest_first=True)
        assert [e.seq for e in search(conn, q)] == [5, 4]
        assert search(conn, AuditQuery(subject_ref=subject_ref("190001010005"))) == []


def test_query_rejects_bad_limits_and_actions() -> None:
    with pytest.raises(ValueError, match="limit"):
        AuditQuery(limit=0)
    with pytest.raises(ValueError, match="peeked"):
        AuditQuery(action="peeked")  # type: ignore[arg-type]


def test_format_entries(engine: Engine) -> None:
    with engine.connect() as conn:
        entries = search(conn, AuditQuery(message_id="m2"))
        everything = search(conn, AuditQuery())
    table = format_entries(entries, "table").splitlines()
    assert table[0].split()[:5] == ["seq", "at", "(UTC)", "actor", "action"]
    assert "2025-03-01 09:03:00" in table[2]
    assert "destination_unavailable" in table[2]
    assert len(table) == 4

    as_json = json.loads(format_entries(entries, "json"))
    assert [row["seq"] for row in as_json] == [4, 5]
    assert as_json[0]["hash"] == entries[0].hash

    rows = list(csv.DictReader(io.StringIO(format_entries(everything, "csv"))))
    assert rows[3]["reason"] == "destination_unavailable"
    assert rows[5]["destination"] == '\'=HYPERLINK("x")'  # not a live formula
    assert format_entries([], "table") == "(no entries)"


def test_subject_report_lists_recipients_and_accesses(engine: Engine) -> None:
    with engine.connect() as conn:
        report = subject_report(conn, subject_ref(TOLVAN), now=T0 + timedelta(days=3))
    assert [a.seq for a in report.accesses] == [1, 2, 3, 4, 5]
    assert [a.description for a in report.accesses] == [
        "sent to the hub by paraplyet",
        "disclosed to aldre-direkt",
        "viewed by anna.handlaggare",
        "delivery to ubw failed (not disclosed)",
        "disclosed to ubw",
    ]
    disclosures = report.disclosures()
    assert [(d.recipient, d.count, d.purposes, d.agreements) for d in disclosures] == [
        ("aldre-direkt", 1, ("care_planning",), ("sodermalm-aldre-direkt@3",)),
        ("ubw", 1, ("invoicing",), ("sodermalm-ubw@1",)),
    ]
    assert report.accessed_by() == ["anna.handlaggare"]

    rows = list(csv.reader(io.StringIO(to_csv(report))))
    assert rows[0][:4] == ["time_utc", "action", "description", "who"]
    assert rows[2] == [
        "2025-03-01T09:01:00.000000+00:00",
        "delivered",
        "disclosed to aldre-direkt",
        "aldre-direkt",
        "care_planning",
        "sodermalm-aldre-direkt@3",
        "sodermalm",
        "m1",
        "ok",
    ]
    assert len(rows) == 6


def _pdf_text(pdf: bytes) -> str:
    """The text drawing operators of every (Flate-compressed) content stream."""
    chunks = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.DOTALL):
        try:
            chunks.append(zlib.decompress(stream).decode("latin-1"))
        except zlib.error:
            chunks.append(stream.decode("latin-1"))
    return "\n".join(chunks)


def test_subject_report_pdf(engine: Engine) -> None:
    with engine.connect() as conn:
        report = subject_report(conn, subject_ref(TOLVAN), now=T0 + timedelta(days=3))
        empty = subject_report(conn, subject_ref("190001010005"))
    pdf = to_pdf(report)
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    text = _pdf_text(pdf)
    for expected in ("GDPR art. 15", "disclosed to aldre-direkt", "sodermalm-ubw@1", "invoicing"):
        assert expected in text
    assert subject_ref(BERTIL) not in text
    assert "kungsholmen" not in text
    assert "not been disclosed" in _pdf_text(to_pdf(empty))
