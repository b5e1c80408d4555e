"""The envelope and every message type under Hypothesis: arbitrary bytes and mutated valid
documents are either read or refused with a ``SchemaError``, never another exception, and a
refusal never quotes the person the document names.

The valid documents are the demo's fictional ones (``hub.demo.fictional``, ``hub.demo.flows``),
one per message type, so a new type is mutated as soon as the demo can write it
(``test_every_registered_type_has_a_seed``).
"""

from __future__ import annotations

import random
from decimal import Decimal
from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from adapters.doubles.sdk_fixtures import sdk_answer
from adapters.sdk.mailbox import mailbox_message_body
from hub.demo.atl_world import clean_month, shift_report
from hub.demo.fictional import PROVIDERS, FictionalPeople, FictionalPerson, build_envelope
from hub.demo.fictional import referral_body as referral
from hub.demo.flows import deferral_body, execution_event_body, payment_body, visit_body
from hub.demo.ivo_reports import ivo_report_body
from hub.demo.medcom_world import care_communication
from hub.homecare.basis import BasisLine, CompensationBasis, basis_body
from schemas.envelope import read_envelope
from schemas.errors import SchemaError
from schemas.medcom.document import to_xml
from schemas.parser import ParseLimits
from schemas.registry import Registry, default_registry

BOUNDED = settings(max_examples=150, deadline=None, database=None)


def _body(message_type: str, person: FictionalPerson, rng: random.Random) -> bytes:
    if message_type == "case.referral":
        return referral(person, "sdn-farsta", rng)
    if message_type == "timereport.visit":
        return visit_body(person, PROVIDERS[0], rng)
    if message_type == "case.execution_event":
        return execution_event_body(person, rng)
    if message_type == "finance.payment":
        return payment_body(person, rng, granted_hours=Decimal(100))
    if message_type == "mailbox.message":
        return mailbox_message_body(sdk_answer(person.identity.formatted(), rng))
    if message_type == "care.communication":
        return to_xml(care_communication(person, rng, attachment=True))
    if message_type == "ivo.individual_report":
        return ivo_report_body(person, rng)
    if message_type == "timereport.assistance_shift":
        shifts = clean_month(2026, rng.randrange(1, 13))
        return shift_report(
            assistant=f"A-{rng.randrange(10**4)}",
            client=person.identity.canonical,
            period=f"{shifts[0].start:%Y-%m}",
            shifts=shifts,
            report_id="R-PROP",
        )
    if message_type == "timereport.compensation_basis":
        return compensation_basis_body(person, rng)
    return deferral_body("7100003", None, person.identity, 20, rng)


TYPES = (
    "case.referral",
    "timereport.visit",
    "case.execution_event",
    "finance.payment",
    "finance.deferral",
    "mailbox.message",
    "ivo.individual_report",
    "timereport.assistance_shift",
    "timereport.compensation_basis",
    "care.communication",  # about a Dane, so last: the people below give it a CPR number
)


def compensation_basis_body(person: FictionalPerson, rng: random.Random) -> bytes:
    minutes = rng.randrange(15, 600)
    line = BasisLine(
        "se", person.identity.canonical, "personal_care", rng.randint(1, 30), minutes,
        Decimal("450.00"), (Decimal(450 * minutes) / 60).quantize(Decimal("0.01")),
    )  # fmt: skip
    basis = CompensationBasis(
        "prov-testvard", "2026-11", "FR-2026-11-0", "2026-12-01T08:00:00+01:00", "final", (line,)
    )
    return etree.tostring(basis_body(basis), encoding="UTF-8")


@cache
def registry() -> Registry:
    return default_registry()


@cache
def seeds() -> tuple[tuple[FictionalPerson, bytes], ...]:
    """One valid envelope per message type, each naming its own fictional person."""
    rng = random.Random(17)
    swedes = FictionalPeople(17, kind="personnummer").take(len(TYPES) - 1)
    people = [*swedes, *FictionalPeople(17, kind="cpr").take(1)]
    return tuple(
        (
            person,
            build_envelope(
                message_type=message_type,
                version="1",
                district="sdn-farsta",
                purpose="demo",
                body=_body(message_type, person, rng),
                message_id=f"PROP-{message_type}",
                subjects=(person.subject,),
            ),
        )
        for person, message_type in zip(people, TYPES, strict=True)
    )


def test_every_registered_type_has_a_seed() -> None:
    named = {etree.fromstring(doc).findtext(".//{*}Type") for _, doc in seeds()}
    assert named == {t.name for t in registry().types()}
    for _, doc in seeds():
        read_envelope(doc, registry())  # each seed is valid as it stands


