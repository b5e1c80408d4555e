"""The demo's stream of outgoing messages: what to send next, to whom, at which time."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from hub.demo.fictional import (
    PROVIDERS,
    FictionalPerson,
    build_envelope,
    referral_body,
)
from hub.demo.flows import deferral_body, execution_event_body, payment_body, visit_body
from hub.ingest.identity import IdentityNumber, parse_identity

if TYPE_CHECKING:  # the doubles are imported by the run (hub.demo.run), not by this module
    from adapters.doubles.case_management_double import SeededClient, SeededDecision
    from adapters.doubles.ubw_double import Invoice

from hub.demo.scenario import (
    CASE_SYSTEM,
    CONSENT,
    CONTACT_CENTRE,
    DISTRICTS,
    EXECUTION_APP,
    TIME_APP,
    TOO_LONG_DAYS,
    TOO_LONG_REASON,
)


@dataclass(frozen=True)
class Outgoing:
    token: str
    body: bytes
    label: str
    dead_reason: str | None = None  # set for a message meant to end dead, for this reason


class DemoStream:
    """The messages the demo sends, in a shuffled order, as the systems would send them.

    Made from fictional people, the case double's seeded clients (execution events and
    payments name their real decisions, which the case system checks) and the finance double's
    seeded invoices (deferrals are of the test identity's open invoices).
    """

    def __init__(
        self,
        rng: random.Random,
        people: Iterator[FictionalPerson],
        clients: Sequence[SeededClient],
        invoices: Sequence[Invoice],
        tokens: Mapping[str, str],
    ) -> None:
        self.rng, self.people, self.clients, self.tokens = rng, people, clients, tokens
        self.open_invoices = [i for i in invoices if i.balance > 0]
        self.assistance = [
            (c, d)
            for c in clients
            if c.identity.scheme == "se"
            for d in c.decisions
            if d.service[0] == "personal_assistance"
        ]
        if not self.assistance or len(self.open_invoices) < 2:
            raise click.ClickException("the doubles' seeds lack assistance clients or invoices")

    def looked_up(self) -> tuple[SeededClient, SeededDecision]:
        """The client the contact centre asks about: the first with personal assistance."""
        return self.assistance[0]

    def build(self, referrals: int, visits: int, events: int, payments: int) -> list[Outgoing]:
        out = [self._referral(i) for i in range(referrals)]
        out += [self._visit(i) for i in range(visits)]
        out += [self._event(i) for i in range(events)]
        out += [self._payment(i) for i in range(payments)]
        out += self._deferrals()
        self.rng.shuffle(out)
        return out

    def _outgoing(
        self,
        sender: str,
        kind: tuple[str, str, str],  # message type, purpose, label
        district: str,
        body: bytes,
        message_id: str,
        identity: IdentityNumber,
        consent: str | None = None,
        dead_reason: str | None = None,
    ) -> Outgoing:
        data = build_envelope(
            message_type=kind[0],
            version="1",
            district=district,
            purpose=kind[1],
            body=body,
            message_id=message_id,
            consent=consent,
            subjects=((identity.scheme, identity.formatted()),),
        )
        return Outgoing(self.tokens[sender], data, kind[2], dead_reason)

    def _referral(self, i: int) -> Outgoing:
        district, person = DISTRICTS[i % len(DISTRICTS)], next(self.people)
        body = referral_body(person, district, self.rng)
        kind = ("case.referral", "referral", "referral")
        return self._outgoing(CONTACT_CENTRE, kind, district, body, f"AD-{i:06d}", person.identity)

    def _visit(self, i: int) -> Outgoing:
        district, person = DISTRICTS[i % len(DISTRICTS)], next(self.people)
        body = visit_body(person, PROVIDERS[i % len(PROVIDERS)], self.rng)
        kind = ("timereport.visit", "time_reporting", "visit")
        return self._outgoing(TIME_APP, kind, district, body, f"PH-{i:06d}", person.identity)

    def _event(self, i: int) -> Outgoing:
        """On a seeded decision; the first on the looked-up client's, so the extract shows it."""
        if i == 0:
            client, decision = self.looked_up()
        else:
            client = self.rng.choice(self.clients)
            decision = self.rng.choice(client.decisions)
        body = execution_event_body(
            _person_of(client),
            self.rng,
            decision_id=decision.decision_id,
            law=decision.law,
            decision_date=decision.decision_date,
        )
        kind = ("case.execution_event", "execution_reporting", "execution event")
        number = f"LC-{i:06d}"
        return self._outgoing(EXECUTION_APP, kind, client.district, body, number, client.identity)

    def _payment(self, i: int) -> Outgoing:
        client, decision = self.assistance[i % len(self.assistance)]
        body = payment_body(
            _person_of(client),
            self.rng,
            decision_id=decision.decision_id,
            granted_hours=decision.granted_hours_per_month,
        )
        kind = ("finance.payment", "assistance_payment", "payment")
        number = f"PA-{i:06d}"
        return self._outgoing(CASE_SYSTEM, kind, client.district, body, number, client.identity)

    def _deferrals(self) -> list[Outgoing]:
        """Two within the delegation and one of 31 days that the finance adapter refuses."""
        partly, unpaid = self.open_invoices[0], self.open_invoices[-1]
        wishes = [
            (partly, partly.invoice_number, None, 14),
            (unpaid, None, unpaid.ocr, 30),
            (unpaid, unpaid.invoice_number, unpaid.ocr, TOO_LONG_DAYS),
        ]
        out = []
        for i, (invoice, number, ocr, days) in enumerate(wishes):
            payer = parse_identity(invoice.payer)
            body = deferral_body(number, ocr, payer, days, self.rng)
            kind = ("finance.deferral", "payment_deferral", f"{days}-day deferral")
            meant_dead = TOO_LONG_REASON if days > 30 else None
            key = f"AD-D-{i:06d}"
            sender, district = CONTACT_CENTRE, DISTRICTS[0]
            out.append(
                self._outgoing(sender, kind, district, body, key, payer, CONSENT, meant_dead)
            )
        return out


def _person_of(client: SeededClient) -> FictionalPerson:
    given, _, family = client.name.partition(" ")
    return FictionalPerson(given, family, client.identity)
