#!/usr/bin/env bash
# Reproduce the shipped GAN weights (melodygan/weights/gan-melody/) on a 2-core CPU in 20-40
# minutes (7,000 steps of batch 32; 29 min measured on a 2-core machine shared with another
# training): preprocess the Nottingham Music Database, train the melody GAN with seed 1, then copy
# the checkpoint into the package.
#
#   scripts/train_gan.sh                          # uses ../shared/datasets/nottingham
#   NOTTINGHAM=/path/to/nottingham scripts/train_gan.sh
#   DATA=data/nott scripts/train_gan.sh           # an already preprocessed Nottingham folder
#   STEPS=500 RUN=runs/gan-short scripts/train_gan.sh   # a shorter run; does not touch the package
#
# Interrupted? Run it again: training continues from RUN/resume.pt exactly where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
# The project's environment (scripts/setup_env.sh makes it) when there is one.
if [ -z "${VIRTUAL_ENV:-}" ] && [ -f .venv/bin/activate ]; then source .venv/bin/activate; fi
NOTTINGHAM=${NOTTINGHAM:-../shared/datasets/nottingham}
DATA=${DATA:-runs/data-nottingham}
RUN=${RUN:-runs/gan-melody}
STEPS=${STEPS:-7000}
# One thread per process: on a small shared CPU, torch's thread pool spins against other work.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

if [ ! -f "$DATA/meta.json" ]; then
  python -m melodygan preprocess "nottingham:$NOTTINGHAM" --out "$DATA" --quiet
fi
RESUME=()
if [ -f "$RUN/resume.pt" ]; then RESUME=(--resume); fi
nice -n 10 python -m melodygan train gan --data "$DATA" --out "$RUN" --steps "$STEPS" --batch-size 32 \
  --seed 1 --device cpu "${RESUME[@]}"
if [ "$STEPS" = 7000 ] && [ "$RUN" = runs/gan-melody ]; then
  mkdir -p melodygan/weights/gan-melody
  cp "$RUN/config.json" "$RUN/model.safetensors" melodygan/weights/gan-melody/
  echo "copied $RUN into melodygan/weights/gan-melody/"
fi
