"""Referral follow-up on a real database: opened at ingest, closed by the district's answer
(an SDK reply as ``mailbox.message``, or any type declaring ``answers_referral``), listed and
counted per district through the services and the command line, every look audited."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import Connection, select

from adapters.sdk.ids import sdk_message_id
from hub.cli.main import cli, register_subcommands
from hub.demo.fictional import build_envelope
from hub.errors import InputError, NotFound, RoutingError
from hub.ingest.pipeline import Ingestor
from hub.services.agreements import register_system
from hub.services.audit_queries import AuditFilter, search_audit
from hub.services.principal import Principal
from hub.services.referrals import (
    overdue_referrals,
    referral_summary,
    referrals_for_case,
    show_referral,
)
from hub.storage.sql_store import SqlMessages, SqlUnitOfWork
from hub.storage.tables import business_keys, referrals
from schemas.business_keys import BusinessKey
from schemas.parser import ParseLimits
from schemas.registry import XSD_DIR, MessageType, Registry, SubjectPath, default_registry
from tests.integration.api_server import problem_of, serve
from tests.integration.spine import DISTRICT, SENDER, Spine, close_spine, open_spine

ANSWER_NS = "urn:test:referral.answer:1"
ANSWER_XSD = f"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
  targetNamespace="{ANSWER_NS}" elementFormDefault="qualified">
  <xs:element name="Answer"><xs:complexType><xs:sequence>
    <xs:element name="ReferralCaseId" type="xs:token" minOccurs="0"/>
    <xs:element name="Person" type="xs:token"/>
  </xs:sequence></xs:complexType></xs:element>
</xs:schema>"""


@pytest.fixture
def spine(tmp_path: Path, database_url: str) -> Iterator[Spine]:
    s = open_spine(
        tmp_path, database_url, types=["mailbox.message", "test.answer", "case.execution_event"]
    )
    yield s
    close_spine(s)


def _referral(spine: Spine, key: str) -> tuple[str, str]:
    """Ingest a referral; its hub id and its case number (read back from the document)."""
    document = spine.envelope(key)
    result = spine.hub.ingestor.ingest(SENDER, document)
    case_id = document.split(b"<CaseId>")[1].split(b"</CaseId>")[0].decode()
    return result.message_id, case_id


def _reply(spine: Spine, *, conversation: str, ref_to: str | None) -> str:
    ref = f"<RefToMessageId>{ref_to}</RefToMessageId>" if ref_to else ""
    body = f"""<MailboxMessage xmlns="urn:omsorgshub:mailbox.message:1">
  <SdkMessageId>{uuid.uuid4()}</SdkMessageId><ConversationId>{conversation}</ConversationId>{ref}
  <CreatedAt>2026-12-07T09:15:00Z</CreatedAt>
  <Sender><OrganizationId>0203:2120000142</OrganizationId></Sender>
  <Recipient><OrganizationId>0203:2120000142</OrganizationId></Recipient>
  <Label>Svar</Label><Confidential>true</Confidential>
</MailboxMessage>""".encode()
    document = build_envelope(
        message_type="mailbox.message",
        version="1",
        district=DISTRICT,
        purpose="referral",
        body=body,
    )
    return spine.hub.ingestor.ingest(SENDER, document).message_id


def _row(spine: Spine, message_id: str) -> dict[str, object]:
    with spine.hub.reader.connect() as conn:
        row = conn.execute(select(referrals).where(referrals.c.message_id == message_id)).one()
    return dict(row._mapping)


