"""The message-type registry: lookup with suggestions, XSD validation with located errors, and
where each type's body names its persons."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest
from lxml import etree

from hub.demo.fictional import PROVIDERS, FictionalPeople, referral_body
from hub.demo.flows import deferral_body, execution_event_body, payment_body, visit_body
from hub.demo.medcom_world import care_communication
from hub.ingest.identity import parse_identity
from schemas.errors import SchemaDefinitionError, SchemaError
from schemas.medcom.document import to_xml
from schemas.parser import parse_xml
from schemas.registry import (
    CATEGORIES,
    XSD_DIR,
    MessageType,
    Registry,
    SubjectPath,
    default_registry,
    element_path,
)

CR = "urn:omsorgshub:case.referral:1"
VISIT = "urn:omsorgshub:timereport.visit:1"


def referral(**replace: str) -> bytes:
    fields = {
        "CaseId": "AD-2024-000017",
        "RegisteredAt": "2024-02-12T09:41:00+01:00",
        "CaseType": "home_care",
        "Urgency": "normal",
        "Number": "19121212-1212",
        "FreeText": "Anhörig undrar varför hemtjänsten inte kom.",
    }
    fields.update(replace)
    return f"""<CaseReferral xmlns="{CR}">
  <CaseId>{fields["CaseId"]}</CaseId>
  <RegisteredAt>{fields["RegisteredAt"]}</RegisteredAt>
  <MainCategory>elderly_care</MainCategory>
  <CaseType>{fields["CaseType"]}</CaseType>
  <CaseClass>status_existing</CaseClass>
  <AffectedUnit kind="provider" id="prov-exempla">Exempla Omsorg AB</AffectedUnit>
  <Urgency>{fields["Urgency"]}</Urgency>
  <Callback><Phone>070-1740605</Phone><PreferredTime from="13:00:00" to="15:00:00"/></Callback>
  <FreeText>{fields["FreeText"]}</FreeText>
  <DataSubject>
    <IdentityNumber scheme="se">{fields["Number"]}</IdentityNumber>
    <Name>Tolvan Testsson</Name>
  </DataSubject>
</CaseReferral>""".encode()


def visit(approval: str = '<Approval status="pending"/>') -> bytes:
    return f"""<v:Visit xmlns:v="{VISIT}">
  <v:VisitId>prov-exempla-00000042</v:VisitId>
  <v:Provider><v:Id>prov-exempla</v:Id><v:Name>Exempla Omsorg AB</v:Name></v:Provider>
  <v:Staff><v:Id>st-0042</v:Id><v:Name>Omsorga Testsson</v:Name></v:Staff>
  <v:Client scheme="dk">010203-1234</v:Client>
  <v:PlannedStart>2024-02-12T08:00:00+01:00</v:PlannedStart>
  <v:PlannedEnd>2024-02-12T08:30:00+01:00</v:PlannedEnd>
  <v:ActualStart>2024-02-12T08:04:00+01:00</v:ActualStart>
  <v:ActualEnd>2024-02-12T08:31:00+01:00</v:ActualEnd>
  <v:ConfirmationMethod>nfc</v:ConfirmationMethod>
  {approval}
