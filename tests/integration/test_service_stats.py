"""Monthly statistics and the chargeback from a generated month of traffic through the hub
(referrals ingested, replies closing some, deliveries to a real HTTP double that fails some),
checked against the test's own count of what it sent; a month before and after stays out."""

from __future__ import annotations

import csv
import io
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from adapters.sdk.ids import sdk_message_id
from hub.cli.main import cli, register_subcommands
from hub.demo.fictional import build_envelope
from hub.errors import InputError, NotFound
from hub.services.agreements import add_agreements
from hub.services.audit_queries import AuditFilter, search_audit
from hub.services.principal import Principal
from hub.services.service_stats import chargeback, monthly
from tests.integration.spine import DESTINATION, DISTRICT, SENDER, Spine, close_spine, open_spine

OPERATOR = Principal.operator("operator:stats-test")
PRICES = {
    "chargeback_call_prices": "2022-01-01=68.50; 2026-11-16=70.00",
    "chargeback_yearly_fees": "sdn-sodermalm@2026-01-01=1200000.00; sdn-sodermalm@2027-01-01=1.00",
}


@dataclass(frozen=True)
class Sent:
    message_id: str
    day: date
    ordering_unit: str
    main_category: str
    case_type: str
    case_class: str
    urgency: str


@pytest.fixture
def spine(tmp_path: Path, database_url: str) -> Iterator[Spine]:
    s = open_spine(tmp_path, database_url, types=["mailbox.message"], overrides=PRICES)
    with s.hub.engine.begin() as conn:
        current = s.hub.agreement_store.get(conn, s.agreement().id)
    since = datetime(2026, 1, 1, tzinfo=UTC)  # in force for the whole generated traffic
    add_agreements(s.hub, [replace(current, valid_from=since)], "test")
    yield s
    close_spine(s)


def _text(document: bytes, name: str) -> str:
    found = next(e for e in etree.fromstring(document).iter() if etree.QName(e).localname == name)
    return str(found.text)


def refer(spine: Spine, n: int) -> Sent:
    document = spine.envelope(f"r-{n}")
    message_id = spine.hub.ingestor.ingest(SENDER, document).message_id
    return Sent(
        message_id, spine.clock().date(), _text(document, "OrderingUnit"),
        _text(document, "MainCategory"), _text(document, "CaseType"),
        _text(document, "CaseClass"), _text(document, "Urgency"),
    )  # fmt: skip


def reply(spine: Spine, referral: Sent) -> None:
    (delivery,) = spine.deliveries(referral.message_id)
    body = f"""<MailboxMessage xmlns="urn:omsorgshub:mailbox.message:1">
  <SdkMessageId>{uuid.uuid4()}</SdkMessageId>
  <ConversationId>{sdk_message_id(delivery.id)}</ConversationId>
  <CreatedAt>2026-11-02T09:15:00Z</CreatedAt>
  <Sender><OrganizationId>0203:2120000142</OrganizationId></Sender>
  <Recipient><OrganizationId>0203:2120000142</OrganizationId></Recipient>
  <Label>Svar</Label><Confidential>true</Confidential>
</MailboxMessage>""".encode()
    envelope = build_envelope(
        message_type="mailbox.message", version="1", district=DISTRICT, purpose="referral",
        body=body,
    )  # fmt: skip
    spine.hub.ingestor.ingest(SENDER, envelope)


