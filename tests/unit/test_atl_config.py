"""Rule sets: the shipped files equal the built-in statutory sets; files are read strictly."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.atl.config import ATL, LAW_DEFAULTS, load_rule_set, load_rule_sets
from hub.errors import ConfigError
from hub.settings import load_settings

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "atl"


@pytest.mark.parametrize("name", sorted(LAW_DEFAULTS))
def test_the_shipped_files_are_the_built_in_statutory_sets(name: str) -> None:
    assert load_rule_set(EXAMPLES / f"{name}.toml") == LAW_DEFAULTS[name]


def test_an_agreement_file_adds_a_rule_set_and_may_replace_a_statutory_one(
    tmp_path: Path,
) -> None:
    text = (EXAMPLES / f"{ATL}.toml").read_text()
    agreement = text.replace('name = "atl-1982-673"', 'name = "ab-pan-2026"').replace(
        "per_four_weeks = 48\nper_month = 50\nper_year = 200",
        "per_four_weeks = 60\nper_month = 50\nper_year = 200",
    )
    (tmp_path / "pan.toml").write_text(agreement)
    sets = load_rule_sets(tmp_path)
    assert sets["ab-pan-2026"].overtime.per_four_weeks == 60
    assert sets[ATL] == LAW_DEFAULTS[ATL]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (("hours = 11\n", "hours = 11\nminutes = 3\n"), "daily_rest.minutes"),
        (("hours = 36\n", ""), "weekly_rest.hours"),
        (('window = "4w"', 'window = "week"'), "overtime.window"),
        (("max_hours_without_break = 5", "max_hours_without_break = -5"), "breaks"),
    ],
)
def test_a_bad_file_is_refused_naming_the_file_and_the_key(
    tmp_path: Path, change: tuple[str, str], named: str
) -> None:
    text = (EXAMPLES / f"{ATL}.toml").read_text()
    assert change[0] in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(change[0], change[1], 1))
    with pytest.raises(ConfigError) as info:
        load_rule_set(path)
    assert info.value.reason == "atl_rules_invalid"
    assert str(path) in info.value.detail
    assert named in info.value.detail


def test_a_missing_directory_is_a_readable_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such directory"):
        load_rule_sets(tmp_path / "absent")


def test_the_setting_names_the_directory_relative_to_the_working_directory(
    tmp_path: Path,
) -> None:
    env = {"OMSORGSHUB_HOME": str(tmp_path / "home")}
    assert load_settings(env, cwd=tmp_path).atl_rules_dir is None
    env["OMSORGSHUB_ATL_RULES_DIR"] = "agreements/atl"
    assert load_settings(env, cwd=tmp_path).atl_rules_dir == tmp_path / "agreements" / "atl"
