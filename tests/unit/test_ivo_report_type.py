"""The ``ivo.individual_report`` message type: its XSD, its categories, and whom it is about.

The body names its person only by IVO's code; the envelope's header must name the person, so
the hub can still find the report by person (its keyed hash), and nothing else is linked.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from lxml import etree

from hub.demo.fictional import FictionalPeople
from hub.demo.ivo_reports import is_female, ivo_report_body
from hub.errors import SubjectMismatch
from hub.ingest.subjects import named_subjects
from schemas.envelope import read_envelope
from schemas.errors import SchemaError
from schemas.parser import parse_xml
from schemas.registry import MessageType, Registry, SubjectPath, default_registry

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "ivo-individual-report.xml"
PERSON = "19380215-9842"  # the example's fictional person (valid check digit)


@pytest.fixture(scope="module")
def registry() -> Registry:
    return default_registry()


def example(**replace: str) -> bytes:
    text = EXAMPLE.read_text(encoding="utf-8")
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    return text.encode()


def test_the_example_is_valid_and_linked_to_the_header_person(registry: Registry) -> None:
    envelope = read_envelope(example(), registry)
    assert envelope.message_type_info.pseudonymous
    linked = named_subjects(envelope).linked()
    assert [i.canonical for i in linked] == ["193802159842"]


def test_the_body_never_holds_the_identity_number(registry: Registry) -> None:
    envelope = read_envelope(example(), registry)
    body = envelope.body_bytes.decode()
    assert PERSON not in body
    assert PERSON.replace("-", "") not in body
    assert PERSON[2:] not in body


def test_a_report_whose_header_names_no_one_is_refused(registry: Registry) -> None:
    without = example(**{f'<Subject scheme="se">{PERSON}</Subject>': ""})
    without = without.replace(b"<DataSubjects>\n      \n    </DataSubjects>", b"")
    with pytest.raises(SubjectMismatch) as info:
        named_subjects(read_envelope(without, registry)).linked()
    assert "pseudonymous" in info.value.detail


@pytest.mark.parametrize(
    "code", ["19380215-9842", "380215-9842", "19380215-T12", "19380215-TF1", "1938021-T124"]
)
def test_the_code_must_be_ivo_s_format(registry: Registry, code: str) -> None:
    with pytest.raises(SchemaError) as info:
        read_envelope(example(**{"19380215-T124": code}), registry)
    assert info.value.reason == "schema_invalid"
    assert code not in str(info.value)


def test_tf_codes_are_accepted(registry: Registry) -> None:
    read_envelope(example(**{"19380215-T124": "19380215-TF10"}), registry)


def test_the_type_declares_pseudonym_and_not_identity(registry: Registry) -> None:
    mt = registry.get("ivo.individual_report", "1")
    assert mt.categories == {"pseudonym", "case", "decisions", "health"}
    assert "identity" not in mt.categories
    assert mt.subjects == ()


@pytest.mark.parametrize(
    ("categories", "subjects"),
    [({"pseudonym"}, (SubjectPath("Person"),)), ({"case"}, ())],
)
def test_a_pseudonymous_type_has_the_category_and_no_identity_numbers(
    categories: set[str], subjects: tuple[SubjectPath, ...]
) -> None:
    with pytest.raises(ValueError, match="pseudonymous"):
        MessageType(
            name="x",
            version="1",
            xsd="x.xsd",
            root="{urn:x}X",
            categories=frozenset(categories),
            description="",
            subjects=subjects,
            pseudonymous=True,
        )


def test_missing_fields_are_named_from_a_fixed_list(registry: Registry) -> None:
    missing = "<Missing><Field>DelayReason</Field><Field>Consequences</Field></Missing>"
    read_envelope(example(**{"</IndividualReport>": missing + "</IndividualReport>"}), registry)
    bad = example(
        **{"</IndividualReport>": "<Missing><Field>Whatever</Field></Missing></IndividualReport>"}
    )
    with pytest.raises(SchemaError):
        read_envelope(bad, registry)
    assert re.search(r"<Missing>", EXAMPLE.read_text()) is None  # the example is complete


@pytest.mark.parametrize("kind", ["not_executed", "executed", "closed"])
def test_fictional_reports_are_valid_with_the_gender_in_the_code(
    registry: Registry, kind: str
) -> None:

    mt = registry.get("ivo.individual_report", "1")
    rng = random.Random(5)
    for person in FictionalPeople(5, kind="personnummer").take(20):
        body = parse_xml(ivo_report_body(person, rng, kind=kind, interrupted=True))
        registry.validate(mt, body)
        code = body.findtext("{*}Individual/{*}Code") or ""
        assert int(code[-1]) % 2 == (0 if is_female(person) else 1)
        assert person.identity.canonical[2:] not in etree.tostring(body).decode()
