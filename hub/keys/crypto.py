"""Payload encryption and keyed hashing: pure functions, no I/O, no key management.

Why this module exists: no personal data may lie in plain text at rest. Payloads are sealed with
AES-256-GCM under a per-district data key (``hub.keys.store`` finds and unwraps that key);
searchable
identifiers and content fingerprints are keyed HMACs, so a stolen database yields neither
personnummer nor a dictionary to test them against.

Sealed blob layouts::

    FORMAT_V1  0x01 || nonce (12) || ciphertext || tag (16)                  district key
    FORMAT_V2  0x02 || wrapped message key (60) || nonce (12) || ciphertext || tag (16)
    SHREDDED   0x00                                                          retention ended

A message's payload (``seal_payload``, since migration 0012) is sealed under a key of its own,
made for that message alone; that key is sealed (wrapped) under the district's data key with
the same associated data plus a label. Destroying one message's key destroys that message's
payload and nothing else: the retention job (``hub.services.retention``) overwrites the blob
with the one-byte ``SHREDDED`` marker, and ``unseal`` then answers ``RetentionEnded``, not a
failed decryption. The wrapped key sits in the blob rather than in a column of its own so that
every reader of payloads stays as it was (``unseal`` takes both layouts). Payloads sealed
before 0012 are ``FORMAT_V1`` under the district key directly: they still open, are shredded
the same way, and move to ``FORMAT_V2`` when ``omsorgshub keys rewrap`` re-seals them.

The leading format byte lets a later format (another AEAD, a key-committing scheme) live beside
this one; it is also bound into the associated data, so a blob cannot be re-labelled. A random
96-bit nonce is safe for well under 2**32 seals per key, which a per-district, rotated key never
approaches.

The associated data (``payload_aad``) binds message id, district, message type and key version:
a ciphertext copied into another message row or district, or presented under another key
version, fails authentication instead of decrypting.

Building an ``AESGCM`` object costs about as much as sealing a kilobyte, so ``seal``/``unseal``
keep one per key in a small process-wide table (cleared whole when it grows past
``_AEAD_TABLE_MAX``; ``forget_key`` drops one, e.g. after a shred).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hub.errors import CryptoError, RetentionEnded

FORMAT_V1 = b"\x01"
FORMAT_V2 = b"\x02"
SHREDDED = b"\x00"
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
_HEADER_BYTES = len(FORMAT_V1) + NONCE_BYTES
_WRAPPED_BYTES = NONCE_BYTES + KEY_BYTES + TAG_BYTES
_MESSAGE_KEY_LABEL = b"omsorgshub/message-key/v1\x00"

_AEAD_TABLE_MAX = 256
_aead_table: dict[bytes, AESGCM] = {}

_PAYLOAD_AAD_LABEL = b"omsorgshub/payload-aad/v1"
_SUBJECT_REF_LABEL = b"omsorgshub/subject-ref/v1\x00"
_CONTENT_DIGEST_LABEL = b"omsorgshub/content-digest/v1\x00"
_BUSINESS_KEY_LABEL = b"omsorgshub/business-key/v1\x00"
_PERSON_CODE_LABEL = b"omsorgshub/person-code/v1\x00"


def _aead(key: bytes) -> AESGCM:
    # Plain dict operations are atomic under the GIL: two threads racing on a miss both build an
    # AESGCM for the same key, and either one is correct.
    found = _aead_table.get(key)
    if found is not None:
        return found
    if len(key) != KEY_BYTES:
        raise CryptoError(f"a data key must be {KEY_BYTES} bytes, got {len(key)}")
    if len(_aead_table) >= _AEAD_TABLE_MAX:
        _aead_table.clear()
    made = AESGCM(key)
    _aead_table[key] = made
    return made


def forget_key(key: bytes) -> None:
    """Drop this key's cipher object from the process-wide table (after a shred)."""
    _aead_table.pop(key, None)


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt and authenticate ``plaintext`` under ``key``, bound to ``aad``."""
    nonce = os.urandom(NONCE_BYTES)
    return FORMAT_V1 + nonce + _aead(key).encrypt(nonce, plaintext, FORMAT_V1 + aad)


def seal_payload(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Seal a message's payload under a fresh key of its own, wrapped under the district
    ``key`` (``FORMAT_V2``): what ingest stores, so retention can destroy one message's key.

    The message key is used once; its cipher object is not kept in the process-wide table.
    """
    message_key = os.urandom(KEY_BYTES)
    wrap_nonce = os.urandom(NONCE_BYTES)
    wrapped = wrap_nonce + _aead(key).encrypt(
        wrap_nonce, message_key, FORMAT_V2 + _MESSAGE_KEY_LABEL + aad
    )
    nonce = os.urandom(NONCE_BYTES)
    return (
        FORMAT_V2 + wrapped + nonce + AESGCM(message_key).encrypt(nonce, plaintext, FORMAT_V2 + aad)
    )


def is_shredded(blob: bytes) -> bool:
    """Whether ``blob`` is the marker the retention job leaves in place of a payload."""
    return blob == SHREDDED


