"""Reading envelopes: header fields, located refusals, canonical body bytes."""

from __future__ import annotations

import time

import pytest
from lxml import etree

from schemas.envelope import ParsedEnvelope, canonical_bytes, read_envelope
from schemas.errors import SchemaError
from schemas.parser import DEFAULT_LIMITS, ParseLimits, parse_xml
from schemas.registry import Registry, default_registry
from tests.unit.test_schemas_registry import referral, visit

ENV = "urn:omsorgshub:envelope:1"


def envelope(
    body: bytes = b"",
    *,
    type_: str = "case.referral",
    version: str = "1",
    extra_header: str = "",
    root_attrs: str = "",
) -> bytes:
    body = body or referral()
    return (
        (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Envelope xmlns="{ENV}"{root_attrs}>\n'
            f"  <Header>\n    <Type>{type_}</Type>\n    <Version>{version}</Version>\n"
            f"    <District>sdn-sodermalm</District>\n    <Purpose>case_referral</Purpose>\n"
            f"{extra_header}  </Header>\n  <Body>"
        ).encode()
        + body
        + b"</Body>\n</Envelope>\n"
    )


@pytest.fixture(scope="module")
def registry() -> Registry:
    return default_registry()


def _refusal(data: bytes, registry: Registry, limits: ParseLimits = DEFAULT_LIMITS) -> SchemaError:
    with pytest.raises(SchemaError) as info:
        read_envelope(data, registry, limits)
    return info.value


def test_minimal_envelope(registry: Registry) -> None:
    parsed = read_envelope(envelope(), registry)
    assert isinstance(parsed, ParsedEnvelope)
    assert (parsed.message_type, parsed.version) == ("case.referral", "1")
    assert (parsed.district, parsed.purpose) == ("sdn-sodermalm", "case_referral")
    assert parsed.message_id is None
    assert parsed.consent is None
    assert parsed.recipients == ()
    assert parsed.subjects == ()
    assert parsed.message_type_info is registry.get("case.referral", "1")
    assert parsed.body.tag == "{urn:omsorgshub:case.referral:1}CaseReferral"


def test_full_header(registry: Registry) -> None:
    header = (
        "    <MessageId> ad-2024-000017-r1 </MessageId>\n"
        "    <Consent>samtycke  2024-02-12 muntligt</Consent>\n"
        "    <Recipients><Recipient>paraplyet-sodermalm</Recipient>"
        "<Recipient>sdk-sodermalm</Recipient></Recipients>\n"
        '    <DataSubjects><Subject>19121212-1212</Subject><Subject scheme="dk">010203-1234'
        "</Subject></DataSubjects>\n"
    )
    parsed = read_envelope(envelope(extra_header=header), registry)
    assert parsed.message_id == "ad-2024-000017-r1"
    assert parsed.consent == "samtycke 2024-02-12 muntligt"  # xs:token: collapsed
    assert parsed.recipients == ("paraplyet-sodermalm", "sdk-sodermalm")
    assert parsed.subjects == (("se", "19121212-1212"), ("dk", "010203-1234"))


def test_visit_envelope(registry: Registry) -> None:
    parsed = read_envelope(envelope(visit(), type_="timereport.visit"), registry)
    assert parsed.message_type_info.categories == {"identity", "time"}


def test_unknown_type_is_located_at_the_type_element(registry: Registry) -> None:
    error = _refusal(envelope(type_="case.referal"), registry)
    assert error.reason == "unknown_message_type"
    assert "did you mean 'case.referral'?" in error.detail
    assert error.path == "/Envelope/Header/Type"
    assert error.line == 4


def test_unknown_version(registry: Registry) -> None:
    error = _refusal(envelope(version="2"), registry)
    assert error.reason == "unknown_message_type"
    assert "known versions: 1" in error.detail


def test_header_error_has_envelope_path(registry: Registry) -> None:
    data = envelope().replace(b"<District>sdn-sodermalm", b"<District>S\xc3\xb6dermalm district")
    error = _refusal(data, registry)
    assert error.reason == "schema_invalid"
    assert error.path == "/Envelope/Header/District"
    assert error.line == 6


def test_header_elements_out_of_order(registry: Registry) -> None:
    data = envelope(extra_header="    <Consent>c-1</Consent>\n    <MessageId>m-1</MessageId>\n")
    error = _refusal(data, registry)
    assert error.reason == "schema_invalid"
    assert error.path == "/Envelope/Header/MessageId"


def test_body_error_has_the_full_path(registry: Registry) -> None:
    error = _refusal(envelope(referral(Urgency="soon")), registry)
    assert error.reason == "schema_invalid"
    assert error.path == "/Envelope/Body/CaseReferral/Urgency"
    assert error.line == 16  # the body starts on line 9 of the envelope, Urgency is its 8th


