"""Audit entries, their canonical form and hash chain, checkpoints and ``verify``, in memory."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.checkpoint import Checkpoint, checkpoint_message
from audit.entry import (
    GENESIS_HASH,
    AuditAction,
    AuditEntry,
    AuditEvent,
    Outcome,
    canonical_bytes,
    chain_hash,
    format_at,
)
from audit.signing import Ed25519Signer, Ed25519Verifier
from audit.verify import verify

HMAC_KEY = b"test-subject-key"
# Fictional personal identity numbers with valid Luhn check digits.
TOLVAN = "191212121212"
OTHER = "194001019000"


def subject_ref(pnr: str) -> str:
    return hmac.new(HMAC_KEY, pnr.encode(), hashlib.sha256).hexdigest()


def entry(seq: int, prev: str, **overrides: object) -> AuditEntry:
    fields: dict[str, object] = {
        "seq": seq,
        "at": format_at(datetime(2025, 3, 1, 9, 0, tzinfo=UTC) + timedelta(seconds=seq)),
        "actor": "paraplyet",
        "action": "delivered",
        "purpose": "care_planning",
        "district": "sodermalm",
        "agreement": "sodermalm-aldre-direkt@3",
        "message_id": f"msg-{seq}",
        "subject_ref": subject_ref(TOLVAN if seq % 2 else OTHER),
        "source": "paraplyet",
        "destination": "aldre-direkt",
        "outcome": "ok",
        "reason": None,
    }
    fields.update(overrides)
    draft = AuditEntry(**fields, prev_hash=prev, hash="")  # type: ignore[arg-type]
    return draft._replace(hash=chain_hash(prev, draft))


def build_chain(n: int) -> list[AuditEntry]:
    out: list[AuditEntry] = []
    prev = GENESIS_HASH
    for seq in range(1, n + 1):
        e = entry(seq, prev)
        out.append(e)
        prev = e.hash
    return out


def rehash_from(entries: list[AuditEntry], start: int) -> list[AuditEntry]:
    """What an attacker without the key can do: recompute every hash from ``start`` on."""
    out = entries[: start - 1]
    prev = out[-1].hash if out else GENESIS_HASH
    for e in entries[start - 1 :]:
        e = e._replace(prev_hash=prev)
        e = e._replace(hash=chain_hash(prev, e))
        out.append(e)
        prev = e.hash
    return out


@pytest.fixture(scope="module")
def signer() -> Ed25519Signer:
    return Ed25519Signer(Ed25519PrivateKey.generate())


def sign(signer: Ed25519Signer, e: AuditEntry) -> Checkpoint:
    at = format_at(datetime(2025, 3, 2, tzinfo=UTC))
    sig = signer.sign(checkpoint_message(e.seq, e.hash, at, signer.key_id))
    return Checkpoint(seq=e.seq, hash=e.hash, at=at, key_id=signer.key_id, signature=sig)


def checkpoints_every(signer: Ed25519Signer, entries: list[AuditEntry], n: int) -> list[Checkpoint]:
    return [sign(signer, e) for e in entries if e.seq % n == 0]


# -- canonical form ------------------------------------------------------------------------


def test_canonical_form_is_versioned_and_length_prefixed() -> None:
    e = entry(7, GENESIS_HASH, reason="x:y~", purpose=None, actor="åsa")
    expected = (
        "omsorgshub-audit/1\n7\n"
        f"64:{GENESIS_HASH}"
        "32:2025-03-01T09:00:07.000000+00:00"
        "3:åsa"
        "9:delivered"
        "~"
        "9:sodermalm"
        "24:sodermalm-aldre-direkt@3"
        "5:msg-7"
        f"64:{e.subject_ref}"
        "9:paraplyet"
        "12:aldre-direkt"
        "2:ok"
        "4:x:y~"
    )
    assert canonical_bytes(GENESIS_HASH, e) == expected.encode("utf-8")
    assert e.hash == hashlib.sha256(expected.encode("utf-8")).hexdigest()


@pytest.mark.parametrize("field", ["actor", "purpose", "reason", "prev_hash"])
def test_canonical_form_of_a_value_longer_than_any_the_hub_writes(field: str) -> None:
    """A tampered row may hold a value past every column's width: the same form, spelled out."""
    long = "å" * 1500
    e = entry(3, GENESIS_HASH, **({} if field == "prev_hash" else {field: long}))
    prev = long if field == "prev_hash" else GENESIS_HASH
    text = canonical_bytes(prev, e).decode("utf-8")
    assert f"1500:{long}" in text
    plain = [prev, *e[1:13]]
    expected = "omsorgshub-audit/1\n3\n" + "".join(
        "~" if v is None else f"{len(v)}:{v}" for v in plain
    )
    assert text == expected


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"purpose": "ab", "district": None}, {"purpose": "a", "district": "b"}),
        ({"reason": None}, {"reason": ""}),
        ({"reason": None}, {"reason": "~"}),
        ({"purpose": "1:x", "district": None}, {"purpose": None, "district": "1:x"}),
        ({"actor": "a2:bc"}, {"actor": "a", "action": "bc"}),
    ],
)
def test_different_fields_never_share_canonical_bytes(
    a: dict[str, object], b: dict[str, object]
) -> None:
    assert canonical_bytes(GENESIS_HASH, entry(1, GENESIS_HASH, **a)) != canonical_bytes(
        GENESIS_HASH, entry(1, GENESIS_HASH, **b)
    )


