#!/usr/bin/env bash
# Train the weights shipped inside the package, from the Nottingham Music Database:
#   1. melodygan/weights/ar-leadsheet/  the lead-sheet transformer (generate, harmonize)
#   2. melodygan/weights/gan-melody/    the melody GAN (scripts/train_gan.sh)
# Sized for a 2-core CPU shared with other work: 50 minutes for the transformer on one thread
# (the learning rate decays on the time budget, so a slower machine just sees fewer steps).
# Resumable: run it again after an interruption and each run continues from its resume.pt.
#
#   NOTTINGHAM=/path/to/nottingham scripts/train_defaults.sh
#
# Bigger setting for a GPU (keys kept and augmented instead of moved to C; ~25 M parameters):
#   melodygan train ar --data runs/data-nottingham --out runs/ar-gpu --size gpu --steps 20000 \
#       --batch-size 64 --window 1024 --no-normalize-key --augment 6 --compile
#   (several GPUs: torchrun --nproc_per_node=N -m melodygan train ar ... with the same flags)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_env.sh
nottingham=${NOTTINGHAM:-../shared/datasets/nottingham}
data=${DATA:-runs/data-nottingham}
run=${AR_RUN:-runs/ar-leadsheet}
if [ ! -f "$data/meta.json" ]; then
    melodygan preprocess "nottingham:$nottingham" --out "$data" --quiet
fi
resume=()
[ -f "$run/resume.pt" ] && resume=(--resume)
nice -n 10 melodygan train ar --data "$data" --out "$run" --threads 1 --size small --steps 3000 \
    --batch-size 16 --window 256 --lr 3e-3 --eval-every 100 --max-minutes 50 "${resume[@]}"
mkdir -p melodygan/weights/ar-leadsheet
cp "$run/best/config.json" "$run/best/model.safetensors" melodygan/weights/ar-leadsheet/
echo "transformer weights: melodygan/weights/ar-leadsheet ($(du -sh melodygan/weights/ar-leadsheet | cut -f1))"
if [ -f scripts/train_gan.sh ]; then
    bash scripts/train_gan.sh
fi
