"""Benchmark WAV rendering: real-time factor and peak memory, melodygan against the baselines.

Renders one arranged lead sheet (melody + chords + bass, ``--bars`` bars of 4/4 at ``--bpm``) to a
44.1 kHz stereo WAV with:

* ``melodygan``            :func:`melodygan.formats.audio.render_wav` (FluidSynth via pyfluidsynth, float
                           output, brought to -18 LUFS, release tail, WAV written);
* ``melodygan-one-core``   the same with FluidSynth's voices on one core (``synth.cpu-cores`` 1,
                           what melodygan did before it rendered on up to two);
* ``melodygan-peak``       the same, peak-normalised instead (no loudness measurement);
* ``melodygan-additive``   the same with the plain fallback synth;
* ``fluidsynth-cli``       the ``fluidsynth`` command-line program (``-ni -F out.wav``), when on PATH;
* ``pretty_midi``          ``PrettyMIDI.fluidsynth()`` (mono, int16 inside) + soundfile.write, the
                           usual one-liner in Python notebooks.

Each engine runs ``--repeats`` times, each in a fresh process (the engines in turn, so that a change
in a shared machine's load touches all of them alike), so that the memory figures are its own:
peak resident set size (``ru_maxrss``) and, for the in-process engines, the tracemalloc peak of
the render call. Real-time factor = seconds of audio written / seconds taken (wall clock, and CPU
time of the process, which is what to read on a shared machine). Medians are printed as a Markdown
table with the load average before and after, then the ratios of melodygan's rates to the
baselines'; ``--json`` saves everything.

Usage::

    python scripts/bench_render.py --bars 32 --repeats 3 --json /tmp/bench_render.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ENGINES = ("melodygan", "melodygan-one-core", "melodygan-peak", "melodygan-additive", "fluidsynth-cli", "pretty_midi")


def lead_sheet(bars: int, bpm: float):  # type: ignore[no-untyped-def]
    """A deterministic lead sheet: I-vi-IV-V in C, a scale-wise tune, arranged with a walking bass."""
    from melodygan.chords import parse_chord_symbol
    from melodygan.engines.arrange import arrange
    from melodygan.notes import Note
    from melodygan.piece import Piece, chords_from_changes

    progression = ["C", "Am", "F", "G7"]
    chords = chords_from_changes([(16 * i, parse_chord_symbol(progression[i % 4])) for i in range(bars)], 16 * bars)
    contour = [0, 2, 4, 5, 7, 5, 4, 2, 0, 4, 9, 7, 5, 4, 2, -1]
    scale = [60, 62, 64, 65, 67, 69, 71, 72, 74, 76, 77, 79]
    melody = [Note(4 * i, 4 if i % 4 else 6, scale[(contour[i % 16] + 7 * (i // 64)) % 12] + 12 * (i % 32 > 27),
                   96 if i % 4 == 0 else 80) for i in range(4 * bars)]
    piece = Piece(melody=melody, chords=chords, tempo_bpm=bpm, title="bench")
    return arrange(piece, "arpeggio", "walking")


def worker(engine: str, bars: int, bpm: float, out_dir: Path) -> dict[str, float]:
    """One timed render in this process; returns the measurements."""
    import soundfile

    from melodygan.formats.audio import default_soundfont, render_wav
    from melodygan.formats.midi import piece_to_midi, write_midi

    piece = lead_sheet(bars, bpm)
    midi = write_midi(piece, out_dir / "bench.mid", force=True)
    wav = out_dir / f"{engine}.wav"
    if engine == "melodygan-one-core":
        from melodygan.formats import synth

        synth._SYNTH_CORES = 1

    def render() -> None:
        if engine in ("melodygan", "melodygan-one-core"):
            render_wav(piece, wav, force=True, synth="fluidsynth")
        elif engine == "melodygan-peak":
            render_wav(piece, wav, force=True, synth="fluidsynth", loudness_lufs=None)
        elif engine == "melodygan-additive":
            render_wav(piece, wav, force=True, synth="additive")
        elif engine == "pretty_midi":
            audio = piece_to_midi(piece).fluidsynth(fs=44100, sf2_path=str(default_soundfont()))
            soundfile.write(str(wav), audio, 44100, subtype="PCM_16")
        else:
            raise ValueError(engine)

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu0, wall0 = time.process_time(), time.perf_counter()
    render()  # timed without tracemalloc, which slows every Python allocation
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    tracemalloc.start()
    render()  # the same again for the traced peak
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    seconds = soundfile.info(str(wav)).duration
    return {"audio_s": seconds, "wall_s": wall, "cpu_s": cpu, "rtf_wall": seconds / wall, "rtf_cpu": seconds / cpu,
            "tracemalloc_peak_mb": traced_peak / 2**20,
            "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "maxrss_before_mb": rss_before / 1024, "midi": str(midi)}


def run_cli_baseline(bars: int, bpm: float, out_dir: Path) -> dict[str, float] | None:
    """The fluidsynth program on the same MIDI and soundfont, timed from outside."""
    import soundfile

    from melodygan.formats.audio import default_soundfont
    from melodygan.formats.midi import write_midi

    exe = shutil.which("fluidsynth")
    if exe is None:
        return None
    midi = write_midi(lead_sheet(bars, bpm), out_dir / "bench.mid", force=True)
    wav = out_dir / "fluidsynth-cli.wav"
    # A small wrapper process runs the program, so that RUSAGE_CHILDREN holds that program alone
    # (this process's children include the Python workers, whose peak memory would show instead).
    wrapper = ("import json, resource, subprocess, sys, time\n"
               "t = time.perf_counter()\n"
               "subprocess.run(sys.argv[1:], check=True, capture_output=True)\n"
               "wall = time.perf_counter() - t\n"
               "r = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
               "print(json.dumps([wall, r.ru_utime + r.ru_stime, r.ru_maxrss / 1024]))\n")
    out = subprocess.run([sys.executable, "-c", wrapper, exe, "-ni", "-q", "-r", "44100", "-F", str(wav),
                          str(default_soundfont()), str(midi)], check=True, capture_output=True, text=True)
    wall, cpu, maxrss_mb = json.loads(out.stdout)
    seconds = soundfile.info(str(wav)).duration
    return {"audio_s": seconds, "wall_s": wall, "cpu_s": cpu, "rtf_wall": seconds / wall, "rtf_cpu": seconds / cpu,
            "tracemalloc_peak_mb": float("nan"), "maxrss_mb": maxrss_mb}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--bars", type=int, default=32, help="length of the lead sheet in 4/4 bars")
    ap.add_argument("--bpm", type=float, default=120.0, help="tempo")
    ap.add_argument("--repeats", type=int, default=3, help="runs per engine (median reported)")
    ap.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES, help="what to run")
    ap.add_argument("--json", default=None, help="save all runs here")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out-dir", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        print(json.dumps(worker(args.worker, args.bars, args.bpm, Path(args.out_dir))))
        return 0

    results: dict[str, list[dict[str, float]]] = {engine: [] for engine in args.engines}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):  # round robin: a change in the machine's load touches every engine alike
            for engine in args.engines:
                if engine == "fluidsynth-cli":
                    r = run_cli_baseline(args.bars, args.bpm, Path(tmp))
                    if r is None:
                        continue
                else:
                    out = subprocess.run([sys.executable, __file__, "--worker", engine, "--bars", str(args.bars),
                                          "--bpm", str(args.bpm), "--out-dir", tmp],
                                         check=True, capture_output=True, text=True)
                    r = json.loads(out.stdout.strip().splitlines()[-1])
                results[engine].append(r)
    load_after = os.getloadavg()

    print(f"Render of a {args.bars}-bar lead sheet (melody, chords, walking bass) at {args.bpm:g} bpm, "
          f"44.1 kHz stereo WAV; median of {args.repeats} runs, each in a fresh process, the engines in turn; "
          f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after ({os.cpu_count()} CPUs).\n")
    print("| engine | audio s | wall s | CPU s | RTF (wall) | RTF (CPU) | peak RSS MB | tracemalloc peak MB |")
    print("|---|---|---|---|---|---|---|---|")
    medians: dict[str, dict[str, float]] = {}
    for engine, runs in results.items():
        if not runs:
            print(f"| {engine} | not available on this machine | | | | | | |")
            continue
        medians[engine] = {key: statistics.median(r[key] for r in runs) for key in
                           ("audio_s", "wall_s", "cpu_s", "rtf_wall", "rtf_cpu", "maxrss_mb", "tracemalloc_peak_mb")}
        m = medians[engine]
        print(f"| {engine} | {m['audio_s']:.1f} | {m['wall_s']:.3f} | {m['cpu_s']:.3f} | {m['rtf_wall']:.0f}x | "
              f"{m['rtf_cpu']:.0f}x | {m['maxrss_mb']:.0f} | {m['tracemalloc_peak_mb']:.1f} |")
    for ours in ("melodygan", "melodygan-peak"):
        for base in ("fluidsynth-cli", "pretty_midi"):
            if ours in medians and base in medians:
                print(f"{ours} / {base}: {medians[ours]['rtf_wall'] / medians[base]['rtf_wall']:.2f}x wall, "
                      f"{medians[ours]['rtf_cpu'] / medians[base]['rtf_cpu']:.2f}x CPU")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