def test_hash_covers_seq_time_and_predecessor() -> None:
    base = entry(5, GENESIS_HASH)
    assert chain_hash(GENESIS_HASH, base) != chain_hash("1" * 64, base)
    assert chain_hash(GENESIS_HASH, base) != chain_hash(GENESIS_HASH, base._replace(seq=6))
    later = base._replace(at=format_at(datetime(2025, 3, 1, 9, 0, 6, 1, tzinfo=UTC)))
    assert chain_hash(GENESIS_HASH, base) != chain_hash(GENESIS_HASH, later)


def test_format_at_is_fixed_width_utc_with_microseconds() -> None:
    cet = timezone(timedelta(hours=1))
    assert format_at(datetime(2025, 3, 1, 10, 0, tzinfo=cet)) == "2025-03-01T09:00:00.000000+00:00"
    with pytest.raises(ValueError, match="timezone-aware"):
        format_at(datetime(2025, 3, 1, 10, 0))


# -- events ----------------------------------------------------------------------------------


def test_event_coerces_strings_to_enums() -> None:
    event = AuditEvent(action="viewed", actor="anna.handlaggare", outcome="refused")  # type: ignore[arg-type]
    assert event.action is AuditAction.VIEWED
    assert event.outcome is Outcome.REFUSED


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"action": "peeked"}, "peeked"),
        ({"outcome": "maybe"}, "maybe"),
        ({"actor": ""}, "actor"),
        ({"subject_ref": TOLVAN}, "raw identity number"),
        ({"subject_ref": "19121212-1212"}, "raw identity number"),
        ({"subject_ref": "121212-1212"}, "raw identity number"),
        ({"reason": "x" * 201}, "reason"),
        ({"at": datetime(2025, 1, 1)}, "timezone-aware"),
    ],
)
def test_event_rejects_bad_values(kwargs: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {"action": "received", "actor": "paraplyet"}
    fields.update(kwargs)
    with pytest.raises(ValueError, match=message):
        AuditEvent(**fields)  # type: ignore[arg-type]


# -- checkpoints -----------------------------------------------------------------------------


def test_checkpoint_json_round_trip_and_signature(signer: Ed25519Signer) -> None:
    cp = sign(signer, build_chain(3)[-1])
    again = Checkpoint.from_json_line(cp.to_json_line())
    assert again == cp
    assert signer.verifier().verify(again.message(), again.signature)
    assert not signer.verifier().verify(
        dataclasses.replace(cp, hash="0" * 64).message(), cp.signature
    )


def test_key_id_is_bound_into_the_signed_message(signer: Ed25519Signer) -> None:
    cp = sign(signer, build_chain(3)[-1])
    relabelled = dataclasses.replace(cp, key_id="ed25519:0000000000000000")
    assert not signer.verifier().verify(relabelled.message(), relabelled.signature)


# -- verify ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chain() -> list[AuditEntry]:
    return build_chain(55)


def test_intact_chain_verifies(chain: list[AuditEntry], signer: Ed25519Signer) -> None:
    report = verify(chain, checkpoints_every(signer, chain, 10), signer.verifier())
    assert report.ok, report.problem
    assert report.entries_checked == 55
    assert report.checkpoints_checked == 5
    assert report.first_bad_seq is None
    assert report.last_checkpoint_seq == 50
    assert report.unsigned_tail == 5


def test_empty_trail_verifies(signer: Ed25519Signer) -> None:
    report = verify([], [], signer.verifier())
    assert report.ok
    assert report.entries_checked == 0


def test_altered_entry_is_named(chain: list[AuditEntry], signer: Ed25519Signer) -> None:
    tampered = list(chain)
    tampered[22] = tampered[22]._replace(destination="mallory")
    report = verify(tampered, checkpoints_every(signer, chain, 10), signer.verifier())
    assert not report.ok
    assert report.first_bad_seq == 23
    assert "altered" in report.problem
    assert report.entries_checked == 22


def test_altered_and_self_rehashed_entry_breaks_the_next_link(
    chain: list[AuditEntry], signer: Ed25519Signer
) -> None:
    tampered = list(chain)
    changed = tampered[22]._replace(destination="mallory")
    tampered[22] = changed._replace(hash=chain_hash(changed.prev_hash, changed))
    report = verify(tampered, [], signer.verifier())
    assert report.first_bad_seq == 24
    assert report.bad_range == (23, 24)


def test_deleted_entry_is_named(chain: list[AuditEntry], signer: Ed25519Signer) -> None:
    tampered = chain[:22] + chain[23:]
    report = verify(tampered, checkpoints_every(signer, chain, 10), signer.verifier())
    assert report.first_bad_seq == 23
    assert "missing" in report.problem


def test_deleted_and_renumbered_entry_is_named(
    chain: list[AuditEntry], signer: Ed25519Signer
) -> None:
    tampered = chain[:22] + [e._replace(seq=e.seq - 1) for e in chain[23:]]
    report = verify(tampered, [], signer.verifier())
    assert report.first_bad_seq == 23


def test_inserted_entry_is_named(chain: list[AuditEntry], signer: Ed25519Signer) -> None:
    forged = entry(23, chain[21].hash, actor="mallory", destination="mallory")
    shifted = [e._replace(seq=e.seq + 1) for e in chain[22:]]
    tampered = [*chain[:22], forged, *shifted]
    report = verify(tampered, checkpoints_every(signer, chain, 10), signer.verifier())
    assert report.first_bad_seq == 23
    assert "inserted" in report.problem


def test_reordered_entries_are_named(chain: list[AuditEntry], signer: Ed25519Signer) -> None:
    tampered = list(chain)
    tampered[22], tampered[23] = tampered[23], tampered[22]
    report = verify(tampered, checkpoints_every(signer, chain, 10), signer.verifier())
    assert report.first_bad_seq == 23

    # Contents swapped but sequence numbers kept in place, as an UPDATE would do.
    swapped = list(chain)
    swapped[22] = chain[23]._replace(seq=23)
    swapped[23] = chain[22]._replace(seq=24)
    report = verify(swapped, checkpoints_every(signer, chain, 10), signer.verifier())
    assert report.first_bad_seq == 23


def test_truncation_under_a_checkpoint_is_named(
    chain: list[AuditEntry], signer: Ed25519Signer
) -> None:
    report = verify(chain[:37], checkpoints_every(signer, chain, 10), signer.verifier())
    assert not report.ok
    assert report.first_bad_seq == 38
    assert report.bad_range == (38, 50)
    assert "truncated" in report.problem


def test_truncation_of_the_unsigned_tail_goes_unnoticed(
    chain: list[AuditEntry], signer: Ed25519Signer
) -> None:
    # A documented limit: entries after the last checkpoint are not yet vouched for.
    report = verify(chain[:52], checkpoints_every(signer, chain, 10), signer.verifier())
    assert report.ok
    assert report.unsigned_tail == 2


def test_consistent_rewrite_is_caught_by_the_next_checkpoint(
    chain: list[AuditEntry], signer: Ed25519Signer
) -> None:
    tampered = list(chain)
    tampered[24] = tampered[24]._replace(actor="nobody")
    tampered = rehash_from(tampered, 25)
    assert verify(tampered, [], signer.verifier()).ok  # the chain alone looks fine
    report = verify(tampered, checkpoints_every(signer, chain, 10), signer.verifier())
    assert not report.ok
    assert report.first_bad_seq == 21
    assert report.bad_range == (21, 30)
    assert "rewritten" in report.problem


def test_forged_checkpoint_is_named(chain: list[AuditEntry], signer: Ed25519Signer) -> None:
    tampered = list(chain)
    tampered[24] = tampered[24]._replace(actor="nobody")
    tampered = rehash_from(tampered, 25)
    mallory = Ed25519Signer(Ed25519PrivateKey.generate(), key_id=signer.key_id)
    cps = [
        sign(mallory, tampered[s - 1]) if s >= 30 else sign(signer, chain[s - 1])
        for s in (10, 20, 30, 40, 50)
    ]
    report = verify(tampered, cps, signer.verifier())
    assert not report.ok
    assert report.first_bad_seq == 30
    assert report.bad_range == (21, 30)
    assert "invalid signature" in report.problem


def test_forged_checkpoint_beyond_the_end_is_named(
    chain: list[AuditEntry], signer: Ed25519Signer
) -> None:
    cps = checkpoints_every(signer, chain, 10)
    cps.append(dataclasses.replace(cps[-1], seq=60, signature=b"\x00" * 64))
    report = verify(chain, cps, signer.verifier())
    assert report.first_bad_seq == 60
    assert "invalid signature" in report.problem


def test_duplicate_checkpoints_are_accepted(chain: list[AuditEntry], signer: Ed25519Signer) -> None:
    cps = checkpoints_every(signer, chain, 10)
    report = verify(chain, [*cps, *reversed(cps)], signer.verifier())
    assert report.ok, report.problem
    assert report.checkpoints_checked == 10


def test_verify_needs_the_matching_public_key(chain: list[AuditEntry]) -> None:
    key = Ed25519PrivateKey.generate()
    own = Ed25519Signer(key)
    public_only = Ed25519Verifier(key.public_key())
    assert verify(chain, checkpoints_every(own, chain, 10), public_only).ok
    signer = own
    stranger = Ed25519Signer(Ed25519PrivateKey.generate()).verifier()
    report = verify(chain, checkpoints_every(signer, chain, 10), stranger)
    assert report.first_bad_seq == 10


def test_entry_from_mapping_round_trips_and_checks_types() -> None:
    e = build_chain(2)[1]
    assert AuditEntry.from_mapping(e.as_dict()) == e
    bad: list[tuple[dict[str, object], str]] = [
        ({k: v for k, v in e.as_dict().items() if k != "hash"}, "lacks field hash"),
        ({**e.as_dict(), "payload": "x"}, "unknown fields: payload"),
        ({**e.as_dict(), "seq": "2"}, "seq is not an integer"),
        ({**e.as_dict(), "seq": True}, "seq is not an integer"),
        ({**e.as_dict(), "actor": None}, "actor is missing"),
        ({**e.as_dict(), "purpose": 7}, "purpose is not text"),
    ]
    for data, message in bad:
        with pytest.raises(ValueError, match=message):
            AuditEntry.from_mapping(data)


def test_forged_checkpoint_beside_a_valid_one_is_named(
    chain: list[AuditEntry], signer: Ed25519Signer
) -> None:
    cps = checkpoints_every(signer, chain, 10)
    cps.append(dataclasses.replace(cps[1], signature=bytes(64)))
    report = verify(chain, cps, signer.verifier())
    assert report.first_bad_seq == 20
    assert "invalid signature" in report.problem


def test_a_checkpoint_repeated_byte_for_byte_is_verified_once(
    chain: list[AuditEntry], signer: Ed25519Signer
) -> None:
    # The database's copy and the published file's are the same signed head: one signature
    # check each, yet a forged copy among them is still named, wherever it comes.
    calls: list[bytes] = []
    key = signer.verifier()

    class Counting:
        def verify(self, message: bytes, signature: bytes) -> bool:
            calls.append(message)
            return key.verify(message, signature)

    cps = checkpoints_every(signer, chain, 10)
    report = verify(chain, [*cps, *cps, *cps], Counting())
    assert (report.ok, report.checkpoints_checked, len(calls)) == (True, 3 * len(cps), len(cps))
    forged = dataclasses.replace(cps[1], signature=bytes(64))
    report = verify(chain, [forged, *cps, forged, *cps], Counting())
    assert (report.first_bad_seq, "invalid signature" in report.problem) == (20, True)