def test_body_of_another_type_is_refused(registry: Registry) -> None:
    error = _refusal(envelope(visit()), registry)
    assert error.reason == "schema_invalid"
    assert error.path == "/Envelope/Body/Visit"
    assert "CaseReferral" in error.detail


def test_body_without_namespace_is_refused(registry: Registry) -> None:
    error = _refusal(envelope(b"<CaseReferral/>"), registry)
    assert error.reason == "schema_invalid"
    assert error.path is not None
    assert error.path.startswith("/Envelope/Body")


def test_two_body_documents_are_refused(registry: Registry) -> None:
    assert _refusal(envelope(referral() + referral()), registry).reason == "schema_invalid"


def test_wrong_root_element(registry: Registry) -> None:
    error = _refusal(b'<Envelope xmlns="urn:omsorgshub:envelope:2"/>', registry)
    assert error.reason == "schema_invalid"
    assert error.path == "/Envelope"
    assert "urn:omsorgshub:envelope:1" in error.detail


def test_hostile_envelope_never_reaches_validation(registry: Registry) -> None:
    data = b'<!DOCTYPE Envelope [<!ENTITY x "y">]>' + envelope().split(b"?>", 1)[1]
    assert _refusal(data, registry).reason == "forbidden_dtd"


def test_limits_are_passed_to_the_parser(registry: Registry) -> None:
    data = envelope()
    assert _refusal(data, registry, ParseLimits(max_bytes=len(data) - 1)).reason == "too_large"
    assert _refusal(data, registry, ParseLimits(max_depth=4)).reason == "too_deep"


def test_utf16_envelope_is_read(registry: Registry) -> None:
    text = envelope().decode().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    parsed = read_envelope(text.encode("utf-16"), registry)
    assert parsed.body_bytes == read_envelope(envelope(), registry).body_bytes


# --- canonical body bytes ---------------------------------------------------------------


def test_same_document_gives_same_bytes(registry: Registry) -> None:
    first = read_envelope(envelope(), registry).body_bytes
    second = read_envelope(envelope(), registry).body_bytes
    assert first == second
    assert first.startswith(b'<CaseReferral xmlns="urn:omsorgshub:case.referral:1">')


def test_canonical_bytes_ignore_serialization_details(registry: Registry) -> None:
    plain = read_envelope(envelope(), registry).body_bytes
    variant = (
        referral()
        .replace(
            b'<AffectedUnit kind="provider" id="prov-exempla">',
            b"<AffectedUnit  id='prov-exempla'\n kind='provider' >",  # attribute order, quotes
        )
        .replace(b"<Urgency>normal</Urgency>", b"<Urgency>n&#111;rmal</Urgency><!-- note -->")
        .replace(b"Exempla Omsorg AB", b"Exempla Omsorg <![CDATA[AB]]>")
        .replace(b'to="15:00:00"/>', b'to="15:00:00"></PreferredTime>')
    )
    # An unused namespace declared on the envelope must not leak into the body bytes either.
    data = envelope(variant, root_attrs=' xmlns:unused="urn:example:unused"')
    assert read_envelope(data, registry).body_bytes == plain
    assert b"unused" not in plain


def test_different_content_gives_different_bytes(registry: Registry) -> None:
    normal = read_envelope(envelope(), registry).body_bytes
    urgent = read_envelope(envelope(referral(Urgency="urgent")), registry).body_bytes
    assert normal != urgent


def test_body_bytes_stand_alone_and_validate(registry: Registry) -> None:
    # The body uses a prefix declared only on the envelope: the bytes must declare it.
    prefixed = visit().replace(b' xmlns:v="urn:omsorgshub:timereport.visit:1"', b"")
    data = envelope(
        prefixed,
        type_="timereport.visit",
        root_attrs=' xmlns:v="urn:omsorgshub:timereport.visit:1"',
    )
    parsed = read_envelope(data, registry)
    standalone = parse_xml(parsed.body_bytes)
    registry.validate(parsed.message_type_info, standalone)
    assert canonical_bytes(standalone) == parsed.body_bytes


def test_body_element_and_bytes_agree(registry: Registry) -> None:
    parsed = read_envelope(envelope(), registry)
    assert canonical_bytes(parsed.body) == parsed.body_bytes
    assert etree.fromstring(parsed.body_bytes).findtext(
        "{urn:omsorgshub:case.referral:1}Urgency"
    ) == ("normal")


def test_read_envelope_speed(registry: Registry) -> None:
    # Not a benchmark (see the report); a guard against an accidental 10x regression.
    data = envelope()
    read_envelope(data, registry)
    count = 500
    started = time.perf_counter()
    for _ in range(count):
        read_envelope(data, registry)
    per_message = (time.perf_counter() - started) / count
    assert per_message < 0.002, f"{per_message * 1e6:.0f} µs per envelope"
