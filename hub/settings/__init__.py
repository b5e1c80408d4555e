"""The hub's settings: one frozen object from ``OMSORGSHUB_*`` variables and an optional TOML file.

Precedence, highest first: environment variable, settings file, default. The settings file is
``$OMSORGSHUB_CONFIG`` if set, else ``<home>/omsorgshub.toml`` if it exists. An unknown key in
the file or an unknown ``OMSORGSHUB_*`` variable is an error that names it: a typo in a security
setting must never be silently ignored.

Every setting is declared once, as a field of ``DeclaredSettings`` (a pydantic-settings model:
its type, default, allowed range and help text); ``SETTINGS``, ``omsorgshub config show`` and
docs/CONFIGURATION.md (``hub.settings.docs``) are made from it. pydantic-settings reads the
sources and checks the values; this module keeps three small pieces of its own, each marked
where it lives: the check for unknown ``OMSORGSHUB_*`` variables (the environment source only
looks up the names it knows), a settings file named by ``OMSORGSHUB_CONFIG`` that does not exist
(the TOML source skips a missing file), and the translation of pydantic's errors into one
readable line per problem (``hub.settings.errors``).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError
from pydantic_settings import SettingsError

from hub.errors import ConfigError
from hub.settings.declared import SETTINGS, DeclaredSettings, Setting, _Inputs, _reading
from hub.settings.errors import ENV_PREFIX, describe, unknown_variables

__all__ = ["LOG_FORMATS", "SETTINGS", "Setting", "Settings", "load_settings"]

LOG_FORMATS = ("text", "json")


@dataclass(frozen=True)
class Settings:
    """Effective settings. Paths are resolved; empty strings mean "use the default"."""

    home: Path
    database_url: str
    sqlite_cache_mib: int
    broker_url: str
    master_key: str
    master_key_file: Path
    routes_file: Path
    api_host: str
    api_port: int
    max_message_bytes: int
    max_xml_depth: int
    workers: int
    lease_seconds: float
    relay_interval: float
    relay_batch: int
    relay_gather_seconds: float
    ingest_commit_wait_seconds: float
    ingest_commit_gather_seconds: float
    delivery_process: bool
    planner_statistics_seconds: float
    retry_base_seconds: float
    retry_cap_seconds: float
    retry_max_attempts: int
    retry_max_age_seconds: float
    audit_checkpoint_every: int
    audit_checkpoint_seconds: float
    audit_witness_file: Path | None
    audit_witness_syslog: str
    audit_tsa_url: str
    audit_tsa_tokens_file: Path
    audit_tsa_max_failure_seconds: float
    audit_unsigned_grace_seconds: float
    log_level: str
    log_format: str
    metrics_dir: str
    max_drain_bytes: int
    token_expiry_days: int
    token_overlap_hours: float
    time_zone: str
    referral_callback_working_days: int
    ivo_purpose: str
    ivo_sender: str
    ivo_period_months: int
    ivo_legal_references: str
    ivo_municipality: str
    atl_rules_dir: Path | None
    ivo_administrations: str
    timereport_purpose: str
    timereport_lock_day: int
    timereport_reopen_days: int
    timereport_manual_share: float
    timereport_order_cache_seconds: float
    timereport_max_batch: int
    console_idle_minutes: int
    console_absolute_hours: int
    console_secure_cookie: str
    login_max_failures: int
    login_address_max_failures: int
    login_lockout_seconds: int
    console_refresh_seconds: int
    ivo_intervention_map: str
    ivo_track_seconds: float
    compensation_sender: str
    compensation_purpose: str
    compensation_receivers: str
    timereport_late_days: int
    stats_min_clients: int
    retention_interval_seconds: float
    retention_batch: int
    protected_sync_interval_seconds: float
    review_office_start_hour: int
    review_office_end_hour: int
    review_burst_lookups: int
    review_burst_minutes: float
    review_referral_hours: float
    review_random_size: int
    alert_dead_letters_minutes: int
    alert_dead_letters_min: int
    alert_destination_down_minutes: int
    alert_checkpoint_overdue_seconds: int
    chargeback_call_prices: str
    chargeback_yearly_fees: str

    @property
    def embedded(self) -> bool:
        return not self.broker_url

    @property
    def checkpoint_dir(self) -> Path:
        return self.home / "audit"

    @property
    def audit_private_key_file(self) -> Path:
        return self.home / "audit-signing-key.pem"

    @property
    def audit_public_key_file(self) -> Path:
        return self.home / "audit" / "audit-public-key.pem"

    def shown(self) -> dict[str, str]:
        """The settings as text, secrets masked (for ``config show``)."""
        out = {"home": str(self.home)}
        for s in SETTINGS:
            text = str(getattr(self, s.key))
            out[s.key] = _mask(text) if s.secret and text else text
        return out


def _mask(value: str) -> str:
    if "://" in value and "@" in value:  # a URL: keep scheme and host, hide credentials
        scheme, rest = value.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:****@{host}" if ":" in creds else value
    if "://" in value:
        return value
    return "****"


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    cwd: Path | None = None,
) -> Settings:
    """Build the effective settings. Raises ``ConfigError`` naming every unknown or bad key."""
    env = os.environ if environ is None else environ
    base = cwd or Path.cwd()
    home = Path(env.get("OMSORGSHUB_HOME") or base / ".omsorgshub").expanduser()
    if not home.is_absolute():
        home = base / home
    file = _settings_file(env, home)

    problems = unknown_variables(env, [ENV_PREFIX + s.key.upper() for s in SETTINGS])
    declared: DeclaredSettings | None = None
    try:
        with _reading(_Inputs(env, file)):
            declared = DeclaredSettings()
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read settings file: {exc.strerror}") from exc
    except ValidationError as exc:
        kinds = {s.key: s.kind for s in SETTINGS}
        problems += describe(exc, env, file, kinds, {s.key for s in SETTINGS if s.secret})
    except SettingsError as exc:  # a source could not parse a value
        raise ConfigError(f"settings: {exc}") from exc
    if problems:
        raise ConfigError("\n".join(p.text for p in problems), key=problems[0].key)
    assert declared is not None

    values: dict[str, object] = declared.model_dump()

    def path_or(key: str, default: Path) -> Path:
        raw = str(values[key])
        p = Path(raw).expanduser() if raw else default
        return p if p.is_absolute() else base / p

    values["master_key_file"] = path_or("master_key_file", home / "master.key")
    values["routes_file"] = path_or("routes_file", home / "routes.toml")
    values["audit_witness_file"] = (
        path_or("audit_witness_file", home) if values["audit_witness_file"] else None
    )
    values["audit_tsa_tokens_file"] = path_or(
        "audit_tsa_tokens_file", home / "audit" / "timestamps.jsonl"
    )
    values["atl_rules_dir"] = path_or("atl_rules_dir", home) if values["atl_rules_dir"] else None
    if not values["database_url"]:
        values["database_url"] = f"sqlite:///{home / 'hub.db'}"
    return Settings(home=home, **values)  # type: ignore[arg-type]


def _settings_file(env: Mapping[str, str], home: Path) -> Path | None:
    configured = env.get("OMSORGSHUB_CONFIG")
    if configured:
        path = Path(configured).expanduser()
        # Own check: the TOML source silently skips a file that is not there; a file the
        # operator named must exist.
        if not path.is_file():
            raise ConfigError(f"{path}: cannot read settings file: no such file")
        return path
    default = home / "omsorgshub.toml"
    return default if default.is_file() else None
