#!/usr/bin/env bash
# Runs ctstation on embedded defaults: one process, SQLite, an in-process bus, and
# the real Docker and LXD engines of this machine (installed and started first, with
# a local registry mirror and an LXC image catalog holding small sample images).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/local-engines.sh --no-services
scripts/install.sh

export CTSTATION_DOCKERHUB_REGISTRY="${CTSTATION_DOCKERHUB_REGISTRY:-http://127.0.0.1:5000}"
export CTSTATION_CATALOG_URL="${CTSTATION_CATALOG_URL:-http://127.0.0.1:8780/index.json}"
exec .venv/bin/ctstation serve
