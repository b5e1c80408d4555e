"""hub.keys.crypto's per-message keys (``seal_payload``, ``FORMAT_V2``) and the retention
marker: what lets the retention job destroy one message's payload. No I/O."""

from __future__ import annotations

import pytest

from hub.errors import CryptoError, KeyShredded, RetentionEnded
from hub.keys import crypto
from hub.keys.crypto import payload_aad, seal, seal_payload, unseal

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
DOCUMENT = b"<caseReferral><pnr>191212121212</pnr><name>Tolvan Tolvansson</name></caseReferral>"
AAD = payload_aad("msg-1", "sdn-sodermalm", "case.referral", 1)
WRAPPED = crypto.NONCE_BYTES + crypto.KEY_BYTES + crypto.TAG_BYTES


def test_a_payload_round_trips_under_its_own_key() -> None:
    blob = seal_payload(KEY, DOCUMENT, AAD)
    assert blob[:1] == crypto.FORMAT_V2
    assert len(blob) == 1 + WRAPPED + crypto.NONCE_BYTES + len(DOCUMENT) + crypto.TAG_BYTES
    assert DOCUMENT not in blob
    assert b"191212121212" not in blob
    assert unseal(KEY, blob, AAD) == DOCUMENT


def test_each_payload_gets_a_different_key() -> None:
    first, second = seal_payload(KEY, DOCUMENT, AAD), seal_payload(KEY, DOCUMENT, AAD)
    assert first[1 : 1 + WRAPPED] != second[1 : 1 + WRAPPED]
    # A wrapped key taken from one payload does not open another.
    spliced = first[: 1 + WRAPPED] + second[1 + WRAPPED :]
    with pytest.raises(CryptoError):
        unseal(KEY, spliced, AAD)


def test_payloads_sealed_before_per_message_keys_still_open() -> None:
    assert unseal(KEY, seal(KEY, DOCUMENT, AAD), AAD) == DOCUMENT


@pytest.mark.parametrize(
    "aad",
    [
        payload_aad("msg-2", "sdn-sodermalm", "case.referral", 1),
        payload_aad("msg-1", "sdn-sodermalm", "case.referral", 2),
    ],
)
def test_a_payload_is_bound_to_its_message_and_key_version(aad: bytes) -> None:
    with pytest.raises(CryptoError):
        unseal(KEY, seal_payload(KEY, DOCUMENT, AAD), aad)


def test_the_district_key_is_needed() -> None:
    with pytest.raises(CryptoError):
        unseal(OTHER_KEY, seal_payload(KEY, DOCUMENT, AAD), AAD)


@pytest.mark.parametrize("position", [0, 5, 1 + WRAPPED + 3, -1])
def test_any_flipped_bit_fails(position: int) -> None:
    blob = bytearray(seal_payload(KEY, DOCUMENT, AAD))
    blob[position] ^= 0x01
    with pytest.raises(CryptoError):
        unseal(KEY, bytes(blob), AAD)


def test_a_truncated_payload_is_malformed() -> None:
    with pytest.raises(CryptoError) as caught:
        unseal(KEY, seal_payload(KEY, DOCUMENT, AAD)[: 1 + WRAPPED + 5], AAD)
    assert caught.value.reason == "ciphertext_malformed"


def test_the_retention_marker_says_so_instead_of_failing_to_decrypt() -> None:
    assert crypto.is_shredded(crypto.SHREDDED)
    assert not crypto.is_shredded(seal_payload(KEY, DOCUMENT, AAD))
    with pytest.raises(RetentionEnded) as caught:
        unseal(KEY, crypto.SHREDDED, AAD)
    assert caught.value.reason == "retention_ended"
    assert isinstance(caught.value, KeyShredded)  # readers that skip erased state skip it too
