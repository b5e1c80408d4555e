"""The adapter registry: lazy resolution, "did you mean", entry points, strict options."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import adapters
from adapters import ADAPTERS, available, create, resolve
from adapters.http import HttpAdapter
from adapters.memory import MemoryAdapter
from hub.errors import ConfigError, TransientDeliveryError
from hub.ports import AdapterFactory
from tests.adapter_contract import make_delivery

# Checked by mypy: every built-in adapter class is an AdapterFactory.
_FACTORIES: tuple[AdapterFactory, ...] = (MemoryAdapter, HttpAdapter)

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_builtin_kinds_resolve_to_their_classes() -> None:
    assert resolve("memory") is MemoryAdapter
    assert resolve("http") is HttpAdapter
    assert set(ADAPTERS) <= set(available())


@pytest.mark.parametrize(("typo", "meant"), [("htp", "http"), ("memroy", "memory")])
def test_unknown_kind_suggests_the_closest(typo: str, meant: str) -> None:
    with pytest.raises(ConfigError, match=f"did you mean '{meant}'") as caught:
        resolve(typo)
    assert caught.value.reason == "unknown_adapter"


def test_unknown_kind_without_a_close_match_lists_what_exists() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve("carrier-pigeon")
    assert "did you mean" not in caught.value.detail
    assert (
        "available: case-soap, combine, http, ivo, medcom, memory, sdk, ubw" in caught.value.detail
    )


def test_importing_the_registry_imports_no_adapter() -> None:
    code = (
        "import sys, adapters\n"
        "loaded = [m for m in ('adapters.http', 'adapters.memory', 'httpx', 'tenacity')"
        " if m in sys.modules]\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_create_builds_an_unopened_adapter() -> None:
    adapter = create("memory", "demo-destination", {})
    assert isinstance(adapter, MemoryAdapter)
    assert adapter.name == "demo-destination"
    with pytest.raises(TransientDeliveryError, match="not open"):
        adapter.deliver(make_delivery())


def _install_fake_distribution(root: Path, entry_points: str) -> None:
    dist_info = root / "omsorgshub_thirdparty-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: omsorgshub-thirdparty\nVersion: 1.0\n"
    )
    (dist_info / "entry_points.txt").write_text(f"[{adapters.ENTRY_POINT_GROUP}]\n{entry_points}")


def test_third_party_adapters_come_from_the_entry_point_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install_fake_distribution(
        tmp_path,
        "carrier = adapters.memory:MemoryAdapter\n"
        "http = adapters.memory:MemoryAdapter\n"
        "broken = omsorgshub_no_such_module:Adapter\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path))

    assert resolve("carrier") is MemoryAdapter
    assert available()["carrier"] == "adapters.memory:MemoryAdapter"
    assert isinstance(create("carrier", "c", {}), MemoryAdapter)
    # A built-in name cannot be taken over by an installed package.
    assert resolve("http") is HttpAdapter
    with pytest.raises(ConfigError, match="did you mean 'carrier'"):
        resolve("carier")
    with pytest.raises(ConfigError, match="cannot load entry point") as caught:
        resolve("broken")
    assert caught.value.reason == "adapter_unloadable"


def test_entry_points_are_unknown_without_the_distribution() -> None:
    with pytest.raises(ConfigError, match="unknown adapter kind 'carrier'"):
        resolve("carrier")


# -- strict options, shown on the HTTP adapter (no I/O: constructors only store settings) -----

URL = "http://127.0.0.1:9/messages"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "option 'url' is required"),
        ({"url": URL, "timout": 5}, "unknown option 'timout'; allowed options: retries, "),
        ({"url": URL, "timeout": "10"}, "'timeout' must be of type float, not str"),
        ({"url": URL, "timeout": 0}, "'timeout' must be a positive number"),
        ({"url": URL, "timeout": float("nan")}, "'timeout' must be a positive number"),
        ({"url": URL, "retries": True}, "'retries' must be of type int, not bool"),
        ({"url": URL, "retries": 1.0}, "'retries' must be of type int, not float"),
        ({"url": URL, "retries": 9}, "'retries' must be between 0 and 4"),
        ({"url": URL, "retries": -1}, "'retries' must be between 0 and 4"),
        ({"url": "ftp://127.0.0.1/x"}, "'url' must be an absolute http"),
        ({"url": "/messages"}, "'url' must be an absolute http"),
        ({"url": URL, "token": ""}, "'token' must be non-empty"),
        ({"url": URL, "token": "abc def"}, "'token' must be non-empty and without whitespace"),
    ],
)
def test_http_options_are_strict(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        create("http", "case-system", options)
    assert caught.value.reason in ("config_invalid", "unknown_option")
    assert "adapter 'case-system' (http)" in caught.value.detail


def test_unknown_option_error_names_every_allowed_option() -> None:
    with pytest.raises(ConfigError) as caught:
        create("http", "x", {"url": URL, "proxy": "http://p"})
    assert caught.value.context == {"option": "proxy"}
    assert caught.value.detail.endswith("allowed options: retries, timeout, token, url")


def test_a_wrong_type_never_echoes_the_value() -> None:
    with pytest.raises(ConfigError) as caught:
        create("http", "x", {"url": URL, "token": 73194625881})
    assert "73194625881" not in str(caught.value)


def test_http_defaults_and_int_timeout() -> None:
    adapter = create("http", "x", {"url": URL})
    assert isinstance(adapter, HttpAdapter)
    assert (adapter.timeout, adapter.retries) == (10.0, 2)
    tuned = create("http", "x", {"url": URL, "timeout": 5, "retries": 0, "token": "s3cr3t"})
    assert isinstance(tuned, HttpAdapter)
    assert tuned.timeout == 5.0
    assert isinstance(tuned.timeout, float)
    assert "s3cr3t" not in repr(tuned)
