"""Agreement files: strict TOML in, the same TOML out.

A district administrator keeps agreements as reviewable text (one file may hold several
``[[agreement]]`` tables) and imports them; the hub can export what it stores in the same format,
so a file survives a round trip unchanged. The reader is strict because a typo in an agreement is
a data-protection fault, not a style issue: an unknown key is an error naming the key, its line
and its table, with a "did you mean" for near misses; missing keys and wrong types are named;
categories and message types must exist in the registry (passed in as sets, so this module does
not depend on ``schemas``). Every problem in the file is reported at once.

Times must carry an offset (``2026-01-01T00:00:00+01:00`` or ``...Z``); they are kept in UTC.
``valid_from`` is inclusive and ``valid_to`` exclusive.

``dump_agreements`` writes through tomli-w (the writer beside the standard library's tomllib):
sets as sorted arrays, times in UTC. tomllib reports no positions, so the reader finds the line
of each key itself (``_KeyLines``) for its error messages.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable, Set
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Final, Literal

import tomli_w

from contracts.errors import AgreementFileError, FileProblem, InvalidAgreementError
from contracts.model import DEFAULT_CONSENT_REQUIRED, Agreement

Kind = Literal["text", "int", "set", "list", "datetime"]

# key -> (kind, required). The order is the export order.
FIELDS: Final[dict[str, tuple[Kind, bool]]] = {
    "id": ("text", True),
    "version": ("int", False),
    "district": ("text", True),
    "controller_name": ("text", True),
    "dpo_contact": ("text", True),
    "processor": ("text", True),
    "legal_reference": ("text", True),
    "subject_categories": ("set", True),
    "senders": ("set", True),
    "recipients": ("set", True),
    "purposes": ("set", True),
    "message_types": ("set", True),
    "categories": ("set", True),
    "consent_required": ("set", False),
    "sub_processors": ("list", False),
    "protected_identity_purposes": ("set", False),
    "valid_from": ("datetime", True),
    "valid_to": ("datetime", False),
    "retention_days": ("int", True),
    "status": ("text", False),
    "revoked_reason": ("text", False),
    "changed_by": ("text", False),
    "changed_at": ("datetime", False),
}
TOP_LEVEL_KEYS: Final = ("agreement",)

_TOML_LINE = re.compile(r"\(at line (\d+), column \d+\)")
_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*[=.]""")


def load_agreements(
    path: Path, *, known_categories: Set[str], known_types: Set[str]
) -> list[Agreement]:
    """Read and check an agreement file. Raises ``AgreementFileError`` listing every problem."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AgreementFileError(str(path), [FileProblem(f"not UTF-8: {exc}")]) from exc
    except OSError as exc:
        raise AgreementFileError(str(path), [FileProblem(f"cannot be read: {exc}")]) from exc
    return parse_agreements(
        text, source=str(path), known_categories=known_categories, known_types=known_types
    )


def parse_agreements(
    text: str,
    *,
    source: str = "<agreements>",
    known_categories: Set[str],
    known_types: Set[str],
) -> list[Agreement]:
    """Parse agreement TOML text into agreements, in file order."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_LINE.search(str(exc))
        line = int(match.group(1)) if match else None
        problem = FileProblem(f"not valid TOML: {exc}", line=line)
        raise AgreementFileError(source, [problem]) from exc
    lines = _KeyLines(text)
    problems: list[FileProblem] = []
    for key in document:
        if key not in TOP_LEVEL_KEYS:
            problems.append(_unknown_key(key, TOP_LEVEL_KEYS, lines.find(None, key), None))
    tables = _agreement_tables(document.get("agreement"), problems)
    agreements: list[Agreement] = []
    for index, table in enumerate(tables):
        checker = _TableChecker(index, table, lines, known_categories, known_types)
        agreement = checker.check()
        problems.extend(checker.problems)
        if agreement is not None:
            agreements.append(agreement)
    problems.extend(_duplicates(agreements, tables, lines))
    if problems:
        problems.sort(key=lambda problem: problem.line or 0)
        raise AgreementFileError(source, problems)
    return agreements


