"""A tracked decision as the bytes the hub seals: JSON, never stored in plain text.

The identity number travels inside the sealed state only: the submission's envelope must name
the person (``ivo.individual_report`` is pseudonymous), and ingest turns it into the keyed
reference it links the message to. The tracking row itself carries the keyed reference only.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from datetime import date
from typing import Any

from hub.ivo.model import Decision, Event, Person

_DATE_FIELDS = {"on", "decision_date", "offer_date"}


@dataclass(frozen=True)
class Tracked:
    decision: Decision
    scheme: str
    subject: str  # the identity number as sent, inside the sealed state only


def dump(tracked: Tracked) -> bytes:
    d = tracked.decision
    data = {
        "format": 1,
        "district": d.district,
        "decision_id": d.decision_id,
        "law": d.law,
        "scheme": tracked.scheme,
        "subject": tracked.subject,
        "person": {
            "birth_date": d.person.birth_date.isoformat(),
            "gender": d.person.gender,
            "protected": d.person.protected,
            "code": d.person.code,
        },
        "events": [_event_out(e) for e in d.events],
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def load(data: bytes) -> Tracked:
    raw: dict[str, Any] = json.loads(data)
    if raw.get("format") != 1:
        raise ValueError("unknown format of a tracked decision")
    p = raw["person"]
    person = Person(
        birth_date=date.fromisoformat(p["birth_date"]),
        gender=p["gender"],
        protected=p["protected"],
        code=p["code"],
    )
    decision = Decision(
        district=raw["district"],
        decision_id=raw["decision_id"],
        law=raw["law"],
        person=person,
        events=tuple(_event_in(e) for e in raw["events"]),
    )
    return Tracked(decision, raw["scheme"], raw["subject"])


def _event_out(event: Event) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in asdict(event).items():
        if value is None:
            continue
        out[key] = value.isoformat() if isinstance(value, date) else value
    return out


_EVENT_FIELDS = {f.name for f in fields(Event)}


def _event_in(raw: dict[str, Any]) -> Event:
    values: dict[str, Any] = {
        k: (date.fromisoformat(v) if k in _DATE_FIELDS else v)
        for k, v in raw.items()
        if k in _EVENT_FIELDS
    }
    return Event(**values)
