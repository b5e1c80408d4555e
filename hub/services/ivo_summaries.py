"""IVO tracking from the case system's ``GetClientSummary``, and tracking on a schedule.

``track`` is the tracking as every caller runs it (``ivo track|report|submit``, the ``serve``
thread): the stored execution events first (``hub.services.ivo_tracking.track_events``), then
the case system's summary of each decision those events changed (or of every tracked
decision, ``all_summaries``):

- through the ordinary lookup path (``hub.services.lookups``): the ``client_summary`` lookup
  routed for the district (``lookup.client_summary`` in the routes; a district without such a
  route is not asked), under an agreement that lets the hub's own identity (``ivo_sender``)
  ask it for ``ivo_purpose``, audited ``queried`` (or ``refused``/failed) by the lookup itself;
- one question per person and district, whatever the number of their decisions; the person is
  read from the sealed state (audited ``decrypted``) and never leaves memory except as the
  lookup's subject;
- per decision only the law, the service code, the decision date and the execution state are
  kept (``hub.ivo.summary.Summary``), sealed with the decision's state; the name, fee basis,
  provider and case officer of the answer are dropped at once;
- the state is written under the tracking's lock (``ivo_rows.lock_tracking``), re-read in that
  transaction so an event applied meanwhile is never lost; the lookups themselves run outside
  any transaction;
- a case system that cannot answer, or an agreement that does not allow the question, leaves
  the decision as it was (counted, never fatal): the events alone still make the report.

The worklist (``hub.ivo.worklist``) takes the intervention from the summary through the
setting ``ivo_intervention_map`` when no event named it, and lists every disagreement between
the summary and the events for the officer.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from dataclasses import replace
from typing import TYPE_CHECKING

from hub.errors import ContractRefusal, HubError, KeyShredded, RoutingError
from hub.guards import AuditAction, AuditEvent
from hub.ivo.state import Tracked, dump
from hub.ivo.summary import summary_of
from hub.keys import crypto
from hub.services.ivo_tracking import TrackResult, open_tracked, sealed_aad, track_events
from hub.services.lookups import LOOKUPS, LookupQuestion
from hub.services.principal import Kind, Principal
from hub.storage import ivo as ivo_rows

if TYPE_CHECKING:
    from hub.bootstrap import Hub

log = logging.getLogger(__name__)
SUMMARY_LOOKUP = LOOKUPS["client_summary"]
Person = tuple[str, str]  # (scheme, identity number as sent), in memory only


def track(hub: Hub, principal: Principal, *, all_summaries: bool = False) -> TrackResult:
    """Apply the new execution events, then read the case system's summaries (see above)."""
    result = track_events(hub, principal)
    wanted: dict[str, set[str]] = defaultdict(set)
    for district, decision_id in result.changed:
        wanted[district].add(decision_id)
    if all_summaries:
        with hub.reader.connect() as conn:
            for district, decision_id in ivo_rows.tracked_ids(conn):
                if principal.covers(district):
                    wanted[district].add(decision_id)
    for district in sorted(wanted):
        _read_summaries(hub, principal, district, wanted[district], result)
    return result


def _read_summaries(
    hub: Hub, principal: Principal, district: str, decision_ids: set[str], result: TrackResult
) -> None:
    try:
        hub.routing.destinations_for(SUMMARY_LOOKUP.agreement_type, district)
    except RoutingError:
        return  # this district's case system is not asked: the events alone make the report
    people = _people(hub, principal, district, decision_ids)
    answers: dict[str, dict[str, object]] = {}  # decision id -> the lookup's data
    for (scheme, subject), ids in people.items():
        question = LookupQuestion(
            requester=hub.settings.ivo_sender,
            actor=principal.name,
            lookup=SUMMARY_LOOKUP.name,
            district=district,
            purpose=hub.settings.ivo_purpose,
            subject=subject,
            scheme=scheme,
        )
        try:
            data = hub.lookups.ask(question).data
        except ContractRefusal:
            result.summaries_refused += len(ids)
            continue
        except HubError as exc:  # audited by the lookup; logged by reason code, no person
            log.warning("IVO tracking: %s's case system did not answer (%s)", district, exc.reason)
            result.summaries_failed += len(ids)
            continue
        answers.update(dict.fromkeys(ids, data))
    if answers:
        _store(hub, principal, district, answers, result)


