#!/usr/bin/env bash
# Set up .venv (if needed) and run melodygan's main job on the weights shipped in the package:
# two 8-bar lead-sheet clips in G (MIDI with Melody/Chords/Bass tracks, WAV, piano-roll PNG,
# MusicXML), then the first clip's melody harmonized afresh. Outputs go to ./demo-out (or $1).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_env.sh ""  # no extra (an explicit argument, so $1 is not passed through)
out=${1:-demo-out}
melodygan generate --bars 8 --key G --num 2 --seed 1 --wav --png --musicxml --out "$out/clips" --force
melodygan harmonize "$out/clips/clip-001.mid" --melody-track Melody --accompaniment arpeggio --wav \
    --out "$out/clip-001-harmonized.mid" --force
echo "melodygan demo: files in $out/"
ls -1 "$out/clips" "$out"/clip-001-harmonized.*
