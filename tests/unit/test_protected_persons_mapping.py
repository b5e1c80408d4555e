"""A case system's list of protected persons (``GetProtectedClients``) to the hub's
``ProtectedPerson``s, without any network: taken whole or refused, never a number in an error.
Every number here is fictional (Tolvan Tolvansson's test number and made-up CPR digits)."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.case_management.adapter import CaseManagementAdapter
from adapters.case_management.mapping import (
    OID_CPR,
    OID_PERSONNUMMER,
    OID_SAMORDNINGSNUMMER,
    protected_persons_result,
)
from hub.envelope import ProtectedPerson
from hub.errors import ConfigError, PermanentDeliveryError
from hub.ports import ProtectedPersonsSource
from tests.adapter_contract import FICTIONAL_PERSONNUMMER

SAMORDNING = "191212721218"  # day + 60: a samordningsnummer (shape only; checked by the hub)
CPR = "0101011234"


def entry(number: str, oid: str, kind: str = "protected_registration") -> dict[str, Any]:
    return {"subjectId": {"id": number, "type": oid}, "protectedIdentity": kind}


def answer(*entries: dict[str, Any], total: int | None = None) -> dict[str, Any]:
    listed = list(entries)
    return {"total": len(listed) if total is None else total, "protectedClient": listed}


def test_each_kind_of_number_and_protection_is_mapped() -> None:
    got = protected_persons_result(
        answer(
            entry(FICTIONAL_PERSONNUMMER, OID_PERSONNUMMER),
            entry(SAMORDNING, OID_SAMORDNINGSNUMMER, "confidentiality_marking"),
            entry(CPR, OID_CPR, "confidentiality_marking"),
        )
    )
    assert got == [
        ProtectedPerson(FICTIONAL_PERSONNUMMER, "se", "protected_registration"),
        ProtectedPerson(SAMORDNING, "se", "confidentiality_marking"),
        ProtectedPerson(CPR, "dk", "confidentiality_marking"),
    ]
    assert FICTIONAL_PERSONNUMMER not in repr(got)


def test_an_empty_list_means_nobody_is_marked() -> None:
    assert protected_persons_result({"total": 0, "protectedClient": None}) == []


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        (answer(entry(FICTIONAL_PERSONNUMMER, OID_PERSONNUMMER), total=2), "total"),
        (answer(entry(FICTIONAL_PERSONNUMMER, OID_PERSONNUMMER), total=0), "total"),
        (answer(entry(FICTIONAL_PERSONNUMMER, "1.2.3")), "id type"),
        (answer(entry(FICTIONAL_PERSONNUMMER, OID_PERSONNUMMER, "vip")), "kind"),
        (answer(entry(CPR, OID_PERSONNUMMER)), "does not fit"),
        (answer(entry(FICTIONAL_PERSONNUMMER, OID_CPR)), "does not fit"),
        (
            answer(
                entry(FICTIONAL_PERSONNUMMER, OID_PERSONNUMMER),
                entry(FICTIONAL_PERSONNUMMER, OID_PERSONNUMMER, "confidentiality_marking"),
            ),
            "second time",
        ),
    ],
)
def test_a_list_that_does_not_fit_is_refused_whole(bad: dict[str, Any], problem: str) -> None:
    # The hub lifts every mark a list leaves out: a doubtful list must change nothing.
    with pytest.raises(PermanentDeliveryError) as refused:
        protected_persons_result(bad)
    assert refused.value.reason == "response_invalid"
    assert problem in refused.value.detail
    assert FICTIONAL_PERSONNUMMER not in str(refused.value)
    assert CPR not in str(refused.value)


def test_the_case_adapter_is_a_source_and_needs_its_operation() -> None:
    assert issubclass(CaseManagementAdapter, ProtectedPersonsSource)
    adapter = CaseManagementAdapter("case-x", {"url": "http://127.0.0.1:9/case-management/1"})
    adapter._service = object()  # as if opened with a WSDL that lacks GetProtectedClients
    with pytest.raises(ConfigError) as lacking:
        adapter.protected_persons("sdn-sodermalm")
    assert lacking.value.reason == "operation_not_offered"
