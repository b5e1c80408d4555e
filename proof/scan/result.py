"""What a scan found, place by place, and how it is printed.

A scan passes when no place holds a hit and the control did its job: the destination's own
records (the one place the data belongs) must show every person, or the scan has proved only
that it looked, not that it can see.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from proof.scan.needles import Hit, Person

SHOWN_HITS = 5  # per place, in the printed report


@dataclass(frozen=True)
class PlaceReport:
    kind: str
    name: str
    size: int
    hits: tuple[Hit, ...]


@dataclass
class ScanResult:
    people: list[Person]
    needles: int
    places: list[PlaceReport] = field(default_factory=list)
    control_name: str = ""
    control_size: int = 0
    control_people_found: int = 0
    control_hits: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def hits(self) -> int:
        return sum(len(p.hits) for p in self.places)

    @property
    def bytes_scanned(self) -> int:
        return sum(p.size for p in self.places)

    @property
    def control_ok(self) -> bool:
        return self.control_people_found == len(self.people) and self.control_hits > 0

    @property
    def ok(self) -> bool:
        return self.hits == 0 and self.control_ok

    def by_kind(self) -> Counter[str]:
        return Counter(p.kind for p in self.places)

    def hits_by_kind(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for place in self.places:
            counts[place.kind] += len(place.hits)
        return counts

    def report(self, *, every_place: bool = True) -> str:
        lines = [
            f"people: {len(self.people)}, needles: {self.needles} "
            "(names and identity numbers in UTF-8, UTF-16 LE/BE, JSON escapes, Latin-1, hex, "
            "base64)",
            f"{'hits':>6}  {'bytes':>11}  {'kind':<12}  place",
        ]
        for place in self.places:
            if place.hits or every_place:
                lines.append(
                    f"{len(place.hits):>6}  {place.size:>11,}  {place.kind:<12}  {place.name}"
                )
            for hit in place.hits[:SHOWN_HITS]:
                person = self.people[hit.needle.person]
                lines.append(
                    f"        at byte {hit.offset}: {hit.needle.form} of {person.name} "
                    f"({hit.needle.encoding})"
                )
        kinds = ", ".join(
            f"{kind} {count} ({self.hits_by_kind()[kind]} hits)"
            for kind, count in sorted(self.by_kind().items())
        )
        lines.append(f"scanned {len(self.places)} places, {self.bytes_scanned:,} bytes: {kinds}")
        lines += [f"note: {note}" for note in self.notes]
        lines.append(
            f"control: {self.control_name or 'none'}: {self.control_hits} hits, "
            f"{self.control_people_found} of {len(self.people)} people found "
            f"({self.control_size:,} bytes)"
        )
        if self.ok:
            lines.append("hits: 0 — no personal data outside the destination")
        elif self.hits:
            lines.append(f"hits: {self.hits} — personal data found in plain text or encoded")
        else:
            lines.append("control failed: the scan did not find the people where they must be")
        return "\n".join(lines)
