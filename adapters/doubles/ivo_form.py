"""The IVO e-service double's report form: its steps, the fields each shows, and validation.

IVO's e-service for decisions not executed (ivo.se) is a multi-step web form; this module is
its shape in the double, free of HTTP so that the unit tests can hold the rules directly:

    verksamhet   choose the administration; the reporting period (e.g. 2026Q4)
    rapport      kind of report, interruption or not, own reference, the individual's code,
                 gender, law
    beslut       intervention (the choices depend on the law), decision reference and date;
                 interruption date only for an interruption; reason, consequences, offers and
                 interim measures only for a decision not executed; execution date only for
                 an executed one; closing date and reason only for a closed one; free text
    granska      the answers to review, and the officer's confirmation

Every field is checked on the server: the individual's code (birth date, ``T`` and three
digits or ``TF`` and two, the last digit's parity the gender), dates real, not in the future
and in order, required reasons, the period's format. A personal identity number or
coordination number (valid check digit) in any field is refused: IVO must never get one.
Messages are Swedish as on ivo.se and never repeat what was typed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from hub.errors import InvalidIdentityNumber
from hub.ingest.identity import parse_identity

STEPS = ("verksamhet", "rapport", "beslut", "granska")
STEP_TITLES = {
    "verksamhet": "Välj verksamhet",
    "rapport": "Rapport och individ",
    "beslut": "Beslut",
    "granska": "Granska och skicka",
}
OFFER_ROWS = 10
TEXT_MAX = 2000

KINDS = (("EJ_VERKST", "Ej verkställt beslut"), ("VERKST", "Verkställt"), ("AVSLUT", "Avslutat"))
YES_NO = (("JA", "Ja"), ("NEJ", "Nej"))
GENDERS = (("K", "Kvinna"), ("M", "Man"))
LAWS = (("SOL", "Socialtjänstlagen (SoL)"), ("LSS", "LSS"))
INTERVENTIONS: dict[str, tuple[str, ...]] = {
    "SOL": (
        "Särskilt boende för äldre",
        "Hemtjänst",
        "Kontaktperson/kontaktfamilj",
        "Dagverksamhet",
        "Korttidsvistelse",
        "Boendestöd",
        "Särskilt boende för personer med funktionsnedsättning",
        "Övrigt bistånd",
    ),
    "LSS": (
        "Rådgivning och annat personligt stöd (9 § 1)",
        "Personlig assistans (9 § 2)",
        "Ledsagarservice (9 § 3)",
        "Biträde av kontaktperson (9 § 4)",
        "Avlösarservice i hemmet (9 § 5)",
        "Korttidsvistelse utanför det egna hemmet (9 § 6)",
        "Korttidstillsyn för skolungdom (9 § 7)",
        "Boende i familjehem eller bostad med särskild service för barn (9 § 8)",
        "Bostad med särskild service för vuxna (9 § 9)",
        "Daglig verksamhet (9 § 10)",
    ),
}

_CODE = re.compile(r"(\d{8})-(?:T\d{3}|TF\d{2})")
_PERIOD = re.compile(r"(\d{4})Q([1-4])")
# A number standing on its own (not inside a longer code such as "B-761268-2026Q3").
_NUMBER_LIKE = re.compile(r"(?<![0-9A-Za-z])(\d{6}|\d{8})[-+]?(\d{4})(?![0-9A-Za-z])")


@dataclass(frozen=True)
class Field:
    """One field of a step: ``kind`` is text, date, textarea, select, radio or checkbox."""

    name: str
    label: str
    kind: str
    choices: tuple[tuple[str, str], ...] = ()
    required: bool = True


def fields_of(
    step: str, answers: Mapping[str, str], administrations: tuple[str, ...]
) -> list[Field]:
    """The fields ``step`` shows, given the answers of the earlier steps."""
    if step == "verksamhet":
        return [
            Field("verksamhet", "Nämnd/förvaltning", "select", _same(administrations)),
            Field("period", "Rapporteringsperiod (t.ex. 2026Q4)", "text"),
        ]
    if step == "rapport":
        return [
            Field("rapporttyp", "Vad gäller rapporten?", "radio", KINDS),
            Field("avbrott", "Gäller rapporten ett avbrott i verkställigheten?", "radio", YES_NO),
            Field("er_referens", "Er referens", "text"),
            Field("individkod", "Individkod (ÅÅÅÅMMDD-T123 eller ÅÅÅÅMMDD-TF12)", "text"),
            Field("kon", "Kön", "radio", GENDERS),
            Field("lagrum", "Lagrum", "radio", LAWS),
        ]
    if step == "beslut":
        return _decision_fields(answers)
    if step == "granska":
        return [Field("intygar", "Jag intygar att uppgifterna är riktiga", "checkbox")]
    raise ValueError(f"unknown step {step!r}")


def _decision_fields(answers: Mapping[str, str]) -> list[Field]:
    law = answers.get("lagrum", "SOL")
    fields = [
        Field("insats", "Insats", "select", _same(INTERVENTIONS.get(law, ()))),
        Field("beslutsreferens", "Kommunens beslutsreferens", "text"),
        Field("beslutsdatum", "Beslutsdatum", "date"),
    ]
    if answers.get("avbrott") == "JA":
        fields.append(Field("avbrottsdatum", "Datum för avbrottet", "date"))
    kind = answers.get("rapporttyp")
    if kind == "EJ_VERKST":
        fields += [
            Field("orsak", "Orsak till att beslutet inte verkställts", "textarea"),
            Field("konsekvenser", "Konsekvenser för den enskilde", "textarea"),
        ]
        for row in range(1, OFFER_ROWS + 1):
            fields += [
                Field(f"erbjudande_datum_{row}", f"Erbjudande {row}: datum", "date", (), False),
                Field(f"erbjudande_{row}", f"Erbjudande {row}: vad", "text", (), False),
            ]
        fields.append(Field("tillfalliga", "Tillfälliga insatser", "textarea", (), False))
    elif kind == "VERKST":
        fields.append(Field("verkstallt_datum", "Datum då beslutet verkställdes", "date"))
    elif kind == "AVSLUT":
        fields += [
            Field("avslutsdatum", "Datum då beslutet avslutades", "date"),
            Field("avslutsorsak", "Orsak till att beslutet avslutades", "textarea"),
        ]
    fields.append(Field("fritext", "Övrig information", "textarea", (), False))
    return fields


def summary_values(
    answers: dict[str, str], administrations: tuple[str, ...]
) -> list[tuple[str, str]]:
    """The answers as stored and listed: choices by their text, empty fields left out."""
    shown = []
    for step in STEPS[:-1]:
        for f in fields_of(step, answers, administrations):
            value = answers.get(f.name, "")
            if f.kind == "select":
                value = dict(f.choices).get(value, value)
            if value:
                shown.append((f.name, value))
    return shown


def review_rows(answers: dict[str, str], administrations: tuple[str, ...]) -> list[tuple[str, str]]:
    labels = {
        f.name: f.label for step in STEPS[:-1] for f in fields_of(step, answers, administrations)
    }
    return [(labels[name], value) for name, value in summary_values(answers, administrations)]


def _same(labels: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((str(number), label) for number, label in enumerate(labels, start=1))


def validate(
    step: str, values: Mapping[str, str], answers: Mapping[str, str], today: date,
    administrations: tuple[str, ...],
) -> list[str]:  # fmt: skip
    """Every problem with ``values`` for ``step`` (``answers``: the earlier steps), as messages."""
    fields = fields_of(step, answers, administrations)
    problems = [m for f in fields if (m := _field_problem(f, values.get(f.name, "")))]
    if problems:
        return problems
    if step == "verksamhet":
        return _period_problems(values["period"], today)
    if step == "rapport":
        return _code_problems(values["individkod"], values["kon"], today)
    if step == "beslut":
        return _date_problems({**answers, **values}, today)
    return []


def _field_problem(field: Field, value: str) -> str | None:
    if identity_number_in(value):
        return (
            f"{field.label}: ange aldrig personnummer eller samordningsnummer, använd individkoden."
        )
    if not value.strip():
        return f"{field.label}: uppgiften är obligatorisk." if field.required else None
    if len(value) > TEXT_MAX:
        return f"{field.label}: högst {TEXT_MAX} tecken."
    if field.choices and value not in {choice for choice, _ in field.choices}:
        return f"{field.label}: välj ett av alternativen."
    if field.kind == "checkbox" and value != "on":
        return f"{field.label}: kryssa i rutan."
    if field.kind == "date" and parse_date(value) is None:
        return f"{field.label}: ange ett datum som ÅÅÅÅ-MM-DD."
    return None


def identity_number_in(text: str) -> bool:
    """Whether ``text`` holds a Swedish personal identity or coordination number (check digit
    valid), written with or without century and separator."""
    for match in _NUMBER_LIKE.finditer(text):
        try:
            parse_identity(match.group(0), "se")
        except InvalidIdentityNumber:
            continue
        return True
    return False


def parse_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip()) if len(text.strip()) == 10 else None
    except ValueError:
        return None


def _period_problems(period: str, today: date) -> list[str]:
    match = _PERIOD.fullmatch(period.strip())
    if match is None:
        return ["Rapporteringsperiod: ange år och kvartal som 2026Q4."]
    year, quarter = int(match.group(1)), int(match.group(2))
    if date(year, 3 * quarter - 2, 1) > today:
        return ["Rapporteringsperiod: perioden har inte börjat."]
    return []


def _code_problems(code: str, gender: str, today: date) -> list[str]:
    match = _CODE.fullmatch(code.strip())
    if match is None:
        return [
            "Individkod: ange födelsedatum, T och tre siffror eller TF och två (ÅÅÅÅMMDD-T123)."
        ]
    born = parse_date(f"{match.group(1)[:4]}-{match.group(1)[4:6]}-{match.group(1)[6:]}")
    if born is None or born > today:
        return ["Individkod: födelsedatumet är inte ett giltigt datum."]
    if int(code.strip()[-1]) % 2 != (0 if gender == "K" else 1):
        return ["Individkod: sista siffran ska vara jämn för kvinnor och udda för män."]
    return []


def _date_problems(answers: Mapping[str, str], today: date) -> list[str]:
    dates = {name: parse_date(answers.get(name, "")) for name in _DATE_LABELS}
    problems = [
        f"{_DATE_LABELS[name]}: datumet kan inte ligga i framtiden."
        for name, day in dates.items()
        if day is not None and day > today
    ]
    decided = dates["beslutsdatum"]
    assert decided is not None  # a required date field, checked before
    for name in ("avbrottsdatum", "verkstallt_datum", "avslutsdatum"):
        day = dates[name]
        if day is not None and day < decided:
            problems.append(f"{_DATE_LABELS[name]}: kan inte vara före beslutsdatum.")
    interrupted, executed = dates["avbrottsdatum"], dates["verkstallt_datum"]
    if interrupted is not None and executed is not None and executed < interrupted:
        problems.append("Datum då beslutet verkställdes: kan inte vara före avbrottet.")
    problems += _offer_problems(answers, decided)
    start = _period_start(answers.get("period", ""))
    since = interrupted or decided
    if (
        answers.get("rapporttyp") == "EJ_VERKST"
        and start is not None
        and not _three_months(since, start)
    ):
        problems.append(
            "Beslutsdatum: ett ej verkställt beslut rapporteras först när tre månader har gått."
        )
    return problems


def _offer_problems(answers: Mapping[str, str], decided: date) -> list[str]:
    problems = []
    for row in range(1, OFFER_ROWS + 1):
        raw_day, what = (
            answers.get(f"erbjudande_datum_{row}", ""),
            answers.get(f"erbjudande_{row}", ""),
        )
        if bool(raw_day.strip()) != bool(what.strip()):
            problems.append(f"Erbjudande {row}: ange både datum och vad som erbjöds.")
        day = parse_date(raw_day)
        if day is not None and day < decided:
            problems.append(f"Erbjudande {row}: datumet kan inte vara före beslutsdatum.")
    return problems


def _period_start(period: str) -> date | None:
    match = _PERIOD.fullmatch(period.strip())
    return date(int(match.group(1)), 3 * int(match.group(2)) - 2, 1) if match else None


def _three_months(since: date, period_start: date) -> bool:
    """Whether three months have passed since ``since`` by the period's last day: the month
    three months on from ``since`` is the period's last month or earlier."""
    last_month = period_start.month + 2
    return (period_start.year - since.year) * 12 + last_month - since.month >= 3


_DATE_LABELS = {
    "beslutsdatum": "Beslutsdatum",
    "avbrottsdatum": "Datum för avbrottet",
    "verkstallt_datum": "Datum då beslutet verkställdes",
    "avslutsdatum": "Datum då beslutet avslutades",
    **{f"erbjudande_datum_{row}": f"Erbjudande {row}: datum" for row in range(1, OFFER_ROWS + 1)},
}
