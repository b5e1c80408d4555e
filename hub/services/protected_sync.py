"""The hub's protected-identity marks kept in step with the case systems' own lists.

The confidentiality check (issue 15 §4: ``hub.guards``, ``contracts.policy``) refuses a message
or a lookup about a person the case system marks with protected identity (skyddad
folkbokföring, sekretessmarkering). A lookup learns a person's mark from the client summary,
but a message about a person the hub never looked up would pass unchecked; so the case system
publishes whom it marks (``GetProtectedClients``, the port ``hub.ports.ProtectedPersonsSource``)
and a sync takes each district's whole list:

    which districts       each district with a route for ``lookup.client_summary`` (a route
                          for ``*``: each district with an agreement), to the first routed
                          destination, as a lookup asks it; a destination whose adapter cannot
                          list protected persons is no source and left out
    per district          the list fetched outside any transaction; then one transaction: each
                          person's keyed HMAC (never the number), new and changed marks
                          recorded (``hub.storage.protected.record_mark``, source
                          ``sync:<destination>``), the district's marks the list no longer has
                          lifted (learned by a lookup or a sync alike: the list is the case
                          system's word), one ``protection_changed`` audit entry per person
                          whose mark changed (subject: the HMAC; reason: marked/changed/lifted
                          and the kind) and one ``protection_synced`` entry with the counts
    a failure             the case system down, a list that does not fit the contract: nothing
                          of that district changes (never lift on failure), the failure is
                          reported, audited ``protection_synced`` failed with its reason, and
                          the district is asked again at the next run
    every run             beside its ``protection_synced`` entry, the district's row in
                          ``protected_syncs`` (``hub.storage.protected_syncs``): when, ok or
                          failed, the counts or the reason, failures since the last success —
                          what ``hub.services.protected_status`` shows

A listed number that fails its check digit cannot be in any message the hub accepts: it is
counted ``skipped``, not stored. An unchanged mark is not written (``marked_at`` says when the
mark was last recorded or changed). The relay runs a sync every
``protected_sync_interval_seconds`` (``schedule_protected_sync``); ``omsorgshub protected sync``
calls the same function.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from adapters import resolve  # the registry: the one way to an adapter kind
from hub.errors import (
    ConfigError,
    DeliveryError,
    HubError,
    InvalidIdentityNumber,
    NotFound,
    audit_reason,
)
from hub.guards import AuditAction, AuditEvent, Outcome
from hub.ingest.identity import parse_identity
from hub.ports import ProtectedPersonsSource
from hub.services.lookups import LOOKUPS
from hub.services.principal import Kind, Principal
from hub.storage.protected import district_marks, lift_marks, record_mark
from hub.storage.protected_syncs import record_sync

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from hub.bootstrap import Hub

__all__ = [
    "DistrictSync",
    "ProtectedSync",
    "run_scheduled",
    "schedule_protected_sync",
    "sources",
    "sync_protected",
]

log = logging.getLogger(__name__)

SCHEDULER = Principal.operator("protected-sync")  # the relay's own runs, hub-wide
_ROUTED_TYPE = LOOKUPS["client_summary"].agreement_type  # the district's case system answers it

# (district, its result): after each district, for a command line's progress
Progress = Callable[["DistrictSync"], None]


@dataclass(frozen=True)
class DistrictSync:
    """One district's sync: counts, or the error that left its marks as they were."""

    district: str
    destination: str
    listed: int = 0  # persons in the case system's list
    marked: int = 0  # marked now, not before
    changed: int = 0  # marked before with the other kind
    lifted: int = 0  # marked before, no longer listed
    skipped: int = 0  # listed with a number that fails its check
    error: HubError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def counts_text(self) -> str:
        return (
            f"{self.listed} listed: {self.marked} marked, {self.changed} changed, "
            f"{self.lifted} lifted, {self.skipped} skipped"
        )


@dataclass(frozen=True)
class ProtectedSync:
    at: datetime
    districts: list[DistrictSync]

    @property
    def failed(self) -> list[DistrictSync]:
        return [d for d in self.districts if not d.ok]


def sync_protected(
    hub: Hub,
    principal: Principal,
    *,
    district: str | None = None,
    progress: Progress | None = None,
) -> ProtectedSync:
    """Sync every source district in the principal's scope (or only ``district``); see the
    module docstring. A district that fails is reported in the result, never raised."""
    principal.require(Kind.OPERATOR, Kind.HUB_ADMIN, Kind.DISTRICT_ADMIN)
    if district is not None:
        principal.visible(district, f"no district {district!r}", reason="unknown_district")
    at = hub.clock()
    done: list[DistrictSync] = []
    for name, destination in sources(hub, principal, district):
        result = _sync_district(hub, principal, name, destination)
        done.append(result)
        if progress is not None:
            progress(result)
    return ProtectedSync(at=at, districts=done)


