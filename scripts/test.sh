#!/usr/bin/env bash
# Set up .venv (if needed) with the dev extra and the system libraries we can install, then run
# the linters (ruff, mypy) and the default test suite. Idempotent: a second run skips the installs.
# Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_env.sh dev
# The studio's browser test drives Debian's Chromium through Playwright (about a minute to install
# where apt-get runs as root; MELODYGAN_BROWSER=0 skips it, and without a Chromium the test skips).
if [ "${MELODYGAN_BROWSER:-1}" != 0 ] && ! command -v chromium >/dev/null 2>&1 \
        && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    (apt-get install -y -q chromium >/dev/null 2>&1 || \
     (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1)) \
        || echo "note: could not install chromium; the studio's browser test will be skipped" >&2
fi
python -m ruff check melodygan tests scripts
python -m mypy melodygan
exec python -m pytest "$@"
