"""A message's business keys as ingest stores them (``schemas.business_keys``).

Read from the body already parsed and validated in ``prepare``, so it costs one ``find`` per
declared key; a protected value becomes its keyed HMAC here, before anything is stored, and the
plain value is dropped with the parsed document.
"""

from __future__ import annotations

from hub.keys.crypto import Hmacs
from schemas.business_keys import read_keys
from schemas.envelope import ParsedEnvelope


def stored_keys(envelope: ParsedEnvelope, hmacs: Hmacs) -> tuple[tuple[str, str], ...]:
    """``(name, stored value)`` of each declared key present in the body."""
    declared = envelope.message_type_info.keys
    if not declared:
        return ()
    return tuple(
        (k.name, hmacs.business_key(k.value) if k.protected else k.value)
        for k in read_keys(declared, envelope.body)
    )
