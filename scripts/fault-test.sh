#!/usr/bin/env bash
# The fault suite alone: a few hundred creates through the real stack while its
# services are killed, then a RabbitMQ restart (which touches every vhost: set
# CTSTATION_FAULTS_RESTART_BROKER=0 where others share the broker). Needs the
# engines and broker of scripts/local-engines.sh; arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m pytest tests/faults -q -s "$@"
