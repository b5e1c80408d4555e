"""A signed checkpoint: "entry ``seq`` of the chain had hash ``hash``", signed with Ed25519.

Because each entry's hash covers all earlier entries, one valid checkpoint vouches for the whole
chain up to its ``seq``: an attacker with database access but without the private key can
re-hash a changed chain, but cannot produce a checkpoint that matches it.

Checkpoints are kept twice: in ``audit_checkpoints`` and, once their transaction committed, as
one JSON line each in ``checkpoints.jsonl`` outside the database (see
``trail.AuditTrail.publish_checkpoint``). The file is what an offline verifier trusts.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CHECKPOINT_VERSION = "omsorgshub-audit-checkpoint/1"


def checkpoint_message(seq: int, hash_: str, at: str, key_id: str) -> bytes:
    """The exact bytes a checkpoint signature covers (versioned, length-prefixed)."""
    text = f"{CHECKPOINT_VERSION}\n{seq}\n{len(hash_)}:{hash_}{len(at)}:{at}{len(key_id)}:{key_id}"
    return text.encode("utf-8", "surrogatepass")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    seq: int
    hash: str
    at: str
    key_id: str
    signature: bytes

    def message(self) -> bytes:
        return checkpoint_message(self.seq, self.hash, self.at, self.key_id)

    def to_json_line(self) -> str:
        """One line of ``checkpoints.jsonl`` (no trailing newline)."""
        return json.dumps(
            {
                "seq": self.seq,
                "hash": self.hash,
                "at": self.at,
                "key_id": self.key_id,
                "signature": base64.b64encode(self.signature).decode("ascii"),
            },
            separators=(",", ":"),
            sort_keys=True,
        )

    @classmethod
    def from_json_line(cls, line: str) -> Checkpoint:
        data = json.loads(line)
        if not isinstance(data, dict):
            raise ValueError("a checkpoint line must be a JSON object")
        seq, hash_, at, key_id, sig = (
            data.get(k) for k in ("seq", "hash", "at", "key_id", "signature")
        )
        if not isinstance(seq, int) or isinstance(seq, bool):
            raise ValueError(f"checkpoint seq is not an integer: {seq!r}")
        if not (isinstance(hash_, str) and isinstance(at, str) and isinstance(key_id, str)):
            raise ValueError("checkpoint hash, at and key_id must be text")
        if not isinstance(sig, str):
            raise ValueError("checkpoint signature must be base64 text")
        try:
            signature = base64.b64decode(sig, validate=True)
        except binascii.Error as exc:
            raise ValueError("checkpoint signature is not valid base64") from exc
        return cls(seq=seq, hash=hash_, at=at, key_id=key_id, signature=signature)


def read_checkpoints(path: Path) -> Iterator[Checkpoint]:
    """Checkpoints from a ``checkpoints.jsonl`` file, in file order; blank lines are skipped.
    A malformed line raises ``ValueError`` naming its line number."""
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield Checkpoint.from_json_line(line)
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: {exc}") from exc
