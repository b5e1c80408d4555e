"""Each failure the generic HTTP adapter maps, met on real sockets on 127.0.0.1 (issue 16).

The adapter moved from httpx to urllib3; these pin what a delivery meets on the wire — which hub
error, which ``error`` name (httpx's names, as before the move), which status, and whether the
in-call retry repeats it — against the HTTP double where it has a mode for the failure, and
against a few raw sockets where a failure cannot be had from a well-behaved server.
"""

from __future__ import annotations

import datetime
import socket
import ssl
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adapters.doubles.http_double import HttpDouble
from adapters.http import POOL_CONNECTIONS, HttpAdapter
from hub.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError
from tests.adapter_contract import deliver_concurrently, make_delivery, opened


@pytest.fixture(scope="module")
def running_double() -> Iterator[HttpDouble]:
    with HttpDouble() as double:
        yield double


def _failure(adapter: HttpAdapter, error: type[DeliveryError]) -> DeliveryError:
    with opened(adapter), pytest.raises(error) as caught:
        adapter.deliver(make_delivery())
    return caught.value


# -- answers of the double -----------------------------------------------------------------------


def test_a_dropped_connection_is_transient_and_named_as_before(double: HttpDouble) -> None:
    double.set_mode("down")
    error = _failure(HttpAdapter("x", {"url": double.url, "retries": 1}), TransientDeliveryError)
    assert error.context == {"error": "RemoteProtocolError"}
    assert error.detail == "x: no HTTP answer (RemoteProtocolError)"
    assert double.requests == 2  # repeated inside the call: the answer was lost, not refused


def test_429_is_transient_and_not_repeated_inside_the_call(double: HttpDouble) -> None:
    double.set_mode("throttled")
    error = _failure(HttpAdapter("x", {"url": double.url}), TransientDeliveryError)
    assert error.context == {"status": 429}
    assert error.detail == "x: HTTP 429 Too Many Requests"
    assert double.requests == 1  # Retry-After is left to the hub's own schedule


def test_a_redirect_is_not_followed_and_is_permanent(double: HttpDouble) -> None:
    double.set_mode("moved")  # followed, it would end in a 404 from /moved
    error = _failure(HttpAdapter("x", {"url": double.url}), PermanentDeliveryError)
    assert error.context == {"status": 307}
    assert double.requests == 1
    assert double.unique == 0


def test_proxies_from_the_environment_are_not_used(
    double: HttpDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as proxy:  # a "proxy" that would only ever see the request, never answer
        proxy.bind(("127.0.0.1", 0))
        proxy.listen()
        url = f"http://127.0.0.1:{proxy.getsockname()[1]}"
        for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
            monkeypatch.setenv(name, url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        with opened(HttpAdapter("x", {"url": double.url, "timeout": 2})) as adapter:
            assert adapter.deliver(make_delivery()).duplicate is False
    assert double.unique == 1


def test_more_threads_than_the_pool_keeps_all_deliver(double: HttpDouble) -> None:
    threads = POOL_CONNECTIONS + 4  # the pool never makes a thread wait: it opens another
    deliveries = [make_delivery() for _ in range(4 * threads)]
    with opened(HttpAdapter("x", {"url": double.url})) as adapter:
        receipts = deliver_concurrently(adapter, [deliveries[n::threads] for n in range(threads)])
    assert len(receipts) == double.unique == len(deliveries)
    assert double.connections < len(deliveries)  # connections were kept and used again


# -- failures no well-behaved server gives -------------------------------------------------------


@pytest.fixture
def full_accept_queue() -> Iterator[str]:
    """A URL whose listening socket's accept queue is full: a connection is never made."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        waiting = [socket.socket() for _ in range(3)]
        for client in waiting:
            client.setblocking(False)
            client.connect_ex(server.getsockname())
        try:
            yield f"http://127.0.0.1:{server.getsockname()[1]}/messages"
        finally:
            for client in waiting:
                client.close()


def test_no_connection_within_the_timeout_is_a_connect_timeout(full_accept_queue: str) -> None:
    adapter = HttpAdapter("x", {"url": full_accept_queue, "timeout": 0.2, "retries": 0})
    error = _failure(adapter, TransientDeliveryError)
    assert error.context == {"error": "ConnectTimeout"}


def _serve_once(answer: Callable[[socket.socket], None]) -> Iterator[str]:
    """A URL served by a socket that reads one request and calls ``answer`` with it."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()

        def serve() -> None:
            connection, _ = server.accept()
            with connection:
                connection.recv(65536)
                answer(connection)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{server.getsockname()[1]}/messages"
        thread.join(timeout=5)


def _reset(connection: socket.socket) -> None:
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


ANSWERS: dict[str, Callable[[socket.socket], None]] = {
    "reset": _reset,
    "truncated": lambda c: c.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"ref'),
    "not-http": lambda c: c.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\r\n"),
}


@pytest.mark.parametrize("answer", list(ANSWERS))
def test_a_cut_or_garbled_answer_is_transient(answer: str) -> None:
    for url in _serve_once(ANSWERS[answer]):
        error = _failure(HttpAdapter("x", {"url": url, "retries": 0}), TransientDeliveryError)
        assert error.context == {"error": "RemoteProtocolError"}


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert, private = folder / "cert.pem", folder / "key.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, private


def test_a_certificate_nobody_vouches_for_is_refused_before_anything_is_sent(
    tmp_path: Path,
) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*_self_signed(tmp_path))
    received: list[bytes] = []

    def handshake(connection: socket.socket) -> None:
        try:
            with context.wrap_socket(connection, server_side=True) as tls:
                received.append(tls.recv(65536))
        except (ssl.SSLError, OSError):
            pass  # the client hung up in the handshake

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()

        def serve() -> None:
            connection, _ = server.accept()
            handshake(connection)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        url = f"https://127.0.0.1:{server.getsockname()[1]}/messages"
        error = _failure(HttpAdapter("x", {"url": url, "retries": 0}), TransientDeliveryError)
        thread.join(timeout=5)
    assert error.context == {"error": "ConnectError"}  # as httpx: a failed handshake
    assert received == []
