"""A referral goes out over SDK and the district's SDK reply, pulled from the hub's functional
mailbox, closes its callback deadline: the hub, the SDK adapter and the SDK double over HTTP.

The hub's relay does not poll inboxes yet (branch ``sdk``); the test pulls the inbox through the
adapter's ``poll_inbox`` and ingests what it gives, as that poll will.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import tomli_w
from sqlalchemy import select

from adapters.doubles.sdk_double import SdkDouble
from adapters.doubles.sdk_fixtures import sdk_answer
from adapters.sdk.ids import sdk_message_id
from hub.bootstrap import Hub
from hub.demo.fictional import FictionalPeople, referral_envelope
from hub.demo.sandbox import Sandbox
from hub.demo.scenario import demo_agreements
from hub.ports import InboxPoller
from hub.services.agreements import add_agreements, register_system
from hub.storage.tables import referrals
from tests.integration.sdk.conftest import DISTRICT, DISTRICT_MAILBOX, HUB_MAILBOX, sdk_options
from tests.integration.spine import Clock, InlineDispatcher

SENDER = "aldre-direkt"
INBOX = "sdk-inbox"


@dataclass
class SdkHub:
    hub: Hub
    clock: Clock


@pytest.fixture
def sdk_hub(tmp_path: Path, database_url: str, double: SdkDouble) -> Iterator[SdkHub]:
    options = sdk_options(
        double.url,
        double.token_url,
        inbox_functional_address=HUB_MAILBOX,
        inbox_purpose="referral",
    )
    sandbox = Sandbox(tmp_path / "hub", database_url=database_url)
    sandbox.home.mkdir(parents=True)
    table = {
        "destinations": {
            "sdk-districts": {"adapter": "sdk", "options": options},
            "contact-centre": {"adapter": "http", "options": {"url": "http://127.0.0.1:9/"}},
        },
        "routes": [
            {"type": "case.referral", "district": DISTRICT, "destinations": ["sdk-districts"]},
            {"type": "mailbox.message", "district": DISTRICT, "destinations": ["contact-centre"]},
        ],
    }
    sandbox.settings().routes_file.write_text(tomli_w.dumps(table))
    clock = Clock()
    dispatcher = InlineDispatcher()
    hub = sandbox.open(dispatcher=dispatcher, clock=clock)
    dispatcher.execute = hub.executor.execute
    register_system(hub, SENDER, "contact centre (test)", "test")
    register_system(hub, INBOX, "the hub's SDK mailbox (test)", "test")
    (agreement,) = [
        a
        for a in demo_agreements(clock())
        if a.district == DISTRICT and "case.referral" in a.message_types
    ]
    add_agreements(
        hub,
        [
            replace(
                agreement,
                senders=agreement.senders | {INBOX},
                recipients=agreement.recipients | {"sdk-districts", "contact-centre"},
                message_types=agreement.message_types | {"mailbox.message"},
            )
        ],
        "test",
    )
    yield SdkHub(hub, clock)
    hub.close()


def _referral_state(hub: Hub, message_id: str) -> tuple[object, object, object]:
    with hub.reader.connect() as conn:
        row = conn.execute(select(referrals).where(referrals.c.message_id == message_id)).one()
    return row.closed_at, row.closed_how, row.closed_by


def test_the_district_s_sdk_reply_closes_the_referral(sdk_hub: SdkHub, double: SdkDouble) -> None:
    hub, clock = sdk_hub.hub, sdk_hub.clock
    people = iter(FictionalPeople(11))
    rng = random.Random(11)
    person = next(people)
    sent = hub.ingestor.ingest(SENDER, referral_envelope(person, DISTRICT, rng))
    other = hub.ingestor.ingest(SENDER, referral_envelope(next(people), DISTRICT, rng))
    hub.relay.run_once(max_batches=5)
    ((delivery_id, destination),) = sent.deliveries
    assert destination == "sdk-districts"
    sdk_id = sdk_message_id(delivery_id)
    assert sdk_id in double.messages()  # the referral reached the district's mailbox

    clock.advance(2 * 3600)
    # The district answers in the referral's conversation, from its functional mailbox.
    answer = sdk_answer(person.identity.canonical, random.Random(3), ref_to=sdk_id)
    answer["senderAttention"]["subOrganization"]["extension"] = DISTRICT_MAILBOX
    double.place(answer)
    adapter = hub.adapters.get("sdk-districts")
    assert isinstance(adapter, InboxPoller)
    (pulled,) = adapter.poll_inbox(lambda sender, key: False)
    reply = hub.ingestor.ingest(pulled.sender, pulled.envelope)

    closed_at, how, by = _referral_state(hub, sent.message_id)
    assert (closed_at, by) == (clock(), reply.message_id)
    assert how in {"sdk_conversation_id", "sdk_ref_to_message_id"}
    assert _referral_state(hub, other.message_id) == (None, None, None)
