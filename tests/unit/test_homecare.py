"""Home care's pure parts: continuity counting and its period, the compensation basis document,
the Combine mapping of both visit versions, and the Combine double's fee arithmetic."""

from __future__ import annotations

import random
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from adapters.combine.mapping import NotAVisit, visit_import
from adapters.doubles.combine_fees import check_import, minutes_by_intervention
from hub.demo.fictional import PROVIDERS, FictionalPeople
from hub.demo.flows import visit_body as v1_body
from hub.homecare.basis import basis_envelope, parse_receivers, read_basis
from hub.homecare.continuity import Period, StaffMet, aggregate, per_client
from hub.timereports.document import visit_body as v2_body
from hub.timereports.model import Intervention, Visit
from schemas.envelope import read_envelope
from schemas.registry import default_registry

ZONE = ZoneInfo("Europe/Stockholm")
PERSON = FictionalPeople(5, kind="personnummer").take(1)[0]


def test_a_period_is_inclusive_and_fourteen_days_by_default() -> None:
    assert Period.parse("2026-11-01..2026-11-14").days == 14
    assert Period.parse("2026-11-01") == Period(date(2026, 11, 1), date(2026, 11, 14))
    assert Period.parse("2026-11-01..2026-11-01").days == 1
    assert Period.parse("2026-11-01..2027-01-31").days == 92
    for bad in ("2026-11-14..2026-11-01", "2026-11-01..2027-02-01", "november", "2026-11-31"):
        with pytest.raises(ValueError, match="period"):
            Period.parse(bad)


def test_staff_are_counted_once_per_provider_and_double_staffing_counts_both() -> None:
    rows = [
        StaffMet("d", "p1", "client-a", "s1"),
        StaffMet("d", "p1", "client-a", "s1"),  # the same person again
        StaffMet("d", "p1", "client-a", "s2"),  # the second of a double-staffed visit
        StaffMet("d", "p2", "client-a", "s1"),  # another provider's s1 is someone else
        StaffMet("d", "p1", "client-b", "s1"),
    ]
    by_provider = {(f.provider, f.client_ref): f.staff for f in per_client(rows, by_provider=True)}
    assert by_provider == {("p1", "client-a"): 2, ("p2", "client-a"): 1, ("p1", "client-b"): 1}
    by_district = {f.client_ref: f.staff for f in per_client(rows, by_provider=False)}
    assert by_district == {"client-a": 3, "client-b": 1}


def test_groups_below_the_minimum_are_suppressed_at_the_boundary() -> None:
    rows = [StaffMet("d", "p", f"c{i}", f"s{j}") for i in range(3) for j in range(i + 1)]
    figures = per_client(rows, by_provider=True)
    (shown,) = aggregate(figures, min_clients=3)
    assert (shown.clients, shown.mean, shown.median, shown.max) == (
        3,
        Decimal("2.0"),
        Decimal("2.0"),
        3,
    )
    (hidden,) = aggregate(figures, min_clients=4)
    assert hidden.suppressed
    assert (hidden.clients, hidden.mean, hidden.max) == (3, None, None)


def test_receivers_are_read_strictly() -> None:
    assert parse_receivers(" a=dest-a ; b=dest-b;") == {"a": "dest-a", "b": "dest-b"}
    for bad in ("a", "a=", "=x", "a=x;a=y"):
        with pytest.raises(ValueError, match=r"PROVIDER=DESTINATION|named twice"):
            parse_receivers(bad)


def _answer() -> dict[str, object]:
    return {
        "providerId": "prov-testvard",
        "month": "2026-11",
        "feeRun": {
            "runId": "FR-2026-11-x",
            "ranAt": "2026-12-01T08:00:00+00:00",
            "status": "final",
        },
        "lines": [
            {
                "client": {"idType": "personnummer", "id": PERSON.identity.canonical},
                "intervention": "meal",
                "visits": 2,
                "minutes": 50,
                "pricePerHour": "450.00",
                "amount": "375.00",
            }
        ],
    }


def test_a_basis_becomes_a_valid_envelope_naming_its_clients() -> None:
    basis = read_basis(_answer())
    data = basis_envelope(basis, district="sdn-x", purpose="compensation", receiver="prov-sys")
    parsed = read_envelope(data, default_registry())
    assert parsed.recipients == ("prov-sys",)
    assert parsed.message_id == "compensation:2026-11:prov-testvard:FR-2026-11-x"
    assert len(parsed.subjects) == 1
    broken = _answer()
    broken["lines"] = [{"client": {}}]
    with pytest.raises(ValueError, match="garbles"):
        read_basis(broken)


def _v2(**changes: object) -> etree._Element:
    visit = Visit(
        index=0, visit_id="v-1", staff_id="st-1", client=PERSON.identity, order_id="o-1",
        interventions=(Intervention("meal", 20), Intervention("cleaning")),
        actual_start=datetime(2026, 11, 2, 8, 0, tzinfo=ZONE),
        actual_end=datetime(2026, 11, 2, 8, 45, tzinfo=ZONE),
        confirmation="rfid_tag",
    )  # fmt: skip
    root = etree.fromstring(v2_body(visit, provider="prov-x", batch_id="b-1", zone=ZONE))
    for name, status in changes.items():
        etree.SubElement(root, f"{{{root.nsmap[None]}}}{name}", status=str(status))
    return root


def test_both_visit_versions_map_onto_combine_s_import() -> None:
    v2 = visit_import(_v2(), delivery_id="d-1", message_id="m-1", district="x")
    visit = v2["visit"]
    assert isinstance(visit, dict)
    assert (visit["providerId"], visit["staffId"], visit["orderId"]) == ("prov-x", "st-1", "o-1")
    assert visit["confirmation"] == "rfid_tag"
    assert visit["client"] == {"idType": "personnummer", "id": PERSON.identity.canonical}
    assert check_import(v2, "d-1") is None
    assert minutes_by_intervention(visit) == {"meal": 20, "cleaning": 25}
    with pytest.raises(NotAVisit) as caught:
        visit_import(_v2(Approval="pending"), delivery_id="d", message_id="m", district="x")
    assert caught.value.reason == "visit_not_approved"

    v1 = etree.fromstring(v1_body(PERSON, PROVIDERS[1], random.Random(3)))
    mapped = visit_import(v1, delivery_id="d-2", message_id="m-2", district="x")
    assert check_import(mapped, "d-2") is None
    assert check_import(mapped, "d-3") == (
        "importId",
        "import_id_mismatch",
        "importId must equal the Idempotency-Key",
    )


def test_the_double_checks_the_client_s_check_digit() -> None:
    data = visit_import(_v2(), delivery_id="d-1", message_id="m-1", district="x")
    visit = data["visit"]
    assert isinstance(visit, dict)
    number = visit["client"]["id"]
    visit["client"]["id"] = number[:-1] + str((int(number[-1]) + 1) % 10)
    problem = check_import(data, "d-1")
    assert problem is not None
    assert problem[1] == "check_digit"
