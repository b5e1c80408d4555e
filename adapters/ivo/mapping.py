"""An ``ivo.individual_report`` document as the answers IVO's e-service form asks for.

:func:`form_answers` reads the hub's document and answers, per form field name of the
e-service, what the robot types or chooses there. Choices are given as IVO shows them: radio
buttons by their value, drop-down lists by the option's visible text (an RPA robot's habit:
the text is what IVO publishes, the option values are internal to the page).

Three checks come first, each a permanent error an officer reads: the document is the right
type; nothing is listed under ``Missing`` (fields the case system did not send must be
completed by an officer, never invented); and no text holds something that looks like a
personal identity number, since IVO must never get one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from hub.errors import PermanentDeliveryError

IVO_NS = "urn:omsorgshub:ivo.individual_report:1"
PROTECTED_NOTICE = "Skyddade personuppgifter."

KINDS = {"not_executed": "EJ_VERKST", "executed": "VERKST", "closed": "AVSLUT"}
GENDERS = {"female": "K", "male": "M"}
LAWS = {"SoL": "SOL", "LSS": "LSS"}
# The intervention as IVO's drop-down list names it.
INTERVENTIONS = {
    "sol_special_housing_elderly": "Särskilt boende för äldre",
    "sol_home_care": "Hemtjänst",
    "sol_contact_person": "Kontaktperson/kontaktfamilj",
    "sol_day_activity": "Dagverksamhet",
    "sol_short_stay": "Korttidsvistelse",
    "sol_housing_support": "Boendestöd",
    "sol_special_housing_disability": "Särskilt boende för personer med funktionsnedsättning",
    "sol_other": "Övrigt bistånd",
    "lss_advice_support": "Rådgivning och annat personligt stöd (9 § 1)",
    "lss_personal_assistance": "Personlig assistans (9 § 2)",
    "lss_escort": "Ledsagarservice (9 § 3)",
    "lss_contact_person": "Biträde av kontaktperson (9 § 4)",
    "lss_relief": "Avlösarservice i hemmet (9 § 5)",
    "lss_short_stay": "Korttidsvistelse utanför det egna hemmet (9 § 6)",
    "lss_short_supervision": "Korttidstillsyn för skolungdom (9 § 7)",
    "lss_housing_children": (
        "Boende i familjehem eller bostad med särskild service för barn (9 § 8)"
    ),
    "lss_housing_adults": "Bostad med särskild service för vuxna (9 § 9)",
    "lss_daily_activity": "Daglig verksamhet (9 § 10)",
}

# A number standing on its own (not inside a longer code such as "B-761268-2026Q3").
_NUMBER_LIKE = re.compile(
    r"(?<![0-9A-Za-z])(?:\d{2})?(\d{2})(\d{2})(\d{2})[-+]?(\d{3})(\d)(?![0-9A-Za-z])"
)
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@dataclass(frozen=True)
class FormAnswers:
    """What the robot enters: ``values`` by field name (radio and text fields, dates, the
    confirmation ``on``), ``choices`` by field name for drop-down lists (the option's text)."""

    reference: str  # the hub's report reference, written in "Er referens"
    municipality: str
    values: dict[str, str] = field(default_factory=dict)
    choices: dict[str, str] = field(default_factory=dict)


def form_answers(document: bytes) -> FormAnswers:
    """The e-service answers for one report; ``PermanentDeliveryError`` if it must not go."""
    root = _parse(document)

    def text(path: str) -> str:
        return " ".join((root.findtext(_qualified(path)) or "").split())

    def block(path: str) -> str:  # free text keeps its line breaks
        return (root.findtext(_qualified(path)) or "").strip()

    missing = [" ".join((f.text or "").split()) for f in root.iterfind(_qualified("Missing/Field"))]
    if missing:
        raise PermanentDeliveryError(
            "the report lacks what the case system did not send; an officer must complete "
            f"it before it goes to IVO: {', '.join(missing)}",
            reason="ivo_report_incomplete",
            missing=",".join(missing),
        )
    free_text = block("FreeText")
    if text("Individual/ProtectedIdentity") in ("true", "1"):
        free_text = f"{PROTECTED_NOTICE} {free_text}".strip()
    values = {
        "period": text("Reporting/Quarter"),
        "rapporttyp": KINDS.get(text("ReportKind"), text("ReportKind")),
        "avbrott": "JA" if text("Decision/InterruptionDate") else "NEJ",
        "er_referens": text("ReportReference"),
        "individkod": text("Individual/Code"),
        "kon": GENDERS.get(text("Individual/Gender"), ""),
        "lagrum": LAWS.get(text("Decision/Law"), ""),
        "beslutsreferens": text("Decision/DecisionId"),
        "beslutsdatum": text("Decision/DecisionDate"),
        "avbrottsdatum": text("Decision/InterruptionDate"),
        "orsak": block("Delay/Reason"),
        "konsekvenser": block("Delay/Consequences"),
        "tillfalliga": block("InterimMeasures"),
        "verkstallt_datum": text("ExecutionDate"),
        "avslutsdatum": text("Closing/ClosingDate"),
        "avslutsorsak": block("Closing/Reason"),
        "fritext": free_text,
        "intygar": "on",
    }
    for row, offer in enumerate(root.iterfind(_qualified("Offers/Offer")), start=1):
        values[f"erbjudande_datum_{row}"] = " ".join(
            (offer.findtext(_qualified("Date")) or "").split()
        )
        values[f"erbjudande_{row}"] = (offer.findtext(_qualified("Description")) or "").strip()
    choices = {"verksamhet": text("Reporting/Administration")}
    intervention = text("Decision/Intervention")
    if intervention:
        choices["insats"] = INTERVENTIONS.get(intervention, intervention)
    answers = FormAnswers(
        reference=values["er_referens"],
        municipality=text("Reporting/Municipality"),
        values={k: v for k, v in values.items() if v},
        choices=choices,
    )
    _refuse_identity_numbers(answers)
    return answers


def _parse(document: bytes) -> etree._Element:
    try:
        root = etree.fromstring(document, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise PermanentDeliveryError(
            "the document is not well-formed XML", reason="ivo_wrong_document"
        ) from exc
    if root.tag != f"{{{IVO_NS}}}IndividualReport":
        raise PermanentDeliveryError(
            "the ivo adapter takes only ivo.individual_report v1 documents",
            reason="ivo_wrong_document",
        )
    return root


def _qualified(path: str) -> str:
    return "/".join(f"{{{IVO_NS}}}{step}" for step in path.split("/"))


def _refuse_identity_numbers(answers: FormAnswers) -> None:
    """Refuse a report where any text looks like a Swedish personal identity or coordination
    number (a plausible date and a valid check digit). Written here because adapters may not
    import the hub's identity module (layer rule), and a false alarm only stops one report for
    an officer to look at, while a real number must never reach IVO."""
    for name, value in (*answers.values.items(), *answers.choices.items()):
        if any(_looks_like_identity_number(m) for m in _NUMBER_LIKE.finditer(value)):
            raise PermanentDeliveryError(
                f"field {name!r} holds what looks like a personal identity number; IVO must "
                "never get one: an officer must remove it from the case system's text",
                reason="ivo_identity_number",
                field=name,
            )


def _looks_like_identity_number(match: re.Match[str]) -> bool:
    month, day = int(match.group(2)), int(match.group(3))
    if not (1 <= month <= 12 and (1 <= day <= 31 or 61 <= day <= 91)):  # 61-91: coordination
        return False
    digits = "".join(match.group(i) for i in range(1, 6))
    return _luhn_ok(digits)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(digits):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0
