"""The in-memory adapter: the shared contract, its options, and thread safety."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.memory import MemoryAdapter
from hub.errors import ConfigError, PermanentDeliveryError, TransientDeliveryError
from tests.adapter_contract import (
    AdapterBuilder,
    AdapterContract,
    Failure,
    SetFailure,
    StoredDocuments,
    deliver_concurrently,
    make_delivery,
    opened,
)


class TestMemoryAdapterContract(AdapterContract):
    @pytest.fixture
    def adapter(self) -> Iterator[MemoryAdapter]:
        with opened(MemoryAdapter("memory-test", {})) as adapter:
            yield adapter

    @pytest.fixture
    def stored_documents(self, adapter: MemoryAdapter) -> StoredDocuments:
        return lambda: {key: d.document for key, d in adapter.delivered.items()}

    @pytest.fixture
    def set_failure(self, adapter: MemoryAdapter) -> SetFailure:
        def set_failure(failure: Failure | None) -> None:
            adapter.fail_with = failure

        return set_failure

    @pytest.fixture
    def unreachable_adapter(self) -> AdapterBuilder:
        return lambda: MemoryAdapter("memory-down", {"fail_with": "transient"})


def test_fail_with_option_makes_every_delivery_fail_until_cleared() -> None:
    adapter = MemoryAdapter("m", {"fail_with": "transient"})
    adapter.open()
    with pytest.raises(TransientDeliveryError):
        adapter.deliver(make_delivery())
    adapter.fail_with = None
    assert adapter.deliver(make_delivery()).duplicate is False
    assert adapter.attempts == 2
    assert len(adapter.delivered) == 1


def test_attempts_counts_every_call_while_open() -> None:
    adapter = MemoryAdapter("m", {})
    adapter.open()
    delivery = make_delivery()
    adapter.deliver(delivery)
    adapter.deliver(delivery)
    adapter.fail_with = "permanent"
    with pytest.raises(PermanentDeliveryError):
        adapter.deliver(make_delivery())
    assert adapter.attempts == 3


def test_delivered_keeps_the_first_delivery_and_is_read_only() -> None:
    adapter = MemoryAdapter("m", {})
    adapter.open()
    first = make_delivery("same-id", attempt=1)
    adapter.deliver(first)
    adapter.deliver(make_delivery("same-id", attempt=2, document=b"<changed/>"))
    snapshot = adapter.delivered
    assert snapshot["same-id"] is first
    with pytest.raises(TypeError):
        snapshot["other"] = first  # type: ignore[index]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"fail_with": "sometimes"}, "'fail_with' must be one of transient, permanent"),
        ({"fail_with": 1}, "'fail_with' must be of type str, not int"),
        ({"url": "http://x"}, "unknown option 'url'; allowed options: fail_with"),
    ],
)
def test_options_are_strict(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        MemoryAdapter("m", options)


def test_fail_with_setter_rejects_unknown_values() -> None:
    adapter = MemoryAdapter("m", {})
    with pytest.raises(ValueError, match="must be one of"):
        adapter.fail_with = "sometimes"  # type: ignore[assignment]


def test_concurrent_deliveries_store_each_id_once() -> None:
    adapter = MemoryAdapter("m", {})
    adapter.open()
    deliveries = [make_delivery() for _ in range(200)]
    receipts = deliver_concurrently(adapter, [deliveries] * 8)  # every thread delivers every id

    assert len(adapter.delivered) == 200
    assert adapter.attempts == 8 * 200
    assert sum(not r.duplicate for r in receipts) == 200
    assert len({r.reference for r in receipts}) == 200