def _people(
    hub: Hub, principal: Principal, district: str, decision_ids: set[str]
) -> dict[Person, list[str]]:
    """The persons of the decisions, each read audited."""
    people: dict[Person, list[str]] = defaultdict(list)
    with hub.engine.begin() as conn:
        events = []
        for row in ivo_rows.decisions(conn, district, decision_ids):
            try:
                tracked = open_tracked(hub, conn, row)
            except KeyShredded:
                continue
            people[(tracked.scheme, tracked.subject)].append(row.decision_id)
            events.append(_read_entry(hub, principal, district, row.subject_ref, row.decision_id))
        hub.guards.record(conn, events)
    return people


def _read_entry(
    hub: Hub, principal: Principal, district: str, subject_ref: str, decision_id: str
) -> AuditEvent:
    return principal.did(
        AuditAction.DECRYPTED,
        purpose=hub.settings.ivo_purpose,
        district=district,
        subject_ref=subject_ref,
        reason=f"IVO tracking: decision {decision_id} read for the case system's summary",
    )


def _store(
    hub: Hub,
    principal: Principal,
    district: str,
    answers: dict[str, dict[str, object]],
    result: TrackResult,
) -> None:
    today = hub.clock().date()
    with hub.engine.begin() as conn:
        ivo_rows.lock_tracking(conn)
        rows = ivo_rows.decisions(conn, district, set(answers))
        key = hub.guards.current_key(conn, district, principal.name)
        sealed: list[ivo_rows.DecisionRow] = []
        events: list[AuditEvent] = []
        for row in rows:
            try:
                tracked = open_tracked(hub, conn, row)
            except KeyShredded:
                continue
            summary = summary_of(answers[row.decision_id], row.decision_id, today)
            updated = Tracked(tracked.decision, tracked.scheme, tracked.subject, summary)
            ciphertext = crypto.seal(
                key.key, dump(updated), sealed_aad(district, row.decision_id, key.version)
            )
            sealed.append(replace(row, key_version=key.version, ciphertext=ciphertext))
            events.append(_read_entry(hub, principal, district, row.subject_ref, row.decision_id))
        ivo_rows.save(conn, sealed, {r.decision_id for r in sealed}, hub.clock())
        hub.guards.record(conn, events)
    result.summaries_read += len(sealed)


# -- on a schedule (serve) -------------------------------------------------------------------
TRACKER = Principal("omsorgshub:ivo-tracking", Kind.OPERATOR, None)


def start_tracking(hub: Hub, stop: threading.Event) -> threading.Thread | None:
    """A daemon thread running :func:`track` every ``ivo_track_seconds`` until ``stop`` (None
    when the setting is 0). Several hubs may run it at once: each batch holds the tracking's
    lock (PostgreSQL's advisory lock, SQLite's write lock), and an event is applied once."""
    seconds = hub.settings.ivo_track_seconds
    if seconds <= 0:
        return None
    thread = threading.Thread(
        target=_track_forever, args=(hub, seconds, stop), name="ivo-tracking", daemon=True
    )
    thread.start()
    return thread


def _track_forever(hub: Hub, seconds: float, stop: threading.Event) -> None:
    while not stop.wait(seconds):
        try:
            result = track(hub, TRACKER)
        except HubError as exc:
            log.warning("IVO tracking could not run: %s (%s)", type(exc).__name__, exc.reason)
        except Exception as exc:  # a failed run never stops the next one; no traceback,
            # whose values could name a person: the kind of failure only
            log.error("IVO tracking failed: %s", type(exc).__name__)
        else:
            if result.applied or result.summaries_read:
                log.info(
                    "IVO tracking: %d events applied to %d decisions, %d summaries read",
                    result.applied,
                    result.decisions,
                    result.summaries_read,
                )
