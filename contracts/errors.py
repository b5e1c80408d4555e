"""Errors of ``contracts/`` and the policy's refusal codes.

``contracts`` does not import the hub, so it has its own small error tree; the hub translates it
at its boundary (``raise ... from exc``) into ``hub.errors``:

    ContractsError
    ├── InvalidAgreementError           an agreement breaks an invariant -> ConfigError/InputError
    ├── AgreementFileError              an agreement file is refused     -> ConfigError
    ├── AgreementConflictError          id exists, revoked, stale version -> a 409 conflict
    ├── AgreementNotFoundError          no such agreement or version     -> NotFound
    └── AgreementStoreUnavailableError  the store cannot be read         -> GuardUnavailable

A refusal by the policy is not an exception here but a ``Decision`` value whose ``reason`` is one
of ``REFUSAL_CODES``; the hub raises ``ContractRefusal(reason=...)`` from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

ALLOWED: Final = "allowed"

NO_AGREEMENT: Final = "no_agreement"
REVOKED: Final = "revoked"
NOT_YET_VALID: Final = "not_yet_valid"
EXPIRED: Final = "expired"
SENDER_NOT_ALLOWED: Final = "sender_not_allowed"
RECIPIENT_NOT_ALLOWED: Final = "recipient_not_allowed"
TYPE_NOT_ALLOWED: Final = "type_not_allowed"
PURPOSE_NOT_ALLOWED: Final = "purpose_not_allowed"
CATEGORY_NOT_ALLOWED: Final = "category_not_allowed"
CONSENT_MISSING: Final = "consent_missing"
# A person with protected identity, and no agreement that allows it for this purpose.
PROTECTED_IDENTITY: Final = "protected_identity"

# Every code a refusing ``Decision`` can carry.
REFUSAL_CODES: Final = frozenset(
    {
        NO_AGREEMENT,
        REVOKED,
        NOT_YET_VALID,
        EXPIRED,
        SENDER_NOT_ALLOWED,
        RECIPIENT_NOT_ALLOWED,
        TYPE_NOT_ALLOWED,
        PURPOSE_NOT_ALLOWED,
        CATEGORY_NOT_ALLOWED,
        CONSENT_MISSING,
        PROTECTED_IDENTITY,
    }
)


class ContractsError(Exception):
    """Root of the errors raised by ``contracts/``."""


class InvalidAgreementError(ContractsError, ValueError):
    """An agreement breaks an invariant. ``problems`` pairs each field name with what is wrong."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems: tuple[tuple[str, str], ...] = tuple(problems)
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems))


@dataclass(frozen=True)
class FileProblem:
    """One thing wrong in an agreement file. ``table`` is e.g. ``agreement[2]`` (1-based)."""

    message: str
    key: str | None = None
    line: int | None = None
    table: str | None = None

    def __str__(self) -> str:
        where = ", ".join(
            part
            for part in (
                f"line {self.line}" if self.line is not None else "",
                f"[{self.table}]" if self.table else "",
                f"key {self.key!r}" if self.key else "",
            )
            if part
        )
        return f"{where}: {self.message}" if where else self.message


class AgreementFileError(ContractsError, ValueError):
    """An agreement file was refused. Lists every problem found; ``key``/``line`` are the first."""

    def __init__(self, source: str, problems: list[FileProblem]) -> None:
        if not problems:
            raise ValueError("AgreementFileError needs at least one problem")
        self.source = source
        self.problems: tuple[FileProblem, ...] = tuple(problems)
        self.key = problems[0].key
        self.line = problems[0].line
        self.table = problems[0].table
        lines = "\n".join(f"  {problem}" for problem in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) in agreement file:\n{lines}")


class AgreementConflictError(ContractsError):
    """The change does not fit the stored history (id exists, already revoked, stale version)."""


class AgreementNotFoundError(ContractsError, LookupError):
    """No agreement (or no such version of it) is stored."""


class AgreementStoreUnavailableError(ContractsError):
    """The agreement store could not be read. Callers must refuse, never allow, on this."""
