"""The hardened parser: every hostile document is refused before anything is read or expanded."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from lxml import etree

from schemas.errors import SchemaError
from schemas.parser import DEFAULT_LIMITS, ParseLimits, parse_xml

SECRET = "OMSORGSHUB-SECRET-7f3a9c-DO-NOT-LEAK"


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET, encoding="utf-8")
    return path


def _refusal(data: bytes, limits: ParseLimits = DEFAULT_LIMITS) -> SchemaError:
    with pytest.raises(SchemaError) as info:
        parse_xml(data, limits)
    return info.value


def _everything_said(error: SchemaError) -> str:
    parts = [str(error), repr(error), error.detail, str(error.path)]
    cause = error.__cause__ or error.__context__
    if cause is not None:
        parts += [str(cause), repr(cause)]
    return "\n".join(parts)


def test_plain_document_parses() -> None:
    root = parse_xml(b'<?xml version="1.0"?><r xmlns="urn:x"><a>1</a><!-- c --><?pi x?></r>')
    assert root.tag == "{urn:x}r"
    # comments and processing instructions are dropped
    assert [child.tag for child in root] == ["{urn:x}a"]


def test_external_entity_is_refused_and_file_content_never_appears(secret_file: Path) -> None:
    xxe = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret_file}">]><r>&x;</r>'
    ).encode()
    # Control: a naive parser really does read the file with this document.
    naive = etree.XMLParser(resolve_entities=True, load_dtd=True, no_network=True)
    assert SECRET in etree.tostring(etree.fromstring(xxe, naive)).decode()

    error = _refusal(xxe)
    assert error.reason == "forbidden_dtd"
    assert SECRET not in _everything_said(error)


def test_parameter_entity_is_refused(secret_file: Path) -> None:
    doc = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "file://{secret_file}"> %p;]>'
        "<r>a</r>"
    ).encode()
    error = _refusal(doc)
    assert error.reason == "forbidden_dtd"
    assert SECRET not in _everything_said(error)


def test_external_dtd_subset_is_refused(secret_file: Path) -> None:
    error = _refusal(f'<!DOCTYPE r SYSTEM "file://{secret_file}"><r/>'.encode())
    assert error.reason == "forbidden_dtd"
    assert SECRET not in _everything_said(error)


def test_billion_laughs_is_refused_quickly() -> None:
    entities = ['<!ENTITY l0 "lol">'] + [
        f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    ]
    doc = f"<!DOCTYPE r [{''.join(entities)}]><r>&l9;</r>".encode()
    started = time.perf_counter()
    error = _refusal(doc)
    assert error.reason == "forbidden_dtd"
    assert time.perf_counter() - started < 1.0


def test_plain_doctype_without_entities_is_refused() -> None:
    assert _refusal(b"<!DOCTYPE r><r/>").reason == "forbidden_dtd"


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_doctype_in_other_encodings_is_refused(codec: str, secret_file: Path) -> None:
    label = codec.upper()
    text = (
        f'<?xml version="1.0" encoding="{label}"?>'
        f'<!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret_file}">]><r>&x;</r>'
    )
    data = text.encode(codec)
    assert b"<!DOCTYPE" not in data  # a byte scan for the ASCII keyword would miss it
    error = _refusal(data)
    assert error.reason == "forbidden_dtd"
    assert SECRET not in _everything_said(error)


def test_utf16_document_without_doctype_parses() -> None:
    root = parse_xml('<?xml version="1.0" encoding="UTF-16"?><r>Åsa ø</r>'.encode("utf-16"))
    assert root.text == "Åsa ø"


def test_comment_and_processing_instruction_do_not_hide_doctype() -> None:
    doc = b'<?xml version="1.0"?>\n<!-- harmless -->\n<?app x?>\n<!DOCTYPE r SYSTEM "x.dtd"><r/>'
    assert _refusal(doc).reason == "forbidden_dtd"


def test_oversize_is_refused_before_parsing() -> None:
    limits = ParseLimits(max_bytes=100)
    # Not even well-formed: the size check comes first.
    error = _refusal(b"<" * 101, limits)
    assert error.reason == "too_large"
    assert "101" in error.detail
    assert parse_xml(b"<r>" + b"x" * 93 + b"</r>", limits).tag == "r"  # exactly 100 bytes


def test_depth_limit() -> None:
    limits = ParseLimits(max_depth=10)
    assert parse_xml(b"<a>" * 10 + b"</a>" * 10, limits).tag == "a"
    error = _refusal(b"<a>\n" * 11 + b"</a>" * 11, limits)
    assert error.reason == "too_deep"
    assert error.line == 11


def test_nesting_beyond_libxml2_cap_is_too_deep_not_malformed() -> None:
    assert _refusal(b"<a>" * 300 + b"</a>" * 300).reason == "too_deep"


def test_default_depth_is_64() -> None:
    assert parse_xml(b"<a>" * 64 + b"</a>" * 64).tag == "a"
    assert _refusal(b"<a>" * 65 + b"</a>" * 65).reason == "too_deep"


# libxml2 reports the (1-based) column where it noticed the error: just after the bad token.
@pytest.mark.parametrize(
    ("data", "line", "column", "words"),
    [
        (b"<a>\n  <b></c>\n</a>", 2, 10, "mismatch"),
        (b'<a x="1" x="2"/>', 1, 15, "redefined"),
        (b"<a>\n\n<b>&undefined;</b></a>", 3, 15, "undefined"),
    ],
)
def test_malformed_xml_reports_line_and_column(
    data: bytes, line: int, column: int, words: str
) -> None:
    error = _refusal(data)
    assert error.reason == "malformed_xml"
    assert (error.line, error.column) == (line, column)
    assert words in error.detail
    assert f"line {line}, column {column}" in str(error)


def test_empty_document_is_malformed() -> None:
    assert _refusal(b"").reason == "malformed_xml"


def test_text_input_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        parse_xml("<r/>")  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs", [{"max_bytes": 0}, {"max_depth": 0}, {"max_depth": 257}])
def test_limits_are_checked(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="ParseLimits"):
        ParseLimits(**kwargs)


def test_parser_is_usable_after_a_refusal() -> None:
    assert _refusal(b"<!DOCTYPE r><r/>").reason == "forbidden_dtd"
    assert _refusal(b"<r>").reason == "malformed_xml"
    assert parse_xml(b"<r>ok</r>").text == "ok"


def test_concurrent_parsing_in_threads_keeps_results_apart() -> None:
    good = b"<r>" + b"<i>x</i>" * 200 + b"</r>"
    outcomes: list[str] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        for _ in range(200):
            if index % 3 == 0:
                result = "ok" if len(parse_xml(good)) == 200 else "wrong"
            else:
                data = b"<!DOCTYPE r><r/>" if index % 3 == 1 else b"<r><x></r>"
                try:
                    parse_xml(data)
                    result = "accepted"
                except SchemaError as exc:
                    expected = "forbidden_dtd" if index % 3 == 1 else "malformed_xml"
                    result = "ok" if exc.reason == expected else exc.reason
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("ok") == 6 * 200, sorted(set(outcomes))
