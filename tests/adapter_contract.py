"""The contract every adapter passes, like kombu's ``BasicFunctionality`` mixin.

A test module subclasses ``AdapterContract`` (as ``TestXxxContract``) and provides four fixtures:

    adapter              an opened adapter (closed again after the test)
    stored_documents     () -> {delivery_id: document bytes} as the destination stored them
    set_failure          ("transient" | "permanent" | None) -> None: make the destination fail
                         that way from now on, or behave again
    unreachable_adapter  () -> a new, unopened adapter whose destination cannot be reached

and may override a fifth:

    contract_delivery    the ``DeliveryFactory`` the contract makes its deliveries with;
                         ``make_delivery`` (a generic fictional document) unless overridden.
                         An adapter that maps documents of its own message types overrides it
                         with one that makes such a document about the contract's fictional
                         person (so that the personal-data checks bite), the same document for
                         the same delivery id (as a redelivery carries).

The contract then checks what the delivery engine relies on: a receipt on success, exactly-once
storage per delivery id with the repeat flagged as duplicate, transient and permanent failures as
the two hub errors (with no personal data in them), close/open cycles, and no I/O in the
constructor. ``make_delivery`` builds an ``OutboundDelivery`` with a fictional document;
``unreachable_url`` gives an address where nothing listens, for ``unreachable_adapter``;
``deliver_concurrently`` delivers from several threads at once; ``network_forbidden`` fails a
test that touches the network inside it; ``opened`` opens an adapter for a block and closes it
after, however the block ends; ``assert_stopping_the_double_cuts_kept_alive_connections`` checks
that an adapter on a local double notices the double going away, and
``assert_a_timed_out_delivery_is_transient_and_its_redelivery_a_duplicate`` that it gives up on
a slow one at its timeout without losing exactly-once storage.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, NoReturn, Protocol, TypeVar

import pytest

from adapters.doubles.wsgi_server import ServedDouble
from hub.envelope import OutboundDelivery, Receipt
from hub.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError
from hub.ports import Adapter

Failure = Literal["transient", "permanent"]
StoredDocuments = Callable[[], Mapping[str, bytes]]
SetFailure = Callable[[Failure | None], None]
AdapterBuilder = Callable[[], Adapter]
AnyAdapter = TypeVar("AnyAdapter", bound=Adapter)


class DeliveryFactory(Protocol):
    """Makes a delivery: a fresh id unless one is given (a redelivery), with that attempt.

    ``document`` asks for a particular document; a factory of typed documents may ignore it.
    """

    def __call__(
        self, delivery_id: str | None = None, *, attempt: int = 1, document: bytes = ...
    ) -> OutboundDelivery: ...


# Fictional person: 19121212-1212 ("Tolvan Tolvansson") is the Swedish tax agency's test
# identity number with a valid check digit. The non-ASCII and the CRLF check byte-exactness.
FICTIONAL_PERSONNUMMER = "191212121212"
FICTIONAL_NAME = "Tolvan Tolvansson"
FICTIONAL_DOCUMENT = (
    '<?xml version="1.0" encoding="UTF-8"?>\r\n'
    "<ClientSummary>\r\n"
    f'  <Subject personnummer="{FICTIONAL_PERSONNUMMER}">{FICTIONAL_NAME}</Subject>\r\n'
    '  <Decision kind="hemtjänst" hours="12.5">Beviljad, Södermalm</Decision>\r\n'
    "</ClientSummary>\r\n"
).encode()

_ids = itertools.count(1)


def make_delivery(
    delivery_id: str | None = None, *, attempt: int = 1, document: bytes = FICTIONAL_DOCUMENT
) -> OutboundDelivery:
    """A delivery with a fresh (or the given) id and a fictional document."""
    number = next(_ids)
    return OutboundDelivery(
        delivery_id=delivery_id or f"dlv-{number:06d}",
        message_id=f"msg-{number:06d}",
        message_type="client-summary",
        version="1.0",
        district="sodermalm",
        purpose="contact-centre-answer",
        sender="paraplyet",
        destination="contract-test",
        attempt=attempt,
        document=document,
        created_at=datetime(2024, 5, 2, 9, 30, tzinfo=UTC),
    )


def deliver_concurrently(
    adapter: Adapter, shares: Sequence[Sequence[OutboundDelivery]]
) -> list[Receipt]:
    """Deliver each share in order from a thread of its own, all threads starting together.

    Answers every receipt (in no particular order); the first error a thread met is raised here.
    """
    receipts: list[Receipt] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(len(shares))

    def worker(share: Sequence[OutboundDelivery]) -> None:
        start.wait()
        try:
            for delivery in share:
                receipt = adapter.deliver(delivery)
                with lock:
                    receipts.append(receipt)
        except BaseException as exc:  # raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return receipts


@contextmanager
def network_forbidden() -> Iterator[None]:
    """Inside, connecting or resolving a name fails the test: a constructor must do no I/O."""

    def no_network(*args: object, **kwargs: object) -> NoReturn:
        raise AssertionError("the adapter touched the network in its constructor")

    with pytest.MonkeyPatch.context() as guard:
        guard.setattr(socket.socket, "connect", no_network)
        guard.setattr(socket, "create_connection", no_network)
        guard.setattr(socket, "getaddrinfo", no_network)
        yield


@contextmanager
def opened(adapter: AnyAdapter) -> Iterator[AnyAdapter]:
    """``adapter`` opened for the block, and closed on leaving it, however the block ends."""
    adapter.open()
    try:
        yield adapter
    finally:
        adapter.close()


def assert_stopping_the_double_cuts_kept_alive_connections(
    double: ServedDouble, adapter_on: Callable[[str], Adapter], delivery: DeliveryFactory
) -> None:
    """Start ``double``, deliver through an opened ``adapter_on(double.url)``, stop the double:
    the next delivery, on the kept-alive connection the double cut, is transient."""
    with ExitStack() as open_adapter:
        with double:
            adapter = open_adapter.enter_context(opened(adapter_on(double.url)))
            adapter.deliver(delivery())
        with pytest.raises(TransientDeliveryError):  # the double has stopped, the adapter not
            adapter.deliver(delivery())


def assert_a_timed_out_delivery_is_transient_and_its_redelivery_a_duplicate(
    double: ServedDouble,
    adapter: Adapter,
    delivery: DeliveryFactory,
    stored_documents: StoredDocuments,
) -> None:
    """``adapter`` (on ``double``, not yet opened, with a timeout of 0.2 s) gives up on a delivery
    the double answers only after 0.6 s: transient, at the timeout, and not retried inside the
    call. The double stores it anyway, so the redelivery is flagged duplicate and stored once."""
    first = delivery()
    with opened(adapter):
        double.set_mode("slow", delay=0.6, times=1)
        started = time.monotonic()
        with pytest.raises(TransientDeliveryError, match="ReadTimeout"):
            adapter.deliver(first)
        assert time.monotonic() - started < 0.55  # it gave up at the timeout, not the answer
        assert double.stats()["requests"] == 1  # a read timeout is not retried inside the call
        deadline = time.monotonic() + 5
        while not stored_documents() and time.monotonic() < deadline:
            time.sleep(0.02)  # the slow double stores it after the client gave up
        receipt = adapter.deliver(delivery(first.delivery_id, attempt=2))
    assert receipt.duplicate is True
    assert stored_documents() == {first.delivery_id: first.document}


def unreachable_url(path: str) -> str:
    """An http URL with ``path`` on 127.0.0.1 at a port where nothing listens (any more)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def _assert_free_of_personal_data(error: DeliveryError) -> None:
    text = " ".join([str(error), repr(error), *map(str, error.context.values())])
    assert FICTIONAL_PERSONNUMMER not in text
    assert FICTIONAL_NAME not in text


