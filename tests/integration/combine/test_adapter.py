"""The combine adapter against the Combine double over real sockets: the shared contract,
approved time only, Combine's refusals, and the compensation basis."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from adapters.combine.adapter import CombineAdapter
from adapters.doubles.combine_double import CombineDouble
from adapters.doubles.combine_fees import minutes_by_intervention
from hub.demo.fictional import PROVIDERS
from hub.envelope import LookupRequest, OutboundDelivery
from hub.errors import ConfigError, PermanentDeliveryError, TransientDeliveryError
from tests.adapter_contract import (
    AdapterBuilder,
    AdapterContract,
    DeliveryFactory,
    Failure,
    SetFailure,
    StoredDocuments,
    assert_a_timed_out_delivery_is_transient_and_its_redelivery_a_duplicate,
    assert_stopping_the_double_cuts_kept_alive_connections,
    unreachable_url,
)
from tests.integration.combine.conftest import (
    approved_visit,
    combine_delivery,
    stored_by_delivery,
)

CENT = Decimal("0.01")


class TestCombineAdapterContract(AdapterContract):
    @pytest.fixture
    def contract_delivery(self) -> DeliveryFactory:
        return combine_delivery

    @pytest.fixture
    def adapter(self, combine_adapter: CombineAdapter) -> CombineAdapter:
        return combine_adapter

    @pytest.fixture
    def stored_documents(self, double: CombineDouble) -> StoredDocuments:
        return lambda: stored_by_delivery(double)

    @pytest.fixture
    def set_failure(self, double: CombineDouble) -> SetFailure:
        modes: dict[Failure | None, str] = {"transient": "unavailable", "permanent": "reject"}
        return lambda failure: double.set_mode(modes.get(failure, "up"))

    @pytest.fixture
    def unreachable_adapter(self) -> AdapterBuilder:
        url = unreachable_url("")
        return lambda: CombineAdapter("nowhere", {"base_url": url, "timeout": 1, "retries": 1})


def _basis(adapter: CombineAdapter, provider: str, month: str) -> dict[str, object]:
    request = LookupRequest(
        lookup="compensation_basis",
        district="sodermalm",
        purpose="compensation",
        request_id="r-1",
        params={"provider": provider, "month": month},
    )
    return adapter.lookup(request).data


def _with_document(document: bytes) -> OutboundDelivery:
    return replace(combine_delivery(), document=document)


def test_unapproved_time_never_leaves(
    double: CombineDouble, combine_adapter: CombineAdapter
) -> None:
    for status in ("pending", "rejected"):
        with pytest.raises(PermanentDeliveryError) as caught:
            combine_adapter.deliver(_with_document(approved_visit("x", status=status)))
        assert caught.value.reason == "visit_not_approved"
    assert double.stats()["requests"] == 0
    assert double.imports() == {}


def test_combine_s_refusals_name_their_code(
    double: CombineDouble, combine_adapter: CombineAdapter
) -> None:
    first = combine_delivery()
    combine_adapter.deliver(first)
    backwards = (
        first.document.replace(b"ActualEnd>", b"ActualEndX>")
        .replace(b"ActualStart>", b"ActualEnd>")
        .replace(b"ActualEndX>", b"ActualStart>")
    )  # start and end swapped
    with pytest.raises(PermanentDeliveryError) as caught:
        combine_adapter.deliver(_with_document(backwards))
    assert caught.value.reason == "combine_rejected:end_not_after_start"
    visit = double.imports()[first.delivery_id]["visit"]
    assert isinstance(visit, dict)
    double.close_month(str(visit["actual"]["start"])[:7])
    with pytest.raises(PermanentDeliveryError) as caught:
        combine_adapter.deliver(_with_document(first.document))  # same month, new delivery
    assert caught.value.reason == "combine_period_closed"
    assert list(double.imports()) == [first.delivery_id]


def test_the_compensation_basis_counts_every_imported_minute_once(
    double: CombineDouble, combine_adapter: CombineAdapter
) -> None:
    for _ in range(8):
        combine_adapter.deliver(combine_delivery())
    imports = double.imports()
    expected: dict[str, int] = {}
    for data in imports.values():
        visit = data["visit"]
        assert isinstance(visit, dict)
        month = str(visit["actual"]["start"])[:7]
        expected[month] = expected.get(month, 0) + sum(minutes_by_intervention(visit).values())
    for month, minutes in expected.items():
        basis = _basis(combine_adapter, PROVIDERS[0].id, month)
        lines = basis["lines"]
        assert isinstance(lines, list)
        for line in lines:
            price = Decimal(line["pricePerHour"])
            assert Decimal(line["amount"]) == (price * line["minutes"] / 60).quantize(CENT)
        assert sum(line["minutes"] for line in lines) == minutes
        assert basis["totals"] == {
            "minutes": minutes,
            "amount": str(sum((Decimal(line["amount"]) for line in lines), Decimal("0.00"))),
        }
    assert _basis(combine_adapter, PROVIDERS[0].id, "1999-01")["lines"] == []


def test_an_unknown_provider_is_permanent(combine_adapter: CombineAdapter) -> None:
    with pytest.raises(PermanentDeliveryError) as caught:
        _basis(combine_adapter, "prov-nobody", "2026-11")
    assert caught.value.reason == "combine_unknown_provider"


def test_an_unavailable_combine_is_transient_for_the_basis(
    double: CombineDouble, combine_adapter: CombineAdapter
) -> None:
    double.set_mode("unavailable")
    with pytest.raises(TransientDeliveryError):
        _basis(combine_adapter, "prov-exempla-omsorg", "2026-11")


def test_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="base_url"):
        CombineAdapter("c", {"base_url": "ftp://x"})
    with pytest.raises(ConfigError, match="unknown option"):
        CombineAdapter("c", {"base_url": "http://127.0.0.1:1", "url": "x"})


def test_a_timed_out_delivery_is_transient_and_its_redelivery_a_duplicate(
    double: CombineDouble,
) -> None:
    adapter = CombineAdapter("slow", {"base_url": double.base_url, "timeout": 0.2, "retries": 0})
    assert_a_timed_out_delivery_is_transient_and_its_redelivery_a_duplicate(
        double, adapter, combine_delivery, lambda: stored_by_delivery(double)
    )


def test_stopping_the_double_cuts_kept_alive_connections() -> None:
    assert_stopping_the_double_cuts_kept_alive_connections(
        CombineDouble(),
        lambda url: CombineAdapter("cut", {"base_url": url, "retries": 0}),
        combine_delivery,
    )