_DUMP_HEADER: Final = (
    "# Data-processing agreements (GDPR art. 28). Times are UTC; valid_to is exclusive.\n"
)


def dump_agreements(agreements: Iterable[Agreement]) -> str:
    """The agreements as TOML that ``parse_agreements`` reads back to equal agreements."""
    tables = [_table(agreement) for agreement in agreements]
    return _DUMP_HEADER + ("\n" + tomli_w.dumps({"agreement": tables}) if tables else "")


def _table(agreement: Agreement) -> dict[str, object]:
    """One ``[[agreement]]`` table in ``FIELDS`` order; unset optional keys are left out."""
    table: dict[str, object] = {}
    for key, (kind, _required) in FIELDS.items():
        value = getattr(agreement, key)
        if value is None or (key == "changed_by" and value == ""):
            continue
        if key == "protected_identity_purposes" and not value:
            continue  # the default, left out: files written before it existed stay the same
        if kind == "set":
            value = sorted(value)
        elif kind == "list":
            value = list(value)
        elif kind == "datetime":
            value = value.astimezone(UTC)
        table[key] = value
    return table


class _KeyLines:
    """Where each key of each ``[[agreement]]`` table is, for error messages.

    tomllib reports no positions, so this scans the text: table headers and ``key =`` lines.
    Index ``None`` is the top level (before the first table header).
    """

    def __init__(self, text: str) -> None:
        self.headers: list[int] = []
        self.keys: dict[int | None, dict[str, int]] = {None: {}}
        current: int | None = None
        for number, raw in enumerate(text.splitlines(), start=1):
            header = _HEADER.match(raw)
            if header:
                name = header.group(1).strip()
                if name == "agreement":
                    self.headers.append(number)
                    current = len(self.headers) - 1
                    self.keys[current] = {}
                else:
                    # Any other table is an unknown top-level key; its own keys go nowhere.
                    self.keys[None].setdefault(name.split(".")[0], number)
                    current = -1
                continue
            key = _KEY.match(raw)
            if key:
                name = next(group for group in key.groups() if group is not None)
                self.keys.setdefault(current, {}).setdefault(name, number)

    def find(self, index: int | None, key: str) -> int | None:
        return self.keys.get(index, {}).get(key)

    def header(self, index: int) -> int | None:
        return self.headers[index] if index < len(self.headers) else None


def _agreement_tables(value: object, problems: list[FileProblem]) -> list[dict[str, object]]:
    if value is None:
        problems.append(FileProblem("no [[agreement]] table in the file", key="agreement"))
        return []
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return list(value)
    problems.append(FileProblem("must be [[agreement]] tables", key="agreement"))
    return []


