"""The ``mailbox.message`` v1 type: what an inbound SDK message becomes in the hub."""

from __future__ import annotations

import uuid

import pytest

from adapters.sdk.ids import sdk_message_id
from schemas.errors import SchemaError
from schemas.parser import parse_xml
from schemas.registry import Registry, default_registry

NS = "urn:omsorgshub:mailbox.message:1"
MESSAGE_ID = "0f1e2d3c-4b5a-4697-8879-6a5b4c3d2e1f"


def document(**replace: str) -> bytes:
    fields = {
        "SdkMessageId": MESSAGE_ID,
        "RefToMessageId": sdk_message_id("delivery-1"),
        "Label": "Svar: återkoppling på ärende",
        "Content": "SGVqIQ==",
    }
    fields.update(replace)
    return f"""<MailboxMessage xmlns="{NS}">
  <SdkMessageId>{fields["SdkMessageId"]}</SdkMessageId>
  <ConversationId>{fields["RefToMessageId"]}</ConversationId>
  <RefToMessageId>{fields["RefToMessageId"]}</RefToMessageId>
  <CreatedAt>2026-03-02T09:15:00.000Z</CreatedAt>
  <Sender><OrganizationId>0203:2120000142</OrganizationId>
    <FunctionalAddress>sdk:inkorg:0203:2120000142:sodermalm</FunctionalAddress></Sender>
  <Recipient><OrganizationId>0203:2120000142</OrganizationId>
    <FunctionalAddress>sdk:inkorg:0203:2120000142:aldre-direkt</FunctionalAddress></Recipient>
  <Label>{fields["Label"]}</Label>
  <Confidential>true</Confidential>
  <Subject>194001019802</Subject>
  <Document><DocumentId>1</DocumentId><Text>Vi har ringt upp.</Text>
    <Attachment><FileName>svar.txt</FileName><ContentType>text/plain</ContentType>
      <Content>{fields["Content"]}</Content></Attachment></Document>
</MailboxMessage>""".encode()


@pytest.fixture
def registry() -> Registry:
    return default_registry()


def test_a_mailbox_message_validates_and_names_its_subject(registry: Registry) -> None:
    mt = registry.get("mailbox.message", "1")
    element = parse_xml(document())
    registry.validate(mt, element)
    found = [number for path in mt.subjects for number in path.find(element)]
    assert [(f.scheme, f.text) for f in found] == [("se", "194001019802")]
    assert "identity" in mt.categories


@pytest.mark.parametrize(
    ("field", "value"),
    [("SdkMessageId", "not-a-uuid"), ("Label", ""), ("Label", "x" * 257), ("Content", "%%")],
)
def test_broken_fields_are_refused(registry: Registry, field: str, value: str) -> None:
    mt = registry.get("mailbox.message", "1")
    with pytest.raises(SchemaError) as info:
        registry.validate(mt, parse_xml(document(**{field: value})))
    assert info.value.reason == "schema_invalid"


def test_sdk_message_ids_are_stable_uuids() -> None:
    assert sdk_message_id("d-1") == sdk_message_id("d-1")
    assert sdk_message_id("d-1") != sdk_message_id("d-2")
    assert uuid.UUID(sdk_message_id("d-1")).version == 5
