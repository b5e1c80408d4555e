"""The legal references of IVO reporting, read from the setting ``ivo_legal_references``.

SoL was replaced on 1 July 2025 and paragraph numbers change, so the references are
configuration: ``LAW[@FROM]=TEXT`` entries separated by ``;``. An entry applies to decisions
made on or after ``FROM`` (no ``FROM``: to every decision); the newest that applies wins::

    SoL=4 kap. 1 § socialtjänstlagen (2001:453); SoL@2025-07-01=socialtjänstlagen (2025:400);
    LSS=9 § lagen (1993:387) om stöd och service till vissa funktionshindrade
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from hub.errors import ConfigError

LAWS = ("SoL", "LSS")


@dataclass(frozen=True)
class Reference:
    law: str
    since: date
    text: str


def parse_references(setting: str) -> tuple[Reference, ...]:
    """Every entry of the setting, checked; a bad entry is a ``ConfigError`` naming it."""
    out: list[Reference] = []
    for raw in setting.split(";"):
        entry = raw.strip()
        if not entry:
            continue
        head, sep, text = entry.partition("=")
        law, _, since = head.strip().partition("@")
        if not sep or law not in LAWS or not text.strip():
            raise ConfigError(
                f"ivo_legal_references: {entry!r} is not LAW[@YYYY-MM-DD]=TEXT with LAW one of "
                f"{', '.join(LAWS)}",
                key="ivo_legal_references",
            )
        try:
            start = date.fromisoformat(since.strip()) if since.strip() else date.min
        except ValueError:
            raise ConfigError(
                f"ivo_legal_references: {since.strip()!r} in {entry!r} is not a date YYYY-MM-DD",
                key="ivo_legal_references",
            ) from None
        out.append(Reference(law, start, text.strip()))
    return tuple(out)


def reference_for(references: tuple[Reference, ...], law: str, decided: date) -> str | None:
    """The reference for a decision under ``law`` made on ``decided``, or None if none is
    configured (the worklist then says so)."""
    applying = [r for r in references if r.law == law and r.since <= decided]
    return max(applying, key=lambda r: r.since).text if applying else None
