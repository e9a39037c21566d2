#!/usr/bin/env python
"""Benchmark: ``melodygan harmonize`` of a whole song, end to end and stage by stage.

Runs the command on one song (default POP909's 001, about four minutes of music) in fresh
interpreters, ``--repeats`` times (median wall, CPU and peak RSS by /usr/bin/time), then once
more with a timer around each stage: importing torch, reading the MIDI file, loading the
harmonizer, harmonizing (features, network, chord-path search), arranging and writing the MIDI
file. ``--before CHECKOUT`` times another checkout the same way (its ``PYTHONPATH``).

Usage: ``python scripts/bench_harmonize.py [--song 001.mid] [--repeats 3] [--before CHECKOUT]``;
the song defaults to ``$MELODYGAN_POP909/001/001.mid`` or ``../shared/datasets/pop909/001/001.mid``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POP909 = Path(os.environ.get("MELODYGAN_POP909") or ROOT.parent / "shared" / "datasets" / "pop909")

STAGES = """
import os, sys, tempfile, time
marks = [("start", time.perf_counter(), time.process_time())]
def mark(name):
    marks.append((name, time.perf_counter(), time.process_time()))
import torch
mark("import torch")
from melodygan.formats.readers import read_score
piece = read_score(sys.argv[1])
mark("read the MIDI file")
from melodygan.engines import harmonize as h
h.load_harmonizer()
mark("load the harmonizer")
result = h.harmonize(piece)
mark("harmonize (features, network, chord path)")
from melodygan.engines.arrange import arrange
from melodygan.formats.export import export_piece
with tempfile.TemporaryDirectory() as d:
    export_piece(arrange(result), os.path.join(d, "h.mid"))
mark("arrange, write the MIDI file")
for (_, w0, c0), (name, w1, c1) in zip(marks, marks[1:]):
    print(f"{name}\\t{w1 - w0:.2f}\\t{c1 - c0:.2f}")
print(f"bars\\t{result.num_bars}\\t{len(result.chords)}")
"""


def run(cmd: list[str], checkout: Path) -> tuple[float, float, float, str]:
    """Wall s, CPU s, peak RSS (MiB) and stdout of a command in a fresh process."""
    time_bin = shutil.which("time") or "/usr/bin/time"
    with tempfile.NamedTemporaryFile("r", suffix=".txt") as report:
        t0 = time.perf_counter()
        proc = subprocess.run([time_bin, "-f", "%U %S %M", "-o", report.name, *cmd], check=True, text=True,
                              capture_output=True, cwd=checkout, env=dict(os.environ, PYTHONPATH=str(checkout)))
        wall = time.perf_counter() - t0
        user, system, peak = report.read().split()[-3:]
    return wall, float(user) + float(system), int(peak) / 1024, proc.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--song", type=Path, default=POP909 / "001" / "001.mid", help="MIDI file with a melody")
    parser.add_argument("--repeats", type=int, default=3, help="runs of the command; the median counts")
    parser.add_argument("--before", type=Path, default=None, metavar="CHECKOUT", help="another checkout to time")
    args = parser.parse_args(argv)
    if not args.song.is_file():
        parser.error(f"{args.song}: no such file (set MELODYGAN_POP909 or pass --song)")
    checkouts = [("this checkout", ROOT)] + ([("--before", args.before.resolve())] if args.before else [])
    print(f"\n`melodygan harmonize {args.song.name}`, median of {args.repeats} fresh runs:\n")
    print("| checkout | wall s | CPU s | peak RSS MiB |\n|---|---:|---:|---:|")
    for label, checkout in checkouts:
        runs = []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as out:
                cmd = [sys.executable, "-m", "melodygan", "harmonize", str(args.song.resolve()), "--out",
                       str(Path(out) / "h.mid")]
                runs.append(run(cmd, checkout)[:3])
        wall, cpu, rss = (statistics.median(x) for x in zip(*runs))
        print(f"| {label} ({checkout}) | {wall:.2f} | {cpu:.2f} | {rss:.0f} |")
    for label, checkout in checkouts:
        out = run([sys.executable, "-c", STAGES, str(args.song.resolve())], checkout)[3]
        rows = [line.split("\t") for line in out.strip().splitlines()]
        bars = rows.pop()
        print(f"\nStages, {label} ({bars[1]} bars, {bars[2]} chords), one fresh run:\n")
        print("| stage | wall s | CPU s |\n|---|---:|---:|")
        for name, wall_s, cpu_s in rows:
            print(f"| {name} | {wall_s} | {cpu_s} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