def unseal(key: bytes, blob: bytes, aad: bytes) -> bytes:
    """Return the plaintext of ``blob``, or raise ``CryptoError`` if anything does not match.

    ``FORMAT_V1`` opens under ``key``; ``FORMAT_V2`` unwraps its message key under ``key``
    first; the ``SHREDDED`` marker raises ``RetentionEnded``. The message never contains the
    key, the aad or any part of the blob: only what kind of failure it was.
    """
    if is_shredded(blob):
        raise RetentionEnded("the payload was shredded when its retention ended")
    if blob[:1] == FORMAT_V2:
        return _unseal_v2(key, blob, aad)
    if len(blob) < _HEADER_BYTES + TAG_BYTES:
        raise CryptoError("sealed payload is truncated", reason="ciphertext_malformed")
    if blob[:1] != FORMAT_V1:
        raise CryptoError(
            f"sealed payload has unknown format byte {blob[0]:#04x}",
            reason="ciphertext_malformed",
        )
    nonce = blob[len(FORMAT_V1) : _HEADER_BYTES]
    try:
        return _aead(key).decrypt(nonce, blob[_HEADER_BYTES:], FORMAT_V1 + aad)
    except InvalidTag as exc:
        raise CryptoError(
            "payload failed authentication: wrong key, wrong binding "
            "(message id, district, type, key version) or tampered ciphertext"
        ) from exc


def _unseal_v2(key: bytes, blob: bytes, aad: bytes) -> bytes:
    body = len(FORMAT_V2) + _WRAPPED_BYTES
    if len(blob) < body + NONCE_BYTES + TAG_BYTES:
        raise CryptoError("sealed payload is truncated", reason="ciphertext_malformed")
    wrapped = blob[len(FORMAT_V2) : body]
    try:
        message_key = _aead(key).decrypt(
            wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], FORMAT_V2 + _MESSAGE_KEY_LABEL + aad
        )
        nonce = blob[body : body + NONCE_BYTES]
        return AESGCM(message_key).decrypt(nonce, blob[body + NONCE_BYTES :], FORMAT_V2 + aad)
    except InvalidTag as exc:
        raise CryptoError(
            "payload failed authentication: wrong key, wrong binding "
            "(message id, district, type, key version) or tampered ciphertext"
        ) from exc


def _field(value: str) -> bytes:
    encoded = value.encode("utf-8")
    return struct.pack(">I", len(encoded)) + encoded


def payload_aad(message_id: str, district: str, message_type: str, key_version: int) -> bytes:
    """Associated data that binds a sealed payload to its message row.

    Each text field is length-prefixed, so no two different tuples encode to the same bytes
    (``("ab", "c")`` and ``("a", "bc")`` differ); the key version is a fixed 4-byte field.
    """
    if not 0 < key_version < 2**32:
        raise CryptoError(f"key version {key_version} is out of range", reason="key_invalid")
    return (
        _PAYLOAD_AAD_LABEL
        + _field(message_id)
        + _field(district)
        + _field(message_type)
        + struct.pack(">I", key_version)
    )


class Hmacs:
    """Keyed hashes under one 32-byte secret (derived from the master key, never stored).

    ``subject_ref`` and ``content_digest`` are domain-separated by distinct labels, so a subject
    reference can never equal the digest of some document, and vice versa.
    """

    def __init__(self, secret: bytes) -> None:
        if len(secret) != KEY_BYTES:
            raise CryptoError(f"an HMAC secret must be {KEY_BYTES} bytes, got {len(secret)}")
        self._secret = secret

    def __repr__(self) -> str:
        return "Hmacs(secret=<hidden>)"

    def _hex(self, label: bytes, data: bytes) -> str:
        return hmac.new(self._secret, label + data, hashlib.sha256).hexdigest()

    def subject_ref(self, canonical_identity: str) -> str:
        """Hex HMAC-SHA256 of an identity number already in canonical form (12 digits, no dash).

        Canonicalising is the caller's job: the same person must always give the same string.
        """
        if not canonical_identity:
            raise CryptoError("cannot make a subject reference of an empty identity")
        return self._hex(_SUBJECT_REF_LABEL, canonical_identity.encode("utf-8"))

    def content_digest(self, data: bytes) -> str:
        """Hex HMAC-SHA256 of a document: tells a repeat from a conflict without storing it."""
        return self._hex(_CONTENT_DIGEST_LABEL, data)

    def business_key(self, value: str) -> str:
        """Hex HMAC-SHA256 of a protected business key's value (``schemas.business_keys``).

        The key's name is not bound in: the same case number stored as one type's ``case_id``
        and another's ``answers_referral`` must give the same HMAC, so that the one finds the
        other. Searching HMACs the query the same way.
        """
        return self._hex(_BUSINESS_KEY_LABEL, value.encode("utf-8"))

    def person_code(self, canonical_identity: str, scope: str) -> int:
        """A number stable per person and ``scope`` (a district) that tells nothing of the
        identity number: what IVO's code for the person is made from (``hub.ivo.codes``)."""
        if not canonical_identity:
            raise CryptoError("cannot make a person code of an empty identity")
        data = _field(scope) + _field(canonical_identity)
        return int(self._hex(_PERSON_CODE_LABEL, data)[:16], 16)
