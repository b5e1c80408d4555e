"""The fuzz command's judgement: what counts as an echo, and when memory levels off."""

from __future__ import annotations

from proof.fuzz.probes import Context, Probe, probe
from proof.fuzz.tally import echoed, memory_verdict


def test_memory_that_keeps_growing_fails_and_a_plateau_passes() -> None:
    growing = [(n * 10_000, 100.0 + 9 * n) for n in range(11)]
    plateau = [(n * 10_000, 100.0 + min(n, 3) * 9 + n * 0.5) for n in range(11)]
    assert memory_verdict(growing, 16)[0] is False
    assert memory_verdict(plateau, 16)[0] is True
    assert memory_verdict(growing[:3], 16) == (True, "too few samples to judge (needs 4)")


def test_an_echo_is_found_as_utf8_and_as_json_escapes_it() -> None:
    p = Probe("k", "POST", "/api/v1/lookups", secrets=["Åsa Exempelsson", "19121212-1212"])
    assert echoed(p, 422, b"", b'{"d": "\\u00c5sa Exempelsson"}') == ["Åsa Exempelsson"]
    assert echoed(p, 422, b"", "Åsa Exempelsson".encode()) == ["Åsa Exempelsson"]
    assert echoed(p, 422, b"x: 19121212-1212", b"") == ["19121212-1212"]
    assert echoed(p, 422, b"", b'{"reason": "invalid_identity_number"}') == []
    assert echoed(p, 422, b"", b"root:x:0:0:root") == ["root:x:0:0"]


def test_the_same_seed_sends_the_same_requests() -> None:
    ctx = Context("osh_x", 3)
    first = [probe(ctx, n) for n in range(200)]
    again = [probe(ctx, n) for n in range(200)]
    assert [(p.kind, p.path, p.body) for p in first] == [(p.kind, p.path, p.body) for p in again]
    assert len({p.kind for p in first}) >= 10, "every kind of request is made"
