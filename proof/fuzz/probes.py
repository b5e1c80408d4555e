"""The hostile requests: one ``Probe`` per request number, the same for the same seed.

Each probe carries what its answer must not repeat (``secrets``): the identity numbers and
names it names, the token it sent, and the raw markup it smuggles in. The kinds are those of
issue 17's probe: XML entities, DTDs, XInclude, deep nesting, huge bodies and headers, wrong
media types and charsets, broken and foreign tokens, invalid identity numbers, Unicode oddities
(control characters, bidi, overlong UTF-8, BOMs, surrogates) and valid documents with one field
mutated. Valid documents are the demo's fictional referrals (``hub.demo.fictional``), each with
a message id of its own so that an accepted one is a new message, not a 409.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

from lxml import etree

from hub.demo.fictional import FictionalPeople, FictionalPerson, referral_envelope
from hub.demo.scenario import DISTRICTS

API = "/api/v1/messages"
MARKUP = ("<!DOCTYPE", "<!ENTITY", "xi:include")  # the parser's business: never echoed back
LEAKED_FILE_LINE = "root:x:0:0"  # /etc/passwd's first line: an entity that was expanded
ONE_MIB = 1_048_576


@dataclass
class Probe:
    kind: str
    method: str
    path: str
    headers: dict[str, bytes] = field(default_factory=dict)
    body: bytes = b""
    secrets: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Context:
    """What a probe may use: the sender's real token (``""`` when fuzzing a hub whose token is
    not known) and a seed."""

    token: str
    seed: int


@cache
def _people(seed: int) -> tuple[FictionalPerson, ...]:
    return tuple(FictionalPeople(seed).take(64))


def _person_and_envelope(ctx: Context, rng: random.Random, n: int) -> tuple[FictionalPerson, bytes]:
    person = rng.choice(_people(ctx.seed))
    doc = referral_envelope(
        person, rng.choice(DISTRICTS), rng, message_id=f"FUZZ-{ctx.seed}-{n:08d}"
    )
    return person, doc


def _person_secrets(person: FictionalPerson) -> list[str]:
    ident = person.identity
    return [ident.formatted(), ident.canonical, person.name, person.family_name]


def _auth(ctx: Context) -> dict[str, bytes]:
    return {"Authorization": f"Bearer {ctx.token}".encode()} if ctx.token else {}


def _xml(ctx: Context, body: bytes, secrets: list[str], kind: str) -> Probe:
    headers = {**_auth(ctx), "Content-Type": b"application/xml"}
    return Probe(kind, "POST", API, headers, body, secrets)


def _insert_into_body(doc: bytes, piece: bytes) -> bytes:
    """``piece`` as the first child of the referral body (inside the envelope)."""
    marker = b"<CaseId>"
    at = doc.find(marker)
    return doc[:at] + piece + doc[at:] if at >= 0 else doc + piece


def entities(ctx: Context, rng: random.Random, n: int) -> Probe:
    person, doc = _person_and_envelope(ctx, rng, n)
    head = rng.choice(
        [
            b'<!DOCTYPE Envelope [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
            b'<!DOCTYPE Envelope [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>',
            b'<!DOCTYPE Envelope SYSTEM "http://127.0.0.1:9/evil.dtd">',
            b'<!DOCTYPE Envelope [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;">'
            b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;">]>',
        ]
    )
    decl, rest = doc.split(b"?>", 1)
    body = decl + b"?>" + head + rest.replace(b"<CaseId>", b"<CaseId>&e;", 1)
    if rng.random() < 0.2:  # the same in UTF-16: the DOCTYPE must be found whatever the encoding
        body = body.decode().replace("UTF-8", "UTF-16").encode("utf-16")
    return _xml(ctx, body, [*_person_secrets(person), *MARKUP], "entities_dtd")


def xinclude(ctx: Context, rng: random.Random, n: int) -> Probe:
    person, doc = _person_and_envelope(ctx, rng, n)
    piece = b'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd"'
    piece += rng.choice([b' parse="text"/>', b"/>"])
    return _xml(ctx, _insert_into_body(doc, piece), [*_person_secrets(person), *MARKUP], "xinclude")


def deep_nesting(ctx: Context, rng: random.Random, n: int) -> Probe:
    depth = rng.choice([65, 100, 255, 257, 1000, 20_000])
    body = b"<Envelope xmlns='urn:omsorgshub:envelope:1'>" + b"<a>" * depth + b"</a>" * depth
    return _xml(ctx, body + b"</Envelope>", [], "deep_nesting")


@cache
def _huge(size: int) -> bytes:
    filler = b"<!-- " + b"x" * 1000 + b" -->\n"
    return b"<?xml version='1.0'?><Envelope>" + filler * (size // len(filler)) + b"</Envelope>"


def huge_body(ctx: Context, rng: random.Random, n: int) -> Probe:
    return _xml(
        ctx, _huge(rng.choice([ONE_MIB - 4096, ONE_MIB + 10, 2 * ONE_MIB])), [], "huge_body"
    )


def huge_headers(ctx: Context, rng: random.Random, n: int) -> Probe:
    _, doc = _person_and_envelope(ctx, rng, n)
    size = rng.choice([8_000, 16_000, 65_000])
    headers = {**_auth(ctx), "Content-Type": b"application/xml"}
    if rng.random() < 0.5:
        headers["X-Filler"] = b"f" * size
    else:
        for i in range(size // 100):
            headers[f"X-Many-{i}"] = b"m" * 80
    return Probe("huge_headers", "POST", API, headers, doc, [])


def media_types(ctx: Context, rng: random.Random, n: int) -> Probe:
    person, doc = _person_and_envelope(ctx, rng, n)
    content_type = rng.choice(
        [
            b"application/json",
            b"text/plain",
            b"image/svg+xml",
            b"application/xml; charset=latin-1",
            b"application/xml; charset=utf-16",
            b'text/xml; charset="ebcdic"',
            b"application/x-www-form-urlencoded",
            b"multipart/form-data; boundary=x",
            b"",
            b"application/xml;;;charset",
            b"APPLICATION/XML; CHARSET=UTF-8",
        ]
    )
    headers = {**_auth(ctx), "Content-Type": content_type}
    if rng.random() < 0.3:
        doc = doc.decode().encode("utf-16")
    return Probe("media_type_charset", "POST", API, headers, doc, _person_secrets(person))


def _jwt(rng: random.Random) -> str:
    def part(value: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    claims = {"sub": "aldre-direkt", "role": "admin", "exp": 4102444800, "n": rng.random()}
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def tokens(ctx: Context, rng: random.Random, n: int) -> Probe:
    person, doc = _person_and_envelope(ctx, rng, n)
    foreign = "osh_" + base64.urlsafe_b64encode(rng.randbytes(32)).decode().rstrip("=")
    token = rng.choice(
        [
            f"Bearer {foreign}",
            f"Bearer {_jwt(rng)}",
            f"Bearer {ctx.token}x" if ctx.token else f"Bearer {foreign}x",
            f"Bearer {ctx.token[:-3]}" if ctx.token else "Bearer osh_",
            f"Basic {base64.b64encode(b'aldre-direkt:' + rng.randbytes(8)).decode()}",
            "Bearer",
            "Bearer " + " " * 50 + ".",  # (a header value may not end in blanks)
            f"bearer  {foreign}",
            f"Token {foreign}",
            f"Bearer {foreign}\u202e\u200f",
        ]
    )
    headers = {"Authorization": token.encode("utf-8"), "Content-Type": b"application/xml"}
    path, method = rng.choice(
        [(API, "POST"), (API, "POST"), ("/api/v1/admin/agreements", "GET"), (f"{API}/x", "GET")]
    )
    secret = token.split(" ", 1)[-1].strip()
    secrets = [*_person_secrets(person), *([secret] if len(secret) >= 12 else [])]
    return Probe("broken_token", method, path, headers, doc if method == "POST" else b"", secrets)


def _invalid_number(rng: random.Random, person: FictionalPerson) -> str:
    """The person's number with one digit under the check digit changed (always refused)."""
    text = person.identity.formatted()
    digits = [i for i, c in enumerate(text) if c.isdigit()][-10:]
    at = rng.choice(digits)
    if person.identity.scheme == "dk":  # no check digit: an impossible month instead
        return f"{text[:2]}{rng.choice(['13', '00', '19'])}{text[4:]}"
    return text[:at] + str((int(text[at]) + rng.randint(1, 9)) % 10) + text[at + 1 :]


