"""The policy: default deny, every refusal code, exact validity bounds, most specific refusal."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from contracts import errors as codes
from contracts.model import Agreement
from contracts.policy import Decision, decide_delivery, decide_ingest, message_categories

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2028, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
TICK = timedelta(microseconds=1)

MIRROR = Agreement(
    id="PUB-2026-014",
    version=2,
    district="sdn-sodermalm",
    controller_name="Södermalms stadsdelsnämnd",
    dpo_contact="dpo@example.org",
    processor="aldre-direkt",
    senders=frozenset({"paraplyet-sodermalm", "ubw-stockholm"}),
    recipients=frozenset({"aldre-direkt"}),
    purposes=frozenset({"answer-enquiry"}),
    message_types=frozenset({"client.summary", "invoice.status"}),
    categories=frozenset({"identity", "contact", "case", "decisions", "fees", "invoices"}),
    subject_categories=frozenset({"elderly care clients"}),
    valid_from=START,
    valid_to=END,
    retention_days=30,
    legal_reference="Dnr 1/2026",
)


def ingest(agreements: Sequence[Agreement], **overrides: object) -> Decision:
    request: dict[str, object] = {
        "district": "sdn-sodermalm",
        "sender": "paraplyet-sodermalm",
        "purpose": "answer-enquiry",
        "message_type": "client.summary",
        "categories": frozenset({"identity", "case"}),
        "consent": False,
        "at": NOW,
    }
    request.update(overrides)
    return decide_ingest(agreements, **request)  # type: ignore[arg-type]


def deliver(agreements: Sequence[Agreement], **overrides: object) -> Decision:
    request: dict[str, object] = {
        "district": "sdn-sodermalm",
        "recipient": "aldre-direkt",
        "purpose": "answer-enquiry",
        "message_type": "client.summary",
        "categories": frozenset({"identity", "decisions"}),
        "at": NOW,
    }
    request.update(overrides)
    return decide_delivery(agreements, **request)  # type: ignore[arg-type]


def test_allowed_names_the_agreement() -> None:
    decision = ingest([MIRROR])
    assert decision == Decision(True, "allowed", "PUB-2026-014@2", "allowed by PUB-2026-014@2")
    assert deliver([MIRROR]).allowed


def test_no_agreements_is_a_refusal() -> None:
    decision = ingest([])
    assert (decision.allowed, decision.reason, decision.agreement_ref) == (
        False,
        "no_agreement",
        None,
    )
    assert "sdn-sodermalm" in decision.detail


def test_another_districts_agreement_does_not_count() -> None:
    decision = ingest([MIRROR], district="sdn-kungsholmen")
    assert decision.reason == codes.NO_AGREEMENT
    assert deliver([MIRROR], district="sdn-kungsholmen").reason == codes.NO_AGREEMENT


@pytest.mark.parametrize(
    ("overrides", "code", "named"),
    [
        ({"sender": "lifecare-x"}, codes.SENDER_NOT_ALLOWED, "'lifecare-x'"),
        ({"message_type": "case.referral"}, codes.TYPE_NOT_ALLOWED, "'case.referral'"),
        ({"purpose": "marketing"}, codes.PURPOSE_NOT_ALLOWED, "'marketing'"),
        ({"categories": frozenset({"identity", "health"})}, codes.CATEGORY_NOT_ALLOWED, "health"),
        ({"categories": frozenset({"fees"}), "consent": False}, codes.CONSENT_MISSING, "fees"),
    ],
)
def test_each_ingest_refusal(overrides: dict[str, object], code: str, named: str) -> None:
    decision = ingest([MIRROR], **overrides)
    assert not decision.allowed
    assert decision.reason == code
    assert decision.agreement_ref == "PUB-2026-014@2"
    assert named in decision.detail


def test_category_refusal_names_only_the_missing_categories() -> None:
    decision = ingest([MIRROR], categories=frozenset({"identity", "health", "time"}))
    assert decision.detail.startswith(
        "PUB-2026-014@2 does not allow categories health, time (covers: case, contact,"
    )


def test_consent_unlocks_consent_categories() -> None:
    assert ingest([MIRROR], categories=frozenset({"identity", "invoices"}), consent=True).allowed
    refused = ingest([MIRROR], categories=frozenset({"identity", "invoices", "fees"}))
    assert refused.reason == codes.CONSENT_MISSING
    assert "fees, invoices" in refused.detail


def test_consent_requirement_follows_the_agreement() -> None:
    relaxed = replace(MIRROR, consent_required=frozenset())
    assert ingest([relaxed], categories=frozenset({"fees"}), consent=False).allowed


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"recipient": "ubw-stockholm"}, codes.RECIPIENT_NOT_ALLOWED),
        ({"message_type": "payment.deferral"}, codes.TYPE_NOT_ALLOWED),
        ({"purpose": "statistics"}, codes.PURPOSE_NOT_ALLOWED),
        ({"categories": frozenset({"time"})}, codes.CATEGORY_NOT_ALLOWED),
    ],
)
def test_each_delivery_refusal(overrides: dict[str, object], code: str) -> None:
    assert deliver([MIRROR], **overrides).reason == code


def test_revoked_agreement_stops_a_waiting_delivery() -> None:
    assert deliver([MIRROR]).allowed
    revoked = replace(MIRROR, version=3, status="revoked", revoked_reason="processor replaced")
    decision = deliver([revoked])
    assert (decision.allowed, decision.reason, decision.agreement_ref) == (
        False,
        "revoked",
        "PUB-2026-014@3",
    )
    assert "processor replaced" in decision.detail
    assert ingest([revoked]).reason == codes.REVOKED


@pytest.mark.parametrize(
    ("at", "reason"),
    [
        (START - TICK, codes.NOT_YET_VALID),
        (START, codes.ALLOWED),
        (START + TICK, codes.ALLOWED),
        (END - TICK, codes.ALLOWED),
        (END, codes.EXPIRED),
        (END + TICK, codes.EXPIRED),
    ],
)
def test_validity_bounds_are_exact(at: datetime, reason: str) -> None:
    assert ingest([MIRROR], at=at).reason == reason
    assert deliver([MIRROR], at=at).reason == reason


def test_open_ended_agreement_never_expires() -> None:
    assert ingest([replace(MIRROR, valid_to=None)], at=datetime(2999, 1, 1, tzinfo=UTC)).allowed


def test_any_allowing_agreement_is_enough() -> None:
    referrals = replace(
        MIRROR,
        id="PUB-2026-015",
        version=1,
        senders=frozenset({"aldre-direkt"}),
        purposes=frozenset({"case-referral"}),
        message_types=frozenset({"case.referral"}),
    )
    decision = ingest(
        [MIRROR, referrals],
        sender="aldre-direkt",
        purpose="case-referral",
        message_type="case.referral",
    )
    assert (decision.allowed, decision.agreement_ref) == (True, "PUB-2026-015@1")


def test_most_specific_refusal_wins_in_any_order() -> None:
    other_sender = replace(MIRROR, id="PUB-2026-020", senders=frozenset({"procapita-x"}))
    other_type = replace(MIRROR, id="PUB-2026-021", message_types=frozenset({"case.referral"}))
    wrong_purpose = replace(MIRROR, id="PUB-2026-022", purposes=frozenset({"statistics"}))
    narrow = replace(MIRROR, id="PUB-2026-023", categories=frozenset({"identity"}))
    revoked = replace(MIRROR, id="PUB-2025-001", status="revoked", revoked_reason="ended")
    expired = replace(
        MIRROR, id="PUB-2024-007", valid_from=START - timedelta(days=400), valid_to=START
    )
    ladder = [
        (other_sender, codes.SENDER_NOT_ALLOWED),
        (other_type, codes.TYPE_NOT_ALLOWED),
        (wrong_purpose, codes.PURPOSE_NOT_ALLOWED),
        (narrow, codes.CATEGORY_NOT_ALLOWED),
        (revoked, codes.REVOKED),
        (expired, codes.EXPIRED),
    ]
    for top in range(1, len(ladder) + 1):
        candidates = [agreement for agreement, _code in ladder[:top]]
        best, code = ladder[top - 1]
        for order in (candidates, candidates[::-1]):
            decision = ingest(order)
            assert (decision.reason, decision.agreement_ref) == (code, best.ref)
            for other, other_code in ladder[: top - 1]:
                assert f"{other.ref}: {other_code}" in decision.detail


def test_revoked_agreement_outranks_an_unrelated_one_at_delivery() -> None:
    referrals = replace(MIRROR, id="PUB-2026-015", recipients=frozenset({"sdk-sodermalm"}))
    revoked = replace(MIRROR, version=3, status="revoked", revoked_reason="processor replaced")
    decision = deliver([revoked, referrals])
    assert (decision.reason, decision.agreement_ref) == (codes.REVOKED, "PUB-2026-014@3")


def test_consent_is_asked_only_of_an_agreement_in_force() -> None:
    revoked = replace(MIRROR, status="revoked", revoked_reason="ended")
    assert ingest([revoked], categories=frozenset({"fees"})).reason == codes.REVOKED
    early = ingest([MIRROR], categories=frozenset({"fees"}), at=START - TICK)
    assert early.reason == codes.NOT_YET_VALID


def test_not_yet_valid_successor_beats_expired_predecessor() -> None:
    old = replace(MIRROR, id="PUB-2025-001", valid_from=START - timedelta(days=365), valid_to=START)
    new = replace(MIRROR, id="PUB-2026-030", valid_from=START + timedelta(days=1), valid_to=None)
    decision = ingest([old, new], at=START + timedelta(hours=1))
    assert (decision.reason, decision.agreement_ref) == (codes.NOT_YET_VALID, "PUB-2026-030@2")


def test_refusal_codes_are_exactly_the_agreed_ones() -> None:
    agreed = {
        "no_agreement", "expired", "not_yet_valid", "purpose_not_allowed",
        "category_not_allowed", "sender_not_allowed", "recipient_not_allowed",
        "consent_missing", "type_not_allowed", "revoked", "protected_identity",
    }  # fmt: skip
    assert agreed == codes.REFUSAL_CODES


def test_naive_time_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ingest([MIRROR], at=datetime(2026, 6, 1))


def test_message_categories_are_the_types_plus_extras() -> None:
    assert message_categories(["identity", "case"], ["health"]) == {"identity", "case", "health"}
    assert message_categories(("identity",)) == frozenset({"identity"})


# -- what the sender is told: its own reason, at most its own agreement ---------------------

# Another agreement of the district, with other parties: nothing of it may reach the sender.
SECRET = replace(
    MIRROR,
    id="PUB-2026-099",
    version=1,
    senders=frozenset({"lifecare-hemlig"}),
    recipients=frozenset({"procapita-hemlig"}),
    purposes=frozenset({"hemlig-purpose"}),
    message_types=frozenset({"hemlig.type"}),
)
SECRETS = (SECRET.ref, "lifecare-hemlig", "procapita-hemlig", "hemlig", "also", "senders:")


@pytest.mark.parametrize(
    ("overrides", "code", "own_agreement"),
    [
        ({"sender": "okand-app"}, codes.SENDER_NOT_ALLOWED, False),
        ({"message_type": "case.referral"}, codes.TYPE_NOT_ALLOWED, True),
        ({"purpose": "marketing"}, codes.PURPOSE_NOT_ALLOWED, True),
        ({"categories": frozenset({"identity", "health"})}, codes.CATEGORY_NOT_ALLOWED, True),
        ({"categories": frozenset({"fees"})}, codes.CONSENT_MISSING, True),
        ({"at": START - TICK}, codes.NOT_YET_VALID, True),
        ({"at": END}, codes.EXPIRED, True),
    ],
)
def test_the_sender_is_told_its_reason_and_only_its_own_agreement(
    overrides: dict[str, object], code: str, own_agreement: bool
) -> None:
    decision = ingest([SECRET, MIRROR], **overrides)
    assert decision.reason == code
    told = decision.party_detail
    assert told
    for secret in SECRETS:
        assert secret not in told, (secret, told)
    assert "ubw-stockholm" not in told  # the other sender of its own agreement
    assert (MIRROR.ref in told) is own_agreement
    # The whole decision, for the audit trail, still says everything.
    assert SECRET.ref in decision.detail


def test_a_sender_no_agreement_names_learns_no_agreement() -> None:
    decision = ingest([SECRET, MIRROR], sender="okand-app")
    assert (
        decision.party_detail == "no agreement of district sdn-sodermalm allows sender 'okand-app'"
    )
    assert "(senders: lifecare-hemlig)" in decision.detail


def test_a_revocation_is_told_without_its_reason() -> None:
    revoked = replace(MIRROR, status="revoked", revoked_reason="processor replaced by Hemlig AB")
    decision = ingest([SECRET, revoked])
    assert decision.party_detail == f"{MIRROR.ref} was revoked"
    assert "processor replaced" in decision.detail


def test_a_delivery_refusal_names_the_agreement_only_to_its_own_sender() -> None:
    revoked = replace(MIRROR, status="revoked", revoked_reason="ended")
    told_to_party = deliver([revoked], sender="paraplyet-sodermalm").party_detail
    assert told_to_party == f"recipient 'aldre-direkt': {MIRROR.ref} was revoked"
    for sender in ("lifecare-hemlig", None):
        told = deliver([revoked], sender=sender).party_detail
        assert told == "recipient 'aldre-direkt': the agreement was revoked"
    unknown = deliver([SECRET, MIRROR], recipient="procapita-x", sender="paraplyet-sodermalm")
    assert unknown.party_detail == (
        "no agreement of district sdn-sodermalm allows recipient 'procapita-x'"
    )
    assert "(recipients: procapita-hemlig)" in unknown.detail
