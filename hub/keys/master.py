"""The master key: the port that wraps data keys and derives secrets, and its local form.

``MasterKey`` is the port where a KMS or Vault transit plugs in; ``LocalMasterKey`` is today's
implementation, a 32-byte secret in a 0600 file (:func:`init_master_key` creates one, never over
an existing file; :func:`load_master_key` reads it, refusing a file group or others can read)
or in an environment variable. The raw secret is only ever HKDF input: wrapping uses one
derived key (AES-256-GCM with the wrap context as associated data), ``derive(purpose)`` gives
others (the HMAC secret). :func:`key_context` binds a wrapped data key to its district and
version, so a wrapped key moved to another row does not unwrap. ``hub.keys.store`` keeps the wrapped
data keys and re-exports these names.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hub.errors import ConfigError, CryptoError, GuardUnavailable
from hub.keys import crypto

MASTER_KEY_BYTES = 32
_WRAP_INFO = b"omsorgshub/master-wrap/v1"
_DERIVE_INFO = b"omsorgshub/derive/v1\x00"
_CONTEXT_LABEL = b"omsorgshub/district-key/v1"


class MasterKey(Protocol):
    """Wraps data keys and derives secrets. The port where a KMS or Vault transit plugs in."""

    def wrap(self, key: bytes, context: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        """Raise ``CryptoError`` when ``wrapped`` was not made by ``wrap`` with ``context``."""
        ...

    def derive(self, purpose: str) -> bytes:
        """32 bytes for ``purpose`` (HKDF-SHA256); the same purpose always gives the same bytes."""
        ...


def key_context(district: str, version: int) -> bytes:
    """The wrap context of one data key version: a wrapped key moved to another row fails."""
    name = district.encode("utf-8")
    return _CONTEXT_LABEL + len(name).to_bytes(4, "big") + name + version.to_bytes(4, "big")


def _hkdf(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=info).derive(secret)


class LocalMasterKey:
    """A master key held in this process: AES-256-GCM key wrap with the context as AAD."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) != MASTER_KEY_BYTES:
            raise ConfigError(f"the master key must be {MASTER_KEY_BYTES} bytes, got {len(secret)}")
        self._secret = secret
        self._wrapping_key: bytes | None = None

    def __repr__(self) -> str:
        return "LocalMasterKey(secret=<hidden>)"

    def _wrap_key(self) -> bytes:
        if self._wrapping_key is None:
            self._wrapping_key = _hkdf(self._secret, _WRAP_INFO)
        return self._wrapping_key

    def wrap(self, key: bytes, context: bytes) -> bytes:
        return crypto.seal(self._wrap_key(), key, context)

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        try:
            return crypto.unseal(self._wrap_key(), wrapped, context)
        except CryptoError as exc:
            raise CryptoError(
                "data key could not be unwrapped: wrong master key, or a wrapped key stored "
                "under another district or version",
                reason="key_unwrap_failed",
            ) from exc

    def derive(self, purpose: str) -> bytes:
        if not purpose:
            raise ConfigError("a derived key needs a purpose")
        return _hkdf(self._secret, _DERIVE_INFO + purpose.encode("utf-8"))


def _decode_secret(text: str, source: str) -> bytes:
    try:
        secret = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ConfigError(f"{source} is not valid base64") from exc
    if len(secret) != MASTER_KEY_BYTES:
        raise ConfigError(
            f"{source} must hold base64 of {MASTER_KEY_BYTES} random bytes, got {len(secret)} bytes"
        )
    return secret


def load_master_key(path: Path | None, env_value: str | None) -> LocalMasterKey:
    """The master key from ``env_value`` (base64) if non-empty, else from the file at ``path``.

    The file must hold base64 of 32 bytes and be accessible by its owner only. A configured but
    missing or unreadable file is ``GuardUnavailable`` (the hub refuses to run without its key);
    a bad value or mode is ``ConfigError``.
    """
    if env_value:
        return LocalMasterKey(_decode_secret(env_value, "the master key environment variable"))
    if path is None:
        raise ConfigError(
            "no master key configured: set master_key_file (create one with init_master_key) "
            "or the master key environment variable"
        )
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError as exc:
        raise GuardUnavailable(
            f"master key file {path} does not exist: restore it from backup (a new key cannot "
            "read data sealed under the old one), or run `omsorgshub init` for a new installation",
            reason="master_key_missing",
        ) from exc
    except OSError as exc:
        raise GuardUnavailable(
            f"master key file {path} cannot be opened: {exc.strerror}", reason="master_key_missing"
        ) from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"master key file {path} is not a regular file")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise ConfigError(
                f"master key file {path} is accessible by group or others (mode {mode:04o}); "
                f"run: chmod 600 {path}",
                reason="master_key_exposed",
            )
        raw = os.read(fd, 4096)
    finally:
        os.close(fd)
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"master key file {path} is not base64 text") from exc
    return LocalMasterKey(_decode_secret(text, f"master key file {path}"))


def init_master_key(path: Path) -> None:
    """Create a new master key file with mode 0600; never overwrite an existing one."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise ConfigError(
            f"master key file {path} already exists; refusing to overwrite it (every payload "
            "sealed under it would become unreadable)",
            reason="master_key_exists",
        ) from exc
    except OSError as exc:
        raise ConfigError(f"cannot create master key file {path}: {exc.strerror}") from exc
    try:
        os.fchmod(fd, 0o600)
        data = base64.b64encode(os.urandom(MASTER_KEY_BYTES)) + b"\n"
        while data:
            data = data[os.write(fd, data) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # the new name survives a crash too
    finally:
        os.close(folder)
