"""The SDK double's checks of a request: the API's schema, then the SDK Meddelande v3 rules."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from adapters.doubles.sdk_rules import RequestRefused, accepted_attributes

VALID: dict[str, Any] = {
    "messageId": "3a94b4ed-a6d7-41e2-945d-b3fa91e8a6e9",
    "creationDateTime": "2026-03-02T09:15:00.123Z",
    "confidentiality": True,
    "label": "Remiss",
    "sender": "0203:2120009991",
    "recipient": "0203:2120009991",
    "recipientAttention": {
        "subOrganization": {
            "root": "urn:riv:infrastructure:messaging:functionalAddress",
            "extension": "sdk:inkorg:0203:2120009991:sodermalm",
        },
        "referenceId": [
            {"root": "1.2.752.129.2.1.3.1", "extension": "19121212-1212", "label": "Tolvan"}
        ],
    },
    "digitalDocument": [
        {
            "documentId": "d-1",
            "contentTextBody": ["Hej"],
            "contentFiles": [
                {"fileName": "a.xml", "contentType": "application/xml", "content": "PGEvPg=="}
            ],
        }
    ],
}


def _request(**changes: Any) -> bytes:
    attributes = copy.deepcopy(VALID)
    for path, value in changes.items():
        *steps, last = path.split("__")
        target: Any = attributes
        for step in steps:
            target = target[int(step)] if step.isdigit() else target[step]
        if value is None:
            del target[last]
        else:
            target[last] = value
    return json.dumps({"data": {"type": "messages", "attributes": attributes}}).encode()


def _issues(data: bytes) -> list[dict[str, str]]:
    with pytest.raises(RequestRefused) as caught:
        accepted_attributes(data)
    assert caught.value.issues
    return caught.value.issues


def test_a_valid_request_is_completed_as_the_service_does() -> None:
    attributes = accepted_attributes(_request(messageId=None, creationDateTime=None))
    assert attributes["conversationId"] == attributes["messageId"]
    assert attributes["creationDateTime"].endswith("Z")


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"label": None}, "/data/attributes"),  # required by the API
        ({"label": "x" * 257}, "/data/attributes/label"),
        ({"colour": "blue"}, "/data/attributes"),  # unknown member
        ({"confidentiality": "yes"}, "/data/attributes/confidentiality"),
    ],
)
def test_the_apis_schema_is_enforced(change: dict[str, Any], where: str) -> None:
    (issue, *_) = _issues(_request(**change))
    assert issue["typeCode"] == "MESSAGE_EXCHANGE_ERROR"
    assert issue["title"] == "Input isn't valid with respect to schema"
    assert issue["in"] == where


@pytest.mark.parametrize(
    ("change", "element"),
    [
        ({"messageId": "not-a-uuid"}, "messageId"),
        ({"creationDateTime": "2026-03-02T10:15:00+01:00"}, "creationDateTime"),
        ({"label": "   "}, "label"),
        ({"recipient": "sodermalm.example"}, "extension"),
        (
            {"recipientAttention__subOrganization__root": "urn:example:other"},
            "root",
        ),
        ({"digitalDocument__0__contentFiles__0__content": "not base64!"}, "content"),
        ({"digitalDocument__0__contentTextBody": [""]}, "characterSequence"),
    ],
)
def test_the_message_types_rules_are_enforced(change: dict[str, Any], element: str) -> None:
    (issue, *_) = _issues(_request(**change))
    assert issue["title"] == "SDK Meddelande v3 breaks a rule of the message type"
    assert element in issue["detail"]


def test_an_issue_never_repeats_the_value() -> None:
    for issue in _issues(_request(recipientAttention__referenceId__0__extension="1" * 300)):
        assert "1111111111" not in json.dumps(issue)


def test_not_json_is_an_issue_too() -> None:
    assert _issues(b"{")[0]["in"] == "body"
