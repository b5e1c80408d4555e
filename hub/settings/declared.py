"""Every setting declared once: a pydantic-settings model with its type, default, range and help
text, the two sources it reads (``OMSORGSHUB_*`` variables, then the settings file), and the
catalogue (``SETTINGS``) that ``config show --describe`` and docs/CONFIGURATION.md are made from.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import Field, ValidationInfo, field_validator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from hub.settings.capabilities import CapabilitySettings
from hub.settings.errors import ENV_PREFIX


class _Secret:
    """Marks a field whose value is masked when shown (``Annotated[str, SECRET]``)."""


SECRET = _Secret()


class DeclaredSettings(CapabilitySettings):
    """The settings as an operator writes them; ``load_settings`` turns them into ``Settings``.

    Built only inside ``load_settings``: the sources depend on the environment and the data
    folder it was given (tests and the sandbox build settings for another hub that way).
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, case_sensitive=True, extra="forbid", frozen=True
    )

    database_url: Annotated[str, SECRET] = Field(
        default="",
        description="SQLAlchemy URL of the database. Empty: SQLite file <home>/hub.db (WAL, "
        "synchronous=FULL). PostgreSQL: postgresql+psycopg://user@host:5432/db.",
    )
    sqlite_cache_mib: int = Field(
        default=2,
        ge=1,
        le=4096,
        description="SQLite only: page cache of each database connection in MiB (PRAGMA "
        "cache_size; 2 is about SQLite's own default). A larger cache keeps more index pages of "
        "a large store in the process instead of reading them back from the OS at each write: "
        "at 200,000 stored messages 16 read a third fewer bytes per message than 2, for no "
        "measurable gain in ingest rate on 2 cores; 64 cost about 120 MiB of resident memory "
        "(docs/BENCHMARKS.md). Ignored on PostgreSQL.",
    )
    broker_url: Annotated[str, SECRET] = Field(
        default="",
        description="Celery broker URL (amqp://…) for the scaled-out mode. Empty: embedded "
        "mode, deliveries run in-process, nothing else to install.",
    )
    master_key: Annotated[str, SECRET] = Field(
        default="",
        description="Master key as base64 (32 bytes). Empty: read from master_key_file. Prefer "
        "the file; an environment variable leaks into process listings and crash reports more "
        "easily.",
    )
    master_key_file: str = Field(
        default="", description="Path of the master key file (0600). Empty: <home>/master.key."
    )
    routes_file: str = Field(
        default="", description="Path of the routing table (TOML). Empty: <home>/routes.toml."
    )
    api_host: str = Field(default="127.0.0.1", description="Address the HTTP API listens on.")
    api_port: int = Field(default=8700, ge=0, le=65535, description="Port the HTTP API listens on.")
    max_message_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest accepted envelope in bytes (413 above)."
    )
    max_xml_depth: int = Field(
        default=64, ge=4, le=1000, description="Deepest accepted XML element nesting (400 above)."
    )
    workers: int = Field(
        default=4, ge=1, description="Embedded mode: delivery threads in the hub process."
    )
    lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long a claimed delivery stays in flight before the sweeper hands it "
        "out again (a crashed worker delays, never loses).",
    )
    relay_interval: float = Field(
        default=0.5, gt=0, description="Seconds between relay/sweeper passes when idle."
    )
    relay_batch: int = Field(
        default=50, ge=1, description="Deliveries claimed and carried per dispatched batch."
    )
    relay_gather_seconds: float = Field(
        default=0.02,
        ge=0,
        le=1,
        description="Embedded relay: after ingest wakes it, wait this long so that the "
        "messages stored meanwhile are claimed and delivered as one batch (fewer transactions "
        "per message; adds at most this to a message's delivery latency). 0: claim at once.",
    )
    ingest_commit_wait_seconds: float = Field(
        default=0.003,
        ge=0,
        le=1,
        description="Group commit: while other requests are still being checked, the writer "
        "of a batch waits up to this long for them, so that one transaction and one disk "
        "flush serve them all (adds at most this to a 202; a lone sender never waits). "
        "0: write at once.",
    )
    delivery_process: bool = Field(
        default=False,
        description="Embedded `serve`: run the relay, the delivery threads and the upkeep in "
        "a child process of their own, so that ingest and delivery use two cores (one Python "
        "process computes on one). The child shares the database, is woken by each commit "
        "of new messages, is started again if it dies, and stops with `serve`. Turn it on "
        "where the machine has a spare core and `serve` runs near its limit (measured: a "
        "seventh to a quarter more delivered at saturation); it costs a second process's "
        "memory (about 120 MiB) and some CPU per message at moderate load "
        "(docs/BENCHMARKS.md).",
    )
    ingest_commit_gather_seconds: float = Field(
        default=0.015,
        ge=0,
        le=1,
        description="Group commit at steady moderate load: the writer of a batch also waits "
        "for requests not yet arrived, while the recent rate says the next is due within this "
        "long of the batch's oldest request, so that steady traffic shares transactions (adds "
        "at most this to a 202; a sender rarer than one per this long never waits). 0: off.",
    )
    planner_statistics_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="SQLite: the relay refreshes the query planner's statistics (ANALYZE, "
        "sampled: 0.05 s at a million messages) at start and every this many "
        "seconds, so the console's searches and overview pick the right index as the tables "
        "grow; 0: never. PostgreSQL's autovacuum keeps its own.",
    )
    retry_base_seconds: float = Field(
        default=2.0, ge=0, description="First retry delay; doubles each attempt (jittered)."
    )
    retry_cap_seconds: float = Field(
        default=300.0, ge=0, description="Longest delay between two attempts."
    )
    retry_max_attempts: int = Field(
        default=12, ge=1, description="Attempts before a delivery is dead."
    )
    retry_max_age_seconds: float = Field(
        default=86_400.0, gt=0, description="Age after which a delivery is dead."
    )
    audit_checkpoint_every: int = Field(
        default=1000,
        ge=1,
        description="Copy the signed audit head into a checkpoint and publish it to "
        "checkpoints.jsonl and the witnesses every N entries…",
    )
    audit_checkpoint_seconds: float = Field(
        default=5.0,
        gt=0,
        description="…or every T seconds, whichever first (the window in which a cut tail goes "
        "unwitnessed; every append is signed regardless).",
    )
    audit_witness_file: str = Field(
        default="",
        description="An append-only file on another mount (WORM) that receives every published "
        "audit head. Empty: none.",
    )
    audit_witness_syslog: str = Field(
        default="",
        description="host:port of a syslog collector (UDP, facility authpriv) that receives "
        "every published audit head. Empty: none.",
    )
    audit_tsa_url: str = Field(
        default="",
        description="URL of an RFC 3161 time-stamping authority that stamps every published "
        "audit head. Empty: no time-stamping.",
    )
    audit_tsa_tokens_file: str = Field(
        default="",
        description="Where time-stamp tokens are appended. Empty: <home>/audit/timestamps.jsonl.",
    )
    audit_tsa_max_failure_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="With time-stamping: once entries have stayed un-stamped this long, the "
        "trail refuses appends (503) until the authority answers again.",
    )
    audit_unsigned_grace_seconds: float = Field(
        default=60.0,
        ge=0,
        description="audit verify: an entry that no signature covers and is older than this is "
        "an error.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Logging level (case does not matter)."
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Log lines as text or json (one JSON object a line: the hub's events with ids "
        "and reason codes only). `serve --log-format` and `relay --log-format` override it.",
    )
    metrics_dir: str = Field(
        default="",
        description="Folder where every process (API, embedded worker, Celery workers) records "
        "its delivery outcomes for /metrics (prometheus_client's multiprocess files). Empty: "
        "each process counts only its own, in memory.",
    )
    max_drain_bytes: int = Field(
        default=16_777_216,
        ge=0,
        description="An oversize body is read and discarded up to this many bytes so the client "
        "can read its 413; beyond it the connection is closed.",
    )
    token_expiry_days: int = Field(
        default=365,
        ge=1,
        le=3650,
        description="Days a new system or administrator token stays valid (`systems add "
        "--expires-in` and `systems rotate-token --expires-in` override it); an expired token "
        "is refused.",
    )
    token_overlap_hours: float = Field(
        default=24.0,
        ge=0,
        le=24 * 90,
        description="Hours the old token keeps working after `systems rotate-token` "
        "(`--overlap` overrides it), so a system can switch without an outage.",
    )
    time_zone: str = Field(
        default="Europe/Stockholm",
        description="The districts' time zone (IANA name): agreement dates are shown as the "
        "calendar dates of this zone.",
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans(cls, value: object, info: ValidationInfo) -> object:
        # Own code: pydantic's lax mode (needed for the environment's strings) reads ``true``
        # as 1; ``workers = true`` in a settings file is a mistake to name, not a count. Only
        # a yes-or-no setting (``delivery_process``) takes one.
        wanted = cls.model_fields[info.field_name].annotation if info.field_name else None
        if isinstance(value, bool) and wanted is not bool:
            raise PydanticCustomError("wrong_type", "a boolean is not a setting value")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_upper_case(cls, value: object) -> object:
        # ``logging`` accepts only upper-case names; "info" is what people type.
        return value.upper() if isinstance(value, str) else value

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise PydanticCustomError(
                "time_zone", "must be an IANA zone such as Europe/Stockholm"
            ) from exc
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment first, then the settings file; no init arguments, no .env, no secrets dir."""
        inputs = _INPUTS.get()
        sources: list[PydanticBaseSettingsSource] = [_Environment(settings_cls, inputs.environ)]
        if inputs.file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=inputs.file))
        return tuple(sources)


class _Environment(EnvSettingsSource):
    """``OMSORGSHUB_<KEY>`` from the mapping ``load_settings`` was given, not only os.environ.

    Names are matched upper-case only, as before: ``omsorgshub_workers`` is not a setting.
    """

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = {k: v for k, v in environ.items() if k.startswith(ENV_PREFIX)}
        super().__init__(settings_cls, case_sensitive=False)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {name.lower(): value for name, value in self._environ.items()}


@dataclass(frozen=True)
class _Inputs:
    environ: Mapping[str, str]
    file: Path | None


# ``settings_customise_sources`` is a classmethod without arguments of ours, so the environment
# and the file of this one ``load_settings`` call reach it through a context variable.
_INPUTS: ContextVar[_Inputs] = ContextVar("omsorgshub_settings_inputs")


@contextmanager
def _reading(inputs: _Inputs) -> Iterator[None]:
    token = _INPUTS.set(inputs)
    try:
        yield
    finally:
        _INPUTS.reset(token)


@dataclass(frozen=True)
class Setting:
    """One declared setting, as ``config show --describe`` and the docs present it."""

    key: str
    kind: type
    default: object
    help: str
    secret: bool = False
    allowed: str = ""


def _setting(key: str, field: FieldInfo) -> Setting:
    annotation: Any = field.annotation
    kind = annotation
    bounds = []
    if get_origin(annotation) is Literal:
        kind = type(get_args(annotation)[0])
        bounds.append(", ".join(get_args(annotation)))
    for item in field.metadata:
        for name, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            if getattr(item, name, None) is not None:
                bounds.append(f"{sign} {getattr(item, name)}")
    return Setting(
        key=key,
        kind=kind,
        default=field.default,
        help=field.description or "",
        secret=SECRET in field.metadata,
        allowed=", ".join(bounds),
    )


# The hub's own settings first, then those of its capabilities (pydantic lists a base class's
# fields first).
_FIELDS = DeclaredSettings.model_fields
_ORDER = [k for k in _FIELDS if k in DeclaredSettings.__annotations__] + [
    k for k in _FIELDS if k not in DeclaredSettings.__annotations__
]
SETTINGS: tuple[Setting, ...] = tuple(_setting(key, _FIELDS[key]) for key in _ORDER)
