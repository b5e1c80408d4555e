"""Where a message type's body names the persons it is about: paths to identity numbers.

The envelope's ``DataSubjects`` header is what the hub links a message to (an auditor searches
by it, an art. 15 extract is built from it), but it is the sender's own statement. A body can
name a person the header leaves out. So each message type declares, beside its data
categories, where its body holds identity numbers, and ingest reads them from there
(``hub.ingest.subjects`` checks them and compares them with the header).

A declaration is one line per place::

    SubjectPath("DataSubject/IdentityNumber", scheme_attribute="scheme")   # se unless it says dk
    SubjectPath("Recipient/Person")                                         # always se
    SubjectPath("entry/resource/Patient/identifier/value/@value", scheme="dk")  # FHIR style

``path`` is a slash-separated path of local names below the body's root element, all in the
body's own namespace; a last step ``@name`` reads an attribute instead of the element's text.
Every place the path matches holds one number; an optional element that is absent matches
nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree

from schemas.locations import element_path, source_line

SCHEMES = frozenset({"se", "dk"})

_STEP = r"[A-Za-z_][A-Za-z0-9_.\-]*"
_PATH = re.compile(rf"^{_STEP}(?:/{_STEP})*(?:/@{_STEP})?$")


@dataclass(frozen=True)
class SubjectPath:
    """One place in a body that holds a person's identity number, and its scheme.

    ``scheme`` is the scheme when the document does not say; ``scheme_attribute`` names the
    attribute of the matched element that says it (``scheme="dk"``), where the type has one.
    """

    path: str
    scheme: str = "se"
    scheme_attribute: str | None = None

    def __post_init__(self) -> None:
        if not _PATH.match(self.path):
            raise ValueError(
                f"subject path {self.path!r}: use local names separated by '/', "
                "optionally ending in '/@attribute'"
            )
        if self.scheme not in SCHEMES:
            raise ValueError(f"subject path {self.path!r}: unknown scheme {self.scheme!r}")

    def find(self, body: etree._Element) -> Iterator[FoundNumber]:
        """Every identity number this path names in ``body``, in document order."""
        namespace = etree.QName(body).namespace
        steps = self.path.split("/")
        attribute = steps.pop()[1:] if steps[-1].startswith("@") else None
        for element in body.iterfind(_qualified(steps, namespace)):
            text = element.get(attribute) if attribute is not None else element.text
            if text is None:
                continue
            scheme = self.scheme
            if self.scheme_attribute is not None:
                scheme = " ".join(element.get(self.scheme_attribute, scheme).split())
            yield FoundNumber(
                scheme=scheme,
                text=" ".join(text.split()),
                path=element_path(element) + (f"/@{attribute}" if attribute else ""),
                line=source_line(element),
            )


@dataclass(frozen=True)
class FoundNumber:
    """An identity number as written in a body, and where: ``path`` and ``line`` locate it in
    an error report without repeating it."""

    scheme: str
    text: str
    path: str
    line: int | None

    def __repr__(self) -> str:  # never the number itself: reprs end up in logs
        return f"FoundNumber({self.scheme!r}, at {self.path!r})"


def _qualified(steps: list[str], namespace: str | None) -> str:
    prefix = f"{{{namespace}}}" if namespace else ""
    return "/".join(f"{prefix}{step}" for step in steps)
