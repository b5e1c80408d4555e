"""What one message type is: its name and version, its XSD and root, the data categories it
carries, where its body names persons and its business keys (the rows of
``schemas.registry``'s table, checked as they are declared)."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.business_keys import BusinessKey
from schemas.subjects import SubjectPath

# ``pseudonym``: a code that stands for a person without naming them (IVO's birth date + T +
# digits). Still personal data, but an agreement can allow it without allowing ``identity``.
CATEGORIES: frozenset[str] = frozenset(
    {"identity", "pseudonym", "contact", "case", "decisions", "fees", "invoices", "health", "time"}
)


@dataclass(frozen=True)
class MessageType:
    """One version of one message type. ``root`` is the body's root tag in Clark notation.

    ``subjects`` says where the body holds the identity numbers of the persons it is about
    (``schemas.subjects``); a type with the ``identity`` category must declare them, so that
    ingest links every person a message names (the registry's tests hold every type to it).
    ``keys`` are its business keys (``schemas.business_keys``): values stored with the message
    for exact-match search, keyed HMACs unless declared plain.

    ``pseudonymous`` marks a type whose body names its person only by a pseudonymous code
    (category ``pseudonym``, no identity number, so no ``subjects``): the envelope's
    ``DataSubjects`` must then say whom it is about, so that the audit trail and a person's
    art. 15 extract still find it.

    ``held_for_approval`` marks a type whose deliveries are stored ``held``: nothing is sent
    until the sender's organisation approves the batch it was reported in (time reports).

    ``admission`` names the type's own checks a message must pass before it is stored, beyond
    XSD, persons, routing and agreement (time reports: orders, overlaps, lock date). The
    registry only names them; ``hub.bootstrap`` hands the ingest pipeline an implementation
    per name (``hub.ports.Admission``), and a name without one stops the hub from starting.
    """

    name: str
    version: str
    xsd: str
    root: str
    categories: frozenset[str]
    description: str
    subjects: tuple[SubjectPath, ...] = ()
    keys: tuple[BusinessKey, ...] = ()
    pseudonymous: bool = False
    held_for_approval: bool = False
    admission: str | None = None

    def __post_init__(self) -> None:
        unknown = self.categories - CATEGORIES
        if unknown:
            raise ValueError(f"{self.name} v{self.version}: unknown categories {sorted(unknown)}")
        names = [k.name for k in self.keys]
        if len(names) != len(set(names)):
            raise ValueError(f"{self.name} v{self.version}: a business key is declared twice")
        if self.pseudonymous and (self.subjects or "pseudonym" not in self.categories):
            raise ValueError(
                f"{self.name} v{self.version}: a pseudonymous type has the pseudonym category "
                "and no identity numbers in its body"
            )
        if not self.root.startswith("{") or "}" not in self.root:
            raise ValueError(f"{self.name} v{self.version}: root must be '{{namespace}}Local'")

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"
