"""Settings problems as an operator reads them: one line each, naming the setting and its source.

Own code beside pydantic-settings, on purpose. pydantic's ``ValidationError`` text is a
multi-line dump with links and internal type names ("Input should be a valid integer, unable to
parse string as an integer [type=int_parsing, ...]"), and it cannot say whether a value came
from the environment or the settings file. This module turns each error into the lines the hub
has always printed (``environment OMSORGSHUB_WORKERS: workers must be a int, got 'many'``,
``<file>: unknown setting 'wokers' (did you mean 'workers'?)``). It also checks the
``OMSORGSHUB_*`` variables, which pydantic-settings does not: its environment source only looks
up the names it knows, so a misspelt variable would be silently ignored.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError
from pydantic_core import ErrorDetails

ENV_PREFIX = "OMSORGSHUB_"
# Variables read elsewhere that are not settings keys.
NOT_SETTINGS = frozenset({"OMSORGSHUB_CONFIG", "OMSORGSHUB_HOME"})
NOT_SETTINGS_PREFIXES = ("OMSORGSHUB_TEST_",)

_WRONG_TYPE = frozenset(
    {
        "int_parsing",
        "int_type",
        "int_from_float",
        "float_parsing",
        "float_type",
        "string_type",
        "wrong_type",  # our own, for booleans
    }
)
_BOUNDS = {
    "greater_than": ("gt", ">"),
    "greater_than_equal": ("ge", "≥"),
    "less_than": ("lt", "<"),
    "less_than_equal": ("le", "≤"),
}


@dataclass(frozen=True)
class Problem:
    """One line of a settings error and the key it is about."""

    text: str
    key: str


def unknown_variables(environ: Mapping[str, str], known: Collection[str]) -> list[Problem]:
    """Every ``OMSORGSHUB_*`` variable that is no setting, with a near miss where there is one."""
    problems = []
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name in NOT_SETTINGS:
            continue
        if name.startswith(NOT_SETTINGS_PREFIXES) or name in known:
            continue
        problems.append(_unknown(name, "environment", known))
    return problems


def describe(
    error: ValidationError,
    environ: Mapping[str, str],
    file: Path | None,
    kinds: Mapping[str, type],
    secrets: Collection[str],
) -> list[Problem]:
    """One ``Problem`` per error pydantic found, naming where the value came from."""
    problems = []
    for detail in error.errors(include_url=False):
        key = str(detail["loc"][0]) if detail["loc"] else ""
        variable = ENV_PREFIX + key.upper()
        origin = f"environment {variable}" if variable in environ else f"{file or 'settings file'}"
        if detail["type"] == "extra_forbidden":
            problems.append(_unknown(key, str(file or "settings file"), list(kinds)))
            continue
        shown = "****" if key in secrets else repr(detail["input"])
        problems.append(Problem(f"{origin}: {_what(key, detail, kinds, shown)}", key))
    return problems


def _what(key: str, detail: ErrorDetails, kinds: Mapping[str, type], shown: str) -> str:
    kind, value, ctx = detail["type"], detail["input"], detail.get("ctx") or {}
    if kind in _WRONG_TYPE:
        got = shown if isinstance(value, str) else type(value).__name__
        wanted = kinds[key].__name__ if key in kinds else "value"
        return f"{key} must be a {wanted}, got {got}"
    if kind in _BOUNDS:
        name, sign = _BOUNDS[kind]
        return f"{key} is out of range: {shown} (must be {sign} {ctx.get(name)})"
    if kind == "literal_error":
        return f"{key} must be {ctx.get('expected')}, not {shown}"
    return f"{key}: {detail['msg']}"


def _unknown(key: str, origin: str, known: Collection[str]) -> Problem:
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return Problem(f"{origin}: unknown setting {key!r}{hint}", key)
