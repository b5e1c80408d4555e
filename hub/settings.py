"""The hub's settings: one frozen object from ``OMSORGSHUB_*`` variables and an optional TOML file.

Precedence, highest first: environment variable, settings file, default. The settings file is
``$OMSORGSHUB_CONFIG`` if set, else ``<home>/omsorgshub.toml`` if it exists. An unknown key in
the file or an unknown ``OMSORGSHUB_*`` variable is an error that names it: a typo in a security
setting must never be silently ignored.

Every setting is declared once, in ``SETTINGS`` below, with its type, default and help text;
``omsorgshub config show`` and docs/CONFIGURATION.md are made from the same table.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from hub.errors import ConfigError

ENV_PREFIX = "OMSORGSHUB_"
# Variables read elsewhere that are not settings keys.
_NOT_SETTINGS = {"OMSORGSHUB_CONFIG", "OMSORGSHUB_HOME"}
_NOT_SETTINGS_PREFIXES = ("OMSORGSHUB_TEST_",)


@dataclass(frozen=True)
class Setting:
    key: str
    kind: type
    default: object
    help: str
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "database_url",
        str,
        "",
        "SQLAlchemy URL of the database. Empty: SQLite file "
        "<home>/hub.db (WAL, synchronous=FULL). PostgreSQL: "
        "postgresql+psycopg://user@host:5432/db.",
        secret=True,
    ),
    Setting(
        "broker_url",
        str,
        "",
        "Celery broker URL (amqp://…) for the scaled-out mode. Empty: "
        "embedded mode, deliveries run in-process, nothing else to install.",
        secret=True,
    ),
    Setting(
        "master_key",
        str,
        "",
        "Master key as base64 (32 bytes). Empty: read from "
        "master_key_file. Prefer the file; an environment variable leaks into process "
        "listings and crash reports more easily.",
        secret=True,
    ),
    Setting(
        "master_key_file", str, "", "Path of the master key file (0600). Empty: <home>/master.key."
    ),
    Setting("routes_file", str, "", "Path of the routing table (TOML). Empty: <home>/routes.toml."),
    Setting("api_host", str, "127.0.0.1", "Address the HTTP API listens on."),
    Setting("api_port", int, 8700, "Port the HTTP API listens on."),
    Setting("max_message_bytes", int, 1_048_576, "Largest accepted envelope in bytes (413 above)."),
    Setting("max_xml_depth", int, 64, "Deepest accepted XML element nesting (400 above)."),
    Setting("workers", int, 4, "Embedded mode: delivery threads in the hub process."),
    Setting(
        "lease_seconds",
        float,
        60.0,
        "How long a claimed delivery stays in flight before the "
        "sweeper hands it out again (a crashed worker delays, never loses).",
    ),
    Setting("relay_interval", float, 0.5, "Seconds between relay/sweeper passes when idle."),
    Setting("relay_batch", int, 50, "Deliveries claimed and carried per dispatched batch."),
    Setting(
        "retry_base_seconds", float, 2.0, "First retry delay; doubles each attempt (jittered)."
    ),
    Setting("retry_cap_seconds", float, 300.0, "Longest delay between two attempts."),
    Setting("retry_max_attempts", int, 12, "Attempts before a delivery is dead."),
    Setting("retry_max_age_seconds", float, 86_400.0, "Age after which a delivery is dead."),
    Setting("audit_checkpoint_every", int, 1000, "Sign an audit checkpoint every N entries…"),
    Setting("audit_checkpoint_seconds", float, 60.0, "…or every T seconds, whichever first."),
    Setting("log_level", str, "INFO", "Logging level (DEBUG, INFO, WARNING, ERROR)."),
    # -- issue 10 item 5, an API a client can rely on: logs, metrics, oversize bodies --------
    Setting(
        "log_format",
        str,
        "text",
        "Log lines as text or json (one JSON object a line: the hub's events with ids and "
        "reason codes only). `serve --log-format` and `relay --log-format` override it.",
    ),
    Setting(
        "metrics_dir",
        str,
        "",
        "Folder where every process (API, embedded worker, Celery workers) records its "
        "delivery outcomes for /metrics (prometheus_client's multiprocess files). Empty: each "
        "process counts only its own, in memory.",
    ),
    Setting(
        "max_drain_bytes",
        int,
        16_777_216,
        "An oversize body is read and discarded up to this many bytes so the client can read "
        "its 413; beyond it the connection is closed.",
    ),
)

_BY_KEY = {s.key: s for s in SETTINGS}
LOG_FORMATS = ("text", "json")


@dataclass(frozen=True)
class Settings:
    """Effective settings. Paths are resolved; empty strings mean "use the default"."""

    home: Path
    database_url: str
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
    retry_base_seconds: float
    retry_cap_seconds: float
    retry_max_attempts: int
    retry_max_age_seconds: float
    audit_checkpoint_every: int
    audit_checkpoint_seconds: float
    log_level: str
    # issue 10 item 5
    log_format: str
    metrics_dir: str
    max_drain_bytes: int

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
            value = getattr(self, s.key)
            text = str(value)
            if s.secret and text:
                text = _mask(text)
            out[s.key] = text
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


def _convert(setting: Setting, raw: object, origin: str) -> object:
    kind = setting.kind
    if isinstance(raw, str) and kind is not str:
        try:
            return kind(raw.strip())
        except ValueError as exc:
            raise ConfigError(
                f"{origin}: {setting.key} must be a {kind.__name__}, got {raw!r}",
                key=setting.key,
            ) from exc
    if kind is float and isinstance(raw, int) and not isinstance(raw, bool):
        return float(raw)
    if not isinstance(raw, kind) or isinstance(raw, bool):
        raise ConfigError(
            f"{origin}: {setting.key} must be a {kind.__name__}, got {type(raw).__name__}",
            key=setting.key,
        )
    return raw


def _unknown(key: str, origin: str, known: list[str]) -> ConfigError:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"{origin}: unknown setting {key!r}{hint}", key=key)


def _read_file(path: Path) -> dict[str, object]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read settings file: {exc.strerror}") from exc
    for key in data:
        if key not in _BY_KEY:
            raise _unknown(key, str(path), list(_BY_KEY))
    return data


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    cwd: Path | None = None,
) -> Settings:
    """Build the effective settings. Raises ``ConfigError`` naming any unknown or bad key."""
    env = os.environ if environ is None else environ
    base = cwd or Path.cwd()
    home = Path(env.get("OMSORGSHUB_HOME") or base / ".omsorgshub").expanduser()
    if not home.is_absolute():
        home = base / home

    config_path = env.get("OMSORGSHUB_CONFIG")
    file_values: dict[str, object] = {}
    if config_path:
        file_values = _read_file(Path(config_path))
    elif (home / "omsorgshub.toml").is_file():
        file_values = _read_file(home / "omsorgshub.toml")

    env_keys = [ENV_PREFIX + s.key.upper() for s in SETTINGS]
    for name in env:
        if not name.startswith(ENV_PREFIX) or name in _NOT_SETTINGS:
            continue
        if name.startswith(_NOT_SETTINGS_PREFIXES):
            continue
        if name not in env_keys:
            raise _unknown(name, "environment", env_keys)

    values: dict[str, object] = {}
    for s in SETTINGS:
        env_name = ENV_PREFIX + s.key.upper()
        if env_name in env:
            values[s.key] = _convert(s, env[env_name], f"environment {env_name}")
        elif s.key in file_values:
            values[s.key] = _convert(s, file_values[s.key], "settings file")
        else:
            values[s.key] = s.default
    _check_ranges(values)

    def path_or(key: str, default: Path) -> Path:
        raw = str(values[key])
        p = Path(raw).expanduser() if raw else default
        return p if p.is_absolute() else base / p

    values["master_key_file"] = path_or("master_key_file", home / "master.key")
    values["routes_file"] = path_or("routes_file", home / "routes.toml")
    if not values["database_url"]:
        values["database_url"] = f"sqlite:///{home / 'hub.db'}"
    names = {f.name for f in fields(Settings)}
    return Settings(home=home, **{k: v for k, v in values.items() if k in names})  # type: ignore[arg-type]


_POSITIVE: dict[str, Callable[[float], bool]] = {
    "api_port": lambda v: 0 <= v <= 65535,
    "max_message_bytes": lambda v: v >= 1024,
    "max_xml_depth": lambda v: 4 <= v <= 1000,
    "workers": lambda v: v >= 1,
    "lease_seconds": lambda v: v > 0,
    "relay_interval": lambda v: v > 0,
    "relay_batch": lambda v: v >= 1,
    "retry_base_seconds": lambda v: v >= 0,
    "retry_cap_seconds": lambda v: v >= 0,
    "retry_max_attempts": lambda v: v >= 1,
    "retry_max_age_seconds": lambda v: v > 0,
    "audit_checkpoint_every": lambda v: v >= 1,
    "audit_checkpoint_seconds": lambda v: v > 0,
    "max_drain_bytes": lambda v: v >= 0,
}


def _check_ranges(values: Mapping[str, object]) -> None:
    for key, ok in _POSITIVE.items():
        value = values[key]
        assert isinstance(value, int | float)
        if not ok(value):
            raise ConfigError(f"setting {key} is out of range: {value!r}", key=key)
    level = str(values["log_level"]).upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"setting log_level must be DEBUG, INFO, WARNING or ERROR, not {level!r}")
    if values["log_format"] not in LOG_FORMATS:
        raise ConfigError(f"setting log_format must be text or json, not {values['log_format']!r}")


def settings_markdown() -> str:
    """docs/CONFIGURATION.md, made from ``SETTINGS`` (a test keeps the file in step)."""
    lines = [
        "# Configuration",
        "",
        "Every setting can be given as an environment variable `OMSORGSHUB_<KEY>` or as `key = "
        "value` in a TOML settings file. Precedence: environment, then the file, then the "
        "default. The file is `$OMSORGSHUB_CONFIG` if set, else `<home>/omsorgshub.toml` if it "
        "exists. An unknown key in the file or an unknown `OMSORGSHUB_*` variable is an error "
        "that names it (with a suggestion for near misses).",
        "",
        "The data folder `<home>` is `./.omsorgshub` unless `OMSORGSHUB_HOME` is set. It holds "
        "the SQLite database, the master key (0600), the audit signing key (0600) and, under "
        "`audit/`, the signed checkpoints and the audit public key.",
        "",
        "`omsorgshub config show` prints the effective settings with secrets masked; "
        "`omsorgshub config docs` prints this page.",
        "",
        "| variable | type | default | meaning |",
        "|---|---|---|---|",
        "| `OMSORGSHUB_HOME` | path | `./.omsorgshub` | The data folder (environment only). |",
        "| `OMSORGSHUB_CONFIG` | path | | A settings file (environment only). |",
    ]
    for s in SETTINGS:
        default = "" if s.default == "" else f"`{s.default}`"
        secret = " (secret: masked when shown)" if s.secret else ""
        lines.append(
            f"| `{ENV_PREFIX}{s.key.upper()}` | {s.kind.__name__} | {default} | {s.help}{secret} |"
        )
    lines += [
        "",
        "Tests read `OMSORGSHUB_TEST_POSTGRES_URL` and `OMSORGSHUB_TEST_AMQP_URL` (not settings: "
        "the servers the integration tests may use; `.ci/run` sets them).",
        "",
        "The routing table (`routes_file`) and agreement files have their own strict formats: "
        "see docs/ARCHITECTURE.md and docs/examples/.",
        "",
    ]
    return "\n".join(lines)
