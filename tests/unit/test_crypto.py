"""hub.keys.crypto: AES-256-GCM sealing, the payload binding, keyed hashes. No I/O."""

from __future__ import annotations

import hashlib
import hmac
import os

import pytest

from hub.errors import CryptoError
from hub.keys import crypto
from hub.keys.crypto import Hmacs, payload_aad, seal, unseal

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
DOCUMENT = (
    b"<clientSummary><pnr>191212121212</pnr><provider>Hemtjanst Nord</provider></clientSummary>"
)
AAD = payload_aad("msg-1", "Farsta", "client-summary", 1)


def test_seal_then_unseal_returns_the_plaintext() -> None:
    blob = seal(KEY, DOCUMENT, AAD)
    assert unseal(KEY, blob, AAD) == DOCUMENT


def test_blob_is_format_byte_nonce_ciphertext_and_tag() -> None:
    blob = seal(KEY, DOCUMENT, AAD)
    assert blob[:1] == crypto.FORMAT_V1
    assert len(blob) == 1 + crypto.NONCE_BYTES + len(DOCUMENT) + crypto.TAG_BYTES
    assert DOCUMENT not in blob
    assert b"191212121212" not in blob


def test_each_seal_uses_a_fresh_nonce() -> None:
    first, second = seal(KEY, DOCUMENT, AAD), seal(KEY, DOCUMENT, AAD)
    assert first[1:13] != second[1:13]
    assert first != second


def test_empty_plaintext_round_trips() -> None:
    assert unseal(KEY, seal(KEY, b"", AAD), AAD) == b""


def test_wrong_key_fails() -> None:
    blob = seal(KEY, DOCUMENT, AAD)
    with pytest.raises(CryptoError) as caught:
        unseal(OTHER_KEY, blob, AAD)
    assert caught.value.reason == "decryption_failed"


@pytest.mark.parametrize("position", [1, 12, 13, 40, -1])
def test_any_flipped_bit_fails(position: int) -> None:
    blob = bytearray(seal(KEY, DOCUMENT, AAD))
    blob[position] ^= 0x01
    with pytest.raises(CryptoError):
        unseal(KEY, bytes(blob), AAD)


def test_unknown_format_byte_is_refused() -> None:
    blob = b"\x03" + seal(KEY, DOCUMENT, AAD)[1:]
    with pytest.raises(CryptoError) as caught:
        unseal(KEY, blob, AAD)
    assert caught.value.reason == "ciphertext_malformed"


def test_truncated_blob_is_refused() -> None:
    with pytest.raises(CryptoError) as caught:
        unseal(KEY, seal(KEY, DOCUMENT, AAD)[:20], AAD)
    assert caught.value.reason == "ciphertext_malformed"


def test_errors_do_not_leak_plaintext_key_or_blob() -> None:
    blob = seal(KEY, DOCUMENT, AAD)
    with pytest.raises(CryptoError) as caught:
        unseal(OTHER_KEY, blob, AAD + b"x")
    text = str(caught.value) + repr(caught.value.context)
    for secret in (KEY.hex(), OTHER_KEY.hex(), blob.hex()[:16], "191212121212", "Farsta"):
        assert secret not in text


def test_key_of_wrong_length_is_refused() -> None:
    with pytest.raises(CryptoError):
        seal(KEY[:16], DOCUMENT, AAD)


@pytest.mark.parametrize(
    "moved",
    [
        payload_aad("msg-2", "Farsta", "client-summary", 1),  # copied into another message
        payload_aad("msg-1", "Skarpnack", "client-summary", 1),  # into another district
        payload_aad("msg-1", "Farsta", "case-referral", 1),  # relabelled as another type
        payload_aad("msg-1", "Farsta", "client-summary", 2),  # presented under another version
    ],
)
def test_payload_bound_to_its_message_does_not_decrypt_elsewhere(moved: bytes) -> None:
    blob = seal(KEY, DOCUMENT, AAD)
    with pytest.raises(CryptoError):
        unseal(KEY, blob, moved)


def test_payload_aad_is_unambiguous() -> None:
    # Plain concatenation would make these equal; length prefixes keep them apart.
    assert payload_aad("ab", "c", "t", 1) != payload_aad("a", "bc", "t", 1)
    assert payload_aad("a", "b", "c1", 1) != payload_aad("a", "bc", "1", 1)
    assert payload_aad("a", "b", "c", 1) == payload_aad("a", "b", "c", 1)


@pytest.mark.parametrize("version", [0, -1, 2**32])
def test_payload_aad_refuses_out_of_range_versions(version: int) -> None:
    with pytest.raises(CryptoError):
        payload_aad("m", "d", "t", version)


def test_forgotten_key_still_works_when_given_again() -> None:
    key = os.urandom(32)
    blob = seal(key, DOCUMENT, AAD)
    crypto.forget_key(key)
    assert key not in crypto._aead_table
    assert unseal(key, blob, AAD) == DOCUMENT


def test_cipher_table_stays_bounded() -> None:
    for _ in range(crypto._AEAD_TABLE_MAX + 10):
        seal(os.urandom(32), b"x", AAD)
    assert len(crypto._aead_table) <= crypto._AEAD_TABLE_MAX


# -- keyed hashes ------------------------------------------------------------------------------

SECRET = bytes(range(100, 132))


def test_subject_ref_is_stable_keyed_hmac_sha256() -> None:
    # Stored references must never change between releases: pin the construction.
    expected = hmac.new(
        SECRET, b"omsorgshub/subject-ref/v1\x00" + b"191212121212", hashlib.sha256
    ).hexdigest()
    assert Hmacs(SECRET).subject_ref("191212121212") == expected
    assert len(expected) == 64


def test_content_digest_is_stable_keyed_hmac_sha256() -> None:
    expected = hmac.new(
        SECRET, b"omsorgshub/content-digest/v1\x00" + DOCUMENT, hashlib.sha256
    ).hexdigest()
    assert Hmacs(SECRET).content_digest(DOCUMENT) == expected


def test_subject_refs_and_content_digests_are_domain_separated() -> None:
    hmacs = Hmacs(SECRET)
    assert hmacs.subject_ref("191212121212") != hmacs.content_digest(b"191212121212")


def test_subject_ref_depends_on_secret_and_identity() -> None:
    ref = Hmacs(SECRET).subject_ref("191212121212")
    assert Hmacs(SECRET).subject_ref("191212121212") == ref
    assert Hmacs(bytes(32)).subject_ref("191212121212") != ref
    assert Hmacs(SECRET).subject_ref("194107086995") != ref
    assert "191212121212" not in ref


def test_hmacs_refuse_short_secret_and_empty_identity() -> None:
    with pytest.raises(CryptoError):
        Hmacs(b"short")
    with pytest.raises(CryptoError):
        Hmacs(SECRET).subject_ref("")


def test_hmacs_repr_hides_secret() -> None:
    assert SECRET.hex() not in repr(Hmacs(SECRET))
    assert str(list(SECRET)) not in repr(Hmacs(SECRET))
