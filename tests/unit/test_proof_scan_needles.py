"""The leak scan's needles: each encoding of a name or number is found wherever it lies in a
blob (base64 at every alignment), and megabytes of random bytes give no hit by chance."""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path

import pytest

from proof.scan.needles import Matcher, Person, needles_for, read_people, write_people
from proof.scan.places import Place
from proof.scan.scanner import scan_places

PERSON = Person("Spårvikelo", "Läckmunorsson", "se", "193405121238")
OTHER = Person("Spårtisbry", "Läckfjenaksson", "dk", "0512341234")


def _noise(rng: random.Random, size: int) -> bytes:
    return rng.randbytes(size)


@pytest.mark.parametrize(
    ("written", "encoding", "form"),
    [
        ("Spårvikelo Läckmunorsson".encode(), "utf-8", "name"),
        ("Läckmunorsson".encode("utf-16-le"), "utf-16-le", "family name"),
        ("Spårvikelo".encode("utf-16-be"), "utf-16-be", "given name"),
        (json.dumps({"n": "Läckmunorsson"}).encode(), "json-escaped", "family name"),
        ("Läckmunorsson".encode("latin-1"), "latin-1", "family name"),
        ("Spårvikelo".encode().hex().encode(), "hex", "given name"),
        ("Spårvikelo".encode().hex().upper().encode(), "HEX", "given name"),
        (b"19340512-1238", "utf-8", "number"),
        (b"193405121238", "utf-8", "number without hyphen"),
        (b"340512-1238", "utf-8", "number without century"),
        (b"340512+1238", "utf-8", "number without century, +"),
        (b"3405121238", "utf-8", "number without century or hyphen"),
        (b"051234-1234", "utf-8", "number"),
    ],
)
def test_every_spelling_is_found_inside_noise(written: bytes, encoding: str, form: str) -> None:
    rng = random.Random(written)
    blob = _noise(rng, 1000) + written + _noise(rng, 1000)
    hits = Matcher(needles_for([PERSON, OTHER])).find(blob)
    assert any(h.needle.encoding == encoding and h.needle.form == form for h in hits), hits
    assert all(h.offset >= 1000 - 4 for h in hits)


@pytest.mark.parametrize("prefix", range(6))
def test_base64_is_found_at_every_alignment(prefix: int) -> None:
    document = b"x" * prefix + "<Name>Spårvikelo Läckmunorsson</Name>".encode() + b"tail"
    blob = b'{"body": "' + base64.b64encode(document) + b'"}'
    hits = Matcher(needles_for([PERSON])).find(blob)
    assert any(h.needle.encoding.startswith("base64") for h in hits), prefix


def test_random_bytes_give_no_hit() -> None:
    people = [PERSON, OTHER]
    blob = _noise(random.Random(0), 8 * 1024 * 1024)
    assert Matcher(needles_for(people)).find(blob) == []


def test_control_must_find_everyone(tmp_path: Path) -> None:
    places = [Place("log", "clean.log", b"accepted message 1234")]
    found = scan_places(places, [PERSON, OTHER], control={"k": "Spårvikelo".encode()})
    assert found.hits == 0
    assert found.control_people_found == 1
    assert not found.ok  # the control missed one person: the scan has not shown it can see
    everyone = scan_places(places, [PERSON, OTHER], control=None)  # the self-test
    assert everyone.ok, everyone.report()


def test_people_file_round_trip_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "people.jsonl"
    write_people(path, [PERSON, OTHER])
    assert read_people(path) == [PERSON, OTHER]
    path.write_text('{"given_name": "A"}\n')
    with pytest.raises(ValueError, match=r"people.jsonl:1: expected a JSON object"):
        read_people(path)
