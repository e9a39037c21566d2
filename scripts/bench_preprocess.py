#!/usr/bin/env python
"""Benchmark: MIDI files → notes on the grid, melodygan against plain pretty_midi and symusic, in one run.

With ``--pop909 DIR`` it reads the first ``--limit`` (default 288) POP909 songs and counts files
per CPU second (``time.process_time``, so that other work on the machine matters less), one
process, every row on the same files:

* ``melodygan rows``: :func:`melodygan.formats.midi_arrays.midi_to_arrays`, the corpus path
  (the rows ``melodygan preprocess midi:DIR`` writes: melody chosen, skyline, key, meter, no
  Note objects), one file at a time as ``preprocess`` reads them;
* ``melodygan rows, 16 files at a time``: :func:`melodygan.formats.midi_arrays.midi_to_arrays_many`;
* ``melodygan preprocess job``: the whole job of one file in ``preprocess midi:DIR`` (the rows
  and chords labelled by beat; without the cache file);
* ``melodygan midi_to_piece + rolls``: :func:`melodygan.formats.midi.midi_to_piece` (the Piece,
  Note objects) and onset/sustain rolls of every track;
* ``melodygan, pretty_midi path``: the same with the pretty_midi reader this build keeps for the
  files its symusic reader leaves to it;
* ``melodygan before`` (with ``--before DIR``, a checkout of an earlier revision): its
  ``midi_to_piece`` + rolls, run in a child process with ``PYTHONPATH=DIR``;
* ``pretty_midi``: ``PrettyMIDI(path).get_piano_roll(fs)``;
* ``symusic``: ``Score(path)`` alone, and with ``resample`` + ``pianoroll``.

and prints a Markdown table with each row's ratio to pretty_midi and to symusic's bare parse (each
row the least CPU time of ``--repeat`` rounds, taken in turns).

Without ``--pop909`` it builds a synthetic corpus (default 1,000 MIDI files, a melody and a bass track, a few hundred
notes each, written with pretty_midi into a temporary folder), then times each way of reading
every file:

* ``melodygan rows``: :func:`melodygan.formats.midi_arrays.midi_to_arrays`, one process;
* ``melodygan``: :func:`melodygan.formats.midi.midi_to_piece` (quantised Piece) and
  :func:`melodygan.pianoroll.notes_to_roll` per track (onset + sustain, ``(2, T, 128)``), one process;
* ``melodygan preprocess``: the whole preprocessing stage on the folder (quantise, label chords,
  check, split, write arrays + meta.json), with ``--workers`` processes and a cold cache;
* ``pretty_midi``: ``PrettyMIDI(path).get_piano_roll(fs)`` with ``fs`` = 16ths per second (sustain only);
* ``symusic``: ``Score(path).resample(tpq=4)`` and ``track.pianoroll(modes=["onset", "frame"])``.

Prints files/s and each method's time relative to melodygan's, as a Markdown table. One run
each; the numbers move with the machine's load.

Usage: ``python scripts/bench_preprocess.py [--files 1000] [--notes 300] [--workers 2]``
       ``python scripts/bench_preprocess.py --pop909 ../shared/datasets/pop909 [--limit 288] [--before DIR]
       [--repeat 3]``
       ``python scripts/bench_preprocess.py --scale 1000 10000 [--workers 2] [--shard-size 1000]``
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from itertools import pairwise
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
        end = piece.end_steps
        for notes in piece.tracks().values():
            cells += int(notes_to_roll(notes, end, strict=False).sum())
    return cells


def read_rows(paths: list[Path]) -> int:
    """The corpus path: each file's rows, one file at a time (as ``preprocess`` reads them)."""
    from melodygan.formats.midi_arrays import midi_to_arrays

    return sum(len(midi_to_arrays(p).notes) for p in paths)


def read_rows_many(paths: list[Path], batch: int = 16) -> int:
    """The corpus path, ``batch`` files at a time."""
    from melodygan.formats.midi_arrays import midi_to_arrays_many

    notes = 0
    for i in range(0, len(paths), batch):
        for got in midi_to_arrays_many(paths[i:i + batch]):
            if isinstance(got, Exception):
                raise got
            notes += len(got.notes)
    return notes


