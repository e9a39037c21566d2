#!/usr/bin/env bash
# Train the weights shipped inside the package, from the Nottingham Music Database (folk) and
# POP909 (pop):
#   1. melodygan/weights/ar-leadsheet/  the lead-sheet transformer (generate; both genres)
#   2. melodygan/weights/gan-melody/    the melody GAN (scripts/train_gan.sh; Nottingham)
# Sized for a 2-core CPU: the two models train side by side, one core each, so the whole script
# takes about 2 hours 10 minutes (transformer: 5,000 steps or at most 85 minutes on one thread —
# its learning rate decays on the time budget, so a slower machine just sees fewer steps — then a
# 40-minute continuation from those weights with a fresh, lower learning rate and more tune
# openings; GAN on the other core). Resumable: run it again after an interruption and each run
# continues from its resume.pt.
#
#   NOTTINGHAM=/path/to/nottingham POP909=/path/to/POP909 scripts/train_defaults.sh
#
# Bigger setting for a GPU (keys kept and augmented instead of moved to C; ~25 M parameters):
#   melodygan train ar --data runs/data-nottingham --out runs/ar-gpu --size gpu --steps 20000 \
#       --batch-size 64 --window 1024 --no-normalize-key --augment 6 --compile
#   (several GPUs: torchrun --nproc_per_node=N -m melodygan train ar ... with the same flags)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_env.sh ""
nottingham=${NOTTINGHAM:-../shared/datasets/nottingham}
pop909=${POP909:-../shared/datasets/pop909}
data=${DATA:-runs/data-nottingham}
pop_data=${POP_DATA:-runs/data-pop909}
run=${AR_RUN:-runs/ar-leadsheet}
if [ ! -d "$nottingham" ] && [ ! -f "$data/meta.json" ]; then
    echo "train_defaults.sh: no Nottingham Music Database at $nottingham; pass NOTTINGHAM=/path/to/nottingham (the folder of ABC files, see data/nottingham/README.md)" >&2
    exit 2
fi
if [ ! -d "$pop909" ] && [ ! -f "$pop_data/meta.json" ]; then
    echo "train_defaults.sh: no POP909 at $pop909; pass POP909=/path/to/POP909 (the folder of song folders 001/ ... 909/, see data/pop909/README.md)" >&2
    exit 2
fi
[ -f "$data/meta.json" ] || melodygan preprocess "nottingham:$nottingham" --out "$data" --quiet
[ -f "$pop_data/meta.json" ] || melodygan preprocess "pop909:$pop909" --out "$pop_data" --quiet
mkdir -p "$(dirname "$run")"
# The GAN trains on the second core while the transformer uses the first.
gan_pid=""
if [ -f scripts/train_gan.sh ]; then
    DATA="$data" NOTTINGHAM="$nottingham" OMP_NUM_THREADS=1 bash scripts/train_gan.sh > "${run}-gan.log" 2>&1 &
    gan_pid=$!
fi
resume=()
[ -f "$run/resume.pt" ] && resume=(--resume)
nice -n 10 melodygan train ar --data "$data" --pop "$pop_data" --out "$run" --threads 1 --size base \
    --steps 5000 --batch-size 16 --window 320 --lr 2e-3 --warmup 200 --eval-every 250 --max-minutes 85 \
    "${resume[@]}"
# The continuation: from the first run's last weights, a fresh warm-up to a lower peak, 30% of the
# windows at a tune's opening (half of those from bar 1 of a tune with a pickup).
resume=()
[ -f "$run-more/resume.pt" ] && resume=(--resume)
nice -n 10 melodygan train ar --data "$data" --pop "$pop_data" --out "$run-more" --init-from "$run" --threads 1 \
    --size base --steps 2000 --batch-size 16 --window 320 --lr 6e-4 --warmup 50 --eval-every 250 --max-minutes 40 \
    --opening-fraction 0.3 --downbeat-fraction 0.5 "${resume[@]}"
mkdir -p melodygan/weights/ar-leadsheet
cp "$run-more/best/config.json" "$run-more/best/model.safetensors" melodygan/weights/ar-leadsheet/
echo "transformer weights: melodygan/weights/ar-leadsheet ($(du -sh melodygan/weights/ar-leadsheet | cut -f1))"
if [ -n "$gan_pid" ]; then
    wait "$gan_pid" || { echo "GAN training failed; see ${run}-gan.log" >&2; exit 1; }
    tail -n 3 "${run}-gan.log"
fi