def identity_numbers(ctx: Context, rng: random.Random, n: int) -> Probe:
    person, doc = _person_and_envelope(ctx, rng, n)
    bad = _invalid_number(rng, person)
    if rng.random() < 0.5:
        right = person.identity.formatted().encode()
        where = rng.choice([1, 2, None])  # header, body, or both
        if where is None:
            doc = doc.replace(right, bad.encode())
        else:
            parts = doc.split(right)
            doc = right.join(parts[:where]) + bad.encode() + right.join(parts[where:])
        return _xml(ctx, doc, [bad, *_person_secrets(person)], "invalid_identity")
    body = {
        "lookup": rng.choice(["client_summary", "invoice_status"]),
        "district": rng.choice(DISTRICTS),
        "purpose": "contact_centre",
        "subject": {"id": bad, "scheme": person.identity.scheme},
    }
    headers = {**_auth(ctx), "Content-Type": b"application/json"}
    return Probe(
        "invalid_identity", "POST", "/api/v1/lookups", headers, json.dumps(body).encode(), [bad]
    )


_ODD = [
    b"\x00",
    b"\x01\x02\x1b[31m",
    b"\xe2\x80\xae",  # RIGHT-TO-LEFT OVERRIDE
    b"\xe2\x81\xa6",  # LEFT-TO-RIGHT ISOLATE
    b"\xc0\xbc",  # overlong '<'
    b"\xe0\x80\xbc",  # overlong '<', three bytes
    b"\xef\xbb\xbf",  # BOM, in the middle
    b"\xed\xa0\x80",  # UTF-8 of a lone high surrogate
    b"\xed\xbf\xbf",  # UTF-8 of a lone low surrogate
    b"\xf4\x90\x80\x80",  # past U+10FFFF
    b"\xff\xfe",
    "\u0301\u200b\ufffe".encode(),
]


