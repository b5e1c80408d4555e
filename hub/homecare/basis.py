"""A provider's compensation basis: read from Combine's answer, written as the hub's
``timereport.compensation_basis`` v1 document and the envelope the hub sends itself.

Pure, no I/O. Combine's answer (``adapters.combine``, designed API)::

    {"providerId", "month", "feeRun": {"runId", "ranAt", "status"},
     "lines": [{"client": {"idType", "id"}, "intervention", "visits", "minutes",
                "pricePerHour", "amount"}], "totals": {...}}

The message id ``compensation:MONTH:PROVIDER:RUN`` makes fetching the same fee run twice a
repeat (nothing new stored, nothing sent again); a new run of the month (more visits imported,
or the month closed) is a new basis.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from lxml import etree

from schemas.registry import ENVELOPE_NS

BASIS_TYPE = "timereport.compensation_basis"
BASIS_VERSION = "1"
BASIS_NS = "urn:omsorgshub:timereport.compensation_basis:1"
_NSMAP: dict[str | None, str] = {None: BASIS_NS}


@dataclass(frozen=True)
class BasisLine:
    """Minutes and the amount for one client and one intervention in one month."""

    scheme: str  # "se" or "dk"
    client: str  # the identity number, digits only
    intervention: str
    visits: int
    minutes: int
    price_per_hour: Decimal
    amount: Decimal


@dataclass(frozen=True)
class CompensationBasis:
    provider: str
    month: str
    run_id: str
    ran_at: str
    run_status: str
    lines: tuple[BasisLine, ...]

    @property
    def total_minutes(self) -> int:
        return sum(line.minutes for line in self.lines)

    @property
    def total_amount(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))

    @property
    def message_id(self) -> str:
        return f"compensation:{self.month}:{self.provider}:{self.run_id}"

    def subjects(self) -> list[tuple[str, str]]:
        """Every client named, once, as ``(scheme, number)``."""
        return list(dict.fromkeys((line.scheme, line.client) for line in self.lines))


def read_basis(data: object) -> CompensationBasis:
    """Combine's answer as a ``CompensationBasis`` (``ValueError`` naming what is wrong)."""
    if not isinstance(data, dict):
        raise ValueError("the answer is no JSON object")
    try:
        run = data["feeRun"]
        lines = tuple(
            BasisLine(
                scheme="dk" if line["client"]["idType"] == "cpr" else "se",
                client=str(line["client"]["id"]),
                intervention=str(line["intervention"]),
                visits=int(line["visits"]),
                minutes=int(line["minutes"]),
                price_per_hour=Decimal(str(line["pricePerHour"])),
                amount=Decimal(str(line["amount"])),
            )
            for line in data["lines"]
        )
        return CompensationBasis(
            provider=str(data["providerId"]),
            month=str(data["month"]),
            run_id=str(run["runId"]),
            ran_at=str(run["ranAt"]),
            run_status=str(run["status"]),
            lines=lines,
        )
    except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
        raise ValueError(f"the answer misses or garbles {exc}") from None


def basis_body(basis: CompensationBasis) -> etree._Element:
    """The ``timereport.compensation_basis`` v1 body."""
    root = etree.Element(f"{{{BASIS_NS}}}CompensationBasis", nsmap=_NSMAP)  # type: ignore[arg-type]

    def add(
        parent: etree._Element, name: str, text: str | None = None, **attrs: str
    ) -> etree._Element:
        element = etree.SubElement(parent, f"{{{BASIS_NS}}}{name}", attrs)
        element.text = text
        return element

    add(root, "ProviderId", basis.provider)
    add(root, "Month", basis.month)
    add(root, "FeeRun", id=basis.run_id, ranAt=basis.ran_at, status=basis.run_status)
    if basis.lines:
        lines = add(root, "Lines")
        for line in basis.lines:
            element = add(
                lines,
                "Line",
                intervention=line.intervention,
                visits=str(line.visits),
                minutes=str(line.minutes),
                pricePerHour=f"{line.price_per_hour:.2f}",
                amount=f"{line.amount:.2f}",
            )
            add(element, "Client", line.client, scheme=line.scheme)
    add(root, "Totals", minutes=str(basis.total_minutes), amount=f"{basis.total_amount:.2f}")
    return root


def basis_envelope(
    basis: CompensationBasis, *, district: str, purpose: str, receiver: str
) -> bytes:
    """The envelope the hub ingests: addressed to ``receiver`` (the provider's destination)
    only, naming every client as a data subject."""
    ns = f"{{{ENVELOPE_NS}}}"
    envelope = etree.Element(f"{ns}Envelope", nsmap={None: ENVELOPE_NS})  # type: ignore[dict-item]
    header = etree.SubElement(envelope, f"{ns}Header")
    for name, value in (
        ("Type", BASIS_TYPE),
        ("Version", BASIS_VERSION),
        ("District", district),
        ("Purpose", purpose),
        ("MessageId", basis.message_id),
    ):
        etree.SubElement(header, f"{ns}{name}").text = value
    etree.SubElement(etree.SubElement(header, f"{ns}Recipients"), f"{ns}Recipient").text = receiver
    subjects = basis.subjects()
    if subjects:
        listing = etree.SubElement(header, f"{ns}DataSubjects")
        for scheme, number in subjects:
            etree.SubElement(listing, f"{ns}Subject", scheme=scheme).text = number
    etree.SubElement(envelope, f"{ns}Body").append(basis_body(basis))
    return etree.tostring(envelope, encoding="UTF-8", xml_declaration=True)


def parse_receivers(text: str) -> dict[str, str]:
    """``PROVIDER=DESTINATION`` entries separated by ``;`` (the setting
    ``compensation_receivers``); ``ValueError`` naming a bad entry."""
    receivers: dict[str, str] = {}
    for entry in filter(None, (e.strip() for e in text.split(";"))):
        provider, sep, destination = (part.strip() for part in entry.partition("="))
        if not sep or not provider or not destination:
            raise ValueError(f"{entry!r} is not PROVIDER=DESTINATION")
        if provider in receivers:
            raise ValueError(f"provider {provider!r} is named twice")
        receivers[provider] = destination
    return receivers
