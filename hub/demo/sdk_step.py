"""The demo's SDK step: a referral to a district's functional mailbox, with its receipt, and
the district's answer back into the hub's own mailbox, ingested once.

Norrmalm (a fourth district, outside the demo's streams, so their tallies stay as they are)
takes referrals over SDK (säker digital kommunikation) only: the contact centre's referral
goes to ``sdk:inkorg:...`` of the district through the SDK double, waits ``awaiting_receipt``
until the recipient's receipt says ``ACCEPTED``, and is ``delivered`` only then. The district
answers; ``omsorgshub sdk poll`` (here called directly, twice) ingests the answer once as a
``mailbox.message`` from the registered system ``sdk-inbox``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import datetime

import click

from adapters.doubles.sdk_double import CLIENT_ID, CLIENT_SECRET, SdkDouble
from adapters.doubles.sdk_fixtures import (
    DISTRICT_ORGANISATION,
    HUB_MAILBOX,
    HUB_ORGANISATION,
    sdk_answer,
)
from contracts.model import Agreement
from hub.bootstrap import Hub
from hub.demo.fictional import FictionalPerson, referral_envelope
from hub.demo.sandbox import DestinationSpec
from hub.demo.scenario import CONTACT_CENTRE, DEMO_RETRY, _agreements, _common
from hub.services.mailbox_inbox import poll_inboxes
from hub.storage import deliveries as delivery_rows

SDK_DISTRICT = "sdn-norrmalm"
SDK_DESTINATION = "sdk-norrmalm"
SDK_INBOX = "sdk-inbox"
FOLLOW_UP = "followup-norrmalm"  # where the district's answers go (kept by a memory adapter)
NORRMALM_MAILBOX = "sdk:inkorg:0203:2120009991:norrmalm"  # fictional functional address
RECEIPT_AFTER = 2.5  # seconds the double's recipient takes to send its receipt


def sdk_destinations(double: SdkDouble) -> dict[str, DestinationSpec]:
    options: dict[str, object] = {
        "base_url": double.url,
        "token_url": double.token_url,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "sender": HUB_ORGANISATION,
        "sender_functional_address": HUB_MAILBOX,
        "receipt_timeout_seconds": 60,
        "recipients": {
            SDK_DISTRICT: {
                "organization": DISTRICT_ORGANISATION,
                "functional_address": NORRMALM_MAILBOX,
            }
        },
        "inbox_functional_address": HUB_MAILBOX,
        "inbox_system": SDK_INBOX,
        "inbox_purpose": "referral",
        "inbox_poll_seconds": 3600,  # the demo polls by hand, to show it
    }
    return {
        SDK_DESTINATION: DestinationSpec("sdk", options, DEMO_RETRY),
        FOLLOW_UP: DestinationSpec("memory", {}),
    }


def sdk_routes() -> list[tuple[str, str, list[str]]]:
    return [
        ("case.referral", SDK_DISTRICT, [SDK_DESTINATION]),
        ("mailbox.message", SDK_DISTRICT, [FOLLOW_UP]),
    ]


def sdk_agreements(now: datetime) -> list[Agreement]:
    common = _common(now, SDK_DISTRICT, 400)
    return _agreements(common, [
        ("SDK-REFERRALS", CONTACT_CENTRE, SDK_DESTINATION, {"referral"}, {"case.referral"},
         {"identity", "contact", "case"}, frozenset()),
        ("SDK-ANSWERS", SDK_INBOX, FOLLOW_UP, {"referral"}, {"mailbox.message"},
         {"identity", "case"}, frozenset()),
    ])  # fmt: skip


def show_sdk(hub: Hub, double: SdkDouble, people: Iterator[FictionalPerson]) -> bool:
    """Run and narrate the step; True when the referral was delivered at its receipt and the
    answer was ingested once."""
    click.echo("\nSDK: a referral to Norrmalm's functional mailbox, with its receipt")
    double.set_receipts("accept", after=RECEIPT_AFTER)
    envelope = referral_envelope(next(people), SDK_DISTRICT, random.Random(4), message_id="SDK-1")
    message_id = hub.ingestor.ingest(CONTACT_CENTRE, envelope).message_id
    seen: list[str] = []
    deadline = time.monotonic() + 20
    row = _delivery(hub, message_id)
    while row.state not in ("delivered", "dead") and time.monotonic() < deadline:
        if not seen or seen[-1] != row.state:
            seen.append(row.state)
        time.sleep(0.1)
        row = _delivery(hub, message_id)
    seen.append(row.state)
    reference = row.receipt_ref or "?"
    effects = double.effects().get(reference, [])
    click.echo(f"  hub: {' -> '.join(seen)} (SDK messageId {reference})")
    click.echo(f"  message service: {', '.join(effects)}")
    click.echo(f"  to {NORRMALM_MAILBOX}; 201 was only 'received', ACCEPTED made it delivered")
    answer = sdk_answer(
        _number(double, reference), ref_to=reference, sender_mailbox=NORRMALM_MAILBOX
    )
    double.place(answer)
    first = poll_inboxes(hub).get(SDK_DESTINATION)
    second = poll_inboxes(hub).get(SDK_DESTINATION)
    ingested = len(first.ingested) if first else 0
    again = len(second.ingested) if second else 0
    click.echo(
        f"  the district's answer (refToMessageId = the referral): polled twice, ingested "
        f"{ingested + again} time(s) as mailbox.message from {SDK_INBOX}"
    )
    return row.state == "delivered" and "status:ACCEPTED" in effects and ingested + again == 1


def _delivery(hub: Hub, message_id: str) -> delivery_rows.DeliveryRow:
    with hub.reader.connect() as conn:
        (row,) = delivery_rows.for_message(conn, message_id)
    return row


def _number(double: SdkDouble, reference: str) -> str:
    """The person the referral named, as the district's answer names them (from what the
    message service carried: the demo's stand-in for the district's reply)."""
    sent = double.messages().get(reference, {})
    references = sent.get("recipientAttention", {}).get("referenceId", [])
    return str(references[0]["extension"]) if references else ""
