"""Edges of the IVO tracking found in review: every event read is audited, applied or not;
a new event for a decision whose state was erased (its key version shredded) is skipped, not a
crash that would stop the tracking for good."""

from __future__ import annotations

from datetime import date

from hub.bootstrap import Hub
from hub.demo.fictional import FictionalPeople
from hub.demo.ivo_events import _event, event_envelope
from hub.services.audit_queries import AuditFilter, search_audit
from hub.services.ivo_summaries import track
from hub.services.ivo_tracking import track_events
from tests.integration.ivo.test_reporting import (  # noqa: F401  (the hub fixture)
    APP,
    DISTRICT,
    OPERATOR,
    allow,
    hub,
    past_the_grace,
    send_events,
)


def late_event(decision_id: str, seed: int, index: int = 7) -> bytes:
    """One more event for ``decision_id``, about a person of ``FictionalPeople(seed)``."""
    (person,) = FictionalPeople(seed).take(1)
    day = date(2026, 9, 1)
    event = _event(person, "SoL", "sol_home_care", decision_id, index, "executed", day, day, {})
    return event_envelope(person, DISTRICT, event)


def test_an_event_naming_another_person_is_skipped_and_still_audited(hub: Hub) -> None:  # noqa: F811
    allow(hub)
    sent = send_events(hub, 5)
    track_events(hub, OPERATOR)
    decision_id = next(iter(sent))
    hub.ingestor.ingest(APP, late_event(decision_id, seed=977))  # someone else entirely
    result = track_events(hub, OPERATOR)
    assert (result.applied, result.skipped) == (0, 1)
    entries = search_audit(hub, OPERATOR, AuditFilter(actor=OPERATOR.name, limit=10_000))
    skipped = [e for e in entries if "tracked for another person" in (e.reason or "")]
    assert len(skipped) == 1
    assert skipped[0].action == "decrypted"
    assert skipped[0].message_id is not None


def test_a_new_event_for_an_erased_state_is_skipped_not_a_crash(hub: Hub) -> None:  # noqa: F811
    from hub.services.data_keys import rotate_keys, shred_key

    allow(hub)
    sent = send_events(hub, 4)
    track_events(hub, OPERATOR)
    rotate_keys(hub, OPERATOR, DISTRICT)
    past_the_grace(hub)
    shred_key(hub, OPERATOR, DISTRICT, 1)  # without a rewrap first: unreadable for ever
    decision_id = next(iter(sent))
    person_seed = 3  # send_events' people
    hub.ingestor.ingest(APP, late_event(decision_id, seed=person_seed))
    result = track(hub, OPERATOR)  # as `serve` runs it: must not raise
    assert (result.applied, result.skipped) == (0, 1)
    assert track(hub, OPERATOR).applied == 0  # and the next run goes on


def test_one_person_with_two_codes_is_held_back_for_the_officer(hub: Hub) -> None:  # noqa: F811
    from hub.ivo.codes import gender_of
    from hub.services.ivo_reports import build_worklist

    allow(hub)
    (person,) = FictionalPeople(41).take(1)
    own = gender_of(person.identity)
    other = "male" if own == "female" else "female"
    day = date(2025, 10, 1)
    explained = {"DelayReason": "Ingen plats (fiktivt).", "Consequences": "Väntar (fiktivt)."}
    for decision_id, extra in (("B-G-1", {}), ("B-G-2", {"Gender": other})):
        event = _event(
            person, "SoL", "sol_home_care", decision_id, 0, "decided", day, day,
            {**extra, **explained},
        )  # fmt: skip
        hub.ingestor.ingest(APP, event_envelope(person, DISTRICT, event))
    rows = build_worklist(hub, OPERATOR, DISTRICT, "2026Q3").rows
    assert len(rows) == 2
    assert len({row.code for row in rows}) == 2  # the case system said two genders
    for row in rows:
        assert not row.complete
        assert any("different IVO codes" in d for d in row.disagreements)
