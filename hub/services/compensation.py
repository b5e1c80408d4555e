"""The monthly compensation basis: fetched from Pulsen Combine, delivered to each provider's own
system only, through the hub.

``omsorgshub timereports compensation --month 2026-11`` (an officer after the fee run, or a
monthly job) runs :func:`deliver_compensation`. Per provider of ``compensation_receivers``:

1. **May it go there?** The agreement of the district must let ``compensation_sender`` (the
   system identity Combine's bases are ingested as) send ``timereport.compensation_basis``
   for ``compensation_purpose`` to that provider's destination. Checked before anything is
   fetched: a basis that could not be delivered is not read.
2. **Fetch** it through the destination routed for ``lookup.compensation_basis`` in the
   district (adapter ``combine``: ``LookupAdapter.lookup``), audited as ``queried`` once per
   client named, in its own transaction, before the basis is used.
3. **Check** it is the basis of the provider asked for (a basis naming another provider is
   refused, ``basis_provider_mismatch``, and never stored or sent).
4. **Deliver** it through the hub's own ingest as a ``timereport.compensation_basis`` v1
   message whose envelope names that provider's destination as its only recipient: routing
   (explicit recipients must be routed), the agreement again, sealed storage, ``received``
   audit entries per client, the outbox's retries and exactly-once delivery. The message id
   ``compensation:MONTH:PROVIDER:RUN`` makes a second run for the same fee run a repeat.

Why a pull and not a poll: Combine makes one basis per provider and month, after the fee run
an officer starts; pulling it then is one deliberate, audited act, and a repeated pull stores
and sends nothing new. Nothing on the message path waits for Combine.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from hub.envelope import LookupRequest
from hub.errors import ConfigError, DeliveryError, HubError, InputError, audit_reason
from hub.guards import AuditAction, Outcome, per_subject
from hub.homecare.basis import (
    BASIS_TYPE,
    CompensationBasis,
    basis_envelope,
    parse_receivers,
    read_basis,
)
from hub.ingest.identity import parse_identity
from hub.ports import LookupAdapter
from hub.services.principal import Kind, Principal

if TYPE_CHECKING:
    from hub.bootstrap import Hub

LOOKUP_TYPE = "lookup.compensation_basis"
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ProviderOutcome:
    provider: str
    destination: str
    state: str  # "delivered", "repeat", "empty", "failed"
    run_id: str | None = None
    message_id: str | None = None  # the hub's message id of the stored basis
    clients: int = 0
    minutes: int = 0
    amount: str = "0.00"
    reason: str | None = None


@dataclass(frozen=True)
class CompensationRun:
    district: str
    month: str
    outcomes: list[ProviderOutcome] = field(default_factory=list)


def receivers(hub: Hub) -> dict[str, str]:
    """The setting ``compensation_receivers``: provider id → its system's destination."""
    try:
        return parse_receivers(hub.settings.compensation_receivers)
    except ValueError as exc:
        raise ConfigError(
            f"compensation_receivers: {exc}", reason="invalid_setting", key="compensation_receivers"
        ) from None


def deliver_compensation(
    hub: Hub,
    principal: Principal,
    *,
    district: str,
    month: str,
    providers: Sequence[str] = (),
    progress: Progress | None = None,
) -> CompensationRun:
    """Fetch and deliver the month's compensation basis of each provider (all configured, or
    those named). A provider that fails is reported with its reason; the others go on."""
    principal.require(Kind.OPERATOR, Kind.DISTRICT_ADMIN)
    principal.visible(district, f"no district {district!r} in scope")
    if not _MONTH.match(month):
        raise InputError("the month is YYYY-MM, e.g. 2026-11", reason="invalid_month")
    table = receivers(hub)
    if not table:
        raise ConfigError(
            "no provider receives a compensation basis: set compensation_receivers "
            "(PROVIDER=DESTINATION;...)",
            reason="no_receivers",
        )
    unknown = [p for p in providers if p not in table]
    if unknown:
        raise InputError(
            f"provider {unknown[0]!r} has no receiver in compensation_receivers "
            f"(known: {', '.join(sorted(table))})",
            reason="unknown_provider",
        )
    chosen = list(providers) or sorted(table)
    run = CompensationRun(district, month)
    for done, provider in enumerate(chosen, start=1):
        try:
            run.outcomes.append(_one(hub, principal, district, month, provider, table[provider]))
        except HubError as exc:
            run.outcomes.append(
                ProviderOutcome(provider, table[provider], "failed", reason=audit_reason(exc))
            )
        if progress is not None:
            progress(done, len(chosen))
    return run


