"""The generic HTTP adapter against its real local double, over real sockets on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest
from urllib3 import HTTPResponse

from adapters.doubles.http_double import DELIVERY_PATH, HttpDouble
from adapters.http import TRANSIENT_ERRORS, TRANSIENT_STATUSES, HttpAdapter, map_outcome
from hub.envelope import Receipt
from hub.errors import PermanentDeliveryError, TransientDeliveryError
from tests.adapter_contract import (
    FICTIONAL_DOCUMENT,
    AdapterBuilder,
    AdapterContract,
    Failure,
    SetFailure,
    StoredDocuments,
    assert_a_timed_out_delivery_is_transient_and_its_redelivery_a_duplicate,
    assert_stopping_the_double_cuts_kept_alive_connections,
    deliver_concurrently,
    double_process,
    make_delivery,
    opened,
    unreachable_url,
)


@pytest.fixture(scope="module")
def running_double() -> Iterator[HttpDouble]:
    with HttpDouble() as double:
        yield double


@pytest.fixture
def http_adapter(double: HttpDouble) -> Iterator[HttpAdapter]:
    with opened(HttpAdapter("http-test", {"url": double.url, "timeout": 2})) as adapter:
        yield adapter


class TestHttpAdapterContract(AdapterContract):
    @pytest.fixture
    def adapter(self, http_adapter: HttpAdapter) -> HttpAdapter:
        return http_adapter

    @pytest.fixture
    def stored_documents(self, double: HttpDouble) -> StoredDocuments:
        return double.documents

    @pytest.fixture
    def set_failure(self, double: HttpDouble) -> SetFailure:
        modes: dict[Failure | None, str] = {
            "transient": "unavailable",
            "permanent": "reject",
            None: "up",
        }
        return lambda failure: double.set_mode(modes[failure])

    @pytest.fixture
    def unreachable_adapter(self) -> AdapterBuilder:
        url = unreachable_url(DELIVERY_PATH)
        return lambda: HttpAdapter("nowhere", {"url": url, "timeout": 1, "retries": 1})


# -- the wire ------------------------------------------------------------------------------------


def test_documents_arrive_byte_identical_with_the_protocol_headers(
    double: HttpDouble,
) -> None:
    bodies = [
        FICTIONAL_DOCUMENT,
        b"\xef\xbb\xbf<a>\xc3\xa5\xc3\xa4\xc3\xb6</a>  \n\n",
        b"",
        b"\x00\xff",
    ]
    deliveries = [make_delivery(document=body, attempt=3) for body in bodies]
    with opened(HttpAdapter("case-system", {"url": double.url, "token": "t0ken"})) as adapter:
        for delivery in deliveries:
            adapter.deliver(delivery)

    assert double.documents() == {d.delivery_id: d.document for d in deliveries}
    first = deliveries[0]
    headers = double.headers_of(first.delivery_id)
    assert headers["content-type"] == "application/xml"
    assert headers["idempotency-key"] == first.delivery_id
    assert headers["x-omsorgshub-message-id"] == first.message_id
    assert headers["x-omsorgshub-message-type"] == "client-summary"
    assert headers["x-omsorgshub-district"] == "sodermalm"
    assert headers["x-omsorgshub-attempt"] == "3"
    assert headers["authorization"] == "Bearer t0ken"


def test_non_ascii_header_values_are_percent_encoded(double: HttpDouble) -> None:
    delivery = replace(make_delivery(), district="Södermalm 100%\r\nX-Injected: 1")
    with opened(HttpAdapter("x", {"url": double.url})) as adapter:
        adapter.deliver(delivery)
    headers = double.headers_of(delivery.delivery_id)
    assert headers["x-omsorgshub-district"] == "S%C3%B6dermalm 100%25%0D%0AX-Injected: 1"
    assert "x-injected" not in headers


def test_sequential_deliveries_reuse_one_keep_alive_connection(
    double: HttpDouble, http_adapter: HttpAdapter
) -> None:
    for _ in range(50):
        http_adapter.deliver(make_delivery())
    assert double.unique == 50
    assert double.connections == 1


# -- retries and failure mapping ---------------------------------------------------------------


def test_in_call_retry_recovers_from_a_single_503(
    double: HttpDouble, http_adapter: HttpAdapter
) -> None:
    double.set_mode("unavailable", times=1)
    receipt = http_adapter.deliver(make_delivery())
    assert receipt.duplicate is False
    assert double.requests == 2
    assert double.unique == 1


def test_without_in_call_retries_a_single_503_is_transient(double: HttpDouble) -> None:
    with opened(HttpAdapter("x", {"url": double.url, "retries": 0})) as adapter:
        double.set_mode("unavailable", times=1)
        with pytest.raises(TransientDeliveryError, match="HTTP 503 Service Unavailable") as caught:
            adapter.deliver(make_delivery())
    assert caught.value.context["status"] == 503
    assert double.requests == 1


def test_in_call_retries_stay_well_under_a_second(
    double: HttpDouble, http_adapter: HttpAdapter
) -> None:
    double.set_mode("unavailable")
    started = time.monotonic()
    with pytest.raises(TransientDeliveryError):
        http_adapter.deliver(make_delivery())
    assert time.monotonic() - started < 0.6
    assert double.requests == 3  # retries=2: three tries in all


def test_down_maps_to_transient(double: HttpDouble, http_adapter: HttpAdapter) -> None:
    double.set_mode("down")
    with pytest.raises(TransientDeliveryError, match="no HTTP answer") as caught:
        http_adapter.deliver(make_delivery())
    assert caught.value.__cause__ is not None
    assert isinstance(caught.value.__cause__, tuple(TRANSIENT_ERRORS))
    assert double.requests == 3
    assert double.unique == 0


def test_down_then_up_recovers_inside_one_call(
    double: HttpDouble, http_adapter: HttpAdapter
) -> None:
    double.set_mode("down", times=1)  # the connection is reset once, the retry gets through
    assert http_adapter.deliver(make_delivery()).duplicate is False
    assert double.requests == 2


def test_slow_beyond_the_timeout_is_transient_and_the_redelivery_is_a_duplicate(
    double: HttpDouble,
) -> None:
    adapter = HttpAdapter("x", {"url": double.url, "timeout": 0.2})
    assert_a_timed_out_delivery_is_transient_and_its_redelivery_a_duplicate(
        double, adapter, make_delivery, double.documents
    )


def test_unreachable_destination_is_transient() -> None:
    adapter = HttpAdapter("nowhere", {"url": unreachable_url(DELIVERY_PATH), "retries": 1})
    with opened(adapter), pytest.raises(TransientDeliveryError, match="ConnectError"):
        adapter.deliver(make_delivery())


def test_wrong_token_is_permanent() -> None:
    with HttpDouble(token="right") as double:
        adapter = HttpAdapter("x", {"url": double.url, "token": "wrong"})
        with opened(adapter), pytest.raises(PermanentDeliveryError, match="HTTP 401 Unauthorized"):
            adapter.deliver(make_delivery())
        assert double.unique == 0


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, PermanentDeliveryError),
        (401, PermanentDeliveryError),
        (404, PermanentDeliveryError),
        (409, PermanentDeliveryError),
        (422, PermanentDeliveryError),
        (301, PermanentDeliveryError),
        (408, TransientDeliveryError),
        (425, TransientDeliveryError),
        (429, TransientDeliveryError),
        (500, TransientDeliveryError),
        (502, TransientDeliveryError),
        (504, TransientDeliveryError),
    ],
)
def test_status_mapping(status: int, error: type[Exception]) -> None:
    response = HTTPResponse(FICTIONAL_DOCUMENT, status=status)  # an echo must not leak
    with pytest.raises(error) as caught:
        map_outcome("dest", lambda: response)
    assert isinstance(caught.value, TransientDeliveryError) == (status in TRANSIENT_STATUSES)
    assert str(status) in str(caught.value)
    assert "Tolvan" not in str(caught.value)


@pytest.mark.parametrize(
    ("body", "receipt"),
    [
        (b'{"reference": "R-1", "duplicate": true}', Receipt("R-1", True, {"http_status": "200"})),
        (b'{"reference": 42}', Receipt("42", False, {"http_status": "200"})),
        (b"", Receipt(None, False, {"http_status": "200"})),
        (b"accepted", Receipt(None, False, {"http_status": "200"})),
        (b"[1, 2]", Receipt(None, False, {"http_status": "200"})),
    ],
)
def test_any_2xx_is_a_delivery(body: bytes, receipt: Receipt) -> None:
    assert map_outcome("dest", lambda: HTTPResponse(body, status=200)) == receipt


# -- concurrency and the double as its own process ---------------------------------------------


def test_concurrent_deliveries_from_several_threads(
    double: HttpDouble, http_adapter: HttpAdapter
) -> None:
    deliveries = [make_delivery() for _ in range(60)]
    # Threads n and n + 3 deliver the same third of the ids, in opposite orders.
    shares = [deliveries[n::3] for n in range(3)]
    receipts = deliver_concurrently(http_adapter, [*shares, *(s[::-1] for s in shares)])

    assert double.unique == 60
    assert double.requests == len(receipts) == 120
    assert double.duplicates == 60
    assert sum(not r.duplicate for r in receipts) == 60
    assert double.documents() == {d.delivery_id: d.document for d in deliveries}


def test_double_runs_as_its_own_process_and_is_controlled_over_http() -> None:
    with double_process("http_double", "/messages") as (url, base):
        with opened(HttpAdapter("external", {"url": url, "retries": 0})) as adapter:
            assert adapter.deliver(make_delivery()).duplicate is False
            control = httpx.post(f"{base}/_control", json={"mode": "reject"})
            assert control.status_code == 200
            with pytest.raises(PermanentDeliveryError, match="422"):
                adapter.deliver(make_delivery())
            bad = httpx.post(f"{base}/_control", json={"mode": "sideways"})
            assert bad.status_code == 400
            stats = httpx.get(f"{base}/_stats").json()
        assert (stats["mode"], stats["requests"], stats["unique"]) == ("reject", 2, 1)


def test_double_answers_400_without_an_idempotency_key(double: HttpDouble) -> None:
    answer = httpx.post(double.url, content=b"<x/>")
    assert answer.status_code == 400
    assert json.loads(answer.content) == {"error": "Idempotency-Key header is required"}
    assert double.unique == 0


def test_stopping_the_double_cuts_kept_alive_connections() -> None:
    assert_stopping_the_double_cuts_kept_alive_connections(
        HttpDouble(), lambda url: HttpAdapter("x", {"url": url, "retries": 0}), make_delivery
    )


def test_double_keeps_up_with_a_few_hundred_requests_per_second(double: HttpDouble) -> None:
    clients = [HttpAdapter(f"client-{n}", {"url": double.url}) for n in range(8)]
    for client in clients:
        client.open()

    def worker(client: HttpAdapter) -> None:
        for _ in range(50):
            client.deliver(make_delivery())

    threads = [threading.Thread(target=worker, args=(client,)) for client in clients]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    for client in clients:
        client.close()

    assert double.unique == 400
    assert double.connections == 8  # one kept-alive connection per client
    assert elapsed < 4.0  # ~900/s measured on 2 cores; the bound leaves a wide margin
