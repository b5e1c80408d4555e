"""Hostile XML against the HTTP API: refused with the right reason, no file read, nothing stored.

The documents reference a secret file holding a marker string, or a FIFO. Opening a FIFO for
reading blocks until a writer comes, so a server that tried to read one would not answer: each
request here has a short client timeout, and afterwards the FIFO is probed for a blocked
reader (``reader_waiting``). ``test_the_fifo_probe_catches_a_parser_that_reads`` shows the probe
does catch a parser that resolves external entities, so the other tests could fail.
"""

from __future__ import annotations

import errno
import json
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from hub.demo.scenario import CONTACT_CENTRE
from tests.integration.api_server import (
    API,
    ApiServer,
    Referrals,
    problem_of,
    wait_until,
)

MARKER = "SECRET-MARKER-c0ffee-do-not-leak"
PROMPT_SECONDS = 5.0  # a request that reads the FIFO would hang far past this
MAX_BYTES = 1_048_576  # the default max_message_bytes


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    yield path
    reader_waiting(path)  # releases a server thread stuck opening it, should a test fail


@pytest.fixture(params=["file", "fifo"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """What the hostile document points at: the secret file, or a FIFO."""
    if request.param == "fifo":
        path: Path = request.getfixturevalue("fifo")
        return path
    secret = tmp_path / "secret.txt"
    secret.write_text(f"{MARKER}\n")
    return secret


def reader_waiting(path: Path) -> bool:
    """True if some thread has the FIFO open for reading (or is blocked opening it).

    A non-blocking open for writing fails with ENXIO when there is no reader; when it succeeds,
    closing it at once gives that reader end-of-file, so nothing stays blocked."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            return False
        raise
    os.close(fd)
    return True


def refused(api: ApiServer, document: bytes, status: int, reason: str) -> dict[str, object]:
    """Send ``document``; assert a prompt refusal that stored nothing and leaked no marker."""
    before = api.message_count()
    with api.client(timeout=PROMPT_SECONDS) as client:
        response = client.post(API, content=document, headers={"Content-Type": "application/xml"})
    body = problem_of(response, status, reason)
    assert MARKER not in response.text
    assert api.message_count() == before
    return body


def assert_not_opened(target: Path) -> None:
    if target.is_fifo():
        assert not reader_waiting(target), "the server opened the FIFO"


def test_the_fifo_probe_catches_a_parser_that_reads(fifo: Path) -> None:
    document = f'<!DOCTYPE r [<!ENTITY x SYSTEM "file://{fifo}">]><r>&x;</r>'.encode()
    unsafe = etree.XMLParser(resolve_entities=True, load_dtd=True, no_network=True)
    thread = threading.Thread(target=etree.fromstring, args=(document, unsafe), daemon=True)
    thread.start()
    wait_until(lambda: reader_waiting(fifo), "the unsafe parser to open the FIFO", 10)
    thread.join(timeout=10)
    assert not thread.is_alive()


# -- entities and DTDs that point at a file -------------------------------------------------


def test_external_entity_is_refused_unread(api: ApiServer, target: Path) -> None:
    document = (
        f'<?xml version="1.0"?>\n<!DOCTYPE r [\n  <!ENTITY x SYSTEM "file://{target}">\n]>\n'
        "<r>&x;</r>\n"
    ).encode()

    body = refused(api, document, 400, "forbidden_dtd")

    assert body["title"] == "Hostile XML refused"
    assert_not_opened(target)


def test_parameter_entity_is_refused_unread(api: ApiServer, target: Path) -> None:
    document = (
        f'<?xml version="1.0"?>\n<!DOCTYPE r [\n  <!ENTITY % p SYSTEM "file://{target}">\n'
        "  %p;\n]>\n<r/>\n"
    ).encode()

    refused(api, document, 400, "forbidden_dtd")
    assert_not_opened(target)


def test_external_dtd_is_refused_unread(api: ApiServer, target: Path) -> None:
    document = f'<?xml version="1.0"?>\n<!DOCTYPE r SYSTEM "file://{target}">\n<r/>\n'.encode()

    refused(api, document, 400, "forbidden_dtd")
    assert_not_opened(target)


def test_doctype_in_utf16_is_refused_unread(api: ApiServer, target: Path) -> None:
    text = (
        '<?xml version="1.0" encoding="UTF-16"?>\n'
        f'<!DOCTYPE r [<!ENTITY x SYSTEM "file://{target}">]>\n<r>&x;</r>\n'
    )
    document = text.encode("utf-16")  # with a byte-order mark, as Windows tools write it
    assert b"DOCTYPE" not in document  # a byte-level search would not see it

    refused(api, document, 400, "forbidden_dtd")
    assert_not_opened(target)


def test_doctype_inside_a_real_envelope_is_refused(api: ApiServer, fifo: Path) -> None:
    envelope = Referrals().make().body.decode()
    declaration, rest = envelope.split("\n", 1)
    rest = rest.replace("<Urgency>normal</Urgency>", "<Urgency>&x;</Urgency>", 1)
    document = f'{declaration}\n<!DOCTYPE Envelope [<!ENTITY x SYSTEM "file://{fifo}">]>\n{rest}'

    refused(api, document.encode(), 400, "forbidden_dtd")
    assert_not_opened(fifo)


# -- expansion, depth, size, well-formedness ------------------------------------------------


def test_billion_laughs_is_refused(api: ApiServer) -> None:
    lines = ['<?xml version="1.0"?>', "<!DOCTYPE lolz [", '  <!ENTITY lol0 "lol">']
    lines += [f'  <!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    lines += ["]>", "<lolz>&lol9;</lolz>", ""]

    refused(api, "\n".join(lines).encode(), 400, "forbidden_dtd")


def test_ten_thousand_levels_deep_is_refused(api: ApiServer) -> None:
    depth = 10_000
    document = b'<?xml version="1.0"?>\n' + b"<a>" * depth + b"</a>" * depth

    body = refused(api, document, 400, "too_deep")

    assert body["title"] == "Hostile XML refused"
    assert "64" in str(body["detail"])  # the configured max_xml_depth


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_two_mebibytes_are_refused(api: ApiServer, framing: str) -> None:
    document = b'<?xml version="1.0"?>\n<r>' + b"a" * (2 * 1024 * 1024) + b"</r>"
    content: bytes | Iterator[bytes] = document
    if framing == "chunked":
        content = iter([document[i : i + 65536] for i in range(0, len(document), 65536)])
    before = api.message_count()
    with api.client(timeout=PROMPT_SECONDS) as client:
        response = client.post(API, content=content, headers={"Content-Type": "application/xml"})

    assert ("content-length" in response.request.headers) == (framing == "content-length")
    body = problem_of(response, 413, "payload_too_large")
    assert str(MAX_BYTES) in str(body["detail"])
    assert api.message_count() == before


def test_unclosed_tag_is_malformed_with_line_and_column(api: ApiServer) -> None:
    document = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<Envelope xmlns="urn:omsorgshub:envelope:1">\n'
        b"  <Header>\n"
        b"    <Type>case.referral</Type>\n"
        b"</Envelope>\n"
    )

    body = refused(api, document, 400, "malformed_xml")

    assert body["title"] == "Malformed XML"
    # libxml2 notices the mismatch at the end of the closing tag "</Envelope>" on line 5.
    assert (body["line"], body["column"]) == (5, 12)
    assert "Header" in str(body["detail"])


def test_hostile_documents_leave_no_message_rows(api: ApiServer, fifo: Path) -> None:
    """Many hostile documents in a row, then a good one: only the good one is stored."""
    hostile = [
        f'<!DOCTYPE r [<!ENTITY x SYSTEM "file://{fifo}">]><r>&x;</r>'.encode(),
        f'<!DOCTYPE r SYSTEM "file://{fifo}"><r/>'.encode(),
        b"<r><unclosed></r>",
        b"<a>" * 300 + b"</a>" * 300,
        b"\xff\xfe\x00not xml at all",
    ]
    with api.client(timeout=PROMPT_SECONDS) as client:
        for document in hostile:
            response = client.post(
                API, content=document, headers={"Content-Type": "application/xml"}
            )
            assert response.status_code == 400, response.text
        good = client.post(
            API, content=Referrals().make().body, headers={"Content-Type": "application/xml"}
        )
    assert good.status_code == 202, good.text
    assert api.message_count() == 1
    assert not reader_waiting(fifo)


# -- media types and an oversize body from a plain client (issue 10 item 5) -----------------


@pytest.mark.parametrize(
    "content_type",
    ["image/svg+xml", "application/atom+xml", "application/soap+xml", "text/html", ""],
)
def test_only_xml_media_types_are_accepted(api: ApiServer, content_type: str) -> None:
    response = api.post(Referrals().make().body, content_type=content_type)

    body = problem_of(response, 415, "unsupported_media_type")
    assert "application/xml or text/xml" in str(body["detail"])
    assert api.message_count() == 0


@pytest.mark.parametrize(
    "content_type",
    ["text/xml", "application/xml; charset=utf-8", 'text/xml; charset="UTF-8"', "APPLICATION/XML"],
)
def test_xml_in_utf8_is_accepted(api: ApiServer, content_type: str) -> None:
    response = api.post(Referrals().make().body, content_type=content_type)

    assert response.status_code == 202, response.text


@pytest.mark.parametrize("charset", ["iso-8859-1", "utf-16", "windows-1252"])
def test_another_charset_is_refused_with_the_reason(api: ApiServer, charset: str) -> None:
    response = api.post(Referrals().make().body, content_type=f"application/xml; charset={charset}")

    body = problem_of(response, 415, "unsupported_media_type")
    assert f"charset {charset!r}" in str(body["detail"])
    assert "UTF-8" in str(body["detail"])
    assert api.message_count() == 0


@pytest.mark.parametrize("mebibytes", [3, 12])
def test_megabytes_from_urllib_get_a_readable_413(api: ApiServer, mebibytes: int) -> None:
    """A plain client writes its whole body before it reads: it must find a 413, not a reset.

    Whether a server that answers early resets the client depends on the socket buffers: here
    3 MB fitted in them and 12 MB got "connection reset" before the fix (both are within the
    default max_drain_bytes of 16 MiB)."""
    document = b'<?xml version="1.0"?>\n<r>' + b"a" * (mebibytes * 1024 * 1024) + b"</r>"
    request = urllib.request.Request(  # noqa: S310  (a 127.0.0.1 URL)
        api.url + API,
        data=document,
        method="POST",
        headers={
            "Content-Type": "application/xml",
            "Authorization": f"Bearer {api.tokens[CONTACT_CENTRE]}",
        },
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(request, timeout=PROMPT_SECONDS)

    assert refused.value.code == 413
    assert refused.value.headers["content-type"] == "application/problem+json"
    assert refused.value.headers["connection"] == "close"
    body = json.loads(refused.value.read())
    assert (body["reason"], body["title"]) == ("payload_too_large", "Message too large")
    assert str(MAX_BYTES) in body["detail"]
    assert api.message_count() == 0


# -- a NUL byte where an id or a code goes (PostgreSQL refuses it in text: that was a 500) --------


@pytest.mark.parametrize("path", ["%00", "00000000-0000-0000-0000-00000000000%00", "%00x%01"])
def test_a_message_id_with_control_characters_is_404(api: ApiServer, path: str) -> None:
    with api.client() as client:
        response = client.get(f"/api/v1/messages/{path}")
    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "\x00" not in response.json()["detail"]  # the id is not echoed (only `instance`)


def test_a_lookup_naming_a_district_with_a_nul_byte_is_refused_not_a_500(api: ApiServer) -> None:
    question = {
        "lookup": "client_summary",
        "district": "sdn-\x00sodermalm",
        "purpose": "referral",
        "subject": {"id": "19121212-1212", "scheme": "se"},
        "consent": "recorded",
    }
    with api.client() as client:
        response = client.post("/api/v1/lookups", json=question)
    assert response.status_code == 422, response.text
    assert response.json()["reason"] == "invalid_district"
