"""The demo's working-time check: a held assistance payment and its release.

An assistance provider's app reports last month's shifts of two assistants (one with an evening
that leaves only 10 hours of rest before the next morning); the case system sends the two
clients' payment vouchers. The clean one goes to UBW; the other is held with the rule and
hours concerned; an officer releases it with a reason, and UBW gets it once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import timedelta

import click
import httpx

from adapters.doubles.ubw_double import UbwDouble
from hub.atl.shifts import TYPE
from hub.bootstrap import Hub
from hub.demo.atl_world import (
    ASSISTANCE_APP,
    PURPOSE,
    SHIFT_ARCHIVE,
    clean_month,
    payment_for,
    shift_report,
    short_rest_month,
)
from hub.demo.fictional import FictionalPeople, build_envelope
from hub.demo.flows import payment_body
from hub.demo.sandbox import DestinationSpec
from hub.demo.scenario import CASE_SYSTEM
from hub.services.atl import decide_payment, held_payments
from hub.services.principal import Principal

DISTRICT = "sdn-sodermalm"
OFFICER = Principal.operator("operator:demo")


def atl_destinations() -> dict[str, DestinationSpec]:
    return {SHIFT_ARCHIVE: DestinationSpec("memory", {})}


def atl_routes() -> list[tuple[str, str, list[str]]]:
    return [(TYPE, DISTRICT, [SHIFT_ARCHIVE])]


def show_atl(hub: Hub, client: httpx.Client, tokens: dict[str, str], ubw: UbwDouble) -> bool:
    first = (hub.clock().date().replace(day=1) - timedelta(days=1)).replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    period = f"{first:%Y-%m}"
    click.echo(f"\nWorking-time check (ATL), {DISTRICT}, {period}: a provider's app reports two "
               "assistants' shifts; the case system sends their clients' payments")  # fmt: skip
    broken, clean = FictionalPeople(4242, kind="personnummer").take(2)
    months = {broken: short_rest_month(first.year, first.month),
              clean: clean_month(first.year, first.month)}  # fmt: skip
    for i, (person, shifts) in enumerate(months.items()):
        body = shift_report(assistant=f"DEMO-A{i}", client=person.identity.canonical,
                            period=period, shifts=shifts, report_id=f"DEMO-R{i}")  # fmt: skip
        if not _post(client, tokens[ASSISTANCE_APP], TYPE, PURPOSE, body, f"demo-shifts-{i}"):
            return False
    before = _vouchers(ubw)
    for person in months:
        body = payment_for(payment_body(person, random.Random(period)), (first, last))
        if not _post(client, tokens[CASE_SYSTEM], "finance.payment", "assistance_payment",
                     body, f"demo-atl-pay-{person.identity.canonical}"):  # fmt: skip
            return False

    def vouchers() -> int:
        return _vouchers(ubw) - before

    _wait(lambda: vouchers() >= 1)
    time.sleep(0.5)
    held = held_payments(hub, OFFICER)
    click.echo(f"  to UBW: {vouchers()} voucher (the clean month); held: {len(held)}")
    for hold in held:
        for v in hold.violations:
            click.echo(f"    {hold.delivery_id}: {v['rule']} {v['hours']} h (limit "
                       f"{v.get('limit', '-')} h) {v.get('from', '')} – {v.get('to', '')} "
                       f"[{v['source']}]")  # fmt: skip
    if len(held) != 1:
        return False
    decided = decide_payment(hub, OFFICER, held[0].delivery_id, decision="release",
                             reason="overtime agreed with the union (demo)")  # fmt: skip
    _wait(lambda: vouchers() >= 2)
    time.sleep(0.5)
    click.echo(f"  the officer released it ({decided.reason}): UBW now holds {vouchers()} "
               "vouchers of these two, the released one once")  # fmt: skip
    return vouchers() == 2


def _post(
    client: httpx.Client, token: str, message_type: str, purpose: str, body: bytes, key: str
) -> bool:
    envelope = build_envelope(message_type=message_type, version="1", district=DISTRICT,
                              purpose=purpose, body=body, message_id=key)  # fmt: skip
    answer = client.post(
        "/api/v1/messages",
        content=envelope,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/xml"},
    )
    if answer.status_code != 202:
        click.echo(f"  unexpected answer: {answer.status_code} {answer.text[:200]}")
        return False
    return True


def _vouchers(ubw: UbwDouble) -> int:
    count = ubw.stats()["vouchers"]
    return count if isinstance(count, int) else 0


def _wait(done: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        time.sleep(0.1)
