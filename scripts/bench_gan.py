"""Throughput of the GAN engine: eight-bar clips per second, in stages, in one run.

1. **rolls** — noise + chords → melody piano rolls ``(B, 8, 2, 16, P)`` (one batched forward call);
2. **+ decode** — the rolls decoded to notes and wrapped in Pieces, the whole batch at once
   (:func:`pieces_from_frames`);
3. **+ MIDI bytes** — every Piece encoded as a MIDI file in memory, the batch at once
   (:func:`melodygan.formats.midi.pieces_to_midi_bytes`);
4. **+ files** — the batch written as ``.mid`` files, all or nothing
   (:func:`melodygan.formats.midi.write_midi_batch`, what ``melodygan generate`` does for MIDI);
5. for comparison, **+ one write_midi per clip** — each clip encoded and written on its own
   (atomic temporary file and rename per clip).

Each stage is timed ``--repeats`` times after one warm-up; the best and the median rate are
printed, in wall time and in CPU time of this process (the CPU may be shared: compare best
against best), with the torch thread count.

    python scripts/bench_gan.py --clips 1000 --threads 2

With ``--quality DATA`` (a folder written by ``melodygan preprocess``) it measures instead what
the melodies are like: bars 1-8 of every usable tune of the ``--split`` (default train) give the
conditioning chords, meter and key; ``--clips`` melodies are generated over them (cycling through
the tunes) and compared with the tunes' own melodies (the data row) on the evaluation metrics —
EB, UPC, QN (16th grid, >= 3 steps), in-scale ratio, CTnCTR against the conditioning chords — plus
the share of distinct melodies among the first 100.

    python scripts/bench_gan.py --quality runs/data-nottingham --clips 1000
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
from melodygan.engines.gan import DEFAULT_CHECKPOINT, load_generator, pieces_from_frames, sample_frames
from melodygan.keys import Key
from melodygan.models.gan import GanConfig, MelodyGenerator
from melodygan.pianoroll import bar_steps_of, chords_to_bar_frames, meter_rows

PROGRESSIONS = [  # roots and qualities, one chord per bar
    [(0, "maj"), (9, "min"), (5, "maj"), (7, "dom7")] * 2,
    [(0, "maj"), (5, "maj"), (0, "maj"), (7, "maj"), (0, "maj"), (5, "maj"), (7, "dom7"), (0, "maj")],
    [(9, "min"), (7, "maj"), (5, "maj"), (4, "dom7")] * 2,
]


def _time(fn, repeats: int) -> tuple[float, float, float, float]:
    """(best wall, median wall, best CPU, median CPU) seconds of ``fn`` after one warm-up."""
    fn()  # warm-up
    walls, cpus = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return min(walls), statistics.median(walls), min(cpus), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=1000, help="clips per batch")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch CPU threads")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per stage")
    parser.add_argument("--checkpoint", default=None, help="checkpoint folder (default: shipped weights, "
                        "else an untrained model of the default size: speed does not depend on weights)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--quality", default=None, help="preprocessed data folder: measure melody statistics")
    parser.add_argument("--split", default="train", help="split whose tunes give chords (with --quality)")
    parser.add_argument("--seed", type=int, default=1, help="sampling seed (with --quality)")
    parser.add_argument("--scale-mask", action="store_true", help="decode with the key's scale mask")
    parser.add_argument("--min-duration", type=int, default=None, help="decoding: minimum note length in steps "
                        "(default: DecodeConfig's)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.quality:
        quality(args)
        return

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
    rows: dict[str, tuple[float, float, float, float]] = {}
    n = args.clips

    def rolls() -> np.ndarray:
        return sample_frames(model, frames, keys, meter, seed=1, batch_size=n)

    def decode() -> list:
        return pieces_from_frames(rolls(), chord_lists, keys, ts, cfg.pitch_low)

    def encode() -> list[bytes]:
        return pieces_to_midi_bytes(decode())

    from melodygan.formats.midi import pieces_to_midi_bytes, write_midi, write_midi_batch

    with tempfile.TemporaryDirectory() as tmp:
        runs = iter(range(10**6))

        def files() -> None:
            folder = Path(tmp) / f"batch{next(runs)}"
            write_midi_batch(decode(), [folder / f"clip-{i + 1:04d}.mid" for i in range(n)])

        def one_by_one() -> None:
            folder = Path(tmp) / f"single{next(runs)}"
            for i, piece in enumerate(decode()):
                write_midi(piece, folder / f"clip-{i + 1:04d}.mid")

        stages = [("rolls", rolls), ("+ decode (batched)", decode), ("+ MIDI bytes (batched)", encode),
                  ("+ files: write_midi_batch", files), ("+ files: one write_midi per clip", one_by_one)]
        for name, fn in stages:
            rows[name] = tuple(n / x for x in _time(fn, args.repeats))  # type: ignore[assignment]
    print(f"{n} eight-bar clips per batch, {args.threads} thread(s), device {args.device}")
    print("| stage | clips/s wall (best) | wall (median) | clips per CPU-s (best) | CPU (median) |")
    print("|---|---|---|---|---|")
    for name, (bw, mw, bc, mc) in rows.items():
        print(f"| {name} | {bw:,.0f} | {mw:,.0f} | {bc:,.0f} | {mc:,.0f} |")
    print(json.dumps({"clips": n, "threads": args.threads, **{k: round(v[0], 1) for k, v in rows.items()}}))


def quality(args: argparse.Namespace) -> None:
    """Data row vs model row on bars 1-8 of the tunes (see the module docstring)."""
    from melodygan.corpora.preprocess import load_pieces
    from melodygan.engines.gan import gan_melodies
    from melodygan.evaluate import excerpt
    from melodygan.metrics import ctnctr, mean_metrics, roll_metrics

    bars = 8
    tunes = [p for p in load_pieces(args.quality, args.split) if bar_steps_of(p.time_signature) <= 16
             and p.num_bars >= bars and len(p.melody) >= 8 and len(p.chords) >= 2]
    real = [excerpt(p, bars) for p in tunes]
    picks = [real[i % len(real)] for i in range(args.clips)]
    generated = [None] * len(picks)
    for ts in sorted({p.time_signature for p in picks}):
        idx = [i for i, p in enumerate(picks) if p.time_signature == ts]
        # One call per meter and key mode keeps the batch large; each melody keeps its tune's key.
        t0 = time.perf_counter()
        out = []
        for j in range(0, len(idx), 1000):
            part = idx[j:j + 1000]
            for i, piece in zip(part, _melodies_per_key(gan_melodies, [picks[i] for i in part], ts, bars, args)):
                generated[i] = piece
                out.append(piece)
        print(f"{ts[0]}/{ts[1]}: {len(idx)} melodies in {time.perf_counter() - t0:.2f} s")

    def row(pieces: list) -> dict[str, float]:
        rows = []
        for p in pieces:
            r = roll_metrics(p)
            r["ctnctr"] = ctnctr(p.melody, p.chords)
            r["notes_per_bar"] = len(p.melody) / bars
            rows.append(r)
        m = mean_metrics(rows)
        first = pieces[:100]
        m["distinct_of_100"] = len({tuple(p.melody) for p in first}) / len(first)
        return m

    cols = ["eb", "upc", "qn", "in_scale", "ctnctr", "td", "notes_per_bar", "distinct_of_100"]
    data_row, model_row = row(real), row(generated)
    print(f"{len(real)} tunes ({args.split}) as data; {len(generated)} generated melodies, seed {args.seed}, "
          f"scale mask {'on' if args.scale_mask else 'off'}, {_decode_config(args)}")
    print("| melodies | " + " | ".join(c.upper() if len(c) <= 3 else c for c in cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for name, r in ((f"Nottingham {args.split} (bars 1-8)", data_row), ("GAN", model_row)):
        print(f"| {name} | " + " | ".join(f"{r[c]:.3f}" for c in cols) + " |")
    same = []
    for p in real[:10]:  # 100 melodies over one tune's chords, for ten tunes
        made = gan_melodies([p.chords] * 100, bars=bars, time_signature=p.time_signature, key=p.key, seed=args.seed,
                            checkpoint=args.checkpoint, device=args.device, scale_mask=args.scale_mask,
                            decode=_decode_config(args))
        same.append(len({tuple(m.melody) for m in made}) / 100)
    print(f"distinct among 100 melodies over the same chords (10 tunes): mean {np.mean(same):.2f}, "
          f"min {min(same):.2f}")
    print(json.dumps({"data": data_row, "gan": model_row, "distinct_same_chords": same}))


def _decode_config(args: argparse.Namespace):
    from melodygan.engines.gan import DecodeConfig

    if args.min_duration is None:
        return DecodeConfig()
    return DecodeConfig(min_duration_steps=args.min_duration)


def _melodies_per_key(gan_melodies, pieces: list, ts: tuple[int, int], bars: int, args: argparse.Namespace) -> list:
    """gan_melodies over each piece's chords, in its own key (one call per distinct key)."""
    out: list = [None] * len(pieces)
    for key in sorted({p.key for p in pieces}, key=lambda k: (k.tonic, k.mode)):
        idx = [i for i, p in enumerate(pieces) if p.key == key]
        made = gan_melodies([pieces[i].chords for i in idx], bars=bars, time_signature=ts, key=key,
                            seed=args.seed + 7919 * key.tonic + (key.mode == "minor"), checkpoint=args.checkpoint,
                            device=args.device, scale_mask=args.scale_mask, decode=_decode_config(args))
        for i, m in zip(idx, made):
            out[i] = m
    return out


if __name__ == "__main__":
    main()