class _TableChecker:
    """Checks one ``[[agreement]]`` table and builds the ``Agreement`` when it is sound."""

    def __init__(
        self,
        index: int,
        table: dict[str, object],
        lines: _KeyLines,
        known_categories: Set[str],
        known_types: Set[str],
    ) -> None:
        self.index = index
        self.table = table
        self.lines = lines
        self.known_categories = known_categories
        self.known_types = known_types
        self.name = f"agreement[{index + 1}]"
        self.problems: list[FileProblem] = []

    def problem(self, message: str, key: str | None) -> None:
        line = self.lines.find(self.index, key) if key else None
        if line is None:
            line = self.lines.header(self.index)
        self.problems.append(FileProblem(message, key=key, line=line, table=self.name))

    def check(self) -> Agreement | None:
        values: dict[str, object] = {}
        for key, value in self.table.items():
            if key not in FIELDS:
                self.problems.append(
                    _unknown_key(key, tuple(FIELDS), self.lines.find(self.index, key), self.name)
                )
                continue
            converted = self.convert(key, FIELDS[key][0], value)
            if converted is not None and self.known(key, converted):
                values[key] = converted
        for key, (_kind, required) in FIELDS.items():
            if required and key not in self.table:
                self.problem(f"missing required key {key!r}", key)
        if self.problems:
            return None
        values.setdefault("version", 1)
        values.setdefault("valid_to", None)
        values.setdefault("consent_required", DEFAULT_CONSENT_REQUIRED)
        try:
            agreement = Agreement(**values)  # type: ignore[arg-type]
        except InvalidAgreementError as exc:
            for key, message in exc.problems:
                self.problem(message, key)
            return None
        return agreement

    def known(self, key: str, values: object) -> bool:
        """Categories and message types must exist in the registry; near misses get a hint."""
        known = {
            "categories": (self.known_categories, "category"),
            "consent_required": (self.known_categories, "category"),
            "message_types": (self.known_types, "message type"),
        }.get(key)
        if known is None or not isinstance(values, frozenset):
            return True
        names, what = known
        for value in sorted(values - names):
            close = difflib.get_close_matches(value, sorted(names), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(names))}"
            self.problem(f"unknown {what} {value!r}; {hint}", key)
        return values <= names

    def convert(self, key: str, kind: Kind, value: object) -> object | None:
        """The value as the model wants it, or ``None`` after recording a problem."""
        if kind == "text":
            if isinstance(value, str):
                return value
            self.wrong_type(key, "a string", value)
            return None
        if kind == "int":
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            self.wrong_type(key, "an integer", value)
            return None
        if kind == "datetime":
            return self.convert_datetime(key, value)
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.wrong_type(key, "an array of strings", value)
            return None
        duplicates = sorted({item for item in value if value.count(item) > 1})
        if duplicates:
            self.problem(f"lists {', '.join(map(repr, duplicates))} more than once", key)
            return None
        return frozenset(value) if kind == "set" else tuple(value)

    def convert_datetime(self, key: str, value: object) -> datetime | None:
        if isinstance(value, datetime):
            if value.tzinfo is None:
                self.problem(
                    f"{value.isoformat()} has no offset; write e.g. {value.isoformat()}+01:00 "
                    "or with Z for UTC",
                    key,
                )
                return None
            return value.astimezone(UTC)
        if isinstance(value, date):
            self.problem(
                f"{value.isoformat()} is a date; write a time with offset, "
                f"e.g. {value.isoformat()}T00:00:00+01:00",
                key,
            )
            return None
        self.wrong_type(key, "a datetime with offset", value)
        return None

    def wrong_type(self, key: str, wanted: str, value: object) -> None:
        self.problem(f"must be {wanted}, not {_toml_type(value)}", key)


def _unknown_key(
    key: str, allowed: tuple[str, ...], line: int | None, table: str | None
) -> FileProblem:
    close = difflib.get_close_matches(key.lower(), allowed, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else f"; allowed: {', '.join(allowed)}"
    return FileProblem(f"unknown key {key!r}{hint}", key=key, line=line, table=table)


def _duplicates(
    agreements: list[Agreement], tables: list[dict[str, object]], lines: _KeyLines
) -> list[FileProblem]:
    seen: dict[tuple[str, int], int] = {}
    problems: list[FileProblem] = []
    for index, table in enumerate(tables):
        ident, version = table.get("id"), table.get("version", 1)
        if not isinstance(ident, str) or not isinstance(version, int):
            continue
        if (ident, version) in seen:
            problems.append(
                FileProblem(
                    f"agreement {ident}@{version} also in agreement[{seen[(ident, version)] + 1}]",
                    key="id",
                    line=lines.find(index, "id"),
                    table=f"agreement[{index + 1}]",
                )
            )
        else:
            seen[(ident, version)] = index
    return problems


# What TOML calls the type of a parsed value, checked in this order (a bool is also an int).
_TOML_TYPES: Final[tuple[tuple[type | tuple[type, ...], str], ...]] = (
    (bool, "a boolean"),
    (int, "an integer"),
    (float, "a float"),
    (str, "a string"),
    (list, "an array"),
    (dict, "a table"),
    ((datetime, date, time), "a date/time"),
)


def _toml_type(value: object) -> str:
    for kind, name in _TOML_TYPES:
        if isinstance(value, kind):
            return name
    return type(value).__name__