def test_a_referral_opens_with_its_deadline_and_its_case_number_only_as_hmac(
    spine: Spine,
) -> None:
    referral_id, case_id = _referral(spine, "r-1")
    row = _row(spine, referral_id)
    assert row["district"] == DISTRICT
    assert row["closed_at"] is None
    calendar = spine.hub.follow_up.calendar
    assert row["deadline"] == calendar.deadline(str(row["urgency"]), spine.clock())
    with spine.hub.reader.connect() as conn:
        keys = dict(
            conn.execute(
                select(business_keys.c.name, business_keys.c.value).where(
                    business_keys.c.message_id == referral_id
                )
            ).all()
        )
        everything = conn.execute(select(business_keys.c.value)).scalars().all()
    assert keys["case_id"] == spine.hub.guards.hmacs.business_key(case_id)
    assert all(case_id not in value for value in everything)
    (delivery,) = spine.deliveries(referral_id)
    assert keys["sdk_message_id"] == sdk_message_id(delivery.id)


@pytest.mark.parametrize("by", ["conversation", "ref_to"])
def test_an_sdk_reply_closes_the_referral_of_its_delivery(spine: Spine, by: str) -> None:
    referral_id, _ = _referral(spine, "r-1")
    other_id, _ = _referral(spine, "r-2")
    (delivery,) = spine.deliveries(referral_id)
    answered = sdk_message_id(delivery.id)
    spine.clock.advance(3600)
    if by == "conversation":
        reply_id = _reply(spine, conversation=answered, ref_to=None)
    else:
        reply_id = _reply(spine, conversation=str(uuid.uuid4()), ref_to=answered)
    row = _row(spine, referral_id)
    assert (row["closed_how"], row["closed_by"]) == (
        "sdk_conversation_id" if by == "conversation" else "sdk_ref_to_message_id",
        reply_id,
    )
    assert row["closed_at"] == spine.clock()
    assert _row(spine, other_id)["closed_at"] is None


def test_a_reply_that_matches_nothing_closes_nothing(spine: Spine) -> None:
    referral_id, _ = _referral(spine, "r-1")
    _reply(spine, conversation=str(uuid.uuid4()), ref_to=str(uuid.uuid4()))
    assert _row(spine, referral_id)["closed_at"] is None


def _answering_ingestor(spine: Spine, tmp_path: Path) -> Ingestor[Connection]:
    """The hub's own parts, with a registry that also has a type declaring answers_referral."""
    xsd_dir = tmp_path / "xsd"
    shutil.copytree(XSD_DIR, xsd_dir)
    (xsd_dir / "test.answer-1.xsd").write_text(ANSWER_XSD)
    answer = MessageType(
        name="test.answer",
        version="1",
        xsd="test.answer-1.xsd",
        root=f"{{{ANSWER_NS}}}Answer",
        categories=frozenset({"identity", "case"}),
        subjects=(SubjectPath("Person"),),
        keys=(BusinessKey("answers_referral", "ReferralCaseId"),),
        description="an answer to a referral (test)",
    )
    hub = spine.hub
    return Ingestor(
        store=SqlUnitOfWork(hub.engine),
        messages=SqlMessages(),
        repeats=SqlMessages(),
        # The types with admission checks of their own (time reports) are left out: this
        # ingestor is built by hand, without the composition root's admission checks.
        registry=Registry(
            [*(t for t in default_registry().types() if t.admission is None), answer],
            xsd_dir=xsd_dir,
        ),
        routing=hub.routing,
        limits=ParseLimits(),
        guards=hub.message_guards,
        hmacs=hub.guards.hmacs,
        clock=spine.clock,
        follow_ups=hub.follow_up,
    )