def unicode_oddities(ctx: Context, rng: random.Random, n: int) -> Probe:
    person, doc = _person_and_envelope(ctx, rng, n)
    piece = b"".join(rng.choice(_ODD) for _ in range(rng.randint(1, 3)))
    if rng.random() < 0.25:  # a BOM of another encoding in front of a UTF-8 document
        return _xml(
            ctx, rng.choice([b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf" * 2]) + doc, [], "unicode"
        )
    tags = [b"<FreeText>", b"<Name>", b"<CaseId>", b"<District>", b"<Phone>", b"<Purpose>"]
    tag = rng.choice([t for t in tags if t in doc])
    at = doc.index(tag) + len(tag) + rng.randint(0, 3)
    return _xml(ctx, doc[:at] + piece + doc[at:], _person_secrets(person), "unicode")


_VALUES = [
    "",
    " ",
    "<script>alert(1)</script>",
    "x" * 5000,
    "-1",
    "9" * 40,
    "1e309",
    "NaN",
    "2026-02-30T25:61:00+14:00",
    "case.referral",
    "../../etc/passwd",
    "'; DROP TABLE messages; --",
    "${jndi:ldap://127.0.0.1/a}",
    "{{7*7}}",
    "\u202eevil\u202c",
    "sdn-okanda",
    "urgent normal",
]


# Where the referral names its person: only there may a mutation put a person's data.
_PERSON_FIELDS = ("Subject", "IdentityNumber", "Name")


def one_field(ctx: Context, rng: random.Random, n: int) -> Probe:
    """A valid document with the text of one element or one attribute replaced.

    An identity number or a name is put only where the document names persons: a sender's own
    identifiers (message id, district, purpose, type) may be quoted back to it in a refusal, and
    the hub cannot know that a district field holds a personnummer."""
    person, doc = _person_and_envelope(ctx, rng, n)
    root = etree.fromstring(doc)
    element = rng.choice([e for e in root.iter() if isinstance(e.tag, str)])
    values = list(_VALUES)
    if etree.QName(element).localname in _PERSON_FIELDS:
        values += [person.name, person.identity.canonical, _invalid_number(rng, person)]
    value = rng.choice(values)
    if element.attrib and rng.random() < 0.4:
        element.set(rng.choice(list(element.attrib)), value)
    elif rng.random() < 0.1 and element.getparent() is not None:
        element.getparent().remove(element)  # type: ignore[union-attr]
    else:
        element.text = value
    body = etree.tostring(root, encoding="UTF-8", xml_declaration=True)
    return _xml(ctx, body, _person_secrets(person), "one_field_mutated")


def other_routes(ctx: Context, rng: random.Random, n: int) -> Probe:
    """Odd paths, methods and JSON on the rest of the API."""
    choice = rng.randrange(5)
    if choice == 0:
        ident = rng.choice(
            ["..%2F..%2Fetc%2Fpasswd", "x" * 3000, "%00", "%E2%80%AE", "1;DROP", "%C0%AF"]
        )
        return Probe("other_routes", "GET", f"{API}/{ident}", _auth(ctx))
    if choice == 1:
        return Probe(
            "other_routes", rng.choice(["PUT", "DELETE", "PATCH", "OPTIONS"]), API, _auth(ctx)
        )
    if choice == 2:
        depth = rng.choice([100, 5000])
        body = b"[" * depth + b"]" * depth if rng.random() < 0.5 else b'{"lookup": 1e99999, "x":'
        headers = {**_auth(ctx), "Content-Type": b"application/json"}
        return Probe("other_routes", "POST", "/api/v1/lookups", headers, body)
    if choice == 3:
        path = rng.choice(
            ["/api/v1/../../etc/passwd", "/api/v2/messages", "/%ff", "/api/v1/messages/"]
        )
        return Probe("other_routes", "GET", path, _auth(ctx))
    headers = {**_auth(ctx), "Content-Type": b"application/toml"}
    body = rng.choice([b"[[agreement]]\nid = '<script>'", b"\x00" * 100, b"a = 1\n" * 1000])
    return Probe("other_routes", "POST", "/api/v1/admin/agreements", headers, body)


# kind -> (weight, maker). Huge bodies are rare: each is a megabyte or two on the wire.
KINDS: dict[str, tuple[int, Callable[[Context, random.Random, int], Probe]]] = {
    "entities_dtd": (10, entities),
    "xinclude": (5, xinclude),
    "deep_nesting": (5, deep_nesting),
    "huge_body": (1, huge_body),
    "huge_headers": (3, huge_headers),
    "media_type_charset": (8, media_types),
    "broken_token": (10, tokens),
    "invalid_identity": (12, identity_numbers),
    "unicode": (12, unicode_oddities),
    "one_field_mutated": (24, one_field),
    "other_routes": (10, other_routes),
}


def probe(ctx: Context, n: int) -> Probe:
    """Request number ``n`` of the run with ``ctx.seed``: the same whatever thread sends it."""
    rng = random.Random(f"{ctx.seed}:{n}")
    kind = rng.choices(list(KINDS), weights=[w for w, _ in KINDS.values()])[0]
    return KINDS[kind][1](ctx, rng, n)
