"""The UBW adapter's answers and failures, without any network: invoice-status criteria and
template results -> the contact centre's answer, and library errors -> hub errors."""

from __future__ import annotations

import pytest
import requests
from lxml import etree

from adapters.finance_ubw.adapter import DIALECT, TRANSIENCE
from adapters.finance_ubw.mapping import (
    invoice_answer,
    invoice_criteria,
    template_rows,
)
from adapters.finance_ubw.ocr import make_ocr
from adapters.soap import map_soap_outcome
from hub.errors import (
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from tests.unit.ubw_mapping_support import (
    PASSWORD,
    TOLVAN,
    zx,
)

# -- invoice status ------------------------------------------------------------------------------


def test_criteria_by_number_ocr_and_subject() -> None:
    ocr = make_ocr("7100002")
    criteria = invoice_criteria({"invoice_number": "7100002", "ocr": f" {ocr} "}, TOLVAN)
    assert [(c["ColumnName"], c["RestrictionType"], c["FromValue"]) for c in criteria] == [
        ("ext_inv_ref", "=", "7100002"),
        ("kid", "=", ocr),
        ("ext_apar_ref", "=", TOLVAN),
    ]


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({}, "invalid_lookup"),
        ({"invoice_number": ""}, "invalid_lookup"),
        ({"invoice_number": "7100002", "customer": "x"}, "invalid_lookup"),
        ({"invoice_number": "7100002'; DROP"}, "invalid_lookup"),
        ({"ocr": "710000291"}, "invalid_ocr"),
        ({"ocr": "71000029O"}, "invalid_ocr"),
    ],
)
def test_bad_lookup_parameters_are_refused(params: dict[str, str], reason: str) -> None:
    with pytest.raises(PermanentDeliveryError) as caught:
        invoice_criteria(params, None)
    assert caught.value.reason == reason


def _table(*rows: dict[str, str]) -> str:
    root = etree.Element("Agresso")
    for number, values in enumerate(rows):
        row = etree.SubElement(root, "AgressoQE")
        for column, value in {"_recno": str(number), "_section": "D", **values}.items():
            etree.SubElement(row, column).text = value
    return etree.tostring(root).decode()


def _row(balance: str, amount: str = "2359.00") -> dict[str, str]:
    return {
        "ext_inv_ref": "7100002", "kid": make_ocr("7100002"), "amount": amount,
        "rest_amount": balance, "due_date": "2024-05-31T00:00:00", "currency": "SEK",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("balance", "status", "shown"),
    [
        ("0.00", "paid", "0.00"),
        ("-10.00", "paid", "0.00"),  # overpaid
        ("1000.00", "partly_paid", "1000.00"),
        ("2359.00", "unpaid", "2359.00"),
        ("2419.00", "unpaid", "2419.00"),  # a reminder fee on top
    ],
)
def test_invoice_status_from_amount_and_balance(balance: str, status: str, shown: str) -> None:
    answer = invoice_answer(template_rows(_table(_row(balance))))
    assert answer == {
        "found": True,
        "invoice_number": "7100002",
        "ocr": make_ocr("7100002"),
        "amount": "2359.00",
        "balance": shown,
        "currency": "SEK",
        "status": status,
        "due_date": "2024-05-31",
    }


def test_no_rows_is_not_found_and_summary_rows_are_ignored() -> None:
    assert invoice_answer(template_rows("")) == {"found": False}
    summary = _table(_row("5.00"))
    summary = summary.replace("<_section>D</_section>", "<_section>S</_section>")
    assert invoice_answer(template_rows(summary)) == {"found": False}


def test_two_invoices_for_one_question_is_an_error() -> None:
    other = {**_row("0.00"), "ext_inv_ref": "7100009"}
    with pytest.raises(PermanentDeliveryError) as caught:
        invoice_answer(template_rows(_table(_row("0.00"), other)))
    assert caught.value.reason == "ambiguous_invoice"


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        ("<Agresso><AgressoQE>", "ubw_unexpected_answer"),
        (_table({"ext_inv_ref": "1", "amount": "12,50"}), "ubw_unexpected_answer"),
        ('<!DOCTYPE a [<!ENTITY x "y">]><Agresso/>', "hostile_answer"),
    ],
)
def test_a_garbled_template_result_is_an_error(result: str, reason: str) -> None:
    with pytest.raises(PermanentDeliveryError) as caught:
        invoice_answer(template_rows(result))
    assert caught.value.reason == reason


