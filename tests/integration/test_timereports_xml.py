"""An XML sender's ``timereport.visit`` v2 envelopes, posted one by one to ``/api/v1/messages``,
meet the same checks as a JSON or CSV batch, with the same reason codes: orders from the case
system, overlaps with stored visits (JSON ones too), end after start, double staffing, the lock
date and a reopened period, the provider registered for the sender. A refusal is ``422
time_report_refused`` with the findings, nothing stored, audited; a resend is a duplicate.

The case-management double and the Combine double run as processes of their own
(``tests/integration/timereports_setup.py``); the hub's relay runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select

from audit.search import AuditQuery, search
from hub.demo.time_world import (
    CSV_APP,
    DISTRICT,
    JSON_APP,
    JSON_PROVIDER,
    home_care_order,
    ordered_codes,
)
from hub.guards import AuditAction
from hub.ingest.identity import parse_identity
from hub.services.timereport_approval import reopen_period
from hub.storage.tables import messages
from hub.timereports.document import visit_body, visit_envelope
from hub.timereports.model import Intervention, Visit
from tests.integration.api_server import problem_of
from tests.integration.timereports_setup import (
    OPERATOR,
    TimeReporting,
    recent,
    time_reporting,
    visit,
)


@pytest.fixture
def tr(tmp_path: Path, database_url: str) -> Iterator[TimeReporting]:
    with time_reporting(tmp_path / "home", database_url) as setup:
        yield setup


def xml_visit(
    tr: TimeReporting,
    start: datetime,
    *,
    staff: str,
    batch: str = "xml-b",
    minutes: int = 20,
    message_id: str | None = None,
    **changes: Any,
) -> bytes:
    """A v2 envelope of one visit to the JSON provider's first seeded client, as its system's
    XML would be (``changes``: fields of the visit)."""
    client, order = home_care_order(JSON_PROVIDER)
    fields: dict[str, Any] = {
        "index": 0,
        "visit_id": f"x-{start:%d%H%M}-{staff}",
        "staff_id": staff,
        "client": parse_identity(client.identity.formatted(), client.identity.scheme),
        "order_id": order.decision_id,
        "interventions": (Intervention(ordered_codes(order)[0]),),
        "actual_start": start,
        "actual_end": start + timedelta(minutes=minutes),
        "confirmation": "nfc_tag",
    }
    one = Visit(**{**fields, **changes})
    zone = ZoneInfo(tr.hub.settings.time_zone)
    body = visit_body(one, provider=JSON_PROVIDER, batch_id=batch, zone=zone)
    return visit_envelope(
        body, district=DISTRICT, purpose="time_reporting", message_id=message_id or one.visit_id
    )


def post(tr: TimeReporting, document: bytes, system: str = JSON_APP) -> httpx.Response:
    with tr.client(system) as c:
        return c.post(
            "/api/v1/messages", content=document, headers={"Content-Type": "application/xml"}
        )


def refused_for(answer: httpx.Response) -> list[str]:
    """The reasons of a ``422 time_report_refused``; each finding names the message."""
    body = problem_of(answer, 422, "time_report_refused")
    assert all(f["detail"].startswith("message ") for f in body["findings"]), body
    assert all("index" not in f for f in body["findings"]), body
    return [f["reason"] for f in body["findings"]]


def n_messages(tr: TimeReporting) -> int:
    with tr.hub.reader.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(messages)).scalar_one())


def refusals_of_the_client(tr: TimeReporting) -> list[str | None]:
    client, _ = home_care_order(JSON_PROVIDER)
    ref = tr.hub.guards.hmacs.subject_ref(client.identity.canonical)
    with tr.hub.reader.connect() as conn:
        found = search(conn, AuditQuery(action=AuditAction.REFUSED, subject_ref=ref))
    return [e.reason for e in found]


def test_an_xml_visit_meets_each_check_with_the_json_reason_codes(tr: TimeReporting) -> None:
    client, order = home_care_order(JSON_PROVIDER)
    start = recent(30)
    stored = tr.report([visit(client, order, start, minutes=60, staff="st-7")])
    assert stored.status_code == 202, stored.text  # a JSON visit of staff member st-7

    later = recent(20)
    cases = [
        (xml_visit(tr, later, staff="a1", order_id="B-NONE-1"), "no_active_order"),
        (xml_visit(tr, start + timedelta(minutes=59), staff="st-7"), "staff_overlap"),
        (xml_visit(tr, later, staff="a3", minutes=0), "end_not_after_start"),
        (xml_visit(tr, later, staff="a4", second_staff_id="a5"), "double_staffing_not_ordered"),
        (xml_visit(tr, recent(-3), staff="a6"), "visit_in_future"),
    ]
    for document, reason in cases:
        assert refused_for(post(tr, document)) == [reason]
    assert n_messages(tr) == 1  # nothing of them stored
    audited = refusals_of_the_client(tr)
    assert len(audited) == len(cases)
    assert all(r and r.startswith("time_report_refused: batch xml-b of ") for r in audited)

    # clean: stored, held in its batch until the provider approves it
    touching = xml_visit(tr, start + timedelta(minutes=60), staff="st-7", batch="xml-ok")
    accepted = post(tr, touching)
    assert accepted.status_code == 202, accepted.text
    assert tr.batch("xml-ok").json()["deliveries"] == {"held": 1}


def test_a_locked_period_refuses_an_xml_visit_until_an_officer_reopens_it(
    tr: TimeReporting,
) -> None:
    old = (recent(0).replace(day=1) - timedelta(days=40)).replace(hour=9)  # two months back
    document = xml_visit(tr, old, staff="st-old")
    assert refused_for(post(tr, document)) == ["period_locked"]
    period = f"{old.astimezone(ZoneInfo(tr.hub.settings.time_zone)):%Y-%m}"
    reopen_period(tr.hub, OPERATOR, JSON_PROVIDER, period, "efterregistrering, ärende 2026-18")
    accepted = post(tr, document)
    assert accepted.status_code == 202, accepted.text


def test_a_resent_xml_visit_is_a_duplicate_not_an_overlap_with_itself(tr: TimeReporting) -> None:
    start = recent(15)
    document = xml_visit(tr, start, staff="st-r", message_id="resend-1")
    first = post(tr, document)
    assert (first.status_code, first.json()["duplicate"]) == (202, False), first.text
    again = post(tr, document)
    assert again.status_code == 202, again.text
    assert (again.json()["duplicate"], again.json()["id"]) == (True, first.json()["id"])
    assert again.headers["Idempotent-Replayed"] == "true"
    # the same message id for other content is a conflict, as for every type
    other = xml_visit(tr, start, staff="st-r", minutes=25, message_id="resend-1")
    problem_of(post(tr, other), 409, "idempotency_conflict")
    # the same visit under a new message id is a second visit: the staff member is busy
    assert refused_for(post(tr, xml_visit(tr, start, staff="st-r"))) == ["staff_overlap"]
    assert n_messages(tr) == 1


def test_the_provider_its_batch_and_the_stated_day_are_checked(tr: TimeReporting) -> None:
    start = recent(10)
    # another provider's system names this provider in its XML: refused, audited
    forged = post(tr, xml_visit(tr, start, staff="st-f"), system=CSV_APP)
    problem_of(forged, 403, "provider_not_yours")
    assert [r and r.split(":")[0] for r in refusals_of_the_client(tr)] == ["provider_not_yours"]

    joined = post(tr, xml_visit(tr, start, staff="st-j", batch="xml-closed"))
    assert joined.status_code == 202, joined.text
    assert tr.decide("xml-closed", "approve", by="tl-1").status_code == 200
    late = post(tr, xml_visit(tr, start + timedelta(hours=1), staff="st-j", batch="xml-closed"))
    problem_of(late, 409, "batch_decided")  # it would be held for ever in an approved batch

    zone = ZoneInfo(tr.hub.settings.time_zone)
    day = start.astimezone(zone).date()
    wrong_day = xml_visit(tr, start, staff="st-d").replace(
        f"<VisitDate>{day}</VisitDate>".encode(),
        f"<VisitDate>{day - timedelta(days=3)}</VisitDate>".encode(),
    )
    assert refused_for(post(tr, wrong_day)) == ["visit_date_mismatch"]
    assert n_messages(tr) == 1


def test_manual_confirmations_warn_on_an_xml_batch_as_it_grows(tr: TimeReporting) -> None:
    def send(n: int, confirmation: str) -> None:
        start = recent(40 - n)
        document = xml_visit(tr, start, staff=f"m-{n}", batch="xml-m", confirmation=confirmation)
        answer = post(tr, document)
        assert answer.status_code == 202, answer.text

    for n in range(4):
        send(n, "nfc_tag")
    send(4, "manual")  # 1 of 5: 20 %, not above the setting
    assert tr.batch("xml-m").json()["warnings"] == []
    send(5, "manual")
    (warning,) = tr.batch("xml-m").json()["warnings"]
    assert warning["reason"] == "manual_share_high"
    assert warning["detail"].startswith("2 of 6 visits (33%) confirmed by hand")
