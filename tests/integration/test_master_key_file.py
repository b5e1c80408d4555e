"""The master key file: created 0600, never overwritten, refused when others may read it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from hub.errors import ConfigError, GuardUnavailable
from hub.keys.store import MasterKey, init_master_key, load_master_key

# -- master key file ---------------------------------------------------------------------------


def test_init_creates_0600_file_even_under_a_lax_umask(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    old = os.umask(0)
    try:
        init_master_key(path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    master: MasterKey = load_master_key(path, None)
    wrapped = master.wrap(bytes(32), b"ctx")
    assert load_master_key(path, None).unwrap(wrapped, b"ctx") == bytes(32)


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    init_master_key(path)
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="refusing to overwrite"):
        init_master_key(path)
    assert path.read_bytes() == before


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620])
def test_group_or_other_accessible_file_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "master.key"
    init_master_key(path)
    path.chmod(mode)
    with pytest.raises(ConfigError, match=f"chmod 600 {path}"):
        load_master_key(path, None)


def test_missing_file_is_guard_unavailable(tmp_path: Path) -> None:
    with pytest.raises(GuardUnavailable, match="does not exist"):
        load_master_key(tmp_path / "absent.key", None)


def test_file_with_garbage_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    path.write_bytes(b"not a key\n")
    path.chmod(0o600)
    with pytest.raises(ConfigError):
        load_master_key(path, None)


def test_init_in_missing_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        init_master_key(tmp_path / "no" / "such" / "master.key")
