"""The API against its own OpenAPI description: schemathesis, bounded, zero failures.

schemathesis reads ``/openapi.json`` from a hub served on 127.0.0.1 (``running_api``) and sends
generated requests to every operation, valid and invalid, authenticated as the contact centre
(the admin operations answer it 403, as documented). Every default check must pass: no 5xx,
only documented status codes, documented media types (``application/problem+json`` for every
error) and bodies that match their schemas, but one: ``positive_data_acceptance`` (schema-valid
data must get a 2xx) is left out on purpose. What makes a message valid is its XSD and its
identity numbers' check digits, which an OpenAPI schema cannot state: a binary body or a random
``subject.id`` matches the description and is still refused, by design, with 400 or 422.
Bounded so it stays well under a minute: a few
examples per operation, no shrinking, no deadline (the machine is shared). SQLite only: the
contract does not depend on the database, and PostgreSQL would only make it slower.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance
from schemathesis.core.result import Ok

from hub.demo.scenario import CONTACT_CENTRE
from tests.integration.api_server import running_api

EXAMPLES_PER_OPERATION = 12


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    home: Path = tmp_path_factory.mktemp("schemathesis")
    with running_api(home / "hub", f"sqlite:///{home / 'hub.db'}") as api:
        yield api.url, api.tokens[CONTACT_CENTRE]


def test_every_operation_keeps_its_contract(served: tuple[str, str]) -> None:
    url, token = served
    # Agreements are uploaded as TOML text: send the generated string as it is.
    schemathesis.serializer.alias("application/toml", "text/plain")
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    failures: dict[str, str] = {}
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the description does not load: {result.err()}"
        operations.append(result.ok())
    assert len(operations) >= 8, "every operation of the description is exercised"
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
                database=None,
            )
            def exercise(case: schemathesis.Case[Any]) -> None:
                case.call_and_validate(
                    headers={"Authorization": f"Bearer {token}"},
                    excluded_checks=[positive_data_acceptance],
                )

            try:
                exercise()
            except Unsatisfiable:
                # No parameters and no body (health, metrics): nothing to make invalid.
                assert mode is GenerationMode.NEGATIVE, operation.label
            except (Exception, BaseExceptionGroup) as exc:  # collect it, report every operation
                failures[f"{operation.label} ({mode.value})"] = str(exc)[:2000]
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
