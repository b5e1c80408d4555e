"""The IVO robot against the e-service double in this process: the adapter contract, the
walk through the form, exactly-once by the report's reference, and each kind of failure."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import replace
from urllib.parse import quote_plus
from wsgiref.types import StartResponse, WSGIEnvironment

import pytest
from lxml import etree

from adapters.doubles.ivo_double import IvoDouble
from adapters.ivo.adapter import IvoAdapter
from hub.envelope import OutboundDelivery
from hub.errors import ConfigError, PermanentDeliveryError, TransientDeliveryError
from tests.adapter_contract import (
    AdapterBuilder,
    AdapterContract,
    DeliveryFactory,
    Failure,
    SetFailure,
    StoredDocuments,
    deliver_concurrently,
    opened,
    unreachable_url,
)
from tests.integration.ivo.conftest import PASSWORD, PASSWORD_ENV, adapter_for, report_delivery

IVO_NS = "{urn:omsorgshub:ivo.individual_report:1}"


def _facts(document: bytes) -> tuple[str, ...]:
    root = etree.fromstring(document)
    paths = ("ReportReference", "Individual/Code", "Decision/DecisionId")
    return tuple(root.findtext(IVO_NS + path.replace("/", "/" + IVO_NS)) or "" for path in paths)


class TestIvoAdapterContract(AdapterContract):
    """The shared contract, with ``ivo.individual_report`` deliveries about the contract's
    fictional person. ``stored_documents`` reports a received report as the document it was
    made from (``sent``, by the delivery id in its reference) only if IVO received that
    document's reference, code and decision; otherwise it reports the received fields, and the
    contract's comparison fails."""

    @pytest.fixture
    def sent(self) -> dict[str, bytes]:
        return {}

    @pytest.fixture
    def contract_delivery(self, sent: dict[str, bytes]) -> DeliveryFactory:
        def delivery(
            delivery_id: str | None = None, *, attempt: int = 1, document: bytes = b""
        ) -> OutboundDelivery:
            made = report_delivery(delivery_id, attempt=attempt)
            sent.setdefault(made.delivery_id, made.document)
            return made

        return delivery

    @pytest.fixture
    def adapter(self, ivo: IvoAdapter) -> IvoAdapter:
        return ivo

    @pytest.fixture
    def stored_documents(self, double: IvoDouble, sent: dict[str, bytes]) -> StoredDocuments:
        def stored() -> dict[str, bytes]:
            found = {}
            for report in double.received():
                delivery_id = report["er_referens"].removeprefix("OH-")
                body = sent.get(delivery_id)
                received = (report["er_referens"], report["individkod"], report["beslutsreferens"])
                matches = body is not None and _facts(body) == received
                found[delivery_id] = body if body is not None and matches else repr(report).encode()
            return found

        return stored

    @pytest.fixture
    def set_failure(self, double: IvoDouble) -> SetFailure:
        def set_failure(failure: Failure | None) -> None:
            double.set_mode("down" if failure == "transient" else "up")
            double.fail_next_submissions(1 if failure == "permanent" else 0)

        return set_failure

    @pytest.fixture
    def unreachable_adapter(self) -> AdapterBuilder:
        url = unreachable_url("/")
        return lambda: adapter_for(url, timeout=1, retries=1)


def test_a_report_is_received_with_its_fields(double: IvoDouble, ivo: IvoAdapter) -> None:
    delivery = report_delivery(kind="closed")
    receipt = ivo.deliver(delivery)
    (report,) = double.received()
    assert receipt.reference == report["kvittens"]
    assert receipt.reference is not None
    assert receipt.reference.startswith("IVO-")
    assert receipt.details == {"ivo_reference": f"OH-{delivery.delivery_id}"}
    assert report["rapporttyp"] == "AVSLUT"
    assert report["kon"] == "M"  # Tolvan: an odd digit
    assert report["individkod"].startswith("19121212-T")
    assert report["avslutsorsak"]
    assert "orsak" not in report
    assert "verkstallt_datum" not in report
    assert "1212121212" not in repr(report)  # never the identity number


