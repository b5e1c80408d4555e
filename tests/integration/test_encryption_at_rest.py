"""No personal data in plain text at rest, on SQLite and on PostgreSQL.

Every column of every table the database holds (reflected, so a table added later is scanned
too) and every file the hub wrote under its folders are searched for the fictional names and
identity numbers that were sent; and each stored ciphertext is compared with the body it seals.
The scan proves itself: the same names are found in what the destination received.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import MetaData, select

from hub.bootstrap import Hub
from hub.demo.fictional import FictionalPerson
from hub.services.messages import view_payload
from hub.storage.tables import messages
from tests.integration.spine import SENDER, Spine

PEOPLE = 12


def _needles(people: list[FictionalPerson]) -> Iterator[bytes]:
    for person in people:
        for text in (
            person.family_name,
            person.given_name,
            person.identity.canonical,
            person.identity.formatted(),
        ):
            yield text.encode()


def stored_values(hub: Hub) -> Iterator[tuple[str, bytes]]:
    """``("table.column", value)`` for every non-null value of every table in the database."""
    with hub.reader.connect() as conn:
        reflected = MetaData()
        reflected.reflect(bind=conn)
        assert {"messages", "deliveries", "audit_entries"} <= set(reflected.tables)
        for table in reflected.tables.values():
            for row in conn.execute(select(table)).mappings():
                for column, value in row.items():
                    if value is None:
                        continue
                    raw = value if isinstance(value, bytes | memoryview) else str(value).encode()
                    yield f"{table.name}.{column}", bytes(raw)


def test_no_name_or_identity_number_in_any_stored_column_or_file(
    spine: Spine, tmp_path: Path
) -> None:
    people = [next(spine.people) for _ in range(PEOPLE)]
    spine.double.set_mode("down")  # failures and retries are recorded too
    ids = [
        spine.hub.ingestor.ingest(SENDER, spine.envelope(f"rest-{i}", p)).message_id
        for i, p in enumerate(people)
    ]
    spine.hub.relay.run_once()
    spine.double.set_mode("up")
    spine.clock.advance(3600)
    spine.hub.relay.run_once()

    values = list(stored_values(spine.hub))
    assert any(where == "messages.ciphertext" for where, _ in values)
    for needle in _needles(people):
        found = [where for where, value in values if needle in value]
        assert not found, f"{needle!r} stored in plain text in {found}"

    # Everything the hub wrote: its home folder, and the SQLite files with their WAL.
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "routes.toml" for p in files), files  # the home folder was scanned
    if spine.database_url.startswith("sqlite"):
        assert any(p.name.endswith("-wal") for p in files), files
    contents = {p: p.read_bytes() for p in files}
    for needle in _needles(people):
        found_in = [str(p) for p, data in contents.items() if needle in data]
        assert not found_in, f"{needle!r} in plain text in {found_in}"

    # The ciphertext is not the body, and does not hold it or any part of it that names a person.
    with spine.hub.reader.connect() as conn:
        rows = conn.execute(select(messages.c.id, messages.c.ciphertext)).all()
    stored = {row.id: bytes(row.ciphertext) for row in rows}
    for message_id, person in zip(ids, people, strict=True):
        body = view_payload(spine.hub, message_id, actor="operator:test", reason="at-rest test")
        assert person.family_name.encode() in body  # what the scan looks for is in the body
        ciphertext = stored[message_id]
        assert ciphertext != body
        assert body not in ciphertext
        assert person.identity.canonical.encode() not in ciphertext
        assert len(ciphertext) >= len(body)  # all of the body is sealed, not a digest of it

    # The scan can find what it looks for: the destination got the names in clear.
    delivered = b"".join(spine.double.documents().values())
    assert spine.double.stats()["unique"] == PEOPLE
    assert all(person.family_name.encode() in delivered for person in people)
