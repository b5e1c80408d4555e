"""Console passwords: argon2id hashes, the rules for a new password, and the check a sign-in
makes through a port, so that an external identity provider (OIDC, SAML, SITHS) can take the
password's place later without touching sessions, roles or the console.

Hashing is argon2-cffi's ``PasswordHasher``: argon2id with the RFC 9106 low-memory profile
(64 MiB, 3 passes), tuned to cost about a tenth of a second: slow for a guesser, unnoticed at a
sign-in. A hash made with older parameters is re-made at the next successful sign-in.
"""

from __future__ import annotations

from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from hub.errors import InputError

MIN_LENGTH = 12
MAX_LENGTH = 1024  # argon2 takes any length; a megabyte "password" is only a way to burn CPU

_HASHER = PasswordHasher()
# Verified when the account does not exist, so an unknown name costs as long as a wrong password.
_DUMMY = _HASHER.hash("not a password of anyone")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def check_new_password(name: str, password: str) -> None:
    """Refuse a password that is too short, too long, or the account's own name."""
    if len(password) < MIN_LENGTH:
        raise InputError(
            f"a password has at least {MIN_LENGTH} characters", reason="password_too_short"
        )
    if len(password) > MAX_LENGTH:
        raise InputError(
            f"a password has at most {MAX_LENGTH} characters", reason="password_too_long"
        )
    if password.strip().lower() == name.strip().lower():
        raise InputError("a password must not be the account's name", reason="password_weak")


class PasswordCheck(Protocol):
    """Whether a secret proves who a person is. The password implementation reads the stored
    hash; an OIDC/SAML login would instead verify the identity provider's assertion and open
    the session itself (``hub.services.sessions.open_session``)."""

    def verify(self, stored_hash: str | None, secret: str) -> bool: ...

    def needs_rehash(self, stored_hash: str) -> bool: ...


class Argon2Check:
    def verify(self, stored_hash: str | None, secret: str) -> bool:
        if len(secret) > MAX_LENGTH:
            return False
        try:
            return _HASHER.verify(stored_hash or _DUMMY, secret) and stored_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return _HASHER.check_needs_rehash(stored_hash)
