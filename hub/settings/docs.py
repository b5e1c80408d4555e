"""docs/CONFIGURATION.md, generated from the declared settings (a test keeps the file in step).

``omsorgshub config docs`` prints it; nothing here is written by hand but the prose around the
table, so a setting cannot be added without its documentation.
"""

from __future__ import annotations

from hub.settings import SETTINGS, Setting
from hub.settings.errors import ENV_PREFIX


def settings_markdown() -> str:
    """The configuration page: how settings are given, then one row per setting."""
    lines = [
        "# Configuration",
        "",
        "Every setting can be given as an environment variable `OMSORGSHUB_<KEY>` or as `key = "
        "value` in a TOML settings file. Precedence: environment, then the file, then the "
        "default. The file is `$OMSORGSHUB_CONFIG` if set, else `<home>/omsorgshub.toml` if it "
        "exists. An unknown key in the file or an unknown `OMSORGSHUB_*` variable is an error "
        "that names it (with a suggestion for near misses); so is a value of the wrong type or "
        "outside its allowed range, one line per problem.",
        "",
        "The data folder `<home>` is `./.omsorgshub` unless `OMSORGSHUB_HOME` is set. It holds "
        "the SQLite database, the master key (0600), the audit signing key (0600) and, under "
        "`audit/`, the signed checkpoints and the audit public key.",
        "",
        "`omsorgshub config show` prints the effective settings with secrets masked; "
        "`omsorgshub config docs` prints this page.",
        "",
        "| variable | type | default | allowed | meaning |",
        "|---|---|---|---|---|",
        "| `OMSORGSHUB_HOME` | path | `./.omsorgshub` | | The data folder (environment only). |",
        "| `OMSORGSHUB_CONFIG` | path | | | A settings file (environment only). |",
    ]
    lines += [_row(s) for s in SETTINGS]
    lines += [
        "",
        "Tests read `OMSORGSHUB_TEST_POSTGRES_URL` and `OMSORGSHUB_TEST_AMQP_URL` (not settings: "
        "the servers the integration tests may use; `.ci/run` sets them).",
        "",
        "The database schema is migrated with Alembic: `omsorgshub db upgrade`, `omsorgshub db "
        "current` and `omsorgshub db history` use the configured `database_url`; from a "
        "checkout, `alembic current` and `alembic history` work too (`alembic.ini` at the "
        "repository root takes the URL from these settings unless `-x url=...` is given).",
        "",
        "The routing table (`routes_file`) and agreement files have their own strict formats: "
        "see docs/ARCHITECTURE.md and docs/examples/.",
        "",
    ]
    return "\n".join(lines)


def _row(s: Setting) -> str:
    shown = str(s.default).lower() if isinstance(s.default, bool) else s.default  # as TOML
    default = "" if shown == "" else f"`{shown}`"
    secret = " (secret: masked when shown)" if s.secret else ""
    return (
        f"| `{ENV_PREFIX}{s.key.upper()}` | {s.kind.__name__} | {default} | {s.allowed} "
        f"| {s.help}{secret} |"
    )
