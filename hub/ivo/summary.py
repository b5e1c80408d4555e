"""What the case system's ``GetClientSummary`` says of a tracked decision, and where it and
the execution events disagree (pure functions).

The tracking (``hub.services.ivo_summaries``) asks the ``client_summary`` lookup for each
tracked person and keeps, per decision, a :class:`Summary`: the law, the case system's service
code, the decision date and the execution state, and the day they were read. Nothing else of
the answer (name, fee basis, provider, case officer) is kept.

The case system's service codes are its own (``home_care``, ``personal_assistance``…); IVO's
kinds of intervention (``ivo.individual_report`` v1) are mapped from them by the setting
``ivo_intervention_map``, ``[LAW:]CODE=KIND`` entries separated by ``;`` (``LAW:`` narrows an
entry to SoL or LSS; the narrower entry wins). A code the map does not name is never guessed:
the intervention stays missing and the worklist says which code needs an entry.

Where the summary and the events disagree (the law, the decision date, the intervention, the
execution state as of the day the summary was read, a decision the summary does not list), the
worklist says so for the officer and the row is not submitted: the hub never silently picks
one of two sources.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from hub.errors import ConfigError
from hub.ivo.due import stretches
from hub.ivo.legal import LAWS
from hub.ivo.model import Decision

# IVO's kinds of intervention, as ivo.individual_report v1 and case.execution_event v2 name them.
IVO_INTERVENTIONS = (
    "sol_special_housing_elderly", "sol_home_care", "sol_contact_person", "sol_day_activity",
    "sol_short_stay", "sol_housing_support", "sol_special_housing_disability", "sol_other",
    "lss_advice_support", "lss_personal_assistance", "lss_escort", "lss_contact_person",
    "lss_relief", "lss_short_stay", "lss_short_supervision", "lss_housing_children",
    "lss_housing_adults", "lss_daily_activity",
)  # fmt: skip
STATES = ("pending", "executed", "interrupted", "closed")  # the contract's ExecutionStateType

InterventionMap = Mapping[tuple[str | None, str], str]  # (law or None, service code) -> kind


@dataclass(frozen=True)
class Summary:
    """The case system's word on one decision, read on ``read_on``; ``listed`` False: the
    summary of the decision's person does not list the decision (the other fields are None)."""

    read_on: date
    listed: bool
    law: str | None = None
    service_code: str | None = None
    decision_date: date | None = None
    execution_state: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "read_on": self.read_on.isoformat(),
            "listed": self.listed,
            "law": self.law,
            "service_code": self.service_code,
            "decision_date": self.decision_date.isoformat() if self.decision_date else None,
            "execution_state": self.execution_state,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, object]) -> Summary:
        day = raw.get("decision_date")
        return cls(
            read_on=date.fromisoformat(str(raw["read_on"])),
            listed=bool(raw["listed"]),
            law=_text(raw.get("law")),
            service_code=_text(raw.get("service_code")),
            decision_date=date.fromisoformat(str(day)) if day else None,
            execution_state=_text(raw.get("execution_state")),
        )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def summary_of(answer: Mapping[str, object], decision_id: str, read_on: date) -> Summary:
    """The :class:`Summary` of ``decision_id`` in a ``client_summary`` lookup result."""
    decisions = answer.get("decisions") if answer.get("found") else None
    for raw in decisions if isinstance(decisions, list) else ():
        if not isinstance(raw, Mapping) or raw.get("decision_id") != decision_id:
            continue
        service = raw.get("service")
        code = service.get("code") if isinstance(service, Mapping) else None
        day = raw.get("decision_date")
        return Summary(
            read_on=read_on,
            listed=True,
            law=_text(raw.get("law")),
            service_code=_text(code),
            decision_date=date.fromisoformat(str(day)) if day else None,
            execution_state=_text(raw.get("execution_state")),
        )
    return Summary(read_on=read_on, listed=False)


def parse_intervention_map(setting: str) -> dict[tuple[str | None, str], str]:
    """The setting ``ivo_intervention_map``, checked; a bad entry is a ``ConfigError``."""
    out: dict[tuple[str | None, str], str] = {}
    for raw in setting.split(";"):
        entry = raw.strip()
        if not entry:
            continue
        head, sep, kind = entry.partition("=")
        law, colon, code = head.strip().rpartition(":") if ":" in head else ("", "", head.strip())
        law, code, kind = law.strip(), code.strip(), kind.strip()
        problem = None
        if not sep or not code:
            problem = "is not [LAW:]CODE=KIND"
        elif colon and law not in LAWS:
            problem = f"names law {law!r}, not one of {', '.join(LAWS)}"
        elif kind not in IVO_INTERVENTIONS:
            problem = f"maps to {kind!r}, which is not one of IVO's kinds of intervention"
        elif law and not kind.startswith(f"{law.lower()}_"):
            problem = f"maps a {law} code to {kind!r}, a kind of the other law"
        elif (law or None, code) in out:
            problem = "maps a code mapped before"
        if problem:
            raise ConfigError(
                f"ivo_intervention_map: {entry!r} {problem}", key="ivo_intervention_map"
            )
        out[(law or None, code)] = kind
    return out


def intervention_for(mapping: InterventionMap, law: str | None, code: str) -> str | None:
    """IVO's kind for the case system's ``code`` under ``law``, or None if not mapped (an
    entry without a law never gives a kind of the other law)."""
    kind = mapping.get((law, code)) or mapping.get((None, code))
    if kind is None or (law and not kind.startswith(f"{law.lower()}_")):
        return None
    return kind


def events_state(decision: Decision, on: date) -> str:
    """The execution state the events give as of ``on``, in the contract's words."""
    known = [e for e in decision.events if e.on <= on]
    if not known:
        return "pending"
    last = stretches(decision.decision_date, known)[-1]
    if last.ended_by is not None:
        return last.ended_by  # executed | closed
    return "interrupted" if last.interrupted_on is not None else "pending"


def disagreements(
    decision: Decision, summary: Summary, mapped: str | None, events_intervention: str | None
) -> tuple[str, ...]:
    """Where the summary and the events disagree, each as a sentence for the officer."""
    if not summary.listed:
        return (
            f"the case system's summary of {summary.read_on} does not list decision "
            f"{decision.decision_id}",
        )
    out: list[str] = []
    if summary.law and summary.law != decision.law:
        out.append(f"law: the case system says {summary.law}, the events {decision.law}")
    if summary.decision_date and summary.decision_date != decision.decision_date:
        out.append(
            f"decision date: the case system says {summary.decision_date}, the events "
            f"{decision.decision_date}"
        )
    if mapped and events_intervention and mapped != events_intervention:
        out.append(
            f"intervention: the case system's service {summary.service_code} is {mapped}, "
            f"the events say {events_intervention}"
        )
    said = events_state(decision, summary.read_on)
    if summary.execution_state and summary.execution_state != said:
        out.append(
            f"state on {summary.read_on}: the case system says {summary.execution_state}, "
            f"the events say {said}"
        )
    return tuple(out)
