"""``python -m proof scan``, short and embedded: a real ``serve`` receives 120 messages over
HTTP naming 15 distinctive fictional people and delivers them to the HTTP double; the scan of
its data folder, database columns, logs, temp and working folders finds none of them, and finds
every one of them in the double's records (the control).

Then leaks are planted where the scan claims to look — the name as UTF-16 in a temp file, the
number without century in a log, the name base64-encoded in a stray export, the number in the
SQLite database — and the scan of the same folder (``--home``, ``--names-from``) must report
each with exit 1: a scan that passes is one that could have failed.
"""

from __future__ import annotations

import argparse
import base64
import sqlite3
from pathlib import Path

import pytest

from proof import scan
from proof.scan.needles import read_people


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m proof scan")
    scan.add_arguments(parser)
    return scan.run(parser.parse_args(argv))


def test_short_run_leaves_no_personal_data_and_plants_are_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "run"
    code = _run(["--messages", "120", "--people", "15", "--folder", str(folder)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "run: embedded, 120 messages accepted and delivered" in out
    assert "control: destination double (120 documents)" in out
    assert "15 of 15 people found" in out
    # It looked where it says it looks: the database, its WAL, the serve log, every column.
    for place in ("home/hub.db\n", "home/hub.db-wal\n", "logs/serve.log\n", "messages.ciphertext"):
        assert place in out, place
    assert "hits: 0" in out

    people = read_people(folder / "people.jsonl")
    first, second, third = people[0], people[1], people[2]
    (folder / "tmp" / "tmpx1y2.spool").write_bytes(b"\xff\xfe" + first.name.encode("utf-16-le"))
    with (folder / "logs" / "serve.log").open("ab") as log:
        log.write(f'{{"event": "debug", "subject": "{second.canonical[2:]}"}}\n'.encode())
    wrapped = base64.b64encode(f"<Name>{third.name}</Name>".encode())
    (folder / "work" / "export.json").write_bytes(b'{"doc": "' + wrapped + b'"}')
    with sqlite3.connect(folder / "home" / "hub.db") as db:
        db.execute("UPDATE systems SET description = ?", (first.canonical,))

    code = _run([
        "--home", str(folder / "home"), "--names-from", str(folder / "people.jsonl"),
        "--logs", str(folder / "logs" / "serve.log"), "--temp", str(folder / "tmp"),
        str(folder / "work"), "--quiet",
    ])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 1, out
    assert f"name of {first.name} (utf-16-le)" in out
    assert f"number without century or hyphen of {second.name} (utf-8)" in out
    assert f"name of {third.name} (base64" in out
    assert f"number without hyphen of {first.name} (utf-8)" in out
    for planted in (
        "tmp/tmpx1y2.spool",
        "logs/serve.log",
        "work/export.json",
        "systems.description",
    ):
        assert planted in out, planted
    assert "control: self-test" in out
