"""Settings: defaults, precedence, strictness about unknown keys, masking of secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.errors import ConfigError
from hub.settings import SETTINGS, load_settings
from hub.settings.docs import settings_markdown


def test_defaults_live_under_the_data_folder(tmp_path: Path) -> None:
    s = load_settings({}, cwd=tmp_path)
    assert s.home == tmp_path / ".omsorgshub"
    assert s.database_url == f"sqlite:///{tmp_path / '.omsorgshub' / 'hub.db'}"
    assert s.master_key_file == s.home / "master.key"
    assert s.embedded
    assert s.max_message_bytes == 1_048_576


def test_environment_beats_file_beats_default(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text("workers = 7\napi_port = 9000\n")
    env = {"OMSORGSHUB_CONFIG": str(config), "OMSORGSHUB_API_PORT": "9100"}
    s = load_settings(env, cwd=tmp_path)
    assert (s.workers, s.api_port) == (7, 9100)


def test_an_unknown_key_in_the_file_is_named_with_a_suggestion(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text("wokers = 7\n")
    with pytest.raises(ConfigError, match=r"unknown setting 'wokers' \(did you mean 'workers'\?\)"):
        load_settings({"OMSORGSHUB_CONFIG": str(config)}, cwd=tmp_path)


def test_an_unknown_environment_variable_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="OMSORGSHUB_DATABSE_URL"):
        load_settings({"OMSORGSHUB_DATABSE_URL": "sqlite://"}, cwd=tmp_path)


def test_wrong_types_and_ranges_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="workers must be a int"):
        load_settings({"OMSORGSHUB_WORKERS": "many"}, cwd=tmp_path)
    with pytest.raises(ConfigError, match="lease_seconds is out of range"):
        load_settings({"OMSORGSHUB_LEASE_SECONDS": "0"}, cwd=tmp_path)


def test_secrets_are_masked_when_shown(tmp_path: Path) -> None:
    env = {
        "OMSORGSHUB_DATABASE_URL": "postgresql+psycopg://hub:s3cret@db.example:5432/hub",
        "OMSORGSHUB_MASTER_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "OMSORGSHUB_BROKER_URL": "amqp://hub:pw@mq.example//",
    }
    shown = load_settings(env, cwd=tmp_path).shown()
    assert shown["database_url"] == "postgresql+psycopg://hub:****@db.example:5432/hub"
    assert shown["master_key"] == "****"
    assert shown["broker_url"] == "amqp://hub:****@mq.example//"
    assert "s3cret" not in repr(shown)


def test_every_setting_is_documented() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "CONFIGURATION.md").read_text()
    assert docs == settings_markdown(), "run: omsorgshub config docs > docs/CONFIGURATION.md"
    for setting in SETTINGS:
        assert f"`OMSORGSHUB_{setting.key.upper()}`" in docs


def test_every_problem_is_one_readable_line_naming_setting_and_source(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text('workers = true\nmax_xml_depth = 2\nlog_level = "loud"\n[retry]\nx = 1\n')
    env = {"OMSORGSHUB_CONFIG": str(config), "OMSORGSHUB_API_PORT": "70000"}
    with pytest.raises(ConfigError) as caught:
        load_settings(env, cwd=tmp_path)
    lines = caught.value.detail.splitlines()
    assert sorted(lines) == sorted(
        [
            f"{config}: workers must be a int, got bool",
            f"{config}: max_xml_depth is out of range: 2 (must be ≥ 4)",
            f"{config}: log_level must be 'DEBUG', 'INFO', 'WARNING' or 'ERROR', not 'LOUD'",
            f"{config}: unknown setting 'retry'",
            "environment OMSORGSHUB_API_PORT: api_port is out of range: '70000' (must be ≤ 65535)",
        ]
    )


def test_a_named_settings_file_must_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=r"nope\.toml: cannot read settings file"):
        load_settings({"OMSORGSHUB_CONFIG": str(missing)}, cwd=tmp_path)


def test_a_broken_settings_file_is_named_with_its_line(tmp_path: Path) -> None:
    config = tmp_path / "omsorgshub.toml"
    config.write_text("workers = 3\nworkers =\n")
    with pytest.raises(ConfigError, match=r"omsorgshub\.toml: not valid TOML: .*line 2"):
        load_settings({"OMSORGSHUB_HOME": str(tmp_path)}, cwd=tmp_path)


def test_the_file_in_the_data_folder_is_read_and_paths_resolve_against_the_folder(
    tmp_path: Path,
) -> None:
    home = tmp_path / "h"
    home.mkdir()
    (home / "omsorgshub.toml").write_text('routes_file = "conf/routes.toml"\nlog_level = "debug"\n')
    s = load_settings({"OMSORGSHUB_HOME": "h"}, cwd=tmp_path)
    assert s.home == home
    assert s.routes_file == tmp_path / "conf" / "routes.toml"
    assert s.log_level == "DEBUG"  # logging accepts upper-case names only
    assert s.checkpoint_dir == home / "audit"


def test_lower_case_variables_are_not_settings(tmp_path: Path) -> None:
    assert load_settings({"omsorgshub_workers": "9"}, cwd=tmp_path).workers == 4
    with pytest.raises(ConfigError, match="unknown setting 'OMSORGSHUB_Workers'"):
        load_settings({"OMSORGSHUB_Workers": "9"}, cwd=tmp_path)


def test_every_declared_setting_reaches_the_effective_settings(tmp_path: Path) -> None:
    shown = load_settings({}, cwd=tmp_path).shown()
    assert list(shown) == ["home", *(s.key for s in SETTINGS)]
    assert {s.key for s in SETTINGS if s.secret} == {"database_url", "broker_url", "master_key"}
