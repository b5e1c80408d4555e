"""The IVO double's form rules: which fields each step shows, and every server-side check."""

from __future__ import annotations

from datetime import date

import pytest

from adapters.doubles.ivo_form import fields_of, identity_number_in, validate

TODAY = date(2026, 12, 7)
ADMINS = ("Vård- och omsorgsnämnden",)
REPORT = {"rapporttyp": "EJ_VERKST", "avbrott": "NEJ", "er_referens": "R-1",
          "individkod": "19380215-T124", "kon": "K", "lagrum": "SOL"}  # fmt: skip
EARLIER = {"verksamhet": "1", "period": "2026Q3", **REPORT}
DECISION = {"insats": "1", "beslutsreferens": "B-1", "beslutsdatum": "2026-03-10",
            "orsak": "Ingen plats.", "konsekvenser": "Väntar hemma."}  # fmt: skip


def problems(step: str, values: dict[str, str], earlier: dict[str, str] | None = None) -> list[str]:
    return validate(step, values, earlier if earlier is not None else EARLIER, TODAY, ADMINS)


def names(step: str, answers: dict[str, str]) -> set[str]:
    return {f.name for f in fields_of(step, answers, ADMINS)}


def test_valid_steps_pass() -> None:
    assert problems("verksamhet", {"verksamhet": "1", "period": "2026Q3"}, {}) == []
    assert problems("rapport", REPORT) == []
    assert problems("beslut", DECISION) == []
    assert problems("granska", {"intygar": "on"}) == []


def test_decision_fields_depend_on_earlier_answers() -> None:
    not_executed = names("beslut", EARLIER)
    assert {"orsak", "konsekvenser", "erbjudande_datum_1", "tillfalliga"} <= not_executed
    assert not not_executed & {"avbrottsdatum", "verkstallt_datum", "avslutsdatum"}
    assert "avbrottsdatum" in names("beslut", {**EARLIER, "avbrott": "JA"})
    executed = names("beslut", {**EARLIER, "rapporttyp": "VERKST"})
    assert "verkstallt_datum" in executed
    assert not executed & {"orsak", "avslutsdatum", "avslutsorsak"}
    closed = names("beslut", {**EARLIER, "rapporttyp": "AVSLUT"})
    assert {"avslutsdatum", "avslutsorsak"} <= closed
    assert "verkstallt_datum" not in closed


def test_intervention_choices_follow_the_law() -> None:
    def labels(law: str) -> list[str]:
        insats = fields_of("beslut", {**EARLIER, "lagrum": law}, ADMINS)[0]
        return [text for _, text in insats.choices]

    assert "Hemtjänst" in labels("SOL")
    assert "Personlig assistans (9 § 2)" in labels("LSS")
    assert "Hemtjänst" not in labels("LSS")


@pytest.mark.parametrize(
    ("code", "gender", "ok"),
    [
        ("19380215-T124", "K", True),
        ("19380215-T123", "M", True),
        ("19380215-TF10", "K", True),
        ("19380215-TF11", "M", True),
        ("19380215-T123", "K", False),  # odd is a man
        ("19380215-T124", "M", False),  # even is a woman
        ("19380215-TF1", "K", False),
        ("19380215-T1234", "K", False),
        ("19381315-T124", "K", False),  # no 13th month
        ("20300101-T124", "K", False),  # born in the future
        ("380215-T124", "K", False),
    ],
)
def test_the_individual_code_and_its_gender_parity(code: str, gender: str, ok: bool) -> None:
    found = problems("rapport", {**REPORT, "individkod": code, "kon": gender})
    assert (found == []) is ok
    assert all(code not in message for message in found)  # a message never repeats the value


def test_a_gender_mismatch_says_so() -> None:
    found = problems("rapport", {**REPORT, "individkod": "19380215-T123", "kon": "K"})
    assert found == ["Individkod: sista siffran ska vara jämn för kvinnor och udda för män."]


@pytest.mark.parametrize("period", ["2026Q5", "2026-Q3", "26Q3", "2026q3", "2027Q1"])
def test_a_period_must_be_a_quarter_that_has_begun(period: str) -> None:
    assert problems("verksamhet", {"verksamhet": "1", "period": period}, {}) != []


