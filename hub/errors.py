"""The hub's one error tree.

Every failure the hub can report is a ``HubError`` carrying a machine-readable ``reason`` code
and a human ``detail``. Library errors (lxml, httpx, zeep, SQLAlchemy) are translated into this
tree at the boundary where they occur, ``raise ... from exc``.

    HubError
    ├── ConfigError                     bad settings, routing table or agreement file
    ├── InputError                      the caller sent something we will not accept (4xx)
    │   ├── MalformedXml                  not well-formed XML
    │   ├── HostileXml                    DOCTYPE/entities, too deep
    │   ├── PayloadTooLarge               over the size limit
    │   ├── UnsupportedMediaType          not application/xml
    │   ├── SchemaInvalid                 does not match the type's XSD
    │   ├── UnknownMessageType            no such type/version in the registry
    │   ├── InvalidIdentityNumber         personnummer / samordningsnummer / CPR check failed
    │   ├── SubjectMismatch               the body names other persons than the header
    │   ├── RoutingError                  no destination for (type, district), recipient not routed
    │   └── IdempotencyConflict           same message id, different content
    ├── AuthenticationError             no, wrong or expired bearer token
    ├── Forbidden                       known caller, outside what it may do (another district)
    ├── NotFound                        no such message, delivery, agreement, …
    ├── Conflict                        the change clashes with the stored state (409)
    ├── ContractRefusal                 no active agreement allows it (default deny)
    ├── GuardUnavailable                agreement store, key store or audit cannot be reached:
    │                                     the hub refuses rather than letting data through
    ├── CryptoError                     decryption failed (tampered ciphertext, wrong binding)
    │   └── KeyShredded                   the key version was destroyed on purpose
    │       └── RetentionEnded                  one message's key, at the end of its retention
    ├── AuditIntegrityError             the audit chain does not verify
    └── DeliveryError                   an adapter could not deliver
        ├── TransientDeliveryError        try again later (down, 503, timeout, reset)
        └── PermanentDeliveryError        will never succeed as sent (4xx, SOAP client fault)

``ERROR_TABLE`` maps each class to its HTTP status and to what the delivery engine does with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class HubError(Exception):
    """Root of every error the hub reports. ``reason`` is stable and machine-readable."""

    reason: str = "hub_error"

    def __init__(self, detail: str, *, reason: str | None = None, **context: object) -> None:
        super().__init__(detail)
        self.detail = detail
        if reason is not None:
            self.reason = reason
        self.context: dict[str, object] = context

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


class ConfigError(HubError):
    reason = "config_invalid"


class InputError(HubError):
    reason = "input_invalid"


class MalformedXml(InputError):
    reason = "malformed_xml"


class HostileXml(InputError):
    reason = "hostile_xml"


class PayloadTooLarge(InputError):
    reason = "payload_too_large"


class UnsupportedMediaType(InputError):
    reason = "unsupported_media_type"


class SchemaInvalid(InputError):
    reason = "schema_invalid"


class UnknownMessageType(InputError):
    reason = "unknown_message_type"


class InvalidIdentityNumber(InputError):
    reason = "invalid_identity_number"


class SubjectMismatch(InputError):
    reason = "subject_mismatch"


class RoutingError(InputError):
    reason = "no_route"


class IdempotencyConflict(InputError):
    reason = "idempotency_conflict"


class TimeReportRefused(InputError):
    """A batch of time reports refused as a whole; ``findings`` names each visit's problem."""

    reason = "time_report_refused"


class AuthenticationError(HubError):
    reason = "unauthenticated"


class Forbidden(HubError):
    """The caller is known but may not do this, e.g. an administrator importing an agreement
    of a district it does not act for. Not a ``ContractRefusal``: no agreement is involved."""

    reason = "forbidden"


class NotFound(HubError):
    reason = "not_found"


class Conflict(HubError):
    reason = "conflict"


class ContractRefusal(HubError):
    """No active agreement allows this. ``reason`` is one of the refusal codes of contracts/."""

    reason = "no_agreement"


class GuardUnavailable(HubError):
    reason = "guard_unavailable"


class CryptoError(HubError):
    reason = "decryption_failed"


class KeyShredded(CryptoError):
    reason = "key_shredded"


class RetentionEnded(KeyShredded):
    """A message's own key was destroyed by the retention job: its payload is gone for good.

    A ``KeyShredded``, so every reader that skips erased state skips this too."""

    reason = "retention_ended"


class AuditIntegrityError(HubError):
    reason = "audit_integrity"


class DeliveryError(HubError):
    reason = "delivery_failed"


class TransientDeliveryError(DeliveryError):
    reason = "destination_unavailable"


class PermanentDeliveryError(DeliveryError):
    reason = "destination_rejected"


class OnDelivery(Enum):
    """What the delivery engine does when an attempt ends in this error."""

    RETRY = "retry"
    DEAD = "dead"
    REFUSE = "refuse"


@dataclass(frozen=True)
class ErrorPolicy:
    http_status: int
    on_delivery: OnDelivery


# Most specific class first: ``policy_for`` walks the MRO, so subclasses inherit their parent's
# row unless they have their own.
ERROR_TABLE: dict[type[HubError], ErrorPolicy] = {
    PayloadTooLarge: ErrorPolicy(413, OnDelivery.DEAD),
    UnsupportedMediaType: ErrorPolicy(415, OnDelivery.DEAD),
    MalformedXml: ErrorPolicy(400, OnDelivery.DEAD),
    HostileXml: ErrorPolicy(400, OnDelivery.DEAD),
    IdempotencyConflict: ErrorPolicy(409, OnDelivery.DEAD),
    InputError: ErrorPolicy(422, OnDelivery.DEAD),
    AuthenticationError: ErrorPolicy(401, OnDelivery.DEAD),
    Forbidden: ErrorPolicy(403, OnDelivery.DEAD),
    NotFound: ErrorPolicy(404, OnDelivery.DEAD),
    Conflict: ErrorPolicy(409, OnDelivery.DEAD),
    ContractRefusal: ErrorPolicy(403, OnDelivery.REFUSE),
    GuardUnavailable: ErrorPolicy(503, OnDelivery.RETRY),
    KeyShredded: ErrorPolicy(410, OnDelivery.DEAD),
    CryptoError: ErrorPolicy(500, OnDelivery.DEAD),
    AuditIntegrityError: ErrorPolicy(500, OnDelivery.RETRY),
    TransientDeliveryError: ErrorPolicy(502, OnDelivery.RETRY),
    PermanentDeliveryError: ErrorPolicy(502, OnDelivery.DEAD),
    DeliveryError: ErrorPolicy(502, OnDelivery.RETRY),
    ConfigError: ErrorPolicy(500, OnDelivery.DEAD),
    HubError: ErrorPolicy(500, OnDelivery.RETRY),
}


def policy_for(error: HubError) -> ErrorPolicy:
    for cls in type(error).__mro__:
        if cls in ERROR_TABLE:
            return ERROR_TABLE[cls]
    raise AssertionError("HubError is in ERROR_TABLE")  # pragma: no cover


_AUDIT_REASON_WIDTH = 200  # the audit trail's reason column (audit.entry.FIELD_LIMITS)


def audit_reason(error: HubError) -> str:
    """What a ``refused`` audit entry records: the reason code and, for a refusal by the
    agreements, the whole decision the sender was not told (cut to the trail's column)."""
    decision = error.context.get("decision")
    if not isinstance(decision, str):
        return error.reason
    full = f"{error.reason}: {decision}"
    return full if len(full) <= _AUDIT_REASON_WIDTH else full[: _AUDIT_REASON_WIDTH - 1] + "…"
