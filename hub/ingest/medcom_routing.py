"""The routing table's ``[medcom]`` part: which district a MedCom message belongs to.

A CareCommunication arriving at ``POST /api/v1/fhir/$process-message`` names its receiver by
SOR code and EAN number, not by district. The routing table maps them (strictly: unknown keys
are errors, as everywhere in the table)::

    [[medcom.receivers]]
    sor = "100000000000011"          # the receiving unit's SOR code (required, unique)
    ean = "5790000000011"            # its EAN/GLN number (optional; checked when given)
    district = "aarhus-hjemmepleje"  # the district (data controller) it belongs to
    purpose = "care_communication"   # the purpose its agreement names (this is the default)
    recipients = ["omsorg-indbakke"] # optional: the destinations its messages go to (the
                                     # envelope's Recipients); without it, all routed ones

A message for a SOR code that is not listed, or whose EAN differs from the listed one, is
answered ``fatal-error`` with MedCom's ``MSG_Receiver_Identifier_UNKNOWN``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass

from hub.errors import ConfigError

DEFAULT_PURPOSE = "care_communication"
_RECEIVER_KEYS = {"sor", "ean", "district", "purpose", "recipients"}


@dataclass(frozen=True)
class MedcomReceiver:
    sor: str
    ean: str | None
    district: str
    purpose: str = DEFAULT_PURPOSE
    recipients: tuple[str, ...] = ()


def receiver_for(
    receivers: tuple[MedcomReceiver, ...], sor: str, ean: str
) -> MedcomReceiver | None:
    """The listed receiver with this SOR code (and this EAN, where one is listed)."""
    for receiver in receivers:
        if receiver.sor == sor and receiver.ean in (None, ean):
            return receiver
    return None


def _unknown(table: Mapping[str, object], allowed: set[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{where}: unknown key {key!r}{hint}; allowed: {sorted(allowed)}")


def _text(raw: Mapping[str, object], key: str, where: str, digits: int | None = None) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: {key!r} is required and must be a string")
    if digits is not None and not (value.isdigit() and (len(value) == digits or digits == 0)):
        size = "digits" if digits == 0 else f"{digits} digits"
        raise ConfigError(f"{where}: {key!r} must be {size}")
    return value


def parse_medcom(data: object, origin: str) -> tuple[MedcomReceiver, ...]:
    """Read the ``[medcom]`` table of the routing table."""
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: [medcom] must be a table")
    _unknown(data, {"receivers"}, f"{origin} [medcom]")
    raw_receivers = data.get("receivers", [])
    if not isinstance(raw_receivers, list):
        raise ConfigError(f"{origin}: [[medcom.receivers]] must be an array of tables")
    receivers: list[MedcomReceiver] = []
    for i, raw in enumerate(raw_receivers, start=1):
        where = f"{origin} medcom receiver #{i}"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where} must be a table")
        _unknown(raw, _RECEIVER_KEYS, where)
        sor = _text(raw, "sor", where, digits=0)
        if any(r.sor == sor for r in receivers):
            raise ConfigError(f"{where}: SOR code {sor} is listed twice")
        ean = _text(raw, "ean", where, digits=13) if "ean" in raw else None
        purpose = _text(raw, "purpose", where) if "purpose" in raw else DEFAULT_PURPOSE
        recipients = raw.get("recipients", [])
        if not isinstance(recipients, list) or not all(isinstance(r, str) for r in recipients):
            raise ConfigError(f"{where}: 'recipients' must be a list of destination names")
        district = _text(raw, "district", where)
        receivers.append(MedcomReceiver(sor, ean, district, purpose, tuple(recipients)))
    return tuple(receivers)
