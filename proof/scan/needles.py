"""What the leak scan looks for: every spelling of each person's name and identity number, in
every encoding a program might have written it in, and one automaton that finds them all.

A name leaks as it was typed (UTF-8), as Windows and Java keep strings (UTF-16 LE/BE), as a
JSON log escapes it (``L\\u00e4ck``), as Latin-1, as hex of its bytes (a debug dump of a
buffer) and as base64 (a message body a library wrapped). An identity number leaks in every
spelling the hub accepts: with and without the hyphen, with and without the century (the
short form takes ``+`` for people over a hundred). Base64 of a string inside a longer blob
depends on where the string starts modulo 3, so each text gives three base64 needles, one per
alignment, of the part that comes out the same whatever surrounds it.

The search runs over bytes decoded as Latin-1 (one character per byte, so offsets are byte
offsets) with ``pyahocorasick``: thousands of needles cost one pass over each file, not one
pass per needle.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import ahocorasick

# A base64 needle shorter than this would turn up by chance in megabytes of ciphertext.
MIN_BASE64_CHARS = 8


@dataclass(frozen=True)
class Person:
    """The personal data one person of the run was sent with."""

    given_name: str
    family_name: str
    scheme: str  # "se" or "dk"
    canonical: str  # se: YYYYMMDDNNNC, dk: DDMMYYSSSS

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    def texts(self) -> Iterator[tuple[str, str]]:
        """``(form, text)``: the name's parts and every spelling of the identity number."""
        yield "name", self.name
        yield "given name", self.given_name
        yield "family name", self.family_name
        number = self.canonical
        if self.scheme == "se":
            yield "number", f"{number[:8]}-{number[8:]}"
            yield "number without hyphen", number
            yield "number without century", f"{number[2:8]}-{number[8:]}"
            yield "number without century, +", f"{number[2:8]}+{number[8:]}"
            yield "number without century or hyphen", number[2:]
        else:
            yield "number", f"{number[:6]}-{number[6:]}"
            yield "number without hyphen", number


@dataclass(frozen=True)
class Needle:
    person: int  # index into the scan's people
    form: str  # which text: "name", "number without hyphen", ...
    encoding: str  # "utf-8", "utf-16-le", "base64 (offset 1)", ...
    data: bytes


def _base64_needles(raw: bytes) -> Iterator[tuple[str, bytes]]:
    for offset in range(3):
        aligned = raw[offset:]
        aligned = aligned[: len(aligned) - len(aligned) % 3]
        for variant, encode in (
            ("base64", base64.b64encode),
            ("base64url", base64.urlsafe_b64encode),
        ):
            encoded = encode(aligned)
            if len(encoded) >= MIN_BASE64_CHARS:
                yield f"{variant} (offset {offset})", encoded


def encodings(text: str) -> Iterator[tuple[str, bytes]]:
    """``(encoding, bytes)`` of ``text`` in every encoding the scan looks for (no repeats)."""
    utf8 = text.encode()
    yield "utf-8", utf8
    yield "utf-16-le", text.encode("utf-16-le")
    yield "utf-16-be", text.encode("utf-16-be")
    escaped = json.dumps(text)[1:-1].encode()
    if escaped != utf8:
        yield "json-escaped", escaped
    try:
        latin1 = text.encode("latin-1")
    except UnicodeEncodeError:
        latin1 = utf8
    if latin1 != utf8:
        yield "latin-1", latin1
    yield "hex", utf8.hex().encode()
    yield "HEX", utf8.hex().upper().encode()
    yield from _base64_needles(utf8)


def needles_for(people: Sequence[Person]) -> list[Needle]:
    found: dict[bytes, Needle] = {}
    for index, person in enumerate(people):
        for form, text in person.texts():
            for encoding, data in encodings(text):
                found.setdefault(data, Needle(index, form, encoding, data))
    return list(found.values())


@dataclass(frozen=True)
class Hit:
    needle: Needle
    offset: int


class Matcher:
    """Finds every needle in a byte string in one pass."""

    def __init__(self, needles: Sequence[Needle]) -> None:
        self.needles = tuple(needles)
        self._automaton: ahocorasick.Automaton | None = None

    def _built(self) -> ahocorasick.Automaton:
        if self._automaton is None:
            automaton = ahocorasick.Automaton()
            for index, needle in enumerate(self.needles):
                automaton.add_word(needle.data.decode("latin-1"), index)
            automaton.make_automaton()
            self._automaton = automaton
        return self._automaton

    def find(self, data: bytes) -> list[Hit]:
        if not data:
            return []
        text = data.decode("latin-1")
        return [
            Hit(self.needles[index], end - len(self.needles[index].data) + 1)
            for end, index in self._built().iter(text)
        ]


# -- the people file ---------------------------------------------------------------------------


def write_people(path: Path, people: Sequence[Person]) -> None:
    """One JSON object per line: what ``--names-from`` reads back."""
    lines = [
        json.dumps(
            {
                "given_name": p.given_name,
                "family_name": p.family_name,
                "scheme": p.scheme,
                "identity": p.canonical,
            },
            ensure_ascii=False,
        )
        for p in people
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_people(path: Path) -> list[Person]:
    """The people of a ``--names-from`` file; a ``ValueError`` names the line that is wrong."""
    people = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            person = Person(
                str(item["given_name"]),
                str(item["family_name"]),
                str(item["scheme"]),
                str(item["identity"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(
                f"{path}:{number}: expected a JSON object with given_name, family_name, "
                f"scheme and identity ({exc})"
            ) from exc
        if person.scheme not in ("se", "dk") or not person.canonical.isdigit():
            raise ValueError(f"{path}:{number}: scheme must be se or dk, identity digits only")
        people.append(person)
    if not people:
        raise ValueError(f"{path}: names no one")
    return people
