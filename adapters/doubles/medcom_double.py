"""A local double of a receiving Danish municipality on MedCom's FHIR messaging.

``POST /fhir/$process-message`` (``application/fhir+json``) takes a CareCommunication message
bundle, checks it with the same rules the hub's inbound endpoint uses (``schemas.medcom``), and
answers synchronously with an acknowledgement bundle, as MedCom's reliable messaging asks of a
receiver (``medcomdk/MedCom-FHIR-Communication``):

- both ids new: the message is processed, answered ``ok``;
- the MessageHeader.id seen before (the same or a new Bundle.id): a duplicate, answered with the
  original acknowledgement again (the same bytes), not processed twice;
- a Bundle.id seen before with a new MessageHeader.id: an error (bundle ids are never reused),
  answered ``fatal-error`` with ``MSG_DUPLICATE_ID``;
- a bundle that breaks the rules: ``fatal-error`` naming each broken rule with its MedCom
  acknowledgement error code; a body without a readable MessageHeader cannot be acknowledged
  and is answered 400 with an OperationOutcome. With ``--sor`` the double is that SOR unit and
  answers a message for another receiver ``fatal-error`` ``MSG_Receiver_Identifier_UNKNOWN``.

Modes (``set_mode`` or ``POST /_control {"mode": ..., "delay": s, "times": n}``): ``up``;
``transient`` (a ``transient-error`` acknowledgement, mailbox out of operation; nothing
processed), ``fatal`` (a ``fatal-error`` acknowledgement; nothing processed), ``silent`` (no
acknowledgement: an empty 200 after ``delay`` seconds), and the shared ``down``, ``slow``,
``unavailable`` (503). Every effect is recorded by MessageHeader.id: ``GET /_messages`` answers
``{header id: {"bundles": [every Bundle.id seen, in order], "processed": bool, "answers":
[ack codes]}}``. The double keeps everything in memory; feed it fictional data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Literal, get_args
from wsgiref.types import StartResponse, WSGIEnvironment

from adapters.doubles.wsgi_server import (
    ServedDouble,
    answer,
    argument_parser,
    json_answer,
    request_body,
    run_until_signalled,
)
from schemas.medcom import codes
from schemas.medcom.acknowledgement import build_acknowledgement, outcome_json
from schemas.medcom.document import Organisation
from schemas.medcom.reading import Invalid, Issue, ReadMessage, read_message

Mode = Literal["up", "down", "slow", "unavailable", "transient", "fatal", "silent"]
MODES: tuple[str, ...] = get_args(Mode)
FHIR_BASE = "/fhir"
PROCESS_MESSAGE = f"{FHIR_BASE}/$process-message"
FHIR_JSON = "application/fhir+json"


@dataclass
class Effects:
    """What happened to one message (by MessageHeader.id)."""

    bundles: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    document: bytes | None = None  # the bundle as first processed
    read: ReadMessage | None = None
    ack: bytes | None = None  # the acknowledgement of the processing

    def view(self) -> dict[str, object]:
        return {
            "bundles": list(self.bundles),
            "answers": list(self.answers),
            "processed": self.document is not None,
        }


class MedcomDouble(ServedDouble):
    """A MedCom receiver on ``host:port``; ``sor`` is its own SOR code when given."""

    modes = MODES
    counters = ("duplicates", "invalid")
    path = FHIR_BASE
    software = "OmsorgshubMedcomDouble/1"
    max_body_bytes = 32 * 1024 * 1024

    _effects: dict[str, Effects]
    _bundles: dict[str, str]

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, sor: str | None = None):
        self.sor = sor
        super().__init__(host, port)

    def _forget(self) -> None:
        self._effects = {}
        self._bundles = {}

    def _observations(self) -> dict[str, object]:
        return {"processed": sum(1 for e in self._effects.values() if e.document is not None)}

    # -- observation --------------------------------------------------------------------------

    def messages(self) -> dict[str, dict[str, object]]:
        with self._lock:
            return {header: e.view() for header, e in self._effects.items()}

    def processed(self) -> dict[str, ReadMessage]:
        """Every processed message by MessageHeader.id, as read."""
        with self._lock:
            return {h: e.read for h, e in self._effects.items() if e.read is not None}

    # -- the WSGI application -----------------------------------------------------------------

    def app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        control = self._control_endpoints(environ, start_response)
        if control is not None:
            return control
        route = (environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""))
        if route == ("GET", "/_messages"):
            return json_answer(start_response, HTTPStatus.OK, self.messages())
        if route != ("POST", PROCESS_MESSAGE):
            return json_answer(start_response, HTTPStatus.NOT_FOUND, {"error": "not found"})
        mode = self._meet_mode()
        if mode == "unavailable":
            return json_answer(
                start_response, HTTPStatus.SERVICE_UNAVAILABLE, {"error": "unavailable"}
            )
        body = request_body(environ)
        try:
            message = read_message(body)
        except Invalid as exc:
            self._count("invalid")
            if exc.header_id is None:
                return self._fhir(
                    start_response, HTTPStatus.BAD_REQUEST, outcome_json(tuple(exc.issues))
                )
            ack = self._ack(
                exc.header_id,
                exc.bundle_id,
                codes.ACK_FATAL,
                tuple(exc.issues),
                exc.receiver,
                exc.sender,
            )
            return self._fhir(start_response, HTTPStatus.OK, ack)
        if mode == "silent":  # recorded, not processed, never acknowledged
            with self._lock:
                effects = self._effects.setdefault(message.header_id, Effects())
                effects.bundles.append(message.bundle_id)
                effects.answers.append("none")
            self._stopping.wait(self._delay_now())
            return self._fhir(start_response, HTTPStatus.OK, b"")
        return self._fhir(start_response, HTTPStatus.OK, self._process(mode, message, body))

    def _delay_now(self) -> float:
        with self._lock:
            return self._delay

    def _process(self, mode: str, message: ReadMessage, body: bytes) -> bytes:
        doc = message.document
        header, bundle = message.header_id, message.bundle_id
        with self._lock:
            effects = self._effects.setdefault(header, Effects())
            effects.bundles.append(bundle)
            known = self._bundles.setdefault(bundle, header)
            if known != header:
                issue = Issue(codes.DUPLICATE_ID, "Bundle.id was already used by another message")
                return self._answer(effects, header, bundle, codes.ACK_FATAL, (issue,), message)
            if effects.ack is not None:
                self._counts["duplicates"] += 1
                effects.answers.append("duplicate")
                return effects.ack
            if self.sor is not None and doc.receiver.sor != self.sor:
                issue = Issue(codes.RECEIVER_UNKNOWN, "the receiver's SOR code is not this unit")
                return self._answer(effects, header, bundle, codes.ACK_FATAL, (issue,), message)
            if mode == "transient":
                issue = Issue(codes.MAILBOX_OUT_OF_OPERATION, "the mailbox is out of operation")
                return self._answer(effects, header, bundle, codes.ACK_TRANSIENT, (issue,), message)
            if mode == "fatal":
                issue = Issue(codes.VALUESET_VALUE_UNKNOWN, "the receiver refuses the message")
                return self._answer(effects, header, bundle, codes.ACK_FATAL, (issue,), message)
            effects.document, effects.read = body, message
            effects.ack = self._answer(effects, header, bundle, codes.ACK_OK, (), message)
            return effects.ack

    def _answer(
        self,
        effects: Effects,
        header: str,
        bundle: str,
        code: str,
        issues: tuple[Issue, ...],
        message: ReadMessage,
    ) -> bytes:
        effects.answers.append(code)
        doc = message.document
        return self._ack(header, bundle, code, issues, doc.receiver, doc.sender)

    @staticmethod
    def _ack(
        header: str,
        bundle: str | None,
        code: str,
        issues: tuple[Issue, ...],
        sender: Organisation | None,
        receiver: Organisation | None,
    ) -> bytes:
        return build_acknowledgement(
            acked_header_id=header,
            acked_bundle_id=bundle,
            code=code,
            timestamp=datetime.now(UTC).isoformat(timespec="seconds"),
            issues=issues,
            sender=sender,
            receiver=receiver,
        )

    @staticmethod
    def _fhir(start_response: StartResponse, status: HTTPStatus, data: bytes) -> list[bytes]:
        return answer(start_response, status, FHIR_JSON, data)


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(
        "adapters.doubles.medcom_double",
        "Run the MedCom receiver double ($process-message) until SIGTERM or Ctrl-C.",
    )
    parser.add_argument("--sor", default=None, help="the receiving unit's own SOR code")
    args = parser.parse_args(argv)
    return run_until_signalled(MedcomDouble(args.host, args.port, sor=args.sor))


if __name__ == "__main__":
    raise SystemExit(main())
