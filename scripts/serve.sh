#!/usr/bin/env bash
# Runs ctstation on embedded defaults: one process, SQLite, an in-process bus, and
# the real Docker and LXD engines of this machine (installed and started first, with
# a local registry mirror and an LXC image catalog holding small sample images).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/local-engines.sh --no-services
scripts/install.sh

# A first run points the configuration at the local registry mirror and catalog, in
# the file every `ctstation` command reads, so that `ctstation config` and
# `ctstation user add` see what the service sees. An existing file is left alone.
config=${CTSTATION_CONFIG:-/etc/ctstation/config.toml}
if [ ! -e "$config" ]; then
    mkdir -p "$(dirname "$config")"
    cat >"$config" <<'TOML'
# Written by scripts/serve.sh for the engines of scripts/local-engines.sh.
dockerhub_registry = "http://127.0.0.1:5000"
catalog_url = "http://127.0.0.1:8780/index.json"
TOML
    echo "wrote $config" >&2
fi
exec .venv/bin/ctstation serve