def test_a_message_declaring_answers_referral_closes_the_referrals_of_that_case(
    spine: Spine, tmp_path: Path
) -> None:
    referral_id, case_id = _referral(spine, "r-1")
    other_id, _ = _referral(spine, "r-2")
    ingestor = _answering_ingestor(spine, tmp_path)
    person = next(spine.people)
    number = person.identity.formatted()

    def answer(district: str, case: str, key: str) -> str:
        body = (
            f'<Answer xmlns="{ANSWER_NS}"><ReferralCaseId>{case}</ReferralCaseId>'
            f"<Person>{number}</Person></Answer>"
        ).encode()
        document = build_envelope(
            message_type="test.answer",
            version="1",
            district=district,
            purpose="referral",
            body=body,
            message_id=key,
            subjects=(person.subject,),
        )
        return ingestor.ingest(SENDER, document).message_id

    spine.clock.advance(600)
    # Not routed from another district: refused before it could close anything.
    with pytest.raises(RoutingError):
        answer("sdn-norr", case_id, "a-0")
    answer_id = answer(DISTRICT, case_id, "a-1")
    row = _row(spine, referral_id)
    assert (row["closed_how"], row["closed_by"]) == ("answers_referral", answer_id)
    assert _row(spine, other_id)["closed_at"] is None


def test_the_case_system_s_execution_event_naming_the_referral_closes_it(spine: Spine) -> None:
    # case.execution_event v2 declares ReferralCaseId as answers_referral (schemas/registry.py).
    referral_id, case_id = _referral(spine, "r-1")
    other_id, _ = _referral(spine, "r-2")
    person = next(spine.people)
    body = f"""<ExecutionEvent xmlns="urn:omsorgshub:case.execution_event:2">
  <EventId>EV-1</EventId><DecisionId>D-1</DecisionId>
  <Subject scheme="se">{person.identity.formatted()}</Subject><Law>SoL</Law>
  <Intervention>sol_home_care</Intervention><EventKind>decided</EventKind>
  <EventDate>2026-12-07</EventDate><DecisionDate>2026-12-07</DecisionDate>
  <ReferralCaseId>{case_id}</ReferralCaseId>
</ExecutionEvent>""".encode()
    document = build_envelope(
        message_type="case.execution_event",
        version="2",
        district=DISTRICT,
        purpose="referral",
        body=body,
        message_id="EV-1",
        consent="CONSENT-EV-1",  # the referral agreement asks consent for decisions
        subjects=(person.subject,),
    )
    spine.clock.advance(600)
    event_id = spine.hub.ingestor.ingest(SENDER, document).message_id
    row = _row(spine, referral_id)
    assert (row["closed_how"], row["closed_by"]) == ("answers_referral", event_id)
    assert _row(spine, other_id)["closed_at"] is None


def test_overdue_listing_scope_and_audit(spine: Spine) -> None:
    referral_id, case_id = _referral(spine, "r-1")
    deadline = _row(spine, referral_id)["deadline"]
    assert isinstance(deadline, type(spine.clock()))
    operator = Principal.operator("operator:test")
    assert overdue_referrals(spine.hub, operator, at=deadline - timedelta(seconds=1)) == []
    (late,) = overdue_referrals(spine.hub, operator, at=deadline + timedelta(hours=5))
    assert (late.id, late.state, late.late_seconds) == (referral_id, "overdue", 5 * 3600)
    assert referral_summary(spine.hub, operator, at=deadline)[DISTRICT] == {
        "open": 0,
        "overdue": 1,
        "closed": 0,
    }
    elsewhere = Principal.district_admin("admin:norr", ["sdn-norr"])
    assert overdue_referrals(spine.hub, elsewhere, at=deadline) == []
    assert overdue_referrals(spine.hub, elsewhere, district=DISTRICT, at=deadline) == []
    with pytest.raises(InputError, match="district"):
        overdue_referrals(spine.hub, operator, district="sdn\x00x", at=deadline)
    assert referral_summary(spine.hub, elsewhere, at=deadline) == {}
    with pytest.raises(NotFound):
        show_referral(spine.hub, elsewhere, referral_id)
    assert referrals_for_case(spine.hub, elsewhere, case_id) == []
    (found,) = referrals_for_case(spine.hub, operator, case_id)
    assert found.id == referral_id
    assert show_referral(spine.hub, operator, referral_id).state == "open"
    trail = search_audit(spine.hub, operator, AuditFilter(message_id=referral_id))
    looks = [e for e in trail if e.action == "viewed"]
    assert len(looks) == 3  # the overdue list, the case-number search, the show
    assert {e.actor for e in looks} == {"operator:test"}
    assert all(e.subject_ref for e in looks)


