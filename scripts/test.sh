#!/usr/bin/env bash
# Set up .venv (if needed) with the dev extra and the system libraries we can install, then run
# the linters (ruff, mypy) and the default test suite. Idempotent: a second run skips the installs.
# Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_env.sh dev
python -m ruff check melodygan tests scripts
python -m mypy melodygan
exec python -m pytest "$@"
