#!/usr/bin/env bash
# Installs Omsorgshub with its test tools into ./.venv and runs the whole suite:
# ruff (lint + format), mypy --strict, then pytest (unit, integration, e2e).
# PostgreSQL/RabbitMQ tests run when OMSORGSHUB_TEST_POSTGRES_URL / OMSORGSHUB_TEST_AMQP_URL
# are set, skip with the reason when they are unset, and fail when a set server does not answer
# (tests/servers.py); with CI=true any skip fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy --strict"
.venv/bin/mypy
echo "== pytest"
.venv/bin/pytest "$@"
