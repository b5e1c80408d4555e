"""The leak scan reads RabbitMQ queues without taking anything: a name in a queued message's
body or headers is found, and afterwards every message is still in its queue, in order."""

from __future__ import annotations

from typing import Any

import kombu

from proof.scan.needles import Person
from proof.scan.places import queue_contents
from proof.scan.scanner import scan_places
from tests.e2e.processes import broker_for_test

PERSON = Person("Spårvikelo", "Läckmunorsson", "se", "193405121238")
QUEUE = kombu.Queue("proof-scan-test", routing_key="proof-scan-test")


def _drain(url: str) -> list[bytes]:
    with kombu.Connection(url) as conn:
        channel: Any = conn.channel()
        bodies = []
        while (message := channel.basic_get(QUEUE.name, no_ack=True)) is not None:
            bodies.append(bytes(message.body))
        return bodies


def test_queue_read_finds_names_and_leaves_every_message(amqp_url: str) -> None:
    with broker_for_test(amqp_url, [QUEUE]) as broker:
        sent = [b"ids only: 1, 2, 3", "<Name>Spårvikelo Läckmunorsson</Name>".encode(), b"x"]
        with kombu.Connection(broker.url) as conn:
            producer = conn.Producer()
            for i, body in enumerate(sent):
                headers = {"subject": "19340512-1238"} if i == 2 else {}
                producer.publish(body, routing_key=QUEUE.name, declare=[QUEUE], headers=headers)

        places = list(queue_contents(broker.url, [QUEUE.name]))
        result = scan_places(places, [PERSON], control=None)
        forms = sorted({(h.needle.form, h.needle.encoding) for p in result.places for h in p.hits})
        assert ("name", "utf-8") in forms, forms  # the body
        assert ("number", "utf-8") in forms, forms  # the headers
        assert places[0].name == "queue proof-scan-test (3 messages)"
        assert _drain(broker.url) == sent  # nothing taken, nothing reordered
