"""The policy decision: may this message enter, may this delivery go? Default deny.

A message passes only where an agreement of its district, in force at that instant and not
revoked, names the sender (at ingest) or the recipient (at delivery), the message type, the
purpose, and every data category the message carries; categories the agreement marks as needing
consent also need the person's recorded consent. The check runs at ingest and again before every
delivery attempt, so a revoked or expired agreement stops a delivery that is still waiting.

With several agreements, any one that allows is enough. When none allows, the refusal reported
is that of the agreement that got furthest through the checks, in this order: sender/recipient,
message type, purpose, categories (does the agreement cover this message at all?), then
revoked, expired, not yet valid (is it in force?), then consent. So when the agreement that
covers a waiting message is revoked, the refusal says ``revoked``, not that some unrelated
agreement lacks the recipient. ``detail`` names what was missing, then briefly how the other
agreements refused: the whole decision, for the audit trail and the data-protection officer.
``party_detail`` is what the sending system is told (a 403, a delivery's status): its reason
and what of its own message was not allowed, naming an agreement only where the sender is a
party to it, and never whom another agreement allows.

Validity is exact and half-open: ``valid_from <= at < valid_to`` (``valid_to`` exclusive).
Functions here are pure: the caller passes the agreements (from ``AgreementCache``) and the time.
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from dataclasses import dataclass
from datetime import datetime

from contracts import errors as codes
from contracts.model import Agreement


@dataclass(frozen=True)
class Decision:
    """The outcome. ``reason`` is ``"allowed"`` or one of ``contracts.errors.REFUSAL_CODES``.

    ``detail`` is the whole decision (for the audit trail); ``party_detail`` the part of a
    refusal the sending system may be told (empty when allowed: there is nothing to withhold).
    """

    allowed: bool
    reason: str
    agreement_ref: str | None
    detail: str
    party_detail: str = ""
    # Allowed for a person with protected identity (``decide_protected_identity`` said yes):
    # the access is audited with the reason ``protected_identity`` for the log review.
    protected_identity: bool = False


def message_categories(type_categories: Iterable[str], extra: Iterable[str] = ()) -> frozenset[str]:
    """The categories a message carries: its type's (from the registry) plus any the caller adds."""
    return frozenset(type_categories) | frozenset(extra)


def decide_ingest(
    agreements: Iterable[Agreement],
    *,
    district: str,
    sender: str,
    purpose: str,
    message_type: str,
    categories: Set[str],
    consent: bool,
    at: datetime,
) -> Decision:
    """May ``sender`` bring this message into the hub for ``district`` at ``at``?"""
    request = _Request(
        district, "sender", sender, purpose, message_type, categories, consent, at, sender
    )
    return _decide(agreements, request)


def decide_delivery(
    agreements: Iterable[Agreement],
    *,
    district: str,
    recipient: str,
    purpose: str,
    message_type: str,
    categories: Set[str],
    at: datetime,
    sender: str | None = None,
) -> Decision:
    """May this message of ``district`` go to ``recipient`` at ``at``?

    Consent was checked at ingest; here the agreement must still be in force and still name the
    recipient, type, purpose and categories. ``sender`` is the message's sender, where known:
    its ``party_detail`` names the refusing agreement only if the sender is a party to it.
    """
    request = _Request(
        district, "recipient", recipient, purpose, message_type, categories, None, at, sender
    )
    return _decide(agreements, request)


def decide_protected_identity(
    agreements: Iterable[Agreement],
    *,
    district: str,
    sender: str,
    purpose: str,
    message_type: str,
    at: datetime,
) -> Decision:
    """May ``sender`` look up, or send a message about, a person with protected identity
    (sekretessmarkering, skyddad folkbokföring) for ``purpose``?

    Only where an agreement of the district in force at ``at`` names the sender, the type and
    the purpose, and lists the purpose under ``protected_identity_purposes``: the ordinary
    decision must have allowed the access already; this is the confidentiality check on top.
    """
    for a in agreements:
        in_force = a.status == "active" and a.is_valid_at(at)
        if (
            a.district == district
            and in_force
            and sender in a.senders
            and message_type in a.message_types
            and purpose in a.protected_identity_purposes
        ):
            return Decision(
                True,
                codes.ALLOWED,
                a.ref,
                f"protected identity allowed by {a.ref} for purpose {purpose!r}",
                protected_identity=True,
            )
    return Decision(
        False,
        codes.PROTECTED_IDENTITY,
        None,
        f"the person has protected identity and no agreement of district {district} in force "
        f"allows {sender!r} purpose {purpose!r} for such persons (protected_identity_purposes)",
        "the person has protected identity; the agreement does not allow this purpose for such "
        "persons",
    )


@dataclass(frozen=True)
class _Request:
    district: str
    role: str  # "sender" | "recipient"
    party: str
    purpose: str
    message_type: str
    categories: Set[str]
    consent: bool | None  # None: not checked (delivery)
    at: datetime
    told: str | None  # the sending system, who is told the refusal; None: unknown


@dataclass(frozen=True)
class _Refusal:
    stage: int  # how far the agreement got; higher is more specific
    code: str
    agreement: Agreement
    detail: str


