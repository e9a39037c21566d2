#!/usr/bin/env bash
# Set up .venv (if needed) and run melodygan's main job on the weights shipped in the package.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_env.sh
out=${1:-demo-out}
melodygan preprocess music21:bach --out "$out/bach-cache"