def test_each_kind_of_report_goes_through(double: IvoDouble, ivo: IvoAdapter) -> None:
    for kind in ("not_executed", "executed", "closed"):
        ivo.deliver(report_delivery(kind=kind))
    kinds = [r["rapporttyp"] for r in double.received()]
    assert kinds == ["EJ_VERKST", "VERKST", "AVSLUT"]


def test_a_validation_error_is_permanent_with_ivos_message(
    double: IvoDouble, ivo: IvoAdapter
) -> None:
    double.fail_next_submissions(1)
    with pytest.raises(PermanentDeliveryError) as caught:
        ivo.deliver(report_delivery())
    assert caught.value.reason == "ivo_validation"
    assert "Rapporten kunde inte tas emot" in caught.value.detail
    assert "Granska och skicka" in caught.value.detail
    assert double.received() == []


def test_a_field_ivo_refuses_names_the_step_and_the_rule(
    double: IvoDouble, ivo: IvoAdapter
) -> None:
    # The code's parity says a man, the gender a woman: IVO's form refuses it at step 2.
    delivery = report_delivery()
    document = delivery.document.replace(b"<Gender>male</Gender>", b"<Gender>female</Gender>")
    with pytest.raises(PermanentDeliveryError) as caught:
        ivo.deliver(replace(delivery, document=document))
    assert caught.value.detail.endswith(
        "IVO refused the report at step 'Rapport och individ': "
        "Individkod: sista siffran ska vara jämn för kvinnor och udda för män."
    )
    assert caught.value.context["step"] == "rapport"


def test_the_same_report_in_a_new_delivery_is_found_not_sent_again(
    double: IvoDouble, ivo: IvoAdapter
) -> None:
    first = report_delivery()
    again = replace(first, delivery_id="another")
    receipts = [ivo.deliver(first), ivo.deliver(again)]
    assert [r.duplicate for r in receipts] == [False, True]
    assert receipts[0].reference == receipts[1].reference
    assert len(double.received()) == 1


def test_a_session_expired_midway_is_renewed_once(double: IvoDouble, ivo: IvoAdapter) -> None:
    double.expire_sessions(after_requests=6)  # login (3), list, new report, then gone
    receipt = ivo.deliver(report_delivery())
    assert receipt.duplicate is False
    assert len(double.received()) == 1
    assert double.stats()["logins"] == 2


def test_a_refused_login_is_permanent_without_the_password(
    double: IvoDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "fel-lösenord")
    with (
        opened(adapter_for(double.url)) as adapter,
        pytest.raises(PermanentDeliveryError) as caught,
    ):
        adapter.deliver(report_delivery())
    assert caught.value.reason == "ivo_login_refused"
    assert "Fel användarnamn eller lösenord." in caught.value.detail
    assert "fel-lösenord" not in f"{caught.value!s} {caught.value!r} {adapter!r}"


def test_maintenance_is_transient(double: IvoDouble, ivo: IvoAdapter) -> None:
    double.set_mode("unavailable")
    with pytest.raises(TransientDeliveryError, match="HTTP 503"):
        ivo.deliver(report_delivery())


def test_reports_missing_fields_or_numbers_never_reach_ivo(
    double: IvoDouble, ivo: IvoAdapter
) -> None:
    with pytest.raises(PermanentDeliveryError, match="DelayReason"):
        ivo.deliver(report_delivery(missing=("DelayReason",)))
    with pytest.raises(PermanentDeliveryError) as caught:
        ivo.deliver(report_delivery(free_text="Gäller 19121212-1212."))
    assert caught.value.reason == "ivo_identity_number"
    assert double.stats()["requests"] == 0  # refused before any page was asked for


