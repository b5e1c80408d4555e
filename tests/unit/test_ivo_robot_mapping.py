"""The IVO robot without a network: a report's form answers, and reading and filling pages.

The pages are the double's own HTML (``adapters.doubles.ivo_pages``), rendered in memory.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from lxml import etree

from adapters.doubles import ivo_pages
from adapters.doubles.ivo_form import fields_of
from adapters.ivo import pages
from adapters.ivo.mapping import PROTECTED_NOTICE, form_answers
from hub.demo.fictional import FictionalPeople
from hub.demo.ivo_reports import ivo_report_body
from hub.errors import PermanentDeliveryError

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "ivo-individual-report.xml"
ADMINS = ("Socialnämnden", "Vård- och omsorgsnämnden")


def example_body(**replace: str) -> bytes:
    """The body of the example envelope, with text replaced."""
    envelope = etree.fromstring(EXAMPLE.read_bytes())
    body = etree.tostring(envelope[1][0], encoding="unicode")
    for old, new in replace.items():
        assert old in body
        body = body.replace(old, new)
    return body.encode()


def test_the_example_maps_to_the_forms_fields() -> None:
    answers = form_answers(example_body())
    assert answers.reference == "OH-BN-2026-0457-2026Q4-N"
    assert answers.municipality == "Exempelstad kommun"
    assert answers.choices == {
        "verksamhet": "Vård- och omsorgsnämnden",
        "insats": "Särskilt boende för äldre",
    }
    values = answers.values
    assert values["period"] == "2026Q4"
    assert (values["rapporttyp"], values["avbrott"], values["kon"], values["lagrum"]) == (
        "EJ_VERKST", "NEJ", "K", "SOL",
    )  # fmt: skip
    assert values["individkod"] == "19380215-T124"
    assert values["beslutsreferens"] == "BN-2026-0457"
    assert (values["erbjudande_datum_1"], values["erbjudande_1"]) == (
        "2026-09-02", "Erbjuden lägenhet på annat boende; tackade nej.",
    )  # fmt: skip
    assert "avbrottsdatum" not in values  # no interruption: the field stays empty
    assert values["intygar"] == "on"


def test_an_interruption_and_a_protected_identity() -> None:
    body = example_body(
        **{
            "<DecisionDate>2026-06-10</DecisionDate>": (
                "<DecisionDate>2026-06-10</DecisionDate><InterruptionDate>2026-07-01"
                "</InterruptionDate>"
            ),
            "<ProtectedIdentity>false": "<ProtectedIdentity>true",
        }
    )
    values = form_answers(body).values
    assert (values["avbrott"], values["avbrottsdatum"]) == ("JA", "2026-07-01")
    assert values["fritext"] == f"{PROTECTED_NOTICE} Nytt erbjudande planeras i januari."


def test_a_report_with_missing_fields_is_not_sent() -> None:
    missing = "<Missing><Field>DelayReason</Field><Field>Consequences</Field></Missing>"
    body = example_body(**{"</IndividualReport>": missing + "</IndividualReport>"})
    with pytest.raises(PermanentDeliveryError) as caught:
        form_answers(body)
    assert caught.value.reason == "ivo_report_incomplete"
    assert "DelayReason, Consequences" in caught.value.detail


@pytest.mark.parametrize("number", ["19380215-9842", "3802159842", "380215-9842"])
def test_a_text_with_an_identity_number_is_not_sent(number: str) -> None:
    body = example_body(**{"planeras i januari": f"planeras i januari ({number})"})
    with pytest.raises(PermanentDeliveryError) as caught:
        form_answers(body)
    assert caught.value.reason == "ivo_identity_number"
    assert "'fritext'" in caught.value.detail
    assert number not in str(caught.value)


def test_a_reference_with_digits_inside_is_no_identity_number() -> None:
    # "761268-2026" inside it is a valid coordination number standing alone; inside a code not.
    body = example_body(**{"OH-BN-2026-0457-2026Q4-N": "OH-B-761268-2026Q3-executed"})
    assert form_answers(body).reference == "OH-B-761268-2026Q3-executed"


def test_another_document_is_refused() -> None:
    with pytest.raises(PermanentDeliveryError) as caught:
        form_answers(b"<ClientSummary/>")
    assert caught.value.reason == "ivo_wrong_document"


def decision_page(answers: dict[str, str], messages: tuple[str, ...] = ()) -> bytes:
    fields = fields_of("beslut", answers, ADMINS)
    return ivo_pages.step_page("beslut", fields, {}, "csrf-123", messages)


def test_filling_a_step_shows_only_its_fields_and_keeps_the_token() -> None:
    answers = form_answers(example_body())
    earlier = {"rapporttyp": "EJ_VERKST", "avbrott": "NEJ", "lagrum": "SOL"}
    filled = pages.fill(pages.parse(decision_page(earlier)), answers.values, answers.choices)
    assert filled.action == "/rapport/beslut"
    assert filled.step == "beslut"
    assert filled.data["csrf_token"] == "csrf-123"
    assert filled.data["insats"] == "1"  # "Särskilt boende för äldre", by its text
    assert filled.data["beslutsdatum"] == "2026-06-10"
    assert filled.data["orsak"].startswith("Ingen ledig lägenhet")
    assert "verkstallt_datum" not in filled.data  # not shown for a report not executed
    assert "period" not in filled.data  # another step's field


def test_radio_buttons_and_the_confirmation() -> None:
    answers = form_answers(example_body())
    page = ivo_pages.step_page("rapport", fields_of("rapport", {}, ADMINS), {}, "t")
    data = pages.fill(pages.parse(page), answers.values, answers.choices).data
    assert (data["rapporttyp"], data["kon"], data["lagrum"], data["avbrott"]) == (
        "EJ_VERKST", "K", "SOL", "NEJ",
    )  # fmt: skip
    review = ivo_pages.step_page("granska", fields_of("granska", {}, ADMINS), {}, "t")
    assert pages.fill(pages.parse(review), answers.values, {}).data["intygar"] == "on"


def test_a_choice_the_form_does_not_offer_is_a_mismatch() -> None:
    answers = form_answers(example_body())
    lss = decision_page({"rapporttyp": "EJ_VERKST", "lagrum": "LSS"})
    with pytest.raises(pages.FormMismatch, match="'insats'"):
        pages.fill(pages.parse(lss), answers.values, answers.choices)


def test_messages_receipts_and_the_list_are_read() -> None:
    page = pages.parse(decision_page({"rapporttyp": "VERKST"}, ("Beslutsdatum: fel 19121212.",)))
    assert pages.messages(page) == ["Beslutsdatum: fel …."]  # digit runs blanked
    assert pages.title(page) == "Beslut"
    assert pages.receipt(pages.parse(ivo_pages.receipt_page("IVO-2026-000007"))) == (
        "IVO-2026-000007"
    )
    reports = [{"kvittens": "IVO-2026-000001", "er_referens": "R-1"},
               {"kvittens": "IVO-2026-000002", "er_referens": "R-2"}]  # fmt: skip
    listed = pages.parse(ivo_pages.list_page(reports, ""))
    assert pages.received_receipts(listed, "R-2") == ["IVO-2026-000002"]
    assert pages.received_receipts(listed, "R-3") == []
    with pytest.raises(pages.PageChanged):
        pages.received_receipts(pages.parse(ivo_pages.receipt_page("x")), "R-1")
    with pytest.raises(pages.PageChanged):
        pages.fill(pages.parse(ivo_pages.receipt_page("x")), {}, {})
    with pytest.raises(pages.PageChanged, match="no page"):
        pages.parse(b" \n")


@pytest.mark.parametrize("kind", ["not_executed", "executed", "closed"])
def test_fictional_reports_of_every_kind_map(kind: str) -> None:
    rng = random.Random(8)
    for person in FictionalPeople(8, kind="personnummer").take(10):
        answers = form_answers(ivo_report_body(person, rng, kind=kind))
        assert answers.values["rapporttyp"] in ("EJ_VERKST", "VERKST", "AVSLUT")
        assert person.identity.formatted() not in str(answers)
