"""Rows of ``saved_filters``: an operator's named message searches (metadata fields as JSON)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, insert, select

from hub.storage.tables import saved_filters


def of_user(conn: Connection, user_name: str) -> list[tuple[str, str]]:
    """``(name, filter JSON)`` of one person, by name."""
    query = (
        select(saved_filters.c.name, saved_filters.c.filter)
        .where(saved_filters.c.user_name == user_name)
        .order_by(saved_filters.c.name)
    )
    return [(name, text) for name, text in conn.execute(query)]


def put(conn: Connection, user_name: str, name: str, text: str, now: datetime) -> None:
    """Save (or replace) the filter ``name`` of ``user_name``."""
    remove(conn, user_name, name)
    conn.execute(
        insert(saved_filters).values(user_name=user_name, name=name, filter=text, created_at=now)
    )


def remove(conn: Connection, user_name: str, name: str) -> bool:
    result = conn.execute(
        delete(saved_filters).where(
            saved_filters.c.user_name == user_name, saved_filters.c.name == name
        )
    )
    return result.rowcount > 0
