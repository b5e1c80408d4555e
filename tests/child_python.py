"""The repository's modules run as child processes by this interpreter, from the repository
root, and the fresh environment they get: the test process's ``OMSORGSHUB_*`` variables are
dropped, so a developer's own settings never leak in, and only the ones the test passes are set.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def fresh_env(settings: Mapping[str, str]) -> dict[str, str]:
    """The test process's environment without any ``OMSORGSHUB_*`` variable, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMSORGSHUB_")}
    env.update(settings)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_module(
    *args: str, timeout: float, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m ARGS`` from the repository root, to its end; its output captured as text.

    ``env`` is the whole environment (``fresh_env``); without it, this process's."""
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
