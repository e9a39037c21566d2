#!/usr/bin/env bash
# Train the shipped chord harmonizer from scratch and copy it into the package:
#   scripts/train_harmonizer.sh [NOTTINGHAM_DIR] [POP909_DIR]
# Defaults: ../shared/datasets/nottingham and ../shared/datasets/pop909 (the Nottingham Music
# Database's cleaned ABC folder and the POP909 folder of song folders; see data/*/README.md).
# Preprocessing is cached; training runs on one CPU thread (about 15-30 minutes on a 2-core
# machine) and resumes when rerun after an interruption.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_env.sh ""
nott=${1:-../shared/datasets/nottingham}
pop=${2:-../shared/datasets/pop909}
for d in "$nott" "$pop"; do
    if [ ! -d "$d" ]; then
        echo "train_harmonizer: $d not found; pass the Nottingham ABC folder and the POP909 folder" >&2
        exit 2
    fi
done
mkdir -p runs
[ -f runs/nott/meta.json ] || melodygan preprocess "nottingham:$nott" --out runs/nott
[ -f runs/pop909/meta.json ] || melodygan preprocess "pop909:$pop" --out runs/pop909
resume=()
[ -f runs/harmonizer/resume.pt ] && resume=(--resume)
melodygan train harmonizer --folk runs/nott --pop runs/pop909 --out runs/harmonizer --epochs 18 --threads 1 "${resume[@]}"
rm -rf melodygan/weights/harmonizer
cp -r runs/harmonizer/best melodygan/weights/harmonizer
echo "train_harmonizer: shipped weights in melodygan/weights/harmonizer"
