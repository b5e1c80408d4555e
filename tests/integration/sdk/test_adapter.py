"""The SDK adapter against its double over real sockets: the shared contract, the mapping to
the API, receipts, tokens and the inbox."""

from __future__ import annotations

import base64
import time

import pytest

from adapters.doubles.sdk_double import SdkDouble
from adapters.doubles.sdk_fixtures import sdk_answer
from adapters.sdk.adapter import SdkAdapter
from adapters.sdk.ids import sdk_message_id
from hub.envelope import ReceiptState
from hub.errors import ConfigError, PermanentDeliveryError
from hub.ports import InboxPoller, ReceiptPoller
from schemas.envelope import read_envelope
from schemas.registry import default_registry
from tests.adapter_contract import (
    FICTIONAL_NAME,
    FICTIONAL_PERSONNUMMER,
    AdapterBuilder,
    AdapterContract,
    DeliveryFactory,
    Failure,
    SetFailure,
    StoredDocuments,
    opened,
    unreachable_url,
)
from tests.integration.sdk.conftest import (
    DISTRICT,
    DISTRICT_MAILBOX,
    HUB_MAILBOX,
    adapter_for,
    referral,
    sdk_options,
)


class TestSdkAdapterContract(AdapterContract):
    @pytest.fixture
    def contract_delivery(self) -> DeliveryFactory:
        return referral

    @pytest.fixture
    def adapter(self, sdk: SdkAdapter) -> SdkAdapter:
        return sdk

    @pytest.fixture
    def stored_documents(self, double: SdkDouble) -> StoredDocuments:
        return double.documents

    @pytest.fixture
    def set_failure(self, double: SdkDouble) -> SetFailure:
        modes: dict[Failure | None, str] = {
            "transient": "unavailable",
            "permanent": "reject",
            None: "up",
        }
        return lambda failure: double.set_mode(modes[failure])

    @pytest.fixture
    def unreachable_adapter(self) -> AdapterBuilder:
        api, token = unreachable_url("/v1"), unreachable_url("/oauth2/token")
        return lambda: SdkAdapter("nowhere", sdk_options(api, token, retries=1, timeout=1))


def test_a_referral_goes_to_the_districts_functional_mailbox(
    double: SdkDouble, sdk: SdkAdapter
) -> None:
    delivery = referral()
    receipt = sdk.deliver(delivery)
    message_id = sdk_message_id(delivery.delivery_id)
    assert (receipt.reference, receipt.awaiting_receipt) == (message_id, True)
    sent = double.messages()[message_id]
    assert sent["conversationId"] == message_id
    assert sent["confidentiality"] is True
    assert sent["recipientAttention"]["subOrganization"] == {
        "root": "urn:riv:infrastructure:messaging:functionalAddress",
        "extension": DISTRICT_MAILBOX,
    }
    [person] = sent["recipientAttention"]["referenceId"]
    assert person["root"] == "1.2.752.129.2.1.3.1"
    assert person["extension"].replace("-", "") == FICTIONAL_PERSONNUMMER
    assert sent["label"].startswith("Remiss från Äldre direkt")
    [document] = sent["digitalDocument"]
    assert base64.b64decode(document["contentFiles"][0]["content"]) == delivery.document
    assert "Ärende" in document["contentTextBody"][0]


def test_receipts_follow_the_life_cycle(double: SdkDouble, sdk: SdkAdapter) -> None:
    assert isinstance(sdk, ReceiptPoller)
    double.set_receipts("accept", after=0.3)
    reference = sdk.deliver(referral()).reference
    assert reference is not None
    waiting = sdk.poll_receipt(reference)
    assert (waiting.state, waiting.status) == (ReceiptState.PENDING, "WAITING_FOR_RECEIPT")
    time.sleep(0.35)
    assert sdk.poll_receipt(reference).state is ReceiptState.ACCEPTED
    assert double.effects()[reference] == [
        "received",
        "status:WAITING_FOR_RECEIPT",
        "status:ACCEPTED",
    ]


@pytest.mark.parametrize(
    ("outcome", "reason", "words"),
    [
        ("reject", "receipt_rejected", "SDK-MT-017"),
        ("exchange_error", "message_exchange_error", "NOT delivered"),
    ],
)
def test_a_failed_receipt_says_why(
    double: SdkDouble, sdk: SdkAdapter, outcome: str, reason: str, words: str
) -> None:
    double.set_receipts(outcome)  # type: ignore[arg-type]
    reference = sdk.deliver(referral()).reference
    assert reference is not None
    status = sdk.poll_receipt(reference)
    assert (status.state, status.reason) == (ReceiptState.REJECTED, reason)
    assert status.detail is not None
    assert words in status.detail


def test_a_lost_receipt_stays_pending(double: SdkDouble, sdk: SdkAdapter) -> None:
    double.set_receipts("lose")
    reference = sdk.deliver(referral()).reference
    assert reference is not None
    for _ in range(3):
        assert sdk.poll_receipt(reference).state is ReceiptState.PENDING


def test_a_revoked_token_is_fetched_again_once(double: SdkDouble, sdk: SdkAdapter) -> None:
    sdk.deliver(referral())
    double.set_tokens(expire_all=True)  # the service revokes it before it runs out
    sdk.deliver(referral())
    assert double.stats()["tokens_issued"] == 2
    assert double.stats()["unauthorized"] == 1