</v:Visit>""".encode().replace(b"<Approval", b"<v:Approval")


@pytest.fixture
def registry() -> Registry:
    return default_registry()


def _invalid(registry: Registry, name: str, data: bytes) -> SchemaError:
    mt = registry.get(name, "1")
    with pytest.raises(SchemaError) as info:
        registry.validate(mt, parse_xml(data))
    assert info.value.reason == "schema_invalid"
    return info.value


def test_default_types_and_categories(registry: Registry) -> None:
    types = {(mt.name, mt.version): mt for mt in registry.types()}
    assert set(types) == {
        ("case.referral", "1"),
        ("timereport.visit", "1"),
        ("timereport.assistance_shift", "1"),
        ("timereport.visit", "2"),
        ("timereport.compensation_basis", "1"),
        ("case.execution_event", "1"),
        ("case.execution_event", "2"),
        ("finance.payment", "1"),
        ("finance.deferral", "1"),
        ("mailbox.message", "1"),
        ("care.communication", "1"),
        ("ivo.individual_report", "1"),
    }
    assert types["case.referral", "1"].categories == {"identity", "contact", "case"}
    assert types["timereport.visit", "1"].categories == {"identity", "time"}
    assert types["case.referral", "1"].root == f"{{{CR}}}CaseReferral"
    for mt in types.values():
        assert mt.categories <= CATEGORIES
        assert (XSD_DIR / mt.xsd).is_file()
    registry.warm_up()  # every XSD compiles


def test_valid_documents_pass(registry: Registry) -> None:
    registry.validate(registry.get("case.referral", "1"), parse_xml(referral()))
    registry.validate(registry.get("timereport.visit", "1"), parse_xml(visit()))
    approved = '<Approval status="approved" approvedBy="tl-7" approvedAt="2024-02-12T12:00:00Z"/>'
    registry.validate(registry.get("timereport.visit", "1"), parse_xml(visit(approved)))


def test_typo_in_type_name_suggests_the_right_one(registry: Registry) -> None:
    with pytest.raises(SchemaError) as info:
        registry.get("case.referal", "1")
    assert info.value.reason == "unknown_message_type"
    assert "did you mean 'case.referral'?" in info.value.detail


def test_unknown_version_lists_known_versions(registry: Registry) -> None:
    with pytest.raises(SchemaError) as info:
        registry.get("timereport.visit", "7")
    assert info.value.reason == "unknown_message_type"
    assert "known versions: 1" in info.value.detail


def test_unrelated_name_lists_known_types(registry: Registry) -> None:
    with pytest.raises(SchemaError) as info:
        registry.get("invoice.status", "1")
    assert "did you mean" not in info.value.detail
    assert "case.referral" in info.value.detail
    assert "timereport.visit" in info.value.detail


def test_enumeration_error_has_path_line_and_no_value(registry: Registry) -> None:
    error = _invalid(registry, "case.referral", referral(Urgency="ASAP-19121212"))
    assert error.path == "/CaseReferral/Urgency"
    assert error.line == 8
    assert "normal" in error.detail  # the allowed set is useful to the sender
    assert "ASAP" not in str(error)
    assert "19121212" not in str(error)


def test_pattern_error_does_not_echo_the_identity_number(registry: Registry) -> None:
    error = _invalid(registry, "case.referral", referral(Number="19121212-12X2"))
    assert error.path == "/CaseReferral/DataSubject/IdentityNumber"
    assert error.line == 12
    assert "12X2" not in str(error)
    assert "pattern" in error.detail


def test_datatype_error_does_not_echo_the_value(registry: Registry) -> None:
    error = _invalid(registry, "case.referral", referral(RegisteredAt="2024-13-45T09:41:00Z"))
    assert error.path == "/CaseReferral/RegisteredAt"
    assert "2024-13-45" not in str(error)
    assert "ZonedDateTime" in error.detail  # type name without the namespace


def test_datetime_without_offset_is_refused(registry: Registry) -> None:
    error = _invalid(registry, "case.referral", referral(RegisteredAt="2024-02-12T09:41:00"))
    assert error.path == "/CaseReferral/RegisteredAt"


def test_free_text_length_limit(registry: Registry) -> None:
    mt = registry.get("case.referral", "1")
    registry.validate(mt, parse_xml(referral(FreeText="å" * 4000)))
    error = _invalid(registry, "case.referral", referral(FreeText="å" * 4001))
    assert error.path == "/CaseReferral/FreeText"
    assert "4000" in error.detail


def test_prefixed_document_error_path_uses_local_names(registry: Registry) -> None:
    bad = visit('<Approval status="maybe"/>')
    error = _invalid(registry, "timereport.visit", bad)
    assert error.path == "/Visit/Approval"
    assert error.detail.startswith("attribute 'status':")
    assert "maybe" not in error.detail


def test_missing_element_error_names_what_is_expected(registry: Registry) -> None:
    data = referral().replace(b"  <CaseClass>status_existing</CaseClass>\n", b"")
    error = _invalid(registry, "case.referral", data)
    assert error.path == "/CaseReferral/AffectedUnit"
    assert "CaseClass" in error.detail
    assert "{" not in error.detail  # Clark namespaces are stripped


def test_repeated_siblings_get_an_index_in_the_path(registry: Registry) -> None:
    data = visit().replace(
        b"</v:Visit>",
        b'<v:Interventions><v:Intervention code="meal" minutes="10"/>'
        b'<v:Intervention code="meal" minutes="1441"/></v:Interventions></v:Visit>',
    )
    error = _invalid(registry, "timereport.visit", data)
    assert error.path == "/Visit/Interventions/Intervention[2]"


def test_wrong_root_is_refused_with_both_names(registry: Registry) -> None:
    error = _invalid(registry, "case.referral", visit())
    assert "CaseReferral" in error.detail
    assert "Visit" in error.detail
    assert error.path == "/Visit"


def test_same_local_name_in_another_namespace_is_the_wrong_root(registry: Registry) -> None:
    data = referral().replace(CR.encode(), b"urn:example:other")
    assert "CaseReferral" in _invalid(registry, "case.referral", data).detail


def test_xsi_type_is_refused(registry: Registry) -> None:
    data = referral().replace(
        b"<Urgency>",
        b'<Urgency xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        b'xmlns:cr="urn:omsorgshub:case.referral:1" xsi:type="cr:Urgency">',
    )
    error = _invalid(registry, "case.referral", data)
    assert "xsi:type" in error.detail
    assert error.path == "/CaseReferral/Urgency"


def test_paths_of_elements_in_a_larger_document(registry: Registry) -> None:
    root = parse_xml(b"<a><b/><c><d/><d><e/></d></c></a>")
    e = root.find("c/d/e")
    assert e is not None
    assert element_path(e) == "/a/c/d[2]/e"


def test_schemas_are_compiled_lazily(tmp_path: Path) -> None:
    broken = MessageType("x.y", "1", "x.y-1.xsd", "{urn:x}Y", frozenset({"case"}), "test")
    # Nothing is read when the registry is made, so a missing folder is only found on use.
    registry = Registry([broken], xsd_dir=tmp_path / "missing")
    assert registry.get("x.y", "1") is broken
    with pytest.raises(SchemaDefinitionError, match="cannot read"):
        registry.validate(broken, parse_xml(b'<Y xmlns="urn:x"/>'))


def test_broken_xsd_is_a_definition_error_not_the_senders_fault(tmp_path: Path) -> None:
    (tmp_path / "x.y-1.xsd").write_text("<xs:schema xmlns:xs='http://www.w3.org/2001/XMLSchema'>")
    mt = MessageType("x.y", "1", "x.y-1.xsd", "{urn:x}Y", frozenset({"case"}), "test")
    registry = Registry([mt], xsd_dir=tmp_path)
    with pytest.raises(SchemaDefinitionError, match="does not compile"):
        registry.validate(mt, parse_xml(b'<Y xmlns="urn:x"/>'))


def test_warm_up_compiles_the_shipped_schemas(registry: Registry) -> None:
    registry.warm_up()


def test_message_type_checks_its_categories_and_root() -> None:
    with pytest.raises(ValueError, match="unknown categories"):
        MessageType("a", "1", "a.xsd", "{urn:a}A", frozenset({"gossip"}), "")
    with pytest.raises(ValueError, match="root"):
        MessageType("a", "1", "a.xsd", "A", frozenset({"case"}), "")


def test_duplicate_registration_is_refused() -> None:
    mt = MessageType("a", "1", "a.xsd", "{urn:a}A", frozenset({"case"}), "")
    with pytest.raises(ValueError, match="twice"):
        Registry([mt, mt])


def test_validators_are_not_shared_between_threads(registry: Registry) -> None:
    mt = registry.get("case.referral", "1")
    documents = {
        "valid": referral(),
        "/CaseReferral/Urgency": referral(Urgency="later"),
        "/CaseReferral/CaseType": referral(CaseType="gardening"),
    }
    wrong: list[str] = []
    barrier = threading.Barrier(len(documents) * 2)

    def work(expected: str, data: bytes) -> None:
        element = parse_xml(data)
        barrier.wait()
        for _ in range(300):
            try:
                registry.validate(mt, element)
                got = "valid"
            except SchemaError as exc:
                got = str(exc.path)
            if got != expected:
                wrong.append(f"{expected} -> {got}")

    threads = [threading.Thread(target=work, args=item) for item in list(documents.items()) * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


def test_error_string_is_one_readable_line(registry: Registry) -> None:
    error = _invalid(registry, "case.referral", referral(Urgency="later"))
    text = str(error)
    assert "\n" not in text
    assert text.startswith("schema_invalid (line 8 at /CaseReferral/Urgency): ")


def test_validate_accepts_a_subtree_of_a_larger_document(registry: Registry) -> None:
    outer = etree.fromstring(b'<wrap xmlns="urn:wrap"><inner/></wrap>')
    outer[0].append(parse_xml(referral(Urgency="later")))
    body = outer[0][0]
    mt = registry.get("case.referral", "1")
    with pytest.raises(SchemaError) as info:
        registry.validate(mt, body)
    assert info.value.path == "/wrap/inner/CaseReferral/Urgency"


# -- where the persons are: every type that carries identities says where -------------------


def test_every_type_that_carries_identities_declares_where_they_are(registry: Registry) -> None:
    # Ingest links a message to the persons its body names only through these paths: a type
    # with the identity category and no path would let a body name people nobody can find.
    undeclared = [
        mt.label for mt in registry.types() if "identity" in mt.categories and not mt.subjects
    ]
    assert undeclared == []
    unexplained = [
        mt.label for mt in registry.types() if mt.subjects and "identity" not in mt.categories
    ]
    assert unexplained == []  # identity numbers without the category would pass agreements


def _sample_bodies() -> dict[str, tuple[bytes, set[str]]]:
    """One fictional body per type, with the canonical numbers of the persons it names."""
    rng = random.Random(3)
    se = FictionalPeople(3, kind="personnummer").take(2)
    dk = FictionalPeople(4, kind="cpr").take(1)[0]
    payment = payment_body(se[1], rng)
    while b"<Person>" not in payment:  # the client paid directly: two places name them
        payment = payment_body(se[1], rng)
    return {
        "case.referral": (referral_body(se[0], "sdn-sodermalm", rng), {se[0].identity.canonical}),
        "timereport.visit": (visit_body(dk, PROVIDERS[0], rng), {dk.identity.canonical}),
        "case.execution_event": (execution_event_body(dk, rng), {dk.identity.canonical}),
        "finance.payment": (payment, {se[1].identity.canonical}),
        "finance.deferral": (
            deferral_body("7100002", None, se[0].identity, 10, rng),
            {se[0].identity.canonical},
        ),
        "care.communication": (
            to_xml(care_communication(dk, rng, attachment=True)),
            {dk.identity.canonical},
        ),
    }


@pytest.mark.parametrize("name", sorted(_sample_bodies()))
def test_declared_paths_find_the_persons_of_a_real_document(registry: Registry, name: str) -> None:
    body, persons = _sample_bodies()[name]
    mt = registry.get(name, "1")
    element = parse_xml(body)
    registry.validate(mt, element)
    found = [number for path in mt.subjects for number in path.find(element)]
    assert found, f"{mt.label}: no declared path matched"
    assert {parse_identity(f.text, f.scheme).canonical for f in found} == persons
    assert all(f.path.startswith(f"/{etree.QName(element).localname}/") for f in found)


def test_the_scheme_comes_from_the_document_where_the_type_has_an_attribute(
    registry: Registry,
) -> None:
    mt = registry.get("timereport.visit", "1")
    [found] = [n for path in mt.subjects for n in path.find(parse_xml(visit()))]
    assert (found.scheme, found.text, found.path) == ("dk", "010203-1234", "/Visit/Client")
    assert "010203" not in repr(found)  # a repr may reach a log


def test_a_path_can_end_in_an_attribute() -> None:
    # FHIR (MedCom) keeps values in attributes: <identifier><value value="..."/></identifier>.
    path = SubjectPath("Patient/identifier/value/@value", scheme="dk")
    body = parse_xml(
        b'<Bundle xmlns="http://hl7.org/fhir"><Patient><identifier>'
        b'<value value="0102031234"/></identifier></Patient></Bundle>'
    )
    [found] = path.find(body)
    assert (found.scheme, found.text) == ("dk", "0102031234")
    assert found.path == "/Bundle/Patient/identifier/value/@value"


@pytest.mark.parametrize("bad", ["", "/Client", "Client/", "a//b", "@value", "a/@b/c", "a[1]"])
def test_a_malformed_subject_path_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="subject path"):
        SubjectPath(bad)


def test_an_unknown_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown scheme"):
        SubjectPath("Client", scheme="no")
