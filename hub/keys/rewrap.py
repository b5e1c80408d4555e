"""Re-sealing a district's payloads under its active key version, so old versions can be shred.

Works a batch of messages at a time (plaintext only in memory), in the caller's transaction.
Payloads under shredded versions are left alone: they are unreadable by design, and so are
payloads the retention job shredded (``shredded_at`` set). Every payload moved is re-sealed
with a key of its own (``crypto.seal_payload``): this is how payloads stored before migration
0012 (sealed under the district key directly) come to per-message keys. A payload that fails
authentication raises ``CryptoError`` and the caller should roll back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from sqlalchemy import Connection, bindparam, func, select, update

from hub.errors import InputError
from hub.keys import crypto
from hub.keys import rows as key_rows
from hub.keys.versions import DataKey
from hub.storage.tables import messages


class KeyVersions(Protocol):
    """What re-sealing needs of the key store (``hub.keys.store.KeyStore``)."""

    def current(self, conn: Connection, district: str) -> DataKey: ...

    def get(self, conn: Connection, district: str, version: int) -> DataKey: ...


_REWRAP_UPDATE = (
    update(messages)
    .where(messages.c.id == bindparam("b_id"), messages.c.key_version == bindparam("b_old"))
    .values(key_version=bindparam("key_version"), ciphertext=bindparam("ciphertext"))
)


def rewrap(
    keys: KeyVersions,
    conn: Connection,
    district: str,
    *,
    batch: int,
    progress: Callable[[int, int], None] | None,
    limit: int | None,
) -> int:
    """Re-seal payloads of ``district`` under retired versions; returns how many moved.

    With ``limit`` it stops after that many so the caller can commit and call again until it
    returns 0. A district never rotated has nothing to move, and gets no key made for it.
    """
    if batch < 1:
        raise InputError(f"batch must be at least 1, got {batch}")
    m = messages.c
    with key_rows.reached(f"re-wrapping payloads of district {district}"):
        old = key_rows.retired_versions(conn, district)
        if not old:
            return 0  # nothing was ever rotated: do not create a key as a side effect
        target = keys.current(conn, district)
        scope = (m.district == district) & m.key_version.in_(old) & m.shredded_at.is_(None)
        total = conn.execute(select(func.count()).select_from(messages).where(scope)).scalar_one()
        if limit is not None:
            total = min(total, limit)
        done, last_id = 0, ""
        while done < total:
            rows = conn.execute(
                select(m.id, m.message_type, m.key_version, m.ciphertext)
                .where(scope, m.id > last_id)
                .order_by(m.id)
                .limit(min(batch, total - done))
            ).all()
            if not rows:
                break
            conn.execute(_REWRAP_UPDATE, _resealed(keys, conn, district, target, rows))
            done += len(rows)
            last_id = rows[-1].id
            if progress is not None:
                progress(done, total)
    return done


def _resealed(
    keys: KeyVersions, conn: Connection, district: str, target: DataKey, rows: Sequence[Any]
) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for row in rows:
        source = keys.get(conn, district, row.key_version)
        plaintext = crypto.unseal(
            source.key,
            row.ciphertext,
            crypto.payload_aad(row.id, district, row.message_type, row.key_version),
        )
        aad = crypto.payload_aad(row.id, district, row.message_type, target.version)
        out.append(
            {
                "b_id": row.id,
                "b_old": row.key_version,
                "key_version": target.version,
                "ciphertext": crypto.seal_payload(target.key, plaintext, aad),
            }
        )
    return out