def _decide(agreements: Iterable[Agreement], request: _Request) -> Decision:
    if request.at.tzinfo is None or request.at.utcoffset() is None:
        raise ValueError("the decision time must be timezone-aware")
    refusals: list[_Refusal] = []
    for agreement in agreements:
        if agreement.district != request.district:
            continue
        refusal = _check(agreement, request)
        if refusal is None:
            return Decision(True, codes.ALLOWED, agreement.ref, f"allowed by {agreement.ref}")
        refusals.append(refusal)
    if not refusals:
        return Decision(
            False,
            codes.NO_AGREEMENT,
            None,
            f"no agreement of district {request.district} is on record",
            f"no agreement of district {request.district} allows this",
        )
    best = max(refusals, key=lambda r: r.stage)  # first of the furthest, in input order
    others = [f"{r.agreement.ref}: {r.code}" for r in refusals if r is not best]
    detail = best.detail + (f" (also {'; '.join(others)})" if others else "")
    return Decision(False, best.code, best.agreement.ref, detail, _party_detail(best, request))


# What the sender is told of each refusal after the first check (``_party_detail``): ``who`` is
# the agreement's ref if the sender is a party to it, ``r`` the request, ``uncovered`` the
# categories the agreement does not cover and ``needs_consent`` those that need consent.
_TOLD = {
    codes.TYPE_NOT_ALLOWED: "{who} does not allow message type {r.message_type!r}",
    codes.PURPOSE_NOT_ALLOWED: "{who} does not allow purpose {r.purpose!r}",
    codes.CATEGORY_NOT_ALLOWED: "{who} does not cover categories {uncovered}",
    codes.REVOKED: "{who} was revoked",
    codes.EXPIRED: "{who} has ended",
    codes.NOT_YET_VALID: "{who} is not yet in force",
    codes.CONSENT_MISSING: (
        "{who} needs the person's recorded consent for {needs_consent}; none was recorded"
    ),
}


def _party_detail(refusal: _Refusal, r: _Request) -> str:
    """What the sender may learn of ``refusal``: what of its message was not allowed, and the
    agreement only if it is a party to it. Never another agreement, never whom one allows."""
    a = refusal.agreement
    code = refusal.code
    if code in (codes.SENDER_NOT_ALLOWED, codes.RECIPIENT_NOT_ALLOWED):
        # Furthest refusal at the first check: no agreement of the district names the party.
        return f"no agreement of district {r.district} allows {r.role} {r.party!r}"
    who = a.ref if r.told is not None and r.told in a.senders else "the agreement"
    template = _TOLD.get(code)
    if template is None:  # a code added to _check without a text here: say no more than the code
        told = f"refused: {code}"
    else:
        told = template.format(
            who=who,
            r=r,
            uncovered=_names(set(r.categories) - a.categories),
            needs_consent=_names(set(r.categories) & a.consent_required),
        )
    return told if r.role == "sender" else f"recipient {r.party!r}: {told}"


def _check(a: Agreement, r: _Request) -> _Refusal | None:
    """The first check ``a`` fails for ``r``, or ``None`` if it allows.

    Scope first (does this agreement cover this message at all?), then whether it is in force,
    then consent: an agreement that covers the message but was revoked or has expired is the
    most telling refusal, since it is the one that would otherwise have allowed it.
    """
    parties = a.senders if r.role == "sender" else a.recipients
    if r.party not in parties:
        code = codes.SENDER_NOT_ALLOWED if r.role == "sender" else codes.RECIPIENT_NOT_ALLOWED
        return _Refusal(1, code, a, _missing(a, f"{r.role} {r.party!r}", f"{r.role}s", parties))
    if r.message_type not in a.message_types:
        detail = _missing(a, f"message type {r.message_type!r}", "types", a.message_types)
        return _Refusal(2, codes.TYPE_NOT_ALLOWED, a, detail)
    if r.purpose not in a.purposes:
        detail = _missing(a, f"purpose {r.purpose!r}", "purposes", a.purposes)
        return _Refusal(3, codes.PURPOSE_NOT_ALLOWED, a, detail)
    uncovered = set(r.categories) - a.categories
    if uncovered:
        detail = _missing(a, f"categories {_names(uncovered)}", "covers", a.categories)
        return _Refusal(4, codes.CATEGORY_NOT_ALLOWED, a, detail)
    if a.status == "revoked":
        return _Refusal(5, codes.REVOKED, a, f"{a.ref} was revoked: {a.revoked_reason}")
    if a.valid_to is not None and r.at >= a.valid_to:
        return _Refusal(
            6,
            codes.EXPIRED,
            a,
            f"{a.ref} ended at {a.valid_to.isoformat()} (exclusive); "
            f"the time is {r.at.isoformat()}",
        )
    if r.at < a.valid_from:
        # Ranked above ``expired``: of an ended agreement and its not yet started successor,
        # the successor is the one to talk about.
        return _Refusal(
            7,
            codes.NOT_YET_VALID,
            a,
            f"{a.ref} is valid from {a.valid_from.isoformat()}; the time is {r.at.isoformat()}",
        )
    needs_consent = set(r.categories) & a.consent_required
    if needs_consent and r.consent is False:
        return _Refusal(
            8,
            codes.CONSENT_MISSING,
            a,
            f"{a.ref} needs the person's recorded consent for {_names(needs_consent)}; "
            "none was recorded",
        )
    return None


def _missing(a: Agreement, what: str, label: str, allowed: Set[str]) -> str:
    return f"{a.ref} does not allow {what} ({label}: {_names(allowed)})"


def _names(values: Set[str]) -> str:
    return ", ".join(sorted(values)) or "none"
