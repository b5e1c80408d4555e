"""The audit trail's key interface and its Ed25519 implementation.

``Signer`` and ``Verifier`` are the only key types ``audit/`` depends on: the hub may hand in
any implementation (an HSM, a KMS) as long as it signs and verifies raw bytes. The Ed25519
classes here read PEM files made by ``generate_signing_key``. A verifier needs only the public
key, which is what lets a data-protection officer verify an export on their own machine.

Private key files are written 0600 and never overwritten; ``load_signer`` refuses a private key
file that group or others can read, as ssh does.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


class Verifier(Protocol):
    def verify(self, data: bytes, signature: bytes) -> bool: ...


class Signer(Protocol):
    @property
    def key_id(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...

    def verifier(self) -> Verifier:
        """The matching public key: the trail checks before each append that the head it
        builds on is one this key signed."""
        ...


def key_id_for(public_key: Ed25519PublicKey) -> str:
    """A short, stable name for a public key: ``ed25519:`` and 16 hex digits of its SHA-256."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:16]


class Ed25519Signer:
    def __init__(self, private_key: Ed25519PrivateKey, key_id: str | None = None) -> None:
        self._private_key = private_key
        self.key_id = key_id or key_id_for(private_key.public_key())

    def sign(self, data: bytes) -> bytes:
        return self._private_key.sign(data)

    def verifier(self) -> Ed25519Verifier:
        return Ed25519Verifier(self._private_key.public_key())


class Ed25519Verifier:
    def __init__(self, public_key: Ed25519PublicKey) -> None:
        self._public_key = public_key
        self.key_id = key_id_for(public_key)

    def verify(self, data: bytes, signature: bytes) -> bool:
        try:
            self._public_key.verify(signature, data)
        except InvalidSignature:
            return False
        return True


def _write_new(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def generate_signing_key(
    private_path: Path, public_path: Path, *, passphrase: bytes | None = None
) -> str:
    """Make a new Ed25519 key pair as PEM files and return its key id. The private file is
    created 0600; an existing file at either path is never overwritten (``FileExistsError``)."""
    for path in (private_path, public_path):
        if path.exists():
            raise FileExistsError(f"refusing to overwrite {path}")
    key = Ed25519PrivateKey.generate()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _write_new(private_path, private_pem, 0o600)
    try:
        _write_new(public_path, public_pem, 0o644)
    except BaseException:
        private_path.unlink()
        raise
    return key_id_for(key.public_key())


def load_signer(private_path: Path, *, passphrase: bytes | None = None) -> Ed25519Signer:
    """Read a private key PEM. Refuses a file readable by group or others."""
    if os.name == "posix" and private_path.stat().st_mode & 0o077:
        raise PermissionError(
            f"{private_path} is readable by others; chmod 600 it before the hub may use it"
        )
    try:
        key = serialization.load_pem_private_key(private_path.read_bytes(), passphrase)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{private_path} is not a usable private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{private_path} is not an Ed25519 private key")
    return Ed25519Signer(key)


def load_verifier(public_path: Path) -> Ed25519Verifier:
    """Read a public key PEM: all an offline verifier needs."""
    try:
        key = serialization.load_pem_public_key(public_path.read_bytes())
    except ValueError as exc:
        raise ValueError(f"{public_path} is not a usable public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{public_path} is not an Ed25519 public key")
    return Ed25519Verifier(key)
