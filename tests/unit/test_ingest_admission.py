"""``hub.ingest.admission``: a declared admission needs an implementation, a repeat skips it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, cast

import pytest

from hub.errors import ConfigError
from hub.ingest.admission import Admissions
from hub.ingest.records import StoredMessage
from schemas.envelope import ParsedEnvelope
from schemas.registry import default_registry


class Store:
    @contextmanager
    def read(self) -> Iterator[None]:
        yield None


class Repeats:
    def __init__(self, known: set[tuple[str, str]]) -> None:
        self.known = known

    def find(self, tx: None, sender: str, key: str) -> StoredMessage | None:
        return cast(StoredMessage, object()) if (sender, key) in self.known else None


class Recorder:
    def __init__(self) -> None:
        self.admitted: list[str | None] = []

    def admit(self, sender: str, envelope: ParsedEnvelope) -> None:
        self.admitted.append(envelope.message_id)


def envelope(name: str, version: str, message_id: str | None) -> ParsedEnvelope:
    info = default_registry().get(name, version)
    fields: dict[str, Any] = dict.fromkeys(ParsedEnvelope.__dataclass_fields__)
    made = ParsedEnvelope(**fields)
    return replace(made, message_id=message_id, message_type_info=info)


def admissions(checks: dict[str, Any], known: set[tuple[str, str]]) -> Admissions[None]:
    return Admissions(checks, default_registry(), cast(Any, Store()), cast(Any, Repeats(known)))


def test_a_declared_admission_without_an_implementation_stops_the_hub() -> None:
    with pytest.raises(ConfigError, match=r"timereport.visit v2 \(time_report\)"):
        admissions({}, set())


def test_only_types_that_declare_one_are_admitted_and_never_a_repeat() -> None:
    recorder = Recorder()
    gate = admissions({"time_report": recorder}, {("app", "sent-before")})
    gate.admit("app", envelope("timereport.visit", "2", "new-1"))
    gate.admit("app", envelope("timereport.visit", "2", "sent-before"))  # a repeat
    gate.admit("other-app", envelope("timereport.visit", "2", "sent-before"))  # not its repeat
    gate.admit("app", envelope("timereport.visit", "1", "v1"))  # declares none
    assert recorder.admitted == ["new-1", "sent-before"]
