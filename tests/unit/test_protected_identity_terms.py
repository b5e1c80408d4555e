"""The agreement's term for persons with protected identity: optional in files (agreements
written before it stay valid and allow nothing for such persons), a subset of the purposes,
and the pure confidentiality decision."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from contracts import errors as codes
from contracts.errors import InvalidAgreementError
from contracts.fileformat import dump_agreements
from contracts.model import Agreement
from contracts.policy import Decision, decide_protected_identity
from tests.unit.test_contracts_fileformat import EXAMPLE, MINIMAL, parse, refused
from tests.unit.test_contracts_policy import END, MIRROR, NOW


def test_files_without_the_term_stay_valid_and_allow_no_protected_person() -> None:
    (agreement,) = parse(MINIMAL)
    assert agreement.protected_identity_purposes == frozenset()
    assert "protected_identity_purposes" not in dump_agreements([agreement])
    assert EXAMPLE.exists()


def test_the_term_round_trips_and_must_name_the_agreements_own_purposes() -> None:
    text = MINIMAL + 'protected_identity_purposes = ["case-referral"]\n'
    (agreement,) = parse(text)
    assert agreement.protected_identity_purposes == frozenset({"case-referral"})
    assert parse(dump_agreements([agreement])) == [agreement]
    problem = refused(MINIMAL + 'protected_identity_purposes = ["marketing"]\n')
    assert "protected_identity_purposes" in str(problem)
    with pytest.raises(InvalidAgreementError):
        replace(MIRROR, protected_identity_purposes=frozenset({"other"}))


def decide(
    agreement: Agreement = MIRROR,
    *,
    sender: str = "paraplyet-sodermalm",
    message_type: str = "client.summary",
    at: datetime = NOW,
) -> Decision:
    return decide_protected_identity(
        [agreement],
        district="sdn-sodermalm",
        sender=sender,
        purpose="answer-enquiry",
        message_type=message_type,
        at=at,
    )


def test_refused_by_default_allowed_only_for_the_listed_purpose_in_force() -> None:
    refusal = decide()
    assert (refusal.allowed, refusal.reason) == (False, codes.PROTECTED_IDENTITY)
    allowing = replace(MIRROR, protected_identity_purposes=frozenset({"answer-enquiry"}))
    allowed = decide(allowing)
    assert allowed.allowed
    assert allowed.protected_identity
    assert not decide(allowing, sender="someone-else").allowed
    assert not decide(allowing, message_type="case.referral").allowed
    assert not decide(allowing, at=END).allowed
    revoked = replace(allowing, status="revoked", revoked_reason="ended")
    assert not decide(revoked).allowed
