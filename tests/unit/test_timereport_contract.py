"""The ``timereport.visit`` v2 contract: the XSD, its business keys and the JSON/CSV mapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from hub.demo.fictional import FictionalPeople
from hub.timereports.document import VISIT_V2_NS, visit_body
from hub.timereports.model import Intervention, Visit
from schemas.business_keys import KeyValue, read_keys
from schemas.errors import SchemaError
from schemas.parser import parse_xml
from schemas.registry import Registry, default_registry

ZONE = ZoneInfo("Europe/Stockholm")
CLIENT = FictionalPeople(7, kind="personnummer").take(1)[0].identity


@pytest.fixture(scope="module")
def registry() -> Registry:
    return default_registry()


def visit(**changes: object) -> Visit:
    start = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)  # 1 December in Stockholm
    fields: dict[str, object] = {
        "index": 0,
        "visit_id": "v-1",
        "staff_id": "st-0042",
        "client": CLIENT,
        "order_id": "B-SOD-001-1",
        "interventions": (Intervention("personal_care", 20), Intervention("meal")),
        "actual_start": start,
        "actual_end": start + timedelta(minutes=30),
        "confirmation": "nfc_tag",
    }
    fields.update(changes)
    return Visit(**fields)  # type: ignore[arg-type]


def body(v: Visit) -> bytes:
    return visit_body(v, provider="prov-testvard", batch_id="b-2026-12-01", zone=ZONE)


def test_v1_and_v2_are_both_registered_and_v2_is_held(registry: Registry) -> None:
    v1 = registry.get("timereport.visit", "1")
    v2 = registry.get("timereport.visit", "2")
    assert not v1.held_for_approval
    assert v2.held_for_approval
    assert v2.categories == {"identity", "time"}


def test_a_mapped_visit_is_valid_and_names_its_keys(registry: Registry) -> None:
    v2 = registry.get("timereport.visit", "2")
    element = parse_xml(body(visit(second_staff_id="4711")))
    registry.validate(v2, element)
    assert read_keys(v2.keys, element) == (
        KeyValue("provider", "prov-testvard", False),
        KeyValue("staff_id", "st-0042", True),
        KeyValue("second_staff_id", "4711", True),
        KeyValue("visit_date", "2026-12-01", False),  # the local date, not the UTC one
        KeyValue("order_id", "B-SOD-001-1", True),
        KeyValue("batch_id", "b-2026-12-01", False),
        KeyValue("actual_start", "2026-11-30T23:30:00+00:00", False),
        KeyValue("actual_end", "2026-12-01T00:00:00+00:00", False),
        KeyValue("confirmation", "nfc_tag", False),
    )
    found = [n for path in v2.subjects for n in path.find(element)]
    assert [f.text for f in found] == [CLIENT.formatted()]


@pytest.mark.parametrize(
    "staff_id", ["19121212-1212", "191212121212", "1212121212", "121212-1212", "123456789"]
)
def test_an_identity_number_is_no_staff_id(registry: Registry, staff_id: str) -> None:
    with pytest.raises(SchemaError) as info:
        registry.validate(
            registry.get("timereport.visit", "2"), parse_xml(body(visit(staff_id=staff_id)))
        )
    assert info.value.reason == "schema_invalid"


@pytest.mark.parametrize("staff_id", ["12345678", "st-1", "A1234567890", "anst_191212121212x"])
def test_staff_ids_that_are_no_identity_number_pass(registry: Registry, staff_id: str) -> None:
    registry.validate(
        registry.get("timereport.visit", "2"), parse_xml(body(visit(staff_id=staff_id)))
    )


@pytest.mark.parametrize("method", ["nfc_tag", "rfid_tag", "digital_lock", "code", "manual"])
def test_every_confirmation_method(registry: Registry, method: str) -> None:
    registry.validate(
        registry.get("timereport.visit", "2"), parse_xml(body(visit(confirmation=method)))
    )


def test_v1_methods_are_not_v2_methods(registry: Registry) -> None:
    element = parse_xml(body(visit()))
    method = element.find(f"{{{VISIT_V2_NS}}}ConfirmationMethod")
    assert method is not None
    method.text = "nfc"
    with pytest.raises(SchemaError):
        registry.validate(
            registry.get("timereport.visit", "2"), etree.fromstring(etree.tostring(element))
        )


def test_a_v2_body_reads_back_as_the_visit_it_was_written_from() -> None:
    from hub.timereports.document import read_visit

    planned = datetime(2026, 11, 30, 23, 25, tzinfo=UTC)
    written = visit(
        second_staff_id="st-0043",
        planned_start=planned,
        planned_end=planned + timedelta(minutes=30),
        message_id="m-1",
    )
    read = read_visit(etree.fromstring(body(written)), message_id="m-1")
    assert read.visit == written
    assert (read.provider, read.batch_id, read.planned_given) == (
        "prov-testvard",
        "b-2026-12-01",
        2,
    )
    assert read.visit_date.isoformat() == "2026-12-01"  # the local day, as written
    assert read.visit.where == "message m-1"


def test_v2_visits_declare_the_time_report_admission(registry: Registry) -> None:
    assert registry.get("timereport.visit", "2").admission == "time_report"
    assert registry.get("timereport.visit", "1").admission is None  # v1 stays unchecked
