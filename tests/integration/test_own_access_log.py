"""A person's own access log over the real HTTP API: an e-service holding the ``access_log``
grant reads the extract of the one person it names, as JSON or PDF; any other token gets 404;
a body naming more than that one person is refused; the grant does nothing else; each read is
audited and shows in the next extract."""

from __future__ import annotations

import httpx
import pytest

from audit.entry import AuditAction
from hub.demo.scenario import CONTACT_CENTRE
from hub.services.systems import register_system
from tests.integration.api_server import PROBLEM, ApiServer, Referrals

PATH = "/api/v1/own-access-log"
ESERVICE = "mina-sidor"


def ask(api: ApiServer, token: str | None, body: dict[str, object]) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=api.url, timeout=30, trust_env=False) as client:
        return client.post(PATH, json=body, headers=headers)


@pytest.fixture
def eservice(api: ApiServer) -> str:
    return register_system(
        api.hub, ESERVICE, "the municipality's e-service (test)", "test", role="access_log"
    )


def test_the_grant_reads_the_one_person_it_names_and_each_read_is_audited(
    api: ApiServer, referrals: Referrals, eservice: str
) -> None:
    first, second = referrals.make(), referrals.make()
    for doc in (first, second):
        assert api.post(doc.body).status_code == 202
    number = first.person.identity.formatted()
    body: dict[str, object] = {
        "identity_number": number,
        "identification": "bankid:order-1",
        "format": "json",
    }

    answer = ask(api, eservice, body)
    assert answer.status_code == 200, answer.text
    extract = answer.json()
    assert [a["action"] for a in extract["accesses"]] == ["received"]
    assert extract["accesses"][0]["who"] == CONTACT_CENTRE
    assert number not in answer.text
    first_ref = api.subject_ref(first.person)
    assert first_ref not in answer.text  # not even the keyed reference

    # Each read is audited for that person, with the e-service and the identification named,
    # and the person sees the read in the next extract.
    (read,) = api.audit(AuditAction.EXPORTED, actor=ESERVICE)
    assert read.subject_ref == first_ref
    assert read.reason == "own access log (json, 1 accesses) after bankid:order-1"
    again = ask(api, eservice, body | {"identification": "bankid:order-2"}).json()
    assert [a["action"] for a in again["accesses"]] == ["received", "exported"]
    assert again["accessed_by"] == [ESERVICE]

    pdf = ask(api, eservice, body | {"format": "pdf"})
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    reads = api.audit(AuditAction.EXPORTED, actor=ESERVICE)
    assert [r.subject_ref for r in reads] == [first_ref] * 3
    # The other person was never read.
    assert api.audit(AuditAction.EXPORTED, subject_ref=api.subject_ref(second.person)) == []


def test_never_a_second_person_and_never_without_the_grant(
    api: ApiServer, referrals: Referrals, eservice: str
) -> None:
    first, second = referrals.make(), referrals.make()
    number = first.person.identity.formatted()
    body: dict[str, object] = {"identity_number": number, "identification": "bankid:order-1"}
    # Two persons in one call: there is no field for a second, and unknown members are refused.
    extras: list[dict[str, object]] = [
        {"identity_numbers": [second.person.identity.formatted()]},
        {"subject": second.person.identity.formatted()},
    ]
    for extra in extras:
        refused = ask(api, eservice, body | extra)
        assert refused.status_code == 422
        assert refused.headers["content-type"].startswith(PROBLEM)
    listed = ask(api, eservice, body | {"identity_number": [number, number]})
    assert listed.status_code == 422
    # A number with a wrong check digit or an identification that is no reference: 422.
    bad = ask(
        api, eservice, body | {"identity_number": number[:-1] + str((int(number[-1]) + 1) % 10)}
    )
    assert bad.status_code == 422
    assert ask(api, eservice, body | {"identification": "a b"}).status_code == 422

    # Without the grant: 404 for a registered system and for an administrator alike.
    admin = register_system(
        api.hub, "admin-tool", "(test)", "test", role="admin", districts=["sdn-sodermalm"]
    )
    for token in (api.tokens[CONTACT_CENTRE], admin):
        absent = ask(api, token, body)
        assert absent.status_code == 404
        assert absent.json()["reason"] == "not_found"
    assert ask(api, None, body).status_code == 401
    assert api.audit(AuditAction.EXPORTED) == []

    # The grant does nothing else: it can neither send nor ask.
    sent = httpx.post(
        f"{api.url}/api/v1/messages",
        content=first.body,
        headers={"Authorization": f"Bearer {eservice}", "Content-Type": "application/xml"},
        timeout=30,
        trust_env=False,
    )
    assert sent.status_code == 401
    assert api.message_count() == 0
