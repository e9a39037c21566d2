"""Throughput of the GAN engine: eight-bar clips per second, in three stages.

1. **rolls** — noise + chords → melody piano rolls ``(B, 8, 2, 16, P)`` (one batched forward call);
2. **+ decode** — the rolls decoded to notes and wrapped in Pieces (:func:`pieces_from_frames`);
3. **+ MIDI** — each Piece written as a MIDI file (:func:`melodygan.midi_io.write_midi`).

Each stage is timed ``--repeats`` times after one warm-up; the best and the median rate are
printed, with the torch thread count (the CPU may be shared: compare best against best).

    python scripts/bench_gan.py --clips 1000 --threads 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from melodygan.chords import Chord
from melodygan.gan_engine import (
    DEFAULT_CHECKPOINT,
    bar_steps_of,
    chords_to_bar_frames,
    load_generator,
    meter_rows,
    pieces_from_frames,
    sample_frames,
)
from melodygan.keys import Key
from melodygan.models.gan import GanConfig, MelodyGenerator

PROGRESSIONS = [  # roots and qualities, one chord per bar
    [(0, "maj"), (9, "min"), (5, "maj"), (7, "dom7")] * 2,
    [(0, "maj"), (5, "maj"), (0, "maj"), (7, "maj"), (0, "maj"), (5, "maj"), (7, "dom7"), (0, "maj")],
    [(9, "min"), (7, "maj"), (5, "maj"), (4, "dom7")] * 2,
]


def _time(fn, repeats: int) -> tuple[float, float]:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=1000, help="clips per batch")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch CPU threads")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per stage")
    parser.add_argument("--midi-clips", type=int, default=200, help="clips written as MIDI per timed run")
    parser.add_argument("--checkpoint", default=None, help="checkpoint folder (default: shipped weights, "
                        "else an untrained model of the default size: speed does not depend on weights)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    if args.checkpoint or (DEFAULT_CHECKPOINT / "config.json").is_file():
        model, cfg = load_generator(args.checkpoint, args.device)
    else:
        cfg = GanConfig()
        model = MelodyGenerator(cfg).to(args.device).eval()
    bars, ts = 8, (4, 4)
    bar = bar_steps_of(ts)
    chord_lists = [[Chord(r, q, i * bar, bar) for i, (r, q) in enumerate(PROGRESSIONS[j % len(PROGRESSIONS)])]
                   for j in range(args.clips)]
    keys = [Key(0, "major")] * args.clips
    frames = np.stack([chords_to_bar_frames(c, bars, bar, cfg.steps_per_bar) for c in chord_lists])
    meter = meter_rows(ts, cfg.steps_per_bar)
    rows = {}

    def rolls() -> np.ndarray:
        return sample_frames(model, frames, keys, meter, seed=1, batch_size=args.clips)

    best, med = _time(rolls, args.repeats)
    rows["rolls"] = (args.clips / best, args.clips / med)
    probs = rolls()

    def decode() -> None:
        pieces_from_frames(rolls(), chord_lists, keys, ts, cfg.pitch_low)

    best, med = _time(decode, args.repeats)
    rows["rolls + decode"] = (args.clips / best, args.clips / med)

    from melodygan.midi_io import write_midi

    m = min(args.midi_clips, args.clips)
    with tempfile.TemporaryDirectory() as tmp:
        def midi() -> None:
            pieces = pieces_from_frames(probs[:m], chord_lists[:m], keys[:m], ts, cfg.pitch_low)
            for i, p in enumerate(pieces):
                write_midi(p, Path(tmp) / f"clip{i}.mid", force=True)

        best_m, med_m = _time(midi, max(1, args.repeats // 2))
    # Per-clip costs add up: rolls + decode at the full batch, decode + MIDI measured on m clips.
    per_clip_best = 1 / rows["rolls"][0] + best_m / m
    per_clip_med = 1 / rows["rolls"][1] + med_m / m
    rows["rolls + decode + MIDI"] = (1 / per_clip_best, 1 / per_clip_med)
    print(f"{args.clips} eight-bar clips per batch, {args.threads} thread(s), device {args.device}")
    print("| stage | clips/s (best) | clips/s (median) |\n|---|---|---|")
    for name, (b, md) in rows.items():
        print(f"| {name} | {b:,.0f} | {md:,.0f} |")
    print(json.dumps({"clips": args.clips, "threads": args.threads,
                      **{k: round(v[0], 1) for k, v in rows.items()}}))


if __name__ == "__main__":
    main()
