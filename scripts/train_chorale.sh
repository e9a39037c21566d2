#!/usr/bin/env bash
# Train the shipped chorale voicer (harmonize --style chorale) from scratch and copy it into the
# package:
#   scripts/train_chorale.sh [PATH/TO/Jsb16thSeparated.json]
# Default: ../shared/datasets/jsb-chorales/Jsb16thSeparated.json (the JSB Chorales on a 16th-note
# grid; see data/jsb-chorales/README.md). Its train split trains, its valid split picks the best
# epoch; the test split is never read. One CPU thread, 150 epochs or at most 75 minutes (about
# 25 s per epoch on a 2-core machine); rerun after an interruption and it resumes.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_env.sh ""
jsb=${1:-../shared/datasets/jsb-chorales/Jsb16thSeparated.json}
if [ ! -f "$jsb" ]; then
    echo "train_chorale: $jsb not found; pass the JSB Chorales file Jsb16thSeparated.json" >&2
    exit 2
fi
mkdir -p runs
resume=()
[ -e runs/chorale/resume.pt ] && resume=(--resume)
melodygan train chorale --data "$jsb" --out runs/chorale --epochs 150 --max-minutes 75 --threads 1 "${resume[@]}"
rm -rf melodygan/weights/chorale
cp -rL runs/chorale/best melodygan/weights/chorale
echo "train_chorale: shipped weights in melodygan/weights/chorale"
