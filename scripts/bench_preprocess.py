#!/usr/bin/env python
"""Benchmark: MIDI files → piano rolls, melodygan against plain pretty_midi and symusic, in one run.

Builds a synthetic corpus (default 1,000 MIDI files, a melody and a bass track, a few hundred
notes each, written with pretty_midi into a temporary folder), then times each way of reading
every file into a 16th-note piano roll:

* ``melodygan``: :func:`melodygan.formats.midi.midi_to_piece` (quantised Piece) and
  :func:`melodygan.pianoroll.notes_to_roll` per track (onset + sustain, ``(2, T, 128)``), one process;
* ``melodygan preprocess``: the whole preprocessing stage on the folder (quantise, label chords,
  check, split, write arrays + meta.json), with ``--workers`` processes and a cold cache;
* ``pretty_midi``: ``PrettyMIDI(path).get_piano_roll(fs)`` with ``fs`` = 16ths per second (sustain only);
* ``symusic``: ``Score(path).resample(tpq=4)`` and ``track.pianoroll(modes=["onset", "frame"])``.

Prints files/s and each method's time relative to melodygan's, as a Markdown table. One run
each; the numbers move with the machine's load.

Usage: ``python scripts/bench_preprocess.py [--files 1000] [--notes 300] [--workers 2]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

TEMPO_BPM = 120.0
STEPS_PER_QUARTER = 4


def write_corpus(folder: Path, files: int, notes: int, seed: int = 0) -> None:
    """``files`` MIDI files of ``notes`` melody notes (16ths to halves, on the grid) plus a bass line."""
    import pretty_midi

    rng = np.random.default_rng(seed)
    step = 60.0 / TEMPO_BPM / STEPS_PER_QUARTER
    for i in range(files):
        pm = pretty_midi.PrettyMIDI(initial_tempo=TEMPO_BPM)
        melody = pretty_midi.Instrument(program=73, name="Melody")
        bass = pretty_midi.Instrument(program=33, name="Bass")
        t, pitch = 0, 72
        for _ in range(notes):
            dur = int(rng.choice([1, 2, 2, 4, 4, 4, 6, 8]))
            pitch = int(np.clip(pitch + rng.integers(-4, 5), 60, 84))
            melody.notes.append(pretty_midi.Note(90, pitch, t * step, (t + dur) * step))
            t += dur
        for bar in range(0, t, 16):
            bass.notes.append(pretty_midi.Note(80, int(36 + rng.integers(0, 12)), bar * step, (bar + 16) * step))
        pm.instruments.extend([melody, bass])
        pm.write(str(folder / f"song{i:04d}.mid"))


def ours(paths: list[Path]) -> int:
    from melodygan.formats.midi import midi_to_piece
    from melodygan.pianoroll import notes_to_roll

    cells = 0
    for p in paths:
        piece = midi_to_piece(p)
        for notes in piece.tracks().values():
            cells += int(notes_to_roll(notes, piece.end_steps, strict=False).sum())
    return cells


def plain_pretty_midi(paths: list[Path]) -> int:
    import pretty_midi

    fs = TEMPO_BPM / 60.0 * STEPS_PER_QUARTER
    cells = 0
    for p in paths:
        roll = pretty_midi.PrettyMIDI(str(p)).get_piano_roll(fs=fs)  # (128, T)
        cells += int((roll > 0).sum())
    return cells


def with_symusic(paths: list[Path]) -> int:
    import symusic

    cells = 0
    for p in paths:
        score = symusic.Score(str(p)).resample(tpq=STEPS_PER_QUARTER, min_dur=1)
        for track in score.tracks:
            cells += int(track.pianoroll(modes=["onset", "frame"], pitch_range=[0, 128]).sum())  # (2, 128, T)
    return cells


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--files", type=int, default=1000, help="MIDI files in the synthetic corpus")
    ap.add_argument("--notes", type=int, default=300, help="melody notes per file")
    ap.add_argument("--workers", type=int, default=2, help="processes for the preprocess row")
    args = ap.parse_args()

    from melodygan.corpora.preprocess import preprocess

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "midi"
        folder.mkdir()
        t = timed(lambda: write_corpus(folder, args.files, args.notes))
        paths = sorted(folder.glob("*.mid"))
        print(f"corpus: {len(paths)} files, {args.notes} melody notes + bass each, written in {t:.1f} s")
        rows = [
            ("melodygan (midi_to_piece + onset/sustain roll), 1 process", timed(lambda: ours(paths))),
            (f"melodygan preprocess (chord labels, arrays, meta), {args.workers} processes",
             timed(lambda: preprocess([f"midi:{folder}"], Path(tmp) / "out", workers=args.workers, progress=False))),
            ("pretty_midi: PrettyMIDI + get_piano_roll, 1 process", timed(lambda: plain_pretty_midi(paths))),
            ("symusic: Score + resample + pianoroll, 1 process", timed(lambda: with_symusic(paths))),
        ]
    base = rows[0][1]
    print()
    print("| method | seconds | files/s | time vs melodygan |")
    print("|---|---:|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.2f} | {len(paths) / seconds:.0f} | {seconds / base:.2f}× |")


if __name__ == "__main__":
    main()