def _read_or_refuse(data: bytes, limits: ParseLimits | None = None) -> SchemaError | None:
    try:
        if limits is None:
            read_envelope(data, registry())
        else:
            read_envelope(data, registry(), limits)
    except SchemaError as exc:
        return exc
    return None


@BOUNDED
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_are_read_or_refused(data: bytes) -> None:
    _read_or_refuse(data)


@BOUNDED
@given(st.binary(max_size=512), st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"]))
def test_arbitrary_bytes_after_a_declaration_are_read_or_refused(data: bytes, bom: bytes) -> None:
    _read_or_refuse(bom + b'<?xml version="1.0" encoding="UTF-8"?>\n<Envelope ' + data)


# What a hostile or careless sender puts into one place of a document.
_PIECES = [
    b"<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>",
    b"&e;",
    b"&#0;",
    b"&#x1F;",
    b'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="/etc/passwd"/>',
    b"<![CDATA[<x>]]>",
    b"<!-- c -->",
    b"<?pi x?>",
    b"\xc0\xaf",  # overlong UTF-8
    b"\xed\xa0\x80",  # an encoded surrogate
    b"\xe2\x80\xae",  # right-to-left override
    b"\xef\xbb\xbf",  # a BOM in the middle
    b'xsi:type="x" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"',
    b"<a>" * 80 + b"</a>" * 80,
]
insertions = st.one_of(st.sampled_from(_PIECES), st.binary(min_size=1, max_size=64))


@BOUNDED
@given(
    st.sampled_from(range(len(TYPES))),
    st.floats(0, 1),
    st.integers(0, 64),
    insertions,
)
def test_valid_documents_with_bytes_replaced_are_read_or_refused_without_the_person(
    which: int, where: float, cut: int, piece: bytes
) -> None:
    person, doc = seeds()[which]
    at = int(where * len(doc))
    mutated = doc[:at] + piece + doc[at + cut :]
    refusal = _read_or_refuse(mutated)
    if refusal is not None:
        said = f"{refusal} {refusal.detail} {refusal.path}"
        for secret in _secrets(person):
            assert secret not in said, f"the refusal quotes {secret!r}: {said}"


@st.composite
def one_field_changed(draw: st.DrawFn) -> tuple[FictionalPerson, bytes]:
    """A seed with one element or attribute changed: its text replaced or extended (half of
    the time an element that names the person, whose refusal must not quote it), or the
    element removed."""
    person, doc = draw(st.sampled_from(seeds()))
    root = etree.fromstring(doc)
    elements = [e for e in root.iter() if isinstance(e.tag, str)]
    naming = [e for e in elements if e.text and _secrets(person) & {e.text.strip()}]
    naming_first: bool = bool(naming) and draw(st.booleans())
    element = draw(st.sampled_from(naming if naming_first else elements))
    # XML 1.0 characters only: lxml refuses to build anything else (the byte test sends those).
    value = draw(st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"])))
    attributes = list(element.attrib)
    how = draw(st.sampled_from(["replace", "extend", "attribute", "remove"]))
    if how == "attribute" and attributes:
        element.set(draw(st.sampled_from(attributes)), value)
    elif how == "extend":
        element.text = (element.text or "") + value
    elif how == "remove" and element.getparent() is not None:
        element.getparent().remove(element)  # type: ignore[union-attr]
    else:
        element.text = value
    return person, etree.tostring(root, encoding="UTF-8", xml_declaration=True)


def _secrets(person: FictionalPerson) -> set[str]:
    return {person.identity.formatted(), person.identity.canonical, person.name}


@BOUNDED
@given(one_field_changed())
def test_valid_documents_with_one_field_changed_are_read_or_refused_without_the_person(
    changed: tuple[FictionalPerson, bytes],
) -> None:
    person, doc = changed
    refusal = _read_or_refuse(doc)
    if refusal is not None:
        said = f"{refusal} {refusal.detail} {refusal.path}"
        for secret in _secrets(person):
            assert secret not in said, f"the refusal quotes {secret!r}: {said}"


@settings(max_examples=40, deadline=None, database=None)
@given(st.integers(1, 4096), st.integers(1, 80), st.sampled_from(range(len(TYPES))))
def test_any_limits_read_or_refuse(max_bytes: int, max_depth: int, which: int) -> None:
    _read_or_refuse(seeds()[which][1], ParseLimits(max_bytes=max_bytes, max_depth=max_depth))