def preprocess_jobs(paths: list[Path]) -> int:
    """What ``preprocess midi:DIR`` does per file, but the cache file: rows and chords by beat."""
    from melodygan.corpora.sources import Job, run_job

    return sum(len(run_job(Job("midi", str(p), p.name)).items) for p in paths)


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


def symusic_parse(paths: list[Path]) -> int:
    import symusic

    return sum(symusic.Score(str(p)).note_num() for p in paths)


def pretty_midi_path(paths: list[Path]) -> int:
    """melodygan's own pretty_midi reader (what the symusic reader falls back to), + rolls."""
    import melodygan.formats.midi as midi_module

    fast = midi_module._read_with_symusic
    midi_module._read_with_symusic = lambda *args: None  # type: ignore[assignment]
    try:
        return ours(paths)
    finally:
        midi_module._read_with_symusic = fast  # type: ignore[assignment]


def cpu_timed(fn: Callable[[], object]) -> float:
    """CPU seconds of this process for one call (warnings silenced: every file has some)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.process_time()
        fn()
        return time.process_time() - start


def before(checkout: str, paths: list[Path]) -> float:
    """CPU seconds of :func:`ours` with the melodygan of another checkout, in a child process."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump([str(p) for p in paths], f)
    try:
        out = subprocess.run([sys.executable, __file__, "--child-ours", f.name], check=True, capture_output=True,
                             text=True, env={**os.environ, "PYTHONPATH": checkout})
    finally:
        os.unlink(f.name)
    return float(out.stdout.strip().splitlines()[-1])


def pop909_table(root: Path, limit: int, checkout: str | None, repeat: int = 3) -> None:
    """The table of the module docstring; every row timed ``repeat`` times, in turns, the least
    CPU time kept (a shared machine's load moves single runs by tens of percent)."""
    songs = sorted(d for d in root.iterdir() if d.is_dir() and d.name.isdigit())[:limit]
    paths = [d / f"{d.name}.mid" for d in songs]
    for fn in (read_rows, plain_pretty_midi, symusic_parse):  # imports and first calls out of the timing
        cpu_timed(functools.partial(fn, paths[:2]))
    methods: list[tuple[str, Callable[[], float]]] = [
        ("melodygan rows (`midi_to_arrays`, the corpus path), one file at a time",
         lambda: cpu_timed(lambda: read_rows(paths))),
        ("melodygan rows, 16 files at a time (`midi_to_arrays_many`)",
         lambda: cpu_timed(lambda: read_rows_many(paths))),
        ("melodygan preprocess job (rows + chords labelled by beat)",
         lambda: cpu_timed(lambda: preprocess_jobs(paths))),
        ("melodygan `midi_to_piece` + onset/sustain rolls (Note objects)", lambda: cpu_timed(lambda: ours(paths))),
        ("melodygan, its pretty_midi reader", lambda: cpu_timed(lambda: pretty_midi_path(paths))),
    ]
    if checkout:
        methods.append((f"melodygan before ({checkout}), `midi_to_piece` + rolls", lambda: before(checkout, paths)))
    methods += [
        ("pretty_midi `PrettyMIDI` + `get_piano_roll`", lambda: cpu_timed(lambda: plain_pretty_midi(paths))),
        ("symusic `Score` + `resample` + `pianoroll`", lambda: cpu_timed(lambda: with_symusic(paths))),
        ("symusic `Score` alone (bare parse)", lambda: cpu_timed(lambda: symusic_parse(paths))),
    ]
    best = [float("inf")] * len(methods)
    for _ in range(repeat):
        for i, (_, run) in enumerate(methods):
            best[i] = min(best[i], run())
    pm, sym = best[-3], best[-1]
    notes = symusic_parse(paths)
    print(f"{len(paths)} POP909 files ({sum(p.stat().st_size for p in paths) / 2**20:.1f} MiB, "
          f"{notes / len(paths):,.0f} notes a file), one process, files per CPU second, "
          f"the best of {repeat} rounds\n")
    print("| method | CPU s | files per CPU-s | vs pretty_midi | vs symusic bare parse |")
    print("|---|---:|---:|---:|---:|")
    for (name, _), seconds in zip(methods, best):
        rate = len(paths) / seconds
        print(f"| {name} | {seconds:.2f} | {rate:,.0f} | {pm / seconds:.2f}× | {sym / seconds:.3f}× |")