def test_the_command_line_lists_overdue_referrals_without_personal_data(spine: Spine) -> None:
    referral_id, case_id = _referral(spine, "r-1")
    deadline = _row(spine, referral_id)["deadline"]
    assert isinstance(deadline, type(spine.clock()))
    register_subcommands()
    env = {"OMSORGSHUB_HOME": str(spine.home), "OMSORGSHUB_DATABASE_URL": spine.database_url}
    at = (deadline + timedelta(days=1)).isoformat()
    result = CliRunner().invoke(cli, ["referrals", "overdue", "--at", at], env=env)
    assert result.exit_code == 0, result.output
    assert f"{DISTRICT}: 1 overdue" in result.output
    assert referral_id in result.output
    assert case_id not in result.output
    summary = CliRunner().invoke(cli, ["referrals", "summary", "--at", at], env=env)
    assert summary.exit_code == 0, summary.output
    assert DISTRICT in summary.output
    shown = CliRunner().invoke(cli, ["referrals", "show", "--case", case_id], env=env)
    assert shown.exit_code == 0, shown.output
    assert f"referral    {referral_id}" in shown.output
    assert "state       open" in shown.output  # judged now: before its deadline
    assert case_id not in shown.output
    neither = CliRunner().invoke(cli, ["referrals", "show"], env=env)
    assert neither.exit_code == 2
    assert "--case" in neither.output
    bad = CliRunner().invoke(cli, ["referrals", "overdue", "--at", "tomorrow"], env=env)
    assert bad.exit_code == 2
    assert "time_invalid" in bad.output


def test_the_api_lists_overdue_referrals_in_the_token_s_districts(spine: Spine) -> None:
    referral_id, case_id = _referral(spine, "r-1")
    deadline = _row(spine, referral_id)["deadline"]
    assert isinstance(deadline, type(spine.clock()))
    own = register_system(spine.hub, "sod-admin", "admin", "test", "admin", districts=[DISTRICT])
    other = register_system(
        spine.hub, "norr-admin", "admin", "test", "admin", districts=["sdn-norr"]
    )
    system = register_system(spine.hub, "some-system", "a system", "test")
    server = serve(spine.hub)
    try:

        def get(path: str, token: str, **params: str) -> httpx.Response:
            return httpx.get(
                f"{server.url}/api/v1/referrals{path}",
                params=params,
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
                trust_env=False,
            )

        at = (deadline + timedelta(minutes=90)).isoformat()
        answer = get("/overdue", own, at=at)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["per_district"] == {DISTRICT: 1}
        (item,) = body["referrals"]
        assert (item["id"], item["state"], item["late_seconds"]) == (referral_id, "overdue", 5400)
        assert case_id not in answer.text
        assert get("/overdue", other, at=at).json() == {"per_district": {}, "referrals": []}
        assert get("/summary", own, at=at).json() == {
            DISTRICT: {"open": 0, "overdue": 1, "closed": 0}
        }
        assert get(f"/{referral_id}", own).json()["id"] == referral_id
        problem_of(get(f"/{referral_id}", other), 404, "not_found")
        assert get("/overdue", system).status_code == 401
        problem_of(get("/overdue", own, at="2026-12-09T08:00:00"), 422, "input_invalid")
        scrape = httpx.get(f"{server.url}/metrics", timeout=30, trust_env=False).text
        assert f'omsorgshub_referrals{{district="{DISTRICT}",state="open"}} 1.0' in scrape
        spine.clock.now = deadline
        scrape = httpx.get(f"{server.url}/metrics", timeout=30, trust_env=False).text
        assert f'omsorgshub_referrals{{district="{DISTRICT}",state="overdue"}} 1.0' in scrape
    finally:
        server.stop()
