"""Every person a message names is linked: the header's ``DataSubjects`` checked against the body.

The hub links a message to its data subjects by their keyed hashes; the audit trail and a
person's art. 15 extract are found through them. The header's ``DataSubjects`` is the sender's
statement of who the message is about, but the body is what is delivered, and a person named
only there would be missing from every search. So ingest reads the identity numbers from where
the message type's registry entry says the body holds them (``schemas.subjects``), checks each
(``hub.ingest.identity``) and then:

* the header names no one: the message is linked to the persons the body names;
* the header names someone: it must name exactly the body's persons, compared by canonical
  number (``19121212-1212`` and ``121212-1212`` are one person). Anything else is
  ``subject_mismatch``, the message refused rather than half linked.

A pseudonymous type (``ivo.individual_report``: the body has only IVO's code, never a number)
is the exception: its header must name the person, and that is whom the message is linked to.

Lookups do the same with their subject and any parameter that holds an identity number.
Error details say where a number is (element path, line, parameter) and never the number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from hub.errors import InvalidIdentityNumber, SubjectMismatch
from hub.ingest.identity import IdentityNumber, parse_identity
from schemas.envelope import ParsedEnvelope

HEADER_PATH = "/Envelope/Header/DataSubjects"


@dataclass(frozen=True)
class NamedSubjects:
    """The checked identity numbers of one message: the header's and the body's, in order."""

    header: tuple[IdentityNumber, ...]
    body: tuple[IdentityNumber, ...]
    pseudonymous: bool = False

    def linked(self) -> tuple[IdentityNumber, ...]:
        """Whom the message is about: the header's persons, or the body's when the header
        names none. Raises :class:`SubjectMismatch` when both name persons and they differ,
        or when a pseudonymous message's header names no one."""
        if self.pseudonymous:
            if not self.header:
                raise SubjectMismatch(
                    "the body names its person only by a pseudonymous code; list the person "
                    "in the header's DataSubjects so that the message can be found by person",
                    path=HEADER_PATH,
                )
            return _unique(self.header)
        if not self.header:
            return _unique(self.body)
        header, body = _keys(self.header), _keys(self.body)
        if body - header:
            raise SubjectMismatch(
                f"the body names {_persons(len(body - header))} that the header's DataSubjects "
                "does not list; list every person the body names, or leave DataSubjects out",
                path=HEADER_PATH,
            )
        if header - body:
            raise SubjectMismatch(
                f"the header's DataSubjects lists {_persons(len(header - body))} that the body "
                "does not name",
                path=HEADER_PATH,
            )
        return _unique(self.header)

    def everyone(self) -> tuple[IdentityNumber, ...]:
        """Every person named anywhere: whom a refusal of the message is audited under."""
        return _unique((*self.header, *self.body))


def named_subjects(envelope: ParsedEnvelope, today: date | None = None) -> NamedSubjects:
    """Check every identity number of the header and of the body.

    Raises :class:`InvalidIdentityNumber` for the first that fails, saying where it is."""
    header = []
    for position, (scheme, value) in enumerate(envelope.subjects, start=1):
        where = f"{HEADER_PATH}/Subject" + (f"[{position}]" if len(envelope.subjects) > 1 else "")
        header.append(_checked(value, scheme, today, where=where, line=None))
    body = []
    for declared in envelope.message_type_info.subjects:
        for found in declared.find(envelope.body):
            body.append(
                _checked(found.text, found.scheme, today, where=found.path, line=found.line)
            )
    return NamedSubjects(
        tuple(header), tuple(body), pseudonymous=envelope.message_type_info.pseudonymous
    )


def check_identity_params(
    subject: IdentityNumber,
    params: Mapping[str, str],
    identity_params: Sequence[str],
    today: date | None = None,
) -> None:
    """Every parameter of a lookup that holds an identity number (``identity_params``, in the
    subject's scheme) is valid and names the lookup's own subject, so that the audit entry,
    made under the subject, covers everyone the lookup asks about."""
    for name in identity_params:
        value = params.get(name)
        if value is None:
            continue
        other = _checked(value, subject.scheme, today, where=f"parameter {name}", line=None)
        if other.canonical != subject.canonical:
            raise SubjectMismatch(
                f"parameter {name} names another person than the lookup's subject",
                path=f"params/{name}",
            )


def _checked(
    value: str, scheme: str, today: date | None, *, where: str, line: int | None
) -> IdentityNumber:
    try:
        return parse_identity(value, scheme, today)
    except InvalidIdentityNumber as exc:
        raise InvalidIdentityNumber(
            f"{where}: {exc.detail}", path=where if where.startswith("/") else None, line=line
        ) from None


def _keys(identities: Iterable[IdentityNumber]) -> set[tuple[str, str]]:
    return {(i.scheme, i.canonical) for i in identities}


def _unique(identities: Iterable[IdentityNumber]) -> tuple[IdentityNumber, ...]:
    seen: set[tuple[str, str]] = set()
    unique = []
    for identity in identities:
        key = (identity.scheme, identity.canonical)
        if key not in seen:
            seen.add(key)
            unique.append(identity)
    return tuple(unique)


def _persons(count: int) -> str:
    return "a person" if count == 1 else f"{count} persons"