def test_a_month_of_traffic_counted_and_charged(spine: Spine) -> None:
    clock = spine.clock
    clock.now = datetime(2026, 10, 30, 8, tzinfo=UTC)
    before = [refer(spine, n) for n in range(2)]
    spine.hub.relay.run_once()

    november: list[Sent] = []
    met: list[Sent] = []
    late: list[Sent] = []
    n = 100
    for day in range(2, 28):
        clock.now = datetime(2026, 11, day, 8, tzinfo=UTC)
        for _ in range(1 + day % 3):
            november.append(refer(spine, n))
            n += 1
        if day % 4 == 0:  # answered within half an hour: met, urgent or not
            clock.advance(1800)
            reply(spine, november[-1])
            met.append(november[-1])
        if day == 20:  # the first two of the month answered weeks after their deadline
            for sent in november[:2]:
                reply(spine, sent)
                late.append(sent)
        spine.hub.relay.run_once()
        if day == 10:  # one more, whose destination is down at first: one retry
            november.append(refer(spine, n))
            n += 1
            spine.double.set_mode("unavailable")
            spine.hub.relay.run_once()
            spine.double.set_mode("up")
            clock.advance(61)
            spine.hub.relay.run_once()
        if day in (15, 16):  # one more each, refused by the destination for good: dead
            november.append(refer(spine, n))
            n += 1
            spine.double.set_mode("reject")
            spine.hub.relay.run_once()
            spine.double.set_mode("up")
    messages = len(november) + len(met) + len(late)  # referrals and the replies closing them
    clock.now = datetime(2026, 12, 10, 8, tzinfo=UTC)
    after = [refer(spine, n) for n in range(1000, 1002)]
    assert len(before) == len(after) == 2

    stats = monthly(spine.hub, OPERATOR, "2026-11")
    expected = Counter(
        (DISTRICT, s.ordering_unit, s.main_category, s.case_type, s.case_class) for s in november
    )
    got = {
        (r.district, r.ordering_unit, r.main_category, r.case_type, r.case_class): r.referrals
        for r in stats.referrals
    }
    assert got == dict(expected)
    (delivery,) = stats.deliveries
    assert delivery.destination == DESTINATION
    assert (delivery.deliveries, delivery.delivered, delivery.dead) == (messages, messages - 2, 2)
    assert (delivery.retries, delivery.waiting) == (1, 0)
    by_urgency = Counter(s.urgency for s in november)
    callbacks = {c.urgency: c for c in stats.callbacks}
    assert {u: c.referrals for u, c in callbacks.items()} == dict(by_urgency)
    assert sum(c.met for c in callbacks.values()) == len(met)
    assert sum(c.late for c in callbacks.values()) == len(late)
    assert sum(c.overdue for c in callbacks.values()) == len(november) - len(met) - len(late)
    assert sum(c.open for c in callbacks.values()) == 0

    lines = chargeback(spine.hub, OPERATOR, "2026-11")
    calls: Counter[tuple[str, Decimal]] = Counter(
        (s.ordering_unit, Decimal("68.50") if s.day < date(2026, 11, 16) else Decimal("70.00"))
        for s in november
    )
    assert {
        (x.ordering_unit, x.unit_price): x.quantity for x in lines if x.item == "calls"
    } == dict(calls)
    for x in lines:
        if x.item == "calls":
            assert x.amount == x.quantity * (x.unit_price or Decimal(0))
    (fee,) = [x for x in lines if x.item == "fixed_fee"]
    assert (fee.district, fee.amount, fee.price_from) == (
        DISTRICT,
        Decimal("100000.00"),
        date(2026, 1, 1),
    )

    # The command line gives the same basis, again and again: reproducible for a past month.
    register_subcommands()
    env = {"OMSORGSHUB_HOME": str(spine.home), "OMSORGSHUB_DATABASE_URL": spine.database_url}
    env |= {f"OMSORGSHUB_{key.upper()}": value for key, value in PRICES.items()}
    runs = [
        CliRunner().invoke(cli, ["stats", "chargeback", "--month", "2026-11"], env=env)
        for _ in range(2)
    ]
    assert all(r.exit_code == 0 for r in runs), runs[0].output
    assert runs[0].output == runs[1].output
    rows = list(csv.DictReader(io.StringIO(runs[0].output)))
    assert sum(Decimal(r["amount"]) for r in rows) == sum(x.amount for x in lines)
    monthly_cli = CliRunner().invoke(
        cli, ["stats", "monthly", "--month", "2026-11", "--table", "deliveries"], env=env
    )
    assert monthly_cli.exit_code == 0, monthly_cli.output
    assert f"2026-11,{DESTINATION},{messages},{messages - 2},1,2,0" in monthly_cli.output
    bad = CliRunner().invoke(cli, ["stats", "chargeback", "--month", "November"], env=env)
    assert bad.exit_code != 0
    assert "invalid_month" in bad.output
    assert "Traceback" not in bad.output

    exported = search_audit(spine.hub, OPERATOR, AuditFilter(action="exported"))
    reasons = [e.reason for e in exported]
    assert "statistics 2026-11" in reasons
    assert reasons.count("chargeback 2026-11") >= 3


def test_scope_and_bad_input(spine: Spine) -> None:
    other = Principal.district_admin("admin:norr", ["sdn-norr"])
    with pytest.raises(NotFound):
        monthly(spine.hub, other, "2026-11", district=DISTRICT)
    spine.clock.now = datetime(2026, 11, 3, 8, tzinfo=UTC)
    refer(spine, 1)
    assert monthly(spine.hub, other, "2026-11").referrals == []
    assert [x.item for x in chargeback(spine.hub, other, "2026-11")] == []
    with pytest.raises(InputError) as caught:
        chargeback(spine.hub, OPERATOR, "2026-13")
    assert caught.value.reason == "invalid_month"