def test_an_expired_token_is_replaced_before_use(double: SdkDouble) -> None:
    double.set_tokens(lifetime=0.3)
    with opened(adapter_for(double)) as adapter:
        adapter.deliver(referral())
        time.sleep(0.35)
        adapter.deliver(referral())
    assert double.stats()["tokens_issued"] == 2
    assert double.stats()["unauthorized"] == 0


def test_wrong_credentials_are_permanent(double: SdkDouble) -> None:
    wrong = adapter_for(double, client_secret="wrong")
    with opened(wrong) as adapter, pytest.raises(PermanentDeliveryError) as caught:
        adapter.deliver(referral())
    assert caught.value.reason == "sdk_token_refused"


def test_a_broken_request_is_permanent_with_the_services_issues(
    double: SdkDouble, sdk: SdkAdapter
) -> None:
    # A functional address over 256 characters breaks the API's schema (maxLength).
    long_address = adapter_for(
        double,
        recipients={DISTRICT: {"organization": "0203:x", "functional_address": "a" * 300}},
    )
    with opened(long_address) as adapter, pytest.raises(PermanentDeliveryError) as caught:
        adapter.deliver(referral())
    assert caught.value.reason == "sdk_bad_request"
    assert "schema" in caught.value.detail
    assert "recipientAttention" in caught.value.detail
    # An organisation id without its ICD breaks the message type's rules (mapped v3 document).
    no_icd = adapter_for(
        double,
        recipients={DISTRICT: {"organization": "not-an-org", "functional_address": "sdk:x"}},
    )
    with opened(no_icd) as adapter, pytest.raises(PermanentDeliveryError) as caught:
        adapter.deliver(referral())
    assert "recipientID" in caught.value.detail
    for text in (caught.value.detail, str(caught.value)):
        assert FICTIONAL_PERSONNUMMER not in text
        assert FICTIONAL_NAME not in text


def test_a_district_without_a_recipient_is_permanent(sdk: SdkAdapter) -> None:
    from dataclasses import replace

    with pytest.raises(PermanentDeliveryError) as caught:
        sdk.deliver(replace(referral(), district="sdn-nowhere"))
    assert caught.value.reason == "sdk_no_recipient"


def test_the_inbox_gives_each_new_message_as_an_envelope(double: SdkDouble) -> None:
    answer = sdk_answer(FICTIONAL_PERSONNUMMER, ref_to=sdk_message_id("d-1"))
    answer["senderAttention"]["subOrganization"]["extension"] = DISTRICT_MAILBOX
    double.place(answer)
    double.place(sdk_answer(FICTIONAL_PERSONNUMMER, recipient_mailbox="sdk:inkorg:other"))
    with opened(adapter_for(double, inbox_functional_address=HUB_MAILBOX)) as adapter:
        assert isinstance(adapter, InboxPoller)
        assert adapter.inbox_interval == 30.0
        [found] = adapter.poll_inbox(lambda sender, key: False)
        assert (found.sender, found.key) == ("sdk-inbox", answer["messageId"])
        parsed = read_envelope(found.envelope, default_registry())
        assert (parsed.message_type, parsed.district) == ("mailbox.message", DISTRICT)
        assert adapter.poll_inbox(lambda sender, key: key == answer["messageId"]) == []


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"colour": "blue"}, "unknown option 'colour'"),
        ({"client_secret_env": "X"}, "one of them"),
        ({"recipients": {}}, "at least one district"),
        ({"recipients": {"sdn-x": {"organization": "0203:x"}}}, "functional_address"),
        ({"base_url": "ftp://x"}, "http"),
        ({"receipt_timeout_seconds": 0}, "positive"),
    ],
)
def test_options_are_strict(overrides: dict[str, object], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        SdkAdapter("sdk", sdk_options("http://127.0.0.1:1/v1", "http://127.0.0.1:1/t", **overrides))


def test_the_double_lists_by_filter_without_documents_and_deletes_where_allowed(
    double: SdkDouble,
) -> None:
    import httpx

    double.set_receipts("lose")
    with opened(adapter_for(double)) as adapter:
        reference = adapter.deliver(referral()).reference
    double.place(sdk_answer(FICTIONAL_PERSONNUMMER))
    with httpx.Client(base_url=double.base_url) as client:
        form = {"grant_type": "client_credentials", "client_id": "omsorgshub"}
        form["client_secret"] = "double-secret-not-for-production"
        token = client.post(double.token_url, data=form).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        listed = client.get(
            "/v1/sdk/messages",
            params={"filter[recipientAttention.subOrganization.extension]": DISTRICT_MAILBOX},
        ).json()["data"]
        assert [m["id"] for m in listed] == [reference]
        assert "digitalDocument" not in listed[0]["attributes"]
        client.get(f"/v1/sdk/messages/{reference}")  # now WAITING_FOR_RECEIPT: in transit
        refused = client.delete(f"/v1/sdk/messages/{reference}")
        assert refused.status_code == 400
        assert refused.json()["eventIssues"][0]["title"] == "Message cannot be deleted"
        assert client.delete("/v1/sdk/messages/unknown").status_code == 404
        inbound = next(k for k in double.messages() if k != reference)
        assert client.delete(f"/v1/sdk/messages/{inbound}").status_code == 202
        assert client.get(f"/v1/sdk/messages/{inbound}").status_code == 404
    assert double.effects()[inbound] == ["placed", "deleted"]