def _assert_refused(
    adapter: Adapter,
    delivery: OutboundDelivery,
    error: type[DeliveryError],
    stored_documents: StoredDocuments,
) -> DeliveryError:
    """``adapter`` refuses ``delivery`` with ``error``, which names no personal data, and the
    destination stores nothing of it; answers the error raised."""
    with pytest.raises(error) as caught:
        adapter.deliver(delivery)
    _assert_free_of_personal_data(caught.value)
    assert delivery.delivery_id not in stored_documents()
    return caught.value


class AdapterContract:
    """Tests every adapter must pass. Subclasses provide four fixtures and may override one."""

    # -- fixtures the subclass provides, or may override --------------------------------------

    @pytest.fixture
    def contract_delivery(self) -> DeliveryFactory:
        return make_delivery

    @pytest.fixture
    def adapter(self) -> Adapter:
        raise NotImplementedError(f"{type(self).__name__} must provide the 'adapter' fixture")

    @pytest.fixture
    def stored_documents(self) -> StoredDocuments:
        raise NotImplementedError(f"{type(self).__name__} must provide 'stored_documents'")

    @pytest.fixture
    def set_failure(self) -> SetFailure:
        raise NotImplementedError(f"{type(self).__name__} must provide 'set_failure'")

    @pytest.fixture
    def unreachable_adapter(self) -> AdapterBuilder:
        raise NotImplementedError(f"{type(self).__name__} must provide 'unreachable_adapter'")

    # -- the contract -------------------------------------------------------------------------

    def test_satisfies_the_adapter_port(self, adapter: Adapter) -> None:
        assert isinstance(adapter, Adapter)
        assert isinstance(adapter.name, str)
        assert adapter.name

    def test_delivers_and_returns_a_receipt(
        self,
        adapter: Adapter,
        stored_documents: StoredDocuments,
        contract_delivery: DeliveryFactory,
    ) -> None:
        delivery = contract_delivery()
        receipt = adapter.deliver(delivery)
        assert isinstance(receipt, Receipt)
        assert receipt.duplicate is False
        assert stored_documents() == {delivery.delivery_id: delivery.document}

    def test_distinct_deliveries_are_stored_separately(
        self,
        adapter: Adapter,
        stored_documents: StoredDocuments,
        contract_delivery: DeliveryFactory,
    ) -> None:
        first, second = contract_delivery(), contract_delivery(document=b"<Other>two</Other>")
        adapter.deliver(first)
        adapter.deliver(second)
        assert stored_documents() == {
            first.delivery_id: first.document,
            second.delivery_id: second.document,
        }

    def test_same_delivery_id_twice_is_stored_once(
        self,
        adapter: Adapter,
        stored_documents: StoredDocuments,
        contract_delivery: DeliveryFactory,
    ) -> None:
        delivery = contract_delivery()
        first = adapter.deliver(delivery)
        again = adapter.deliver(contract_delivery(delivery.delivery_id, attempt=2))
        assert first.duplicate is False
        assert again.duplicate is True
        assert again.reference == first.reference
        assert stored_documents() == {delivery.delivery_id: delivery.document}

    def test_transient_failure_raises_transient_error(
        self,
        adapter: Adapter,
        stored_documents: StoredDocuments,
        set_failure: SetFailure,
        contract_delivery: DeliveryFactory,
    ) -> None:
        delivery = contract_delivery()
        set_failure("transient")
        _assert_refused(adapter, delivery, TransientDeliveryError, stored_documents)

        set_failure(None)  # the destination is back: the retry goes through, exactly once
        receipt = adapter.deliver(contract_delivery(delivery.delivery_id, attempt=2))
        assert receipt.duplicate is False
        assert stored_documents() == {delivery.delivery_id: delivery.document}

    def test_permanent_failure_raises_permanent_error(
        self,
        adapter: Adapter,
        stored_documents: StoredDocuments,
        set_failure: SetFailure,
        contract_delivery: DeliveryFactory,
    ) -> None:
        delivery = contract_delivery()
        set_failure("permanent")
        error = _assert_refused(adapter, delivery, PermanentDeliveryError, stored_documents)
        assert not isinstance(error, TransientDeliveryError)

    def test_close_then_open_works_again(
        self,
        adapter: Adapter,
        stored_documents: StoredDocuments,
        contract_delivery: DeliveryFactory,
    ) -> None:
        first = contract_delivery()
        adapter.deliver(first)
        adapter.close()
        adapter.close()  # closing twice is harmless
        adapter.open()
        adapter.open()  # so is opening twice
        second = contract_delivery()
        assert adapter.deliver(second).duplicate is False
        assert set(stored_documents()) == {first.delivery_id, second.delivery_id}

    def test_deliver_on_a_closed_adapter_is_transient(
        self,
        adapter: Adapter,
        stored_documents: StoredDocuments,
        contract_delivery: DeliveryFactory,
    ) -> None:
        delivery = contract_delivery()
        adapter.close()
        with pytest.raises(TransientDeliveryError) as caught:
            adapter.deliver(delivery)
        assert caught.value.reason == "adapter_closed"
        assert delivery.delivery_id not in stored_documents()

    def test_constructor_does_no_io(
        self, unreachable_adapter: AdapterBuilder, contract_delivery: DeliveryFactory
    ) -> None:
        with network_forbidden():
            adapter = unreachable_adapter()
        assert isinstance(adapter, Adapter)

        with opened(adapter), pytest.raises(TransientDeliveryError):
            adapter.deliver(contract_delivery())  # the destination really is unreachable


REPO_ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def double_process(module: str, url_suffix: str, *args: str) -> Iterator[tuple[str, str]]:
    """``python -m adapters.doubles.<module> --port 0`` as a process of its own.

    Yields the service URL it prints and the base URL of its control endpoints; on leaving,
    asserts that it stops cleanly on SIGTERM, as a supervisor would stop it.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", f"adapters.doubles.{module}", "--port", "0", *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert url.endswith(url_suffix)
        yield url, url.removesuffix(url_suffix)
    finally:
        process.send_signal(signal.SIGTERM)
        # A clean stop takes well under a second; 30 s, because CI once saw a loaded machine
        # (load average 7 on two cores) take more than 10.
        assert process.wait(timeout=30) == 0