def test_another_municipalitys_report_is_refused(double: IvoDouble, ivo: IvoAdapter) -> None:
    delivery = report_delivery()
    document = delivery.document.replace(b"Exempelstad kommun", b"Annanstad kommun")
    with pytest.raises(PermanentDeliveryError) as caught:
        ivo.deliver(replace(delivery, document=document))
    assert caught.value.reason == "ivo_wrong_municipality"
    assert double.received() == []


def test_concurrent_deliveries_keep_their_own_sessions(double: IvoDouble, ivo: IvoAdapter) -> None:
    shares = [[report_delivery() for _ in range(3)] for _ in range(4)]
    receipts = deliver_concurrently(ivo, shares)
    assert len({r.reference for r in receipts}) == 12
    received = double.received()
    assert sorted(r["kvittens"] for r in received) == sorted(str(r.reference) for r in receipts)


def test_options_are_checked_without_io(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PASSWORD_ENV)
    with pytest.raises(ConfigError, match="not set"):
        adapter_for("http://127.0.0.1:1/")
    monkeypatch.setenv(PASSWORD_ENV, "x")
    with pytest.raises(ConfigError, match="unknown option 'password'"):
        adapter_for("http://127.0.0.1:1/", password="x")
    with pytest.raises(ConfigError, match="absolute"):
        adapter_for("ivo.se")


def test_sessions_shorter_than_a_report_end_transient_after_one_renewal() -> None:
    # Every request takes 0.1 s and a session lives 0.5 s: no walk of ten requests fits.
    with (
        IvoDouble(password=PASSWORD, session_seconds=0.5) as short,
        opened(adapter_for(short.url)) as adapter,
    ):
        short.set_mode("slow", delay=0.1)
        with pytest.raises(TransientDeliveryError) as caught:
            adapter.deliver(report_delivery())
        assert caught.value.reason == "ivo_session_expired"
        assert short.stats()["logins"] == 2
        assert short.received() == []


class AnswerLostOnSend(IvoDouble):
    """Stores a sent report, then answers only after the robot has given up."""

    def app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        answer = super().app(environ, start_response)
        if (environ["REQUEST_METHOD"], environ.get("PATH_INFO")) == ("POST", "/rapport/granska"):
            time.sleep(0.6)
        return answer


def test_a_send_whose_answer_is_lost_is_found_on_the_next_attempt() -> None:
    with (
        AnswerLostOnSend(password=PASSWORD) as lossy,
        opened(adapter_for(lossy.url, timeout=0.3)) as adapter,
    ):
        delivery = report_delivery()
        with pytest.raises(TransientDeliveryError, match="ReadTimeout"):
            adapter.deliver(delivery)
        assert len(lossy.received()) == 1  # IVO has it; the hub does not know
        receipt = adapter.deliver(report_delivery(delivery.delivery_id, attempt=2))
        assert receipt.duplicate is True
        assert receipt.reference == lossy.received()[0]["kvittens"]
        assert len(lossy.received()) == 1


def test_a_decision_keeps_its_individuals_code(double: IvoDouble, ivo: IvoAdapter) -> None:
    first = report_delivery()
    ivo.deliver(first)
    code = double.received()[0]["individkod"]
    other = code[:-1] + str((int(code[-1]) + 2) % 10)  # the same gender, another code
    later = report_delivery(kind="executed")
    document = later.document.replace(
        _decision_of(later.document), _decision_of(first.document)
    ).replace(_code_of(later.document), other.encode())
    with pytest.raises(PermanentDeliveryError) as caught:
        ivo.deliver(replace(later, document=document))
    assert "samma kod under hela rapporteringsperioden" in caught.value.detail
    assert len(double.received()) == 1


def _decision_of(document: bytes) -> bytes:
    return _facts(document)[2].encode()


def _code_of(document: bytes) -> bytes:
    return _facts(document)[1].encode()


def test_the_password_is_not_logged_even_at_debug(
    ivo: IvoAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        ivo.deliver(report_delivery())
    assert caplog.records  # httpx and httpcore did log the exchanges
    assert PASSWORD not in caplog.text
    assert quote_plus(PASSWORD) not in caplog.text
