"""``scan_run``: search everything a run left behind for the people it sent, and check the
search against the destination's records.

Reusable after any run (the chaos command calls it after its own): give it the hub's data
folder and the people, and whatever else the run had — its logs, the temp folder its processes
used, the folders where nothing should have been written, the broker — and the destination's
documents as the control.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from proof.scan.needles import Matcher, Person, needles_for
from proof.scan.places import (
    Place,
    database_columns,
    files_under,
    queue_contents,
    sqlite_files,
)
from proof.scan.result import PlaceReport, ScanResult


def _settings_database_url(home: Path) -> str:
    from hub.settings import load_settings

    return load_settings({"OMSORGSHUB_HOME": str(home)}, cwd=home).database_url


def _self_test_control(people: Sequence[Person]) -> bytes:
    """Without the destination's records: each person written the way a careless program
    would (a UTF-16 string, a base64 body, a JSON log line), to show the needles match."""
    import base64
    import json

    parts = []
    for person in people:
        parts.append(person.name.encode("utf-16-le"))
        parts.append(base64.b64encode(f"<Name>{person.name}</Name>".encode()))
        parts.append(json.dumps({"subject": person.canonical}).encode())
    return b"\x07".join(parts)


def scan_places(
    places: Iterable[Place],
    people: Sequence[Person],
    *,
    control: Mapping[str, bytes] | None = None,
    skip: Iterable[Path] = (),
) -> ScanResult:
    """Scan ``places`` for ``people``; ``control`` is the destination's documents by key."""
    needles = needles_for(people)
    matcher = Matcher(needles)
    result = ScanResult(list(people), len(needles))
    skipped = {str(p) for p in skip}
    seen: set[tuple[str, str]] = set()
    for place in places:
        if place.name in skipped or (place.kind, place.name) in seen:
            continue
        seen.add((place.kind, place.name))
        found_here = tuple(matcher.find(place.data))
        result.places.append(PlaceReport(place.kind, place.name, len(place.data), found_here))
    if control is None:
        result.control_name = "self-test (no destination records given)"
        documents = [_self_test_control(people)]
    else:
        result.control_name = f"destination double ({len(control)} documents)"
        documents = list(control.values())
    found: set[int] = set()
    for document in documents:
        hits = matcher.find(document)
        result.control_hits += len(hits)
        result.control_size += len(document)
        found.update(hit.needle.person for hit in hits)
    result.control_people_found = len(found)
    return result


def scan_run(
    home: Path,
    people: Sequence[Person],
    *,
    database_url: str | None = None,
    amqp_url: str | None = None,
    logs: Sequence[Path] = (),
    temp_dirs: Sequence[Path] = (),
    export_dirs: Sequence[Path] = (),
    control: Mapping[str, bytes] | None = None,
    skip: Iterable[Path] = (),
    extra: Iterable[Place] = (),
    say: Callable[[str], None] = lambda _text: None,
) -> ScanResult:
    """Scan what a run left: the data folder ``home`` (database files and WAL among them), the
    database's stored columns (``database_url``, by default the home's setting), the broker's
    queues (``amqp_url``), ``logs``, ``temp_dirs`` (temp files the hub's processes wrote) and
    ``export_dirs`` (where nothing should have been written: a process's working folder).

    ``control`` is the destination's documents: the scan must find every person there. Without
    it, a self-test stands in for it. Files in ``skip`` (the people file itself) are left out.
    ``extra`` are places read earlier (a queue read mid-run, before a worker emptied it).
    """
    url = database_url or _settings_database_url(home)
    notes: list[str] = []

    def places() -> Iterable[Place]:
        say(f"scan: the data folder {home}")
        yield from files_under(home)
        for path in sqlite_files(url):
            if path.is_file() and home not in path.parents:
                yield from files_under(path)
        for log in logs:
            if log.exists():
                yield from files_under(log, "log")
            else:
                notes.append(f"log {log} does not exist")
        for kind, folders in (("temp", temp_dirs), ("stray export", export_dirs)):
            for folder in folders:
                found = list(files_under(folder, kind))
                notes.append(f"{kind} folder {folder}: {len(found)} files")
                yield from found
        yield from extra
        say("scan: every stored column of the database")
        yield from database_columns(url)
        if amqp_url:
            say("scan: the broker's queues")
            yield from queue_contents(amqp_url)

    result = scan_places(places(), people, control=control, skip=skip)
    result.notes += notes
    if not any(p.kind == "column" for p in result.places):
        result.notes.append("the database has no columns: nothing was stored?")
    return result