def sources(hub: Hub, principal: Principal, only: str | None = None) -> list[tuple[str, str]]:
    """(district, destination) of every district in the principal's scope whose case system
    is to be asked (``only``: that district, or ``NotFound`` if it has no such system)."""
    routed = {r.district for r in hub.routing.routes if r.message_type == _ROUTED_TYPE}
    districts = routed - {"*"}
    if "*" in routed:
        with hub.reader.connect() as conn:
            districts |= {a.district for a in hub.agreement_store.list_current(conn)}
    pairs: list[tuple[str, str]] = []
    for name in sorted(districts):
        if (only is not None and name != only) or not principal.covers(name):
            continue
        destination = hub.routing.destinations_for(_ROUTED_TYPE, name)[0]
        if _lists_protected(hub, destination):
            pairs.append((name, destination))
    if only is not None and not pairs:
        raise NotFound(  # as a district outside the scope: nothing there to sync
            f"district {only!r} has no case system that lists protected persons (none is "
            f"routed for {_ROUTED_TYPE}, or its adapter has no protected_persons)",
            reason="no_protected_source",
        )
    return pairs


def _lists_protected(hub: Hub, destination: str) -> bool:
    """Whether the destination's adapter kind has the verb, without opening it (opening is
    the sync's own step, where a failure is reported for the district)."""
    factory = resolve(hub.routing.destination(destination).adapter)
    return isinstance(factory, type) and issubclass(factory, ProtectedPersonsSource)


def _sync_district(hub: Hub, principal: Principal, district: str, destination: str) -> DistrictSync:
    try:
        adapter = hub.adapters.get(destination)
        if not isinstance(adapter, ProtectedPersonsSource):  # a factory's odd instance
            raise ConfigError(f"{destination!r} cannot list protected persons")
        persons = adapter.protected_persons(district)
    except (DeliveryError, ConfigError) as exc:
        failed = DistrictSync(district, destination, error=exc)
        log.warning("protected sync: %s (%s) not synced: %s", district, destination, exc)
        with hub.engine.begin() as conn:
            _record_run(conn, hub, failed)
            hub.guards.record(conn, [_summary(principal, failed)])
        return failed
    listed: dict[str, str] = {}
    skipped = 0
    for person in persons:
        try:
            identity = parse_identity(person.identity, person.scheme)
        except InvalidIdentityNumber:
            skipped += 1
            continue
        listed[hub.guards.hmacs.subject_ref(identity.canonical)] = person.kind
    source = f"sync:{destination}"
    with hub.engine.begin() as conn:
        now = hub.clock()
        before = district_marks(conn, district)
        events: list[AuditEvent] = []
        counts = {"marked": 0, "changed": 0}
        for ref, kind in sorted(listed.items()):
            was = before.get(ref)
            if was == kind:
                continue
            record_mark(conn, district=district, subject_ref=ref, kind=kind, at=now, source=source)
            change = "marked" if was is None else "changed"
            counts[change] += 1
            reason = f"{change} {kind}" if was is None else f"changed {was} to {kind}"
            events.append(_changed(principal, district, destination, ref, reason))
        gone = sorted(set(before) - set(listed))
        lift_marks(conn, district, gone)
        events += [
            _changed(principal, district, destination, ref, f"lifted {before[ref]}") for ref in gone
        ]
        result = DistrictSync(
            district, destination, listed=len(persons), marked=counts["marked"],
            changed=counts["changed"], lifted=len(gone), skipped=skipped,
        )  # fmt: skip
        _record_run(conn, hub, result)
        hub.guards.record(conn, [*events, _summary(principal, result)])
    return result


def _record_run(conn: Connection, hub: Hub, result: DistrictSync) -> None:
    """The district's row of ``protected_syncs``: what its status shows."""
    record_sync(
        conn,
        district=result.district,
        destination=result.destination,
        at=hub.clock(),
        ok=result.ok,
        detail=result.counts_text() if result.error is None else audit_reason(result.error),
    )


def _changed(
    principal: Principal, district: str, destination: str, subject_ref: str, reason: str
) -> AuditEvent:
    return principal.did(
        AuditAction.PROTECTION_CHANGED,
        district=district,
        subject_ref=subject_ref,
        source=destination,
        reason=f"{reason} (case-system sync)",
    )


def _summary(principal: Principal, result: DistrictSync) -> AuditEvent:
    """The district's run, counts only (no person): ok, or failed with the error's reason."""
    return principal.did(
        AuditAction.PROTECTION_SYNCED,
        outcome=Outcome.OK if result.error is None else Outcome.FAILED,
        district=result.district,
        source=result.destination,
        reason=result.counts_text() if result.error is None else audit_reason(result.error),
    )


def run_scheduled(hub: Hub) -> int:
    """One sync by the hub itself, hub-wide; returns the districts that failed (logged)."""
    run = sync_protected(hub, SCHEDULER)
    changes = sum(d.marked + d.changed + d.lifted for d in run.districts)
    if changes:
        log.info("protected sync: %d marks changed in %d districts", changes, len(run.districts))
    return len(run.failed)


def schedule_protected_sync(hub: Hub) -> None:
    """Put the sync on the relay's own timer, every ``protected_sync_interval_seconds`` (0:
    off). ``serve`` (embedded relay) and ``omsorgshub relay`` call it before starting."""
    hub.relay.every(
        hub.settings.protected_sync_interval_seconds,
        lambda: run_scheduled(hub),
        name="protected sync",
    )