def test_dates_must_be_in_order_and_not_in_the_future() -> None:
    executed = {**EARLIER, "rapporttyp": "VERKST"}
    base = {"insats": "1", "beslutsreferens": "B-1", "beslutsdatum": "2026-03-10"}
    assert problems("beslut", {**base, "verkstallt_datum": "2026-06-10"}, executed) == []
    before = problems("beslut", {**base, "verkstallt_datum": "2026-03-09"}, executed)
    assert before == ["Datum då beslutet verkställdes: kan inte vara före beslutsdatum."]
    future = problems("beslut", {**base, "verkstallt_datum": "2026-12-08"}, executed)
    assert future == ["Datum då beslutet verkställdes: datumet kan inte ligga i framtiden."]
    interrupted = {**executed, "avbrott": "JA"}
    order = {**base, "avbrottsdatum": "2026-05-01", "verkstallt_datum": "2026-04-01"}
    assert problems("beslut", order, interrupted) == [
        "Datum då beslutet verkställdes: kan inte vara före avbrottet."
    ]
    no_day = {**base, "beslutsdatum": "2026-02-30", "verkstallt_datum": "2026-06-10"}
    assert problems("beslut", no_day, executed) == ["Beslutsdatum: ange ett datum som ÅÅÅÅ-MM-DD."]


def test_reasons_are_required_where_the_report_needs_them() -> None:
    found = problems("beslut", {**DECISION, "orsak": " "})
    assert found == ["Orsak till att beslutet inte verkställts: uppgiften är obligatorisk."]
    closed = {**EARLIER, "rapporttyp": "AVSLUT"}
    base = {"insats": "1", "beslutsreferens": "B-1", "beslutsdatum": "2026-03-10"}
    found = problems("beslut", {**base, "avslutsdatum": "2026-05-01"}, closed)
    assert found == ["Orsak till att beslutet avslutades: uppgiften är obligatorisk."]


def test_an_offer_needs_date_and_content_after_the_decision() -> None:
    half = problems("beslut", {**DECISION, "erbjudande_2": "Plats på annat boende"})
    assert half == ["Erbjudande 2: ange både datum och vad som erbjöds."]
    early = {**DECISION, "erbjudande_datum_1": "2026-03-01", "erbjudande_1": "Plats"}
    assert problems("beslut", early) == ["Erbjudande 1: datumet kan inte vara före beslutsdatum."]


def test_a_not_executed_report_waits_three_months_to_the_period_end() -> None:
    # Period 2026Q3 ends 30 September: a decision of 30 June has had three months, 1 July not.
    assert problems("beslut", {**DECISION, "beslutsdatum": "2026-06-30"}) == []
    assert problems("beslut", {**DECISION, "beslutsdatum": "2026-07-01"}) == [
        "Beslutsdatum: ett ej verkställt beslut rapporteras först när tre månader har gått."
    ]


@pytest.mark.parametrize(
    "text",
    [
        "19121212-1212",
        "191212121212",
        "121212-1212",
        "1212121212",
        "Se 19121212-1212 ovan",
        "19121272-1219",  # a coordination number (day + 60)
    ],
)
def test_an_identity_number_is_refused_in_any_field(text: str) -> None:
    assert identity_number_in(text)
    found = problems("beslut", {**DECISION, "fritext": text})
    assert len(found) == 1
    assert "personnummer" in found[0]
    assert text not in found[0]
    assert problems("rapport", {**REPORT, "individkod": text}) != []


@pytest.mark.parametrize(
    "text", ["19121212-1213", "070-1740605", "2026-03-10", "19380215-T124", "OH-B-761268-2026Q3-x"]
)
def test_numbers_that_are_no_identity_number_pass(text: str) -> None:
    assert not identity_number_in(text)


def test_a_choice_must_be_one_offered() -> None:
    assert problems("verksamhet", {"verksamhet": "9", "period": "2026Q3"}, {}) == [
        "Nämnd/förvaltning: välj ett av alternativen."
    ]
    assert problems("rapport", {**REPORT, "kon": "X"}) == ["Kön: välj ett av alternativen."]
    assert problems("granska", {}) == [
        "Jag intygar att uppgifterna är riktiga: uppgiften är obligatorisk."
    ]