# -- the one error mapping -----------------------------------------------------------------------


def _raise(exc: Exception) -> object:
    raise exc


@pytest.mark.parametrize(
    ("exc", "error", "reason"),
    [
        (zx.Fault("no", code="s:Client"), PermanentDeliveryError, "ubw_rejected"),
        (zx.Fault("no", code="soap:Sender"), PermanentDeliveryError, "ubw_rejected"),
        (zx.Fault("busy", code="s:Server"), TransientDeliveryError, "ubw_fault"),
        (zx.Fault("busy", code="Receiver"), TransientDeliveryError, "ubw_fault"),
        (zx.Fault("x", code="a:InternalServiceFault"), TransientDeliveryError,
         "ubw_fault"),
        (zx.Fault("Unknown fault occured"), TransientDeliveryError, "ubw_fault"),
        (zx.TransportError(status_code=503), TransientDeliveryError,
         "destination_unavailable"),
        (zx.TransportError(status_code=500), TransientDeliveryError,
         "destination_unavailable"),
        (zx.TransportError(status_code=429), TransientDeliveryError,
         "destination_unavailable"),
        (zx.TransportError(status_code=200), TransientDeliveryError,
         "destination_unavailable"),  # a 200 that is not XML: a proxy's page, say
        (zx.TransportError(status_code=401), PermanentDeliveryError,
         "destination_rejected"),
        (zx.TransportError(status_code=404), PermanentDeliveryError,
         "destination_rejected"),
        (requests.exceptions.ConnectionError(), TransientDeliveryError, "destination_unavailable"),
        (requests.exceptions.ConnectTimeout(), TransientDeliveryError, "destination_unavailable"),
        (requests.exceptions.ReadTimeout(), TransientDeliveryError, "destination_unavailable"),
        (requests.exceptions.ChunkedEncodingError(), TransientDeliveryError,
         "destination_unavailable"),
        (requests.exceptions.InvalidURL(), PermanentDeliveryError, "destination_rejected"),
        (zx.DTDForbidden("x", None, None), PermanentDeliveryError, "hostile_answer"),
        (zx.EntitiesForbidden("x", "y"), PermanentDeliveryError, "hostile_answer"),
        (zx.ValidationError("Missing element"), PermanentDeliveryError,
         "invalid_request"),
        (zx.XMLParseError("Unexpected element"), PermanentDeliveryError,
         "ubw_unexpected_answer"),
    ],
)  # fmt: skip
def test_library_errors_become_hub_errors(
    exc: Exception, error: type[DeliveryError], reason: str
) -> None:
    with pytest.raises(error) as caught:
        map_soap_outcome("ubw", "Op", lambda: _raise(exc), TRANSIENCE, DIALECT)
    assert type(caught.value) is error
    assert caught.value.reason == reason
    assert caught.value.__cause__ is exc


def test_a_secret_at_the_cut_of_a_long_fault_string_is_still_removed() -> None:
    fault = zx.Fault("x" * 195 + PASSWORD, code="s:Server")
    with pytest.raises(TransientDeliveryError) as caught:
        map_soap_outcome(
            "ubw", "Op", lambda: _raise(fault), TRANSIENCE, DIALECT, secrets=(PASSWORD,)
        )
    assert PASSWORD[:5] not in str(caught.value)


def test_a_success_passes_through() -> None:
    assert map_soap_outcome("ubw", "Op", lambda: 42, TRANSIENCE, DIALECT) == 42


def test_fault_strings_lose_secrets_and_digit_runs() -> None:
    fault = zx.Fault(
        f"Login for HUBWS/{PASSWORD} refused; customer 19121212-1212, invoice 7100002\n\n"
        + "x" * 500,
        code="s:Client",
    )
    with pytest.raises(PermanentDeliveryError) as caught:
        map_soap_outcome(
            "ubw", "Op", lambda: _raise(fault), TRANSIENCE, DIALECT, secrets=(PASSWORD,)
        )
    text = str(caught.value)
    assert PASSWORD not in text
    assert "1212" not in text
    assert "7100002" not in text
    assert "Login for HUBWS/*** refused" in text
    assert len(text) < 300
