"""The error tree's one table: every error has an HTTP status and a delivery consequence."""

from __future__ import annotations

import pytest

from hub import errors
from hub.errors import OnDelivery, policy_for


def _all_error_classes() -> list[type[errors.HubError]]:
    return [
        obj
        for obj in vars(errors).values()
        if isinstance(obj, type) and issubclass(obj, errors.HubError)
    ]


@pytest.mark.parametrize("cls", _all_error_classes(), ids=lambda c: c.__name__)
def test_every_error_maps_to_a_status_and_an_action(cls: type[errors.HubError]) -> None:
    policy = policy_for(cls("detail"))
    assert 400 <= policy.http_status < 600
    assert isinstance(policy.on_delivery, OnDelivery)


def test_the_table_says_what_the_delivery_engine_does() -> None:
    assert policy_for(errors.TransientDeliveryError("x")).on_delivery is OnDelivery.RETRY
    assert policy_for(errors.PermanentDeliveryError("x")).on_delivery is OnDelivery.DEAD
    assert policy_for(errors.ContractRefusal("x", reason="revoked")).on_delivery is (
        OnDelivery.REFUSE
    )
    assert policy_for(errors.KeyShredded("x")).http_status == 410
    assert policy_for(errors.HostileXml("x")).http_status == 400
    assert policy_for(errors.PayloadTooLarge("x")).http_status == 413
    assert policy_for(errors.SchemaInvalid("x")).http_status == 422


def test_reason_can_be_refined_per_instance() -> None:
    error = errors.ContractRefusal("not allowed", reason="consent_missing", agreement="A@1")
    assert (error.reason, error.context) == ("consent_missing", {"agreement": "A@1"})
    assert str(error) == "consent_missing: not allowed"
