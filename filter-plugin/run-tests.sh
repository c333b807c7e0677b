#!/usr/bin/env bash
# The filter's pytest suite, in a venv cached outside the clone. The tests start the real built
# sidecar (dist/), so build first: `npm run test:filter` does both.
set -euo pipefail
cd "$(dirname "$0")"
venv="${MAI_USAGE_FILTER_VENV:-$HOME/.cache/mai-usage/filter-test-venv}"
if [ ! -x "$venv/bin/pytest" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r requirements-test.txt
exec "$venv/bin/pytest" -q tests