def write_small_corpus(folder: Path, files: int, seed: int = 0) -> None:
    """``files`` eight-bar songs (melody + bass, 16th grid) written with melodygan's batch writer."""
    from melodygan.formats.midi import write_midi_batch
    from melodygan.notes import Note
    from melodygan.piece import Piece

    rng = np.random.default_rng(seed)
    for first in range(0, files, 1000):
        pieces = []
        for _ in range(first, min(first + 1000, files)):
            steps = np.cumsum(rng.choice([1, 2, 2, 4, 4, 8], size=64))
            steps = steps[steps < 128]
            melody = [Note(int(a), int(b - a), int(60 + rng.integers(0, 24))) for a, b in pairwise(steps)]
            bass = [Note(16 * k, 16, int(36 + rng.integers(0, 12))) for k in range(8)]
            pieces.append(Piece(melody=melody, voices={"Bass": bass}, length_steps=128))
        write_midi_batch(pieces, [folder / f"{i:06d}.mid" for i in range(first, first + len(pieces))])


def scale_table(sizes: list[int], workers: int, shard_size: int) -> None:
    """``melodygan preprocess midi:DIR`` on synthetic folders of each size: wall time, files/s and
    the peak memory of the main process and of the largest worker (GNU time, ``ru_maxrss``)."""
    import resource

    print(f"melodygan preprocess of synthetic MIDI folders, {workers} workers, {shard_size} files per shard\n")
    print("| files | wall s | files/s | CPU s (all processes) | peak RSS MiB (largest process) |")
    print("|---:|---:|---:|---:|---:|")
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "midi"
            write_small_corpus(folder, n)
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "melodygan", "preprocess", f"midi:{folder}", "--out",
                            str(Path(tmp) / "out"), "--workers", str(workers), "--shard-size", str(shard_size),
                            "--quiet"], check=True, capture_output=True)
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
            print(f"| {n:,} | {wall:.1f} | {n / wall:,.0f} | {cpu:.1f} | {after.ru_maxrss / 1024:.0f} |")


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
    ap.add_argument("--pop909", default=None, help="POP909 folder: read its songs instead of a synthetic corpus")
    ap.add_argument("--limit", type=int, default=288, help="POP909 songs to read (the first, by id)")
    ap.add_argument("--before", default=None, help="checkout of an earlier melodygan to time as well (--pop909)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of the --pop909 table (the least CPU time kept)")
    ap.add_argument("--scale", type=int, nargs="+", default=None, metavar="FILES",
                    help="time `melodygan preprocess` on synthetic folders of these sizes (e.g. 1000 10000)")
    ap.add_argument("--shard-size", type=int, default=1000, help="files per shard (--scale)")
    ap.add_argument("--child-ours", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_ours:
        paths = [Path(p) for p in json.loads(Path(args.child_ours).read_text())]
        print(cpu_timed(lambda: ours(paths)))
        return
    if args.scale:
        scale_table(args.scale, args.workers, args.shard_size)
        return
    if args.pop909:
        pop909_table(Path(args.pop909), args.limit, args.before, args.repeat)
        return

    from melodygan.corpora.preprocess import preprocess

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "midi"
        folder.mkdir()
        t = timed(lambda: write_corpus(folder, args.files, args.notes))
        paths = sorted(folder.glob("*.mid"))
        print(f"corpus: {len(paths)} files, {args.notes} melody notes + bass each, written in {t:.1f} s")
        rows = [
            ("melodygan rows (midi_to_arrays), 1 process", timed(lambda: read_rows(paths))),
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