def _one(
    hub: Hub, principal: Principal, district: str, month: str, provider: str, destination: str
) -> ProviderOutcome:
    s = hub.settings
    sender, purpose = s.compensation_sender, s.compensation_purpose
    categories = sorted(hub.registry.get(BASIS_TYPE, "1").categories)
    hub.guards.check_ingest(
        hub.reader.connect,
        district=district,
        sender=sender,
        purpose=purpose,
        message_type=BASIS_TYPE,
        categories=categories,
        consent=False,
        recipients=[destination],
        at=hub.clock(),
    )
    basis = _fetch(hub, principal, district, month, provider)
    if basis.provider != provider or basis.month != month:
        raise InputError(
            f"Combine answered the basis of {basis.provider} {basis.month} when asked for "
            f"{provider} {month}: refused, nothing stored or sent",
            reason="basis_provider_mismatch",
        )
    if not basis.lines:
        return ProviderOutcome(provider, destination, "empty", basis.run_id)
    envelope = basis_envelope(basis, district=district, purpose=purpose, receiver=destination)
    (result,) = hub.ingestor.ingest_many(sender, [envelope])
    if isinstance(result, HubError):
        raise result
    return ProviderOutcome(
        provider,
        destination,
        "repeat" if result.duplicate else "delivered",
        basis.run_id,
        result.message_id,
        clients=len(basis.subjects()),
        minutes=basis.total_minutes,
        amount=f"{basis.total_amount:.2f}",
    )


def _fetch(
    hub: Hub, principal: Principal, district: str, month: str, provider: str
) -> CompensationBasis:
    routed = hub.routing.destinations_for(LOOKUP_TYPE, district)
    if not routed:
        raise ConfigError(
            f"no route for {LOOKUP_TYPE} in district {district!r}: route it to the Combine "
            "destination",
            reason="no_route",
        )
    source = routed[0]
    adapter = hub.adapters.get(source)
    if not isinstance(adapter, LookupAdapter):
        raise ConfigError(
            f"destination {source!r} cannot answer lookups", reason="lookup_not_supported"
        )
    request_id = str(uuid.uuid4())
    request = LookupRequest(
        lookup="compensation_basis",
        district=district,
        purpose=hub.settings.compensation_purpose,
        request_id=request_id,
        params={"provider": provider, "month": month},
    )
    event = principal.did(
        AuditAction.QUERIED,
        purpose=hub.settings.compensation_purpose,
        district=district,
        source=source,
        reason=f"compensation_basis {provider} {month} {request_id}",
    )
    try:
        basis = read_basis(adapter.lookup(request).data)
    except (DeliveryError, ValueError) as exc:
        failed = replace(event, outcome=Outcome.FAILED, reason=_reason(exc))
        with hub.engine.begin() as conn:
            hub.guards.record(conn, [failed])
        if isinstance(exc, ValueError):
            raise InputError(f"Combine's answer: {exc}", reason="basis_unreadable") from None
        raise
    refs = [
        hub.guards.hmacs.subject_ref(parse_identity(n, s).canonical) for s, n in basis.subjects()
    ]
    with hub.engine.begin() as conn:
        hub.guards.record(conn, per_subject(event, refs))
    return basis


def _reason(exc: Exception) -> str:
    return audit_reason(exc) if isinstance(exc, HubError) else "basis_unreadable"
