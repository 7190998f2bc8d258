#!/usr/bin/env bash
# Creates .venv and installs ctstation into it with its test tools. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
# Reinstall only when pyproject.toml changed since the last install.
stamp=.venv/.installed-pyproject
if ! cmp -s pyproject.toml "$stamp" 2>/dev/null; then
    .venv/bin/pip install --quiet --disable-pip-version-check -e '.[test]'
    cp pyproject.toml "$stamp"
fi
