"""The medcom adapter against the MedCom receiver double over real sockets: the shared
contract, and what MedCom's reliable messaging asks of a sender."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from adapters.doubles.medcom_double import PROCESS_MESSAGE, MedcomDouble
from adapters.medcom.adapter import MedcomAdapter, header_id_for
from hub.errors import ConfigError, PermanentDeliveryError, TransientDeliveryError
from schemas.medcom.acknowledgement import read_acknowledgement
from tests.adapter_contract import (
    AdapterBuilder,
    AdapterContract,
    DeliveryFactory,
    Failure,
    SetFailure,
    StoredDocuments,
    assert_a_timed_out_delivery_is_transient_and_its_redelivery_a_duplicate,
    assert_stopping_the_double_cuts_kept_alive_connections,
    opened,
    unreachable_url,
)
from tests.integration.medcom.conftest import (
    adapter_options,
    medcom_delivery,
    stored_by_delivery,
)


class TestMedcomAdapterContract(AdapterContract):
    @pytest.fixture
    def contract_delivery(self) -> DeliveryFactory:
        return medcom_delivery

    @pytest.fixture
    def adapter(self, medcom_adapter: MedcomAdapter) -> MedcomAdapter:
        return medcom_adapter

    @pytest.fixture
    def stored_documents(self, double: MedcomDouble) -> StoredDocuments:
        return lambda: stored_by_delivery(double)

    @pytest.fixture
    def set_failure(self, double: MedcomDouble) -> SetFailure:
        modes: dict[Failure | None, str] = {"transient": "transient", "permanent": "fatal"}
        return lambda failure: double.set_mode(modes.get(failure, "up"))

    @pytest.fixture
    def unreachable_adapter(self) -> AdapterBuilder:
        url = unreachable_url("/fhir")
        return lambda: MedcomAdapter("nowhere", adapter_options(url, timeout=1, retries=1))


def test_a_resend_keeps_its_header_id_and_gets_a_new_bundle_id(
    double: MedcomDouble, medcom_adapter: MedcomAdapter
) -> None:
    delivery = medcom_delivery()
    double.set_mode("transient", times=1)
    with pytest.raises(TransientDeliveryError) as caught:
        medcom_adapter.deliver(delivery)
    assert caught.value.reason == "medcom_transient_error"
    assert "MSG_Mailbox_Out_Of_Operation" in caught.value.detail
    receipt = medcom_adapter.deliver(medcom_delivery(delivery.delivery_id, attempt=2))
    header = header_id_for(delivery.delivery_id)
    seen = double.messages()[header]
    assert seen["processed"] is True
    assert seen["answers"] == ["transient-error", "ok"]
    bundles = seen["bundles"]
    assert isinstance(bundles, list)
    assert len(set(bundles)) == 2
    assert receipt.details["message_header_id"] == header
    assert receipt.details["bundle_id"] == bundles[1]


def test_a_fatal_error_is_permanent_with_medcom_s_code(
    double: MedcomDouble, medcom_adapter: MedcomAdapter
) -> None:
    double.set_mode("fatal")
    with pytest.raises(PermanentDeliveryError) as caught:
        medcom_adapter.deliver(medcom_delivery())
    assert caught.value.reason == "medcom_fatal_error:MSG_VALUESET_VALUE_UNKNOWN"
    assert double.stats()["processed"] == 0


def test_no_acknowledgement_is_transient(double: MedcomDouble) -> None:
    options = adapter_options(double.url, timeout=0.3)
    with opened(MedcomAdapter("medcom-gp", options)) as adapter:
        double.set_mode("silent", delay=0.0)  # answers at once, but with nothing
        with pytest.raises(TransientDeliveryError) as caught:
            adapter.deliver(medcom_delivery())
        assert caught.value.reason == "no_acknowledgement"
        double.set_mode("silent", delay=1.0)  # answers nothing within the timeout
        with pytest.raises(TransientDeliveryError, match="ReadTimeout"):
            adapter.deliver(medcom_delivery())


def test_a_timed_out_delivery_is_transient_and_its_redelivery_a_duplicate(
    double: MedcomDouble,
) -> None:
    adapter = MedcomAdapter("slow", adapter_options(double.url, timeout=0.2, retries=0))
    assert_a_timed_out_delivery_is_transient_and_its_redelivery_a_duplicate(
        double, adapter, medcom_delivery, lambda: stored_by_delivery(double)
    )


def test_stopping_the_double_cuts_kept_alive_connections() -> None:
    assert_stopping_the_double_cuts_kept_alive_connections(
        MedcomDouble(),
        lambda url: MedcomAdapter("cut", adapter_options(url, retries=0)),
        medcom_delivery,
    )


def test_the_wire_is_a_medcom_care_communication(double: MedcomDouble) -> None:
    delivery = medcom_delivery()
    with opened(MedcomAdapter("gp", adapter_options(double.url))) as adapter:
        adapter.deliver(delivery)
    header = header_id_for(delivery.delivery_id)
    read = double.processed()[header]
    assert read.header_id == header
    assert read.document.receiver.sor == "100000000000033"
    bundle = json.loads(double._effects[header].document or b"")
    assert bundle["type"] == "message"
    assert bundle["entry"][0]["resource"]["eventCoding"]["code"] == "care-communication-message"
    patient = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    assert patient["identifier"][0]["system"] == "urn:oid:1.2.208.176.1.2"


def test_a_document_of_another_sender_is_refused_before_anything_is_sent(
    double: MedcomDouble,
) -> None:
    options = adapter_options(double.url, sender_sor="100000000000099")
    with (
        opened(MedcomAdapter("gp", options)) as adapter,
        pytest.raises(PermanentDeliveryError) as caught,
    ):
        adapter.deliver(medcom_delivery())
    assert caught.value.reason == "sender_mismatch"
    assert double.stats()["requests"] == 0


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"colour": "blue"}, "unknown option 'colour'"),
        ({"base_url": "ftp://x"}, "base_url"),
        ({"sender_sor": "abc"}, "sender_sor"),
        ({"sender_ean": "123"}, "sender_ean"),
        ({"timeout": 0}, "timeout"),
    ],
)
def test_options_are_strict(options: dict[str, object], complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        MedcomAdapter("x", {**adapter_options("http://127.0.0.1:9/fhir"), **options})


def test_the_double_acknowledges_duplicates_with_the_same_bytes(double: MedcomDouble) -> None:
    delivery = medcom_delivery()
    with opened(MedcomAdapter("gp", adapter_options(double.url))) as adapter:
        adapter.deliver(delivery)
    header = header_id_for(delivery.delivery_id)
    with httpx.Client(trust_env=False) as client:
        original = client.post(
            double.base_url + PROCESS_MESSAGE, content=_bundle_again(double, header)
        )
        again = client.post(
            double.base_url + PROCESS_MESSAGE, content=_bundle_again(double, header)
        )
    assert original.status_code == again.status_code == 200
    assert original.content == again.content
    assert read_acknowledgement(original.content).code == "ok"
    assert double.stats()["processed"] == 1
    assert double.stats()["duplicates"] == 2
    assert double.messages()[header]["answers"] == ["ok", "duplicate", "duplicate"]


def _bundle_again(double: MedcomDouble, header: str) -> bytes:
    """The processed bundle with a new Bundle.id (a resend)."""
    effects = double._effects[header]
    assert effects.document is not None
    bundle = json.loads(effects.document)
    bundle["id"] = str(uuid.uuid4())
    return json.dumps(bundle).encode()


def test_the_double_checks_what_it_receives() -> None:
    with MedcomDouble(sor="100000000000099") as double, httpx.Client(trust_env=False) as client:
        url = double.base_url + PROCESS_MESSAGE
        unreadable = client.post(url, content=b"{}")
        assert unreadable.status_code == 400
        assert unreadable.json()["resourceType"] == "OperationOutcome"
        delivery = medcom_delivery()
        gp = MedcomAdapter("gp", adapter_options(double.url))
        with opened(gp) as adapter, pytest.raises(PermanentDeliveryError) as caught:
            adapter.deliver(delivery)  # to SOR ...033, and this unit is ...099
        assert caught.value.reason == "medcom_fatal_error:MSG_Receiver_Identifier_UNKNOWN"
        header = header_id_for(delivery.delivery_id)
        assert double.messages()[header]["answers"] == ["fatal-error"]
        assert double.stats()["processed"] == 0
