"""The API's OpenAPI links, followed by schemathesis's stateful mode against a served hub.

``POST /api/v1/messages`` links its ``202`` answer's ``id`` to ``GET /api/v1/messages/{id}``.
The state machine posts envelopes and follows the link: the status of a message just accepted
must be found (200, not 404) and must keep the documented contract. An OpenAPI schema cannot
say what makes an envelope valid (its XSD, identity numbers' check digits), so the XML bodies
come from a strategy of our own: the demo's fictional referrals, each with a new message id,
half of them with one field changed. Bounded (a few scenarios, no shrinking, no deadline);
SQLite only, like ``test_api_schemathesis.py``.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from lxml import etree
from requests.structures import CaseInsensitiveDict
from schemathesis.checks import positive_data_acceptance
from schemathesis.core.media_types import MEDIA_TYPE_STRATEGIES

from hub.demo.fictional import FictionalPeople, referral_envelope
from hub.demo.scenario import CONTACT_CENTRE, DISTRICTS
from tests.integration.api_server import running_api

XML_TYPES = ("application/xml", "text/xml")
_ids = itertools.count()


@st.composite
def envelopes(draw: st.DrawFn) -> bytes:
    """A fictional referral with a fresh message id, sometimes with one element's text
    changed (then it may be refused, as any sender's mistake is)."""
    seed = draw(st.integers(0, 2**16))
    rng = random.Random(seed)
    person = FictionalPeople(seed).take(1)[0]
    doc = referral_envelope(
        person, rng.choice(DISTRICTS), rng, message_id=f"STATEFUL-{seed}-{next(_ids)}"
    )
    if not draw(st.booleans()):
        return doc
    root = etree.fromstring(doc)
    element = draw(st.sampled_from([e for e in root.iter() if isinstance(e.tag, str)]))
    element.text = draw(st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"])))
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    home: Path = tmp_path_factory.mktemp("stateful")
    with running_api(home / "hub", f"sqlite:///{home / 'hub.db'}") as api:
        yield api.url, api.tokens[CONTACT_CENTRE]


@pytest.fixture
def xml_bodies() -> Iterator[None]:
    """Our envelope strategy for the XML media types, for this test only (the registry of
    strategies is global to schemathesis)."""
    before = {media: MEDIA_TYPE_STRATEGIES.get(media) for media in XML_TYPES}
    schemathesis.openapi.media_type(XML_TYPES[0], envelopes(), aliases=XML_TYPES[1:])
    yield
    for media, strategy in before.items():
        if strategy is None:
            MEDIA_TYPE_STRATEGIES.pop(media, None)
        else:
            MEDIA_TYPE_STRATEGIES[media] = strategy


def test_the_link_from_post_to_get_is_declared(served: tuple[str, str]) -> None:
    url, _ = served
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    links = schema.raw_schema["paths"]["/api/v1/messages"]["post"]["responses"]["202"]["links"]
    assert links["GetMessage"]["parameters"] == {"message_id": "$response.body#/id"}


def test_messages_posted_can_be_followed_to_their_status(
    served: tuple[str, str], xml_bodies: None
) -> None:
    url, token = served
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json").include(
        path_regex="^/api/v1/messages"
    )
    followed: list[int] = []

    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        def before_call(self, case: schemathesis.Case[Any]) -> None:
            # A new mapping (the generated one is Hypothesis's to replay), case-insensitive: a
            # generated "authorization" header is replaced.
            headers = CaseInsensitiveDict(case.headers)
            headers["Authorization"] = f"Bearer {token}"
            case.headers = headers

        def validate_response(
            self, response: Any, case: schemathesis.Case[Any], **kwargs: Any
        ) -> None:
            if case.method == "GET" and case.path_parameters.get("message_id", "").count("-") == 4:
                followed.append(response.status_code)  # an id the hub gave: it must be found
                assert response.status_code == 200, response.text
            case.validate_response(
                response,
                excluded_checks=[positive_data_acceptance],
                headers=dict(case.headers),  # what ignored_auth must leave out when it re-sends
                transport_kwargs=kwargs or None,
                recorder=getattr(self, "recorder", None),  # the stateful checks' memory
            )

    Machine.run(
        settings=settings(
            max_examples=15,
            stateful_step_count=6,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
            database=None,
        )
    )
    assert followed, "no accepted message was followed to its status through the link"
