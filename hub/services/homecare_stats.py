"""Home-care follow-up as the faces ask it: continuity and reported time.

**Continuity** (``hub.homecare.continuity``) is computed from what ingest stored beside each
``timereport.visit`` v2 message — the plain keys ``provider`` and ``visit_date``, the keyed
HMACs ``staff_id``/``second_staff_id`` and the client's subject HMAC — without decrypting any
payload (``hub.storage.homecare``):

- ``per="district"`` / ``"provider"``: aggregates, no person in them (groups under
  ``stats_min_clients`` suppressed); not audited, as they name no one — the figures for
  follow-up and the national statistics;
- ``per="client"``: one row per client, named only by a short pseudonymous reference (the
  first 16 hex digits of the client's keyed HMAC); audited ``viewed`` per client;
- :func:`client_continuity`: an officer who holds a client's identity number gets that
  client's figures (the number is HMAC'd, never stored), audited ``viewed``.

**Reported time** (``hub.homecare.followup``): per provider and month, planned against reported
minutes, the share of manual confirmations and late reports. Planned times and confirmation
methods are in the sealed body only, so each visit of the month is decrypted, and audited
``decrypted`` per client with the reason ``follow-up MONTH``, in the transaction that reads it.

Who may ask: an operator (every district) and a district administrator (its districts); an
answer only ever covers the principal's districts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from hub.errors import InputError, KeyShredded
from hub.guards import AuditAction, per_subject
from hub.homecare.continuity import (
    PER,
    ClientFigure,
    GroupFigure,
    Period,
    aggregate,
    per_client,
)
from hub.homecare.followup import FollowUpRow, follow_up, visit_facts
from hub.ingest.identity import parse_identity
from hub.keys import crypto
from hub.services.principal import Kind, Principal
from hub.storage import homecare as rows
from hub.storage import messages as message_rows

if TYPE_CHECKING:
    from hub.bootstrap import Hub

_KINDS = (Kind.OPERATOR, Kind.DISTRICT_ADMIN)
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
CLIENT_REF_LENGTH = 16


@dataclass(frozen=True)
class Continuity:
    period: Period
    per: str
    groups: list[GroupFigure]  # per provider or district
    clients: list[ClientFigure]  # per client (references shortened)


def stats_scope(principal: Principal, district: str | None) -> frozenset[str] | None:
    """The districts a statistics question covers: ``district`` if the principal sees it,
    else all of the principal's (None: every district). Operators and district
    administrators only."""
    principal.require(*_KINDS)
    if district is None:
        return principal.districts
    principal.visible(district, f"no district {district!r} in scope")
    return frozenset({district})


def _period(text: str) -> Period:
    try:
        return Period.parse(text)
    except ValueError as exc:
        raise InputError(str(exc), reason="invalid_period") from None


def continuity(
    hub: Hub,
    principal: Principal,
    period: str,
    *,
    per: str = "district",
    district: str | None = None,
) -> Continuity:
    """Staff met per client in ``period``, summed up per ``per`` (see the module docstring)."""
    if per not in PER:
        raise InputError(f"per is one of {', '.join(PER)}", reason="invalid_per")
    span = _period(period)
    scope = stats_scope(principal, district)
    with hub.engine.begin() as conn:
        met = rows.staff_met(conn, span.first, span.last, scope)
        figures = per_client(met, by_provider=per != "district")
        if per != "client":
            groups = aggregate(figures, hub.settings.stats_min_clients)
            return Continuity(span, per, groups, [])
        by_district: dict[str, set[str]] = {}
        for f in figures:
            by_district.setdefault(f.district, set()).add(f.client_ref)
        for name, refs in sorted(by_district.items()):
            event = principal.did(
                AuditAction.VIEWED, district=name, reason=f"continuity {span} per client"
            )
            hub.guards.record(conn, per_subject(event, sorted(refs)))
    shown = [
        ClientFigure(f.district, f.provider, f.client_ref[:CLIENT_REF_LENGTH], f.staff)
        for f in figures
    ]
    return Continuity(span, per, [], shown)


def client_continuity(
    hub: Hub,
    principal: Principal,
    period: str,
    identity_number: str,
    *,
    scheme: str = "se",
    reason: str,
) -> list[ClientFigure]:
    """One client's figures per provider, for an officer who holds the identity number."""
    if not reason.strip():
        raise InputError("say why: every look at a person's figures is audited", reason="no_reason")
    span = _period(period)
    scope = stats_scope(principal, None)
    ref = hub.guards.hmacs.subject_ref(parse_identity(identity_number, scheme).canonical)
    with hub.engine.begin() as conn:
        met = [m for m in rows.staff_met(conn, span.first, span.last, scope) if m.client_ref == ref]
        hub.guards.record(
            conn,
            [
                principal.did(
                    AuditAction.VIEWED, subject_ref=ref, reason=f"continuity {span}: {reason}"
                )
            ],
        )
    return per_client(met, by_provider=True)


def reported_time(
    hub: Hub, principal: Principal, month: str, *, district: str | None = None
) -> list[FollowUpRow]:
    """Planned vs reported time, manual confirmations and late reports per provider."""
    if not _MONTH.match(month):
        raise InputError("the month is YYYY-MM, e.g. 2026-11", reason="invalid_month")
    scope = stats_scope(principal, district)
    facts = []
    with hub.engine.begin() as conn:
        for visit in rows.visits_of_month(conn, month, scope):
            ciphertext = message_rows.get_ciphertext(conn, visit.message_id)
            if ciphertext is None:
                continue
            try:
                key = hub.guards.key(conn, visit.district, visit.key_version)
                aad = crypto.payload_aad(
                    visit.message_id, visit.district, rows.VISIT_TYPE, key.version
                )
                body = crypto.unseal(key.key, ciphertext, aad)
            except KeyShredded:  # retention ended it (or its key version was shredded): its
                continue  # times are gone for good, so the month counts the visits still kept
            facts.append(
                visit_facts(
                    body,
                    district=visit.district,
                    provider=visit.provider,
                    visit_date=visit.visit_date,
                    received_at=visit.received_at,
                )
            )
            hub.guards.record(
                conn,
                per_subject(
                    principal.did(
                        AuditAction.DECRYPTED,
                        district=visit.district,
                        message_id=visit.message_id,
                        reason=f"follow-up {month}",
                    ),
                    message_rows.subject_refs(conn, visit.message_id),
                ),
            )
    return follow_up(
        facts, late_days=hub.settings.timereport_late_days, zone=ZoneInfo(hub.settings.time_zone)
    )
