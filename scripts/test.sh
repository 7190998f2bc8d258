#!/usr/bin/env bash
# The test command: installs and starts everything the tests need (engines, registry,
# catalog, test images, the Python environment), then runs pytest. Safe to run again.
# Arguments go to pytest, e.g. `scripts/test.sh tests/unit -x`.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/local-engines.sh
scripts/install.sh

status=0
CTSTATION_TEST_REQUIRE_ENGINES=1 .venv/bin/python -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests" >&2
    exit 0
fi
exit "$status"
