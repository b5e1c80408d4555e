"""hub.keys.store without I/O: the local master key, the wrap context, env-var loading, DataKey."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from hub.errors import ConfigError, CryptoError
from hub.keys.store import DataKey, KeyStore, LocalMasterKey, key_context, load_master_key

SECRET = bytes(range(32))
DATA_KEY = bytes(range(200, 232))


def test_wrap_then_unwrap_returns_the_key() -> None:
    master = LocalMasterKey(SECRET)
    wrapped = master.wrap(DATA_KEY, key_context("Farsta", 1))
    assert DATA_KEY not in wrapped
    assert master.unwrap(wrapped, key_context("Farsta", 1)) == DATA_KEY


@pytest.mark.parametrize("context", [key_context("Farsta", 2), key_context("Skarpnack", 1)])
def test_unwrap_with_another_context_fails(context: bytes) -> None:
    master = LocalMasterKey(SECRET)
    wrapped = master.wrap(DATA_KEY, key_context("Farsta", 1))
    with pytest.raises(CryptoError) as caught:
        master.unwrap(wrapped, context)
    assert caught.value.reason == "key_unwrap_failed"


def test_unwrap_with_another_master_fails() -> None:
    wrapped = LocalMasterKey(SECRET).wrap(DATA_KEY, key_context("Farsta", 1))
    with pytest.raises(CryptoError):
        LocalMasterKey(bytes(32)).unwrap(wrapped, key_context("Farsta", 1))


def test_key_context_is_unambiguous() -> None:
    assert key_context("Farsta", 12) != key_context("Farsta1", 2)
    assert key_context("a", 1) != key_context("a\x00", 1)


def test_derive_is_deterministic_separate_per_purpose_and_not_the_secret() -> None:
    master = LocalMasterKey(SECRET)
    hmac_secret = master.derive("hmac")
    assert len(hmac_secret) == 32
    assert LocalMasterKey(SECRET).derive("hmac") == hmac_secret
    assert master.derive("audit") != hmac_secret
    assert LocalMasterKey(bytes(32)).derive("hmac") != hmac_secret
    assert hmac_secret != SECRET


def test_derived_key_does_not_unwrap_data_keys() -> None:
    # Wrapping uses its own derived key, so no derive() output can open a wrapped data key.
    master = LocalMasterKey(SECRET)
    wrapped = master.wrap(DATA_KEY, key_context("Farsta", 1))
    for purpose in ("wrap", "master-wrap", "hmac", ""):
        if not purpose:
            with pytest.raises(ConfigError):
                master.derive(purpose)
            continue
        with pytest.raises(CryptoError):
            LocalMasterKey(master.derive(purpose)).unwrap(wrapped, key_context("Farsta", 1))


def test_master_key_must_be_32_bytes() -> None:
    with pytest.raises(ConfigError):
        LocalMasterKey(b"too short")


def test_reprs_hide_key_material() -> None:
    master = LocalMasterKey(SECRET)
    key = DataKey("Farsta", 3, DATA_KEY)
    assert "Farsta" in repr(key)
    assert "3" in repr(key)
    for text in (repr(master), repr(key), repr(KeyStore(master))):
        assert SECRET.hex() not in text
        assert DATA_KEY.hex() not in text
        assert repr(SECRET) not in text
        assert repr(DATA_KEY) not in text


def test_load_from_environment_value() -> None:
    encoded = base64.b64encode(SECRET).decode()
    master = load_master_key(None, encoded + "\n")
    assert master.derive("hmac") == LocalMasterKey(SECRET).derive("hmac")


def test_environment_value_wins_over_file_path() -> None:
    # The path is never opened when the environment value is set.
    master = load_master_key(Path("/nonexistent/master.key"), base64.b64encode(SECRET).decode())
    assert master.derive("x") == LocalMasterKey(SECRET).derive("x")


@pytest.mark.parametrize(
    "value", ["not base64!", base64.b64encode(b"16 bytes only!!!").decode(), "AAAA====AA"]
)
def test_bad_environment_value_is_a_config_error(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_master_key(None, value)
    assert value not in str(caught.value)


def test_nothing_configured_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no master key configured"):
        load_master_key(None, None)
    with pytest.raises(ConfigError):
        load_master_key(None, "")
