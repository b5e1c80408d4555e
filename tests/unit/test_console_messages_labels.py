"""Every business key a message type declares, and every delivery state, has a word on the
Messages pages in both languages: a key added to the catalogue without one is caught here."""

from __future__ import annotations

from hub.console.labels_messages import en, sv
from hub.envelope import DeliveryState
from schemas.registry import default_registry


def test_every_business_key_and_state_has_a_label_in_both_languages() -> None:
    names = {k.name for t in default_registry().types() for k in t.keys}
    wanted = {f"messages.key.{n}" for n in names} | {f"state.{s.value}" for s in DeliveryState}
    assert wanted - set(sv) == set()
    assert wanted - set(en) == set()
    assert set(sv) == set(en)
