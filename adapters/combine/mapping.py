"""The hub's ``timereport.visit`` documents as Combine's visit import.

Pure functions, no I/O. The import is JSON (Combine's import of performed visits, as designed
in ``adapters.combine.adapter``'s docstring)::

    {"importId": "<hub delivery id>",
     "source": {"system": "omsorgshub", "messageId": ..., "district": ...},
     "visit": {"externalVisitId", "providerId", "staffId", "secondStaffId", "orderId",
               "client": {"idType": "personnummer" | "samordningsnummer" | "cpr", "id"},
               "planned": {"start", "end"}, "actual": {"start", "end"},
               "confirmation", "interventions": [{"code", "minutes"}],
               "approval": {"status", "by", "at"}}}

Both versions of ``timereport.visit`` map onto it: the body's elements are read by their local
names below the root, so v1 (``Provider/Id``, ``Staff/Id``) and v2 (ids, order, second staff,
batch) give the same import where they say the same thing. Combine only takes approved time
(seed 004: "time is reported on after approval"): a visit the provider has not approved is
refused here, permanently, before anything is sent. Version 2 leaves approval to the hub (its
batches are delivered only once approved), so a v2 visit without an ``Approval`` is approved
time; one that says ``pending`` or ``rejected`` is refused all the same.
"""

from __future__ import annotations

from lxml import etree

VISIT_NAMESPACES = ("urn:omsorgshub:timereport.visit:1", "urn:omsorgshub:timereport.visit:2")
CONFIRMATIONS = {"nfc": "nfc_tag"}  # v1's names where v2 names them more precisely


class NotAVisit(ValueError):
    """The document is no ``timereport.visit`` Combine can import; ``reason`` says why."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


def _find(root: etree._Element, path: str) -> etree._Element | None:
    """The first element at ``path`` (local names separated by '/'), in any namespace."""
    element: etree._Element | None = root
    for step in path.split("/"):
        if element is None:
            return None
        element = next((c for c in element if isinstance(c.tag, str) and _local(c) == step), None)
    return element


def _text(root: etree._Element, *paths: str) -> str | None:
    for path in paths:
        element = _find(root, path)
        if element is not None and element.text and element.text.strip():
            return " ".join(element.text.split())
    return None


def _client(root: etree._Element) -> dict[str, str]:
    element = _find(root, "Client")
    if element is None:
        element = _find(root, "Client/IdentityNumber")
    if element is not None and len(element) and _find(element, "IdentityNumber") is not None:
        element = _find(element, "IdentityNumber")
    if element is None or not element.text:
        raise NotAVisit("document_invalid", "the visit names no client")
    digits = "".join(c for c in element.text if c.isdigit())
    scheme = element.get("scheme", "se")
    if scheme == "dk":
        kind = "cpr"
    else:  # a samordningsnummer has 60 added to the day of birth
        day = int(digits[-6:-4]) if len(digits) >= 6 else 0
        kind = "samordningsnummer" if day > 60 else "personnummer"
    return {"idType": kind, "id": digits}


def visit_import(
    root: etree._Element, *, delivery_id: str, message_id: str, district: str
) -> dict[str, object]:
    """The import request of one parsed visit document (``NotAVisit`` if it cannot be one)."""
    namespace = etree.QName(root).namespace
    if namespace not in VISIT_NAMESPACES or _local(root) != "Visit":
        raise NotAVisit("document_invalid", "the document is no timereport.visit (v1 or v2)")
    approval = _find(root, "Approval")
    status = approval.get("status") if approval is not None else None
    if status is None and namespace == VISIT_NAMESPACES[1]:
        # v2 leaves approval to the hub: a v2 visit is delivered only once its batch has
        # been approved, so a v2 document without an Approval is approved time.
        status = "approved"
    if status != "approved":
        raise NotAVisit(
            "visit_not_approved",
            f"Combine takes approved time only; the visit's approval is {status or 'missing'}",
        )
    interventions = []
    for element in _children(root, "Interventions", "Intervention"):
        code = element.get("code") or element.text or "other"
        minutes = element.get("minutes")
        interventions.append({"code": code.strip(), "minutes": int(minutes) if minutes else None})
    confirmation = _text(root, "ConfirmationMethod", "Confirmation") or "manual"
    visit: dict[str, object] = {
        "externalVisitId": _text(root, "VisitId"),
        "providerId": _text(root, "Provider/Id", "ProviderId", "Provider"),
        "staffId": _text(root, "Staff/Id", "StaffId", "Staff"),
        "secondStaffId": _text(root, "SecondStaff/Id", "SecondStaffId", "SecondStaff"),
        "orderId": _text(root, "OrderId", "Order/Id"),
        "client": _client(root),
        "planned": {"start": _text(root, "PlannedStart"), "end": _text(root, "PlannedEnd")},
        "actual": {"start": _text(root, "ActualStart"), "end": _text(root, "ActualEnd")},
        "confirmation": CONFIRMATIONS.get(confirmation, confirmation),
        "interventions": interventions,
        "approval": {
            "status": "approved",
            "by": approval.get("approvedBy") if approval is not None else None,
            "at": approval.get("approvedAt") if approval is not None else None,
        },
    }
    for required in ("externalVisitId", "providerId", "staffId"):
        if not visit[required]:
            raise NotAVisit("document_invalid", f"the visit has no {required}")
    return {
        "importId": delivery_id,
        "source": {"system": "omsorgshub", "messageId": message_id, "district": district},
        "visit": visit,
    }


def _children(root: etree._Element, parent: str, name: str) -> list[etree._Element]:
    element = _find(root, parent)
    if element is None:
        return []
    return [c for c in element if isinstance(c.tag, str) and _local(c) == name]
