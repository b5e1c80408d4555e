"""What the SDK double checks in a ``POST /sdk/messages`` request, as a message service would.

Two steps, as DIGG's API describes them (a message service validates what it receives, and
answers ``400`` problem+json with ``eventIssues`` when it will not take it):

1. the JSON body against ``sdk_schemas/create-message.schema.json`` (our own JSON Schema from the
   published API's ``createMessage``), with jsonschema-rs;
2. the request mapped to an SDK Meddelande v3 document (``messagePayload``) and that document
   against ``sdk_schemas/sdk-meddelande-3.xsd`` (our own XSD of the message type's rules), with
   lxml.

An issue names the rule and the place, never the offending value: a value may be a
personnummer, and the issue goes back to the client, which may log it.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, cast

import jsonschema_rs
from lxml import etree

from adapters.doubles.sdk_fixtures import sdk_timestamp

V3_NS = "urn:riv:infrastructure:messaging:MessageWithAttachments:3"
ACTOR_ID_ROOT = "iso6523-actorid-upis"
SCHEMA_DIR = Path(__file__).parent / "sdk_schemas"
ISSUE_TYPE = "MESSAGE_EXCHANGE_ERROR"
_QUOTED_VALUE = re.compile(r"(value|Value) '[^']*'")
_NAMESPACE = re.compile(r"\{[^}]*\}")
_SAFE_KINDS = ("required", "additionalProperties", "const", "type", "enum")

Issue = dict[str, str]


class RequestRefused(Exception):
    """The request breaks the API's schema or the message type's rules."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        super().__init__(issues[0]["title"] if issues else "invalid")
        self.issues = list(issues)


@cache
def _json_validator() -> Any:
    schema = json.loads((SCHEMA_DIR / "create-message.schema.json").read_text(encoding="utf-8"))
    return jsonschema_rs.validator_for(schema)


@cache
def _xsd_bytes() -> bytes:
    return (SCHEMA_DIR / "sdk-meddelande-3.xsd").read_bytes()


def _xsd() -> etree.XMLSchema:
    # A compiled XMLSchema keeps its error log on the object: one per call, from cached bytes
    # (the double serves from a thread pool). A millisecond; the double is not the bottleneck.
    return etree.XMLSchema(etree.fromstring(_xsd_bytes()))


def accepted_attributes(body: bytes) -> dict[str, Any]:
    """The request's ``data.attributes`` completed as the service does (ids, timestamp), or
    ``RequestRefused`` with the issues found."""
    try:
        request = json.loads(body)
    except ValueError:
        raise RequestRefused([_issue("Input isn't valid JSON", "not JSON", "body")]) from None
    issues = [
        _issue(
            "Input isn't valid with respect to schema",
            error.message if str(error.schema_path[-1]) in _SAFE_KINDS else
            f"breaks '{error.schema_path[-1]}'",
            "/" + "/".join(str(p) for p in error.instance_path),
        )
        for error in _json_validator().iter_errors(request)
    ]  # fmt: skip
    if issues:
        raise RequestRefused(issues)
    attributes = dict(cast(Mapping[str, Any], request["data"]["attributes"]))
    attributes.setdefault("messageId", str(uuid.uuid4()))
    attributes.setdefault("conversationId", attributes["messageId"])
    attributes.setdefault("creationDateTime", sdk_timestamp(datetime.now(UTC)))
    check_message(message_v3(attributes))
    return attributes


def check_message(document: etree._Element) -> None:
    """``RequestRefused`` unless ``document`` keeps the rules of SDK Meddelande v3."""
    schema = _xsd()
    if schema.validate(document):
        return
    issues = [
        _issue(
            "SDK Meddelande v3 breaks a rule of the message type",
            _NAMESPACE.sub("", _QUOTED_VALUE.sub(r"\1", entry.message)),
            entry.path or "messagePayload",
        )
        for entry in cast(Sequence[Any], schema.error_log)
    ]
    raise RequestRefused(issues)


def message_v3(attributes: Mapping[str, Any]) -> etree._Element:
    """The ``messagePayload`` a message service makes of a request's attributes."""
    payload = etree.Element(_q("messagePayload"), nsmap={"sdk": V3_NS})
    message = etree.SubElement(payload, _q("message"))
    header = etree.SubElement(message, _q("messageHeader"))
    for name in ("creationDateTime", "messageId", "conversationId", "refToMessageId", "label"):
        if name in attributes:
            _add(header, name, attributes[name])
    _add(header, "confidentiality", "true" if attributes.get("confidentiality") else "false")
    system = attributes.get("generatingSystem")
    if isinstance(system, Mapping):
        _identifier(etree.SubElement(header, _q("generatingSystem")), system)
    for role, party in (("recipient", "recipientID"), ("sender", "senderID")):
        element = etree.SubElement(header, _q(role))
        actor = etree.SubElement(element, _q(party))
        _add(actor, "root", ACTOR_ID_ROOT)
        _add(actor, "extension", attributes.get(role, ""))
        attention = attributes.get(f"{role}Attention")
        if isinstance(attention, Mapping):
            _attention(etree.SubElement(element, _q("attention")), attention)
    body = etree.SubElement(message, _q("messageBody"))
    for document in attributes.get("digitalDocument") or ():
        _document(etree.SubElement(body, _q("documents")), document)
    return payload


def _attention(element: etree._Element, attention: Mapping[str, Any]) -> None:
    for person in [*attention.get("attentionPerson", ()), *attention.get("referenceId", ())]:
        person_element = etree.SubElement(element, _q("person"))
        _identifier(etree.SubElement(person_element, _q("personId")), person)
        if person.get("label") is not None:
            _add(person_element, "name", person["label"])
    sub = attention.get("subOrganization") or {}
    sub_element = etree.SubElement(element, _q("subOrganization"))
    _identifier(etree.SubElement(sub_element, _q("organizationId")), sub)
    if sub.get("label") is not None:
        _add(sub_element, "label", sub["label"])


def _document(element: etree._Element, document: Mapping[str, Any]) -> None:
    _add(element, "documentID", document.get("documentId", ""))
    for key, name in (("documentName", "documentName"), ("index", "index")):
        if key in document:
            _add(element, name, document[key])
    for text in document.get("contentTextBody") or ():
        _add(etree.SubElement(element, _q("ContentText")), "characterSequence", text)
    for file in document.get("contentFiles") or ():
        file_element = etree.SubElement(element, _q("ContentFile"))
        for name in ("fileName", "contentType", "content"):
            _add(file_element, name, file.get(name, ""))


def _identifier(element: etree._Element, value: Mapping[str, Any]) -> None:
    _add(element, "root", value.get("root", ""))
    _add(element, "extension", value.get("extension", ""))


def _add(parent: etree._Element, name: str, value: object) -> None:
    etree.SubElement(parent, _q(name)).text = str(value)


def _q(name: str) -> str:
    return f"{{{V3_NS}}}{name}"


def _issue(title: str, detail: str, where: str) -> Issue:
    return {"typeCode": ISSUE_TYPE, "title": title, "detail": detail, "in": where}
