"""Queries of MedCom's de-duplication tables (``medcom_bundles``, ``medcom_acknowledgements``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from hub.storage.tables import medcom_acknowledgements, medcom_bundles


def header_of_bundle(conn: Connection, bundle_id: str) -> str | None:
    """The MessageHeader.id a Bundle.id was first seen with."""
    row = conn.execute(
        select(medcom_bundles.c.header_id).where(medcom_bundles.c.bundle_id == bundle_id)
    ).first()
    return None if row is None else str(row.header_id)


def acknowledgement(conn: Connection, header_id: str) -> tuple[str, bytes] | None:
    """``(sender, acknowledgement bytes)`` answered to a MessageHeader.id."""
    row = conn.execute(
        select(medcom_acknowledgements.c.sender, medcom_acknowledgements.c.acknowledgement).where(
            medcom_acknowledgements.c.header_id == header_id
        )
    ).first()
    return None if row is None else (str(row.sender), bytes(row.acknowledgement))


def remember_bundle(
    conn: Connection, bundle_id: str, header_id: str, sender: str, at: datetime
) -> None:
    """Record a Bundle.id once (a repeat, or one recorded by a concurrent request just now,
    is left as it is)."""
    if header_of_bundle(conn, bundle_id) is not None:
        return
    try:
        with conn.begin_nested():
            conn.execute(
                insert(medcom_bundles).values(
                    bundle_id=bundle_id, header_id=header_id, sender=sender, received_at=at
                )
            )
    except IntegrityError:
        pass  # a concurrent request of the same bundle recorded it first


def remember_acknowledgement(
    conn: Connection, header_id: str, sender: str, message_id: str, ack: bytes, at: datetime
) -> bytes:
    """Keep the acknowledgement of a message; the one kept first wins and is answered."""
    kept = acknowledgement(conn, header_id)
    if kept is not None:
        return kept[1]
    try:
        with conn.begin_nested():
            conn.execute(
                insert(medcom_acknowledgements).values(
                    header_id=header_id,
                    sender=sender,
                    message_id=message_id,
                    acknowledgement=ack,
                    created_at=at,
                )
            )
    except IntegrityError:  # a concurrent request of the same message kept its own first
        kept = acknowledgement(conn, header_id)
        assert kept is not None
        return kept[1]
    return ack
