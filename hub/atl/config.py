"""The thresholds of the working-time rules, per rule set (the law, or a collective agreement).

A rule set is a strict TOML file (unknown or missing keys are errors naming the file), one per
agreement, named by its ``name``; a ``timereport.assistance_shift`` report names the rule set its
assistant works under. Every rule carries its legal source, shown beside each violation. The
hub ships the two statutory sets (``LAW_DEFAULTS``), also as files in
``docs/examples/atl/`` (a test keeps them equal): arbetstidslagen (1982:673) and the act on
working time in domestic work (lag 1970:943), which applies instead of arbetstidslagen to an
assistant employed by the person assisted or their family.

Of lag 1970:943 only the provisions checked against its text are set (2 §: ordinary time 40 h a
week on average over up to four weeks; 3 §: overtime at most 48 h per four weeks and 300 h per
calendar year); its other rules are off in the shipped set (``enabled = false``) until a legal
review sets them: thresholds not verified are not guessed.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.errors import ConfigError

Window = Literal["4w", "month"]


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: bool = True
    source: str = Field(min_length=1)


class DailyRest(_Rule):
    hours: float = Field(gt=0, le=24)
    # The rest must include the night (00-05) unless the rule set grants the exception.
    include_night: bool = True
    night_start: time = time(0, 0)
    night_end: time = time(5, 0)


class WeeklyRest(_Rule):
    hours: float = Field(gt=0, le=168)


class Breaks(_Rule):
    max_hours_without_break: float = Field(gt=0, le=24)


class OrdinaryTime(_Rule):
    hours_per_week: float = Field(gt=0, le=168)
    weeks: int = Field(ge=1, le=52)  # the averaging period, in weeks


class TotalTime(_Rule):
    """All working time (ordinary, overtime, on-call unless it counts as rest) a week on
    average over ``months`` calendar months."""

    hours_per_week: float = Field(gt=0, le=168)
    months: int = Field(ge=1, le=12)


class Cap(_Rule):
    """A cap per four weeks or per calendar month (``window`` says which the agreement uses),
    and per calendar year (0: none)."""

    window: Window = "4w"
    per_four_weeks: float = Field(ge=0)
    per_month: float = Field(ge=0)
    per_year: float = Field(default=0, ge=0)

    def per_window(self) -> float:
        return self.per_four_weeks if self.window == "4w" else self.per_month


class RuleSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.\-]{0,63}$")
    title: str = Field(min_length=1)
    time_zone: str = "Europe/Stockholm"
    # On-call time at the workplace (jour) breaks rest unless the agreement says otherwise.
    on_call_counts_as_rest: bool = False
    daily_rest: DailyRest
    weekly_rest: WeeklyRest
    breaks: Breaks
    ordinary_time: OrdinaryTime
    total_time: TotalTime
    overtime: Cap
    on_call: Cap


ATL = "atl-1982-673"
DOMESTIC = "husligt-1970-943"
_ATL_SOURCE = "Arbetstidslagen (1982:673)"
_DOMESTIC_SOURCE = "Lag (1970:943) om arbetstid m.m. i husligt arbete"
_NOT_SET = f"{_DOMESTIC_SOURCE}: not set until a legal review confirms the threshold"

LAW_DEFAULTS: Mapping[str, RuleSet] = {
    ATL: RuleSet(
        name=ATL,
        title="Arbetstidslagen (1982:673), the law's defaults",
        daily_rest=DailyRest(hours=11, source=f"{_ATL_SOURCE} 13 §"),
        weekly_rest=WeeklyRest(hours=36, source=f"{_ATL_SOURCE} 14 §"),
        breaks=Breaks(max_hours_without_break=5, source=f"{_ATL_SOURCE} 15 §"),
        ordinary_time=OrdinaryTime(hours_per_week=40, weeks=4, source=f"{_ATL_SOURCE} 5 §"),
        total_time=TotalTime(hours_per_week=48, months=4, source=f"{_ATL_SOURCE} 10 b §"),
        overtime=Cap(per_four_weeks=48, per_month=50, per_year=200, source=f"{_ATL_SOURCE} 8 §"),
        on_call=Cap(per_four_weeks=48, per_month=50, source=f"{_ATL_SOURCE} 7 §"),
    ),
    DOMESTIC: RuleSet(
        name=DOMESTIC,
        title="Lag (1970:943) om arbetstid m.m. i husligt arbete (employed by the household)",
        daily_rest=DailyRest(enabled=False, hours=11, source=_NOT_SET),
        weekly_rest=WeeklyRest(enabled=False, hours=36, source=_NOT_SET),
        breaks=Breaks(enabled=False, max_hours_without_break=5, source=_NOT_SET),
        ordinary_time=OrdinaryTime(hours_per_week=40, weeks=4, source=f"{_DOMESTIC_SOURCE} 2 §"),
        total_time=TotalTime(enabled=False, hours_per_week=48, months=4, source=_NOT_SET),
        overtime=Cap(
            per_four_weeks=48, per_month=0, per_year=300, source=f"{_DOMESTIC_SOURCE} 3 §"
        ),
        on_call=Cap(enabled=False, per_four_weeks=48, per_month=50, source=_NOT_SET),
    ),
}


def load_rule_set(path: Path) -> RuleSet:
    """One rule-set file, strictly: a readable error naming the file and the key."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}", reason="atl_rules_invalid") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", reason="atl_rules_invalid") from exc
    try:
        return RuleSet.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}", reason="atl_rules_invalid") from exc


def load_rule_sets(directory: Path | None) -> dict[str, RuleSet]:
    """The statutory sets, plus (overriding them by name) every ``*.toml`` in ``directory``."""
    sets = dict(LAW_DEFAULTS)
    if directory is None:
        return sets
    if not directory.is_dir():
        raise ConfigError(f"{directory}: no such directory", reason="atl_rules_invalid")
    for path in sorted(directory.glob("*.toml")):
        rule_set = load_rule_set(path)
        sets[rule_set.name] = rule_set
    return sets
