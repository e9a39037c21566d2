"""Benchmarks side by side: one run, one table of ratios, each row with its peak memory.

    python scripts/bench.py [--rows cli,sampling,gan,preprocess,render,cuda] [--quick] [--json OUT.json]
                            [--checkpoint DIR]

Rows (each measured in a fresh child process so its peak RSS is its own):
  cli         ``melodygan generate --bars 8 --wav`` wall time vs bare ``python -c "import torch"``
  sampling    transformer sampling tokens/s vs Hugging Face ``transformers`` GPT-2 of the same
              width, depth, heads and vocabulary (from scripts/bench_sampling.py)
  gan         GAN clips/s (8-bar melodies) (from scripts/bench_gan.py when present)
  preprocess  MIDI files read to rows (the corpus path) per CPU second vs pretty_midi and
              symusic's bare parse, on POP909 when it is there (from scripts/bench_preprocess.py)
  render      WAV rendering real-time factor (audio seconds per wall second) at the default -18 LUFS
              vs pretty_midi.fluidsynth(); the peak-normalised figure and CPU-time rates beside
  harmonize   whole-song harmonization vs the per-bar triad rule
  write       8-bar clips (melody, chords, bass) written as MIDI bytes per CPU second vs
              pretty_midi's writer of the same notes
  cuda        the CUDA path (bf16 autocast, torch.compile, model FLOP utilisation) when a GPU exists

A row whose part is missing from this build is skipped with the reason printed. Comparison
libraries come from the ``bench`` extra: ``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
ROWS = ("cli", "sampling", "gan", "preprocess", "render", "harmonize", "write", "cuda")


class Skip(Exception):
    """A row that cannot run here; the message says why."""


def _script(name: str) -> ModuleType:
    """Import scripts/<name>.py as a module (the per-area benchmarks), or Skip if it is missing."""
    path = SCRIPTS / f"{name}.py"
    if not path.exists():
        raise Skip(f"scripts/{name}.py is not in this build")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _need(module: str, why: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise Skip(f"{why} needs `{module}` ({'pip install ' + module})")


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _timed_child(cmd: list[str], repeats: int) -> tuple[float, float]:
    """Median wall seconds and peak RSS (MiB) of a command run ``repeats`` times, via /usr/bin/time."""
    time_bin = shutil.which("time") or "/usr/bin/time"
    walls, peaks = [], []
    for _ in range(repeats):
        with tempfile.NamedTemporaryFile("r", suffix=".txt") as rep:
            t0 = time.perf_counter()
            proc = subprocess.run([time_bin, "-f", "%M", "-o", rep.name, *cmd], capture_output=True, text=True,
                                  cwd=ROOT)
            walls.append(time.perf_counter() - t0)
            if proc.returncode != 0:
                raise Skip(f"`{' '.join(cmd)}` failed: {(proc.stderr.strip().splitlines() or ['?'])[-1][:160]}")
            peaks.append(int(rep.read().strip().splitlines()[-1]) / 1024)
    return statistics.median(walls), max(peaks)


# --- rows: each returns {"measure": ..., "ours": x, "baseline": y, "unit": ..., "ratio": ...} ----------
CHECKPOINT: str | None = None  # --checkpoint: transformer folder for the cli row (default: shipped weights)


def row_cli(quick: bool) -> dict[str, Any]:
    if shutil.which("melodygan") is None and not (Path(sys.executable).parent / "melodygan").exists():
        raise Skip("the melodygan command is not installed (pip install -e .)")
    exe = str(Path(sys.executable).parent / "melodygan") if (Path(sys.executable).parent / "melodygan").exists() \
        else "melodygan"
    repeats = 1 if quick else 3
    base, base_mem = _timed_child([sys.executable, "-c", "import torch"], repeats)
    with tempfile.TemporaryDirectory() as tmp:
        extra = ["--checkpoint", CHECKPOINT] if CHECKPOINT else []
        ours, mem = _timed_child([exe, "generate", "--bars", "8", "--wav", "--seed", "1", "--out", tmp,
                                  "--force", *extra], repeats)
    where = f" (--checkpoint {Path(CHECKPOINT).name})" if CHECKPOINT else ""
    return {"measure": f"`melodygan generate --bars 8 --wav`{where} wall time vs `python -c \"import torch\"`",
            "ours": ours, "baseline": base, "unit": "s", "ratio": ours / base, "peak_mib": mem,
            "baseline_peak_mib": base_mem, "better": "lower"}


def _bench_sampling(args: list[str]) -> tuple[dict[str, float], int, float]:
    """Run scripts/bench_sampling.py with ``args``; its first table row, our parameter count, peak RSS (MiB)."""
    if not (SCRIPTS / "bench_sampling.py").exists():
        raise Skip("scripts/bench_sampling.py is not in this build")
    wrapper = ("import resource, subprocess, sys\n"
               "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
               "sys.stdout.write(p.stdout); sys.stderr.write(p.stderr)\n"
               "print('PEAK-KIB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
               "sys.exit(p.returncode)\n")
    proc = subprocess.run([sys.executable, "-c", wrapper, sys.executable, str(SCRIPTS / "bench_sampling.py"), *args],
                          capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise Skip(f"bench_sampling.py failed: {(proc.stderr.strip().splitlines() or ['?'])[-1][:160]}")
    lines = proc.stdout.splitlines()
    params = next(int(line.split("params ours ")[1].split(" ")[0].replace(",", "")) for line in lines
                  if "params ours " in line)
    row = next(line for line in lines if line.startswith("| ") and line.split("|")[1].strip().isdigit())
    cells = [c.strip().replace(",", "") for c in row.strip("|").split("|")]
    rates = {"batch": float(cells[0]), "ours": float(cells[1]), "grammar": float(cells[2]), "hf": float(cells[3])}
    peak = int(next(line.split()[1] for line in lines if line.startswith("PEAK-KIB"))) / 1024
    return rates, params, peak


def row_sampling(quick: bool) -> dict[str, Any]:
    _need("transformers", "the GPT-2 comparison")
    import torch

    threads = torch.get_num_threads()
    rates, params, peak = _bench_sampling(["--batch", "1", "--new", "128" if quick else "256",
                                           "--repeats", "2" if quick else "3", "--threads", str(threads)])
    return {"measure": f"transformer sampling, batch 1, KV cache ({params / 1e6:.1f} M params, {threads} threads), "
                       "tokens/s vs HF GPT-2 generate() of the same size (scripts/bench_sampling.py)",
            "ours": rates["ours"], "baseline": rates["hf"], "unit": "tokens/s", "ratio": rates["ours"] / rates["hf"],
            "peak_mib": peak, "better": "higher",
            "note": f"with grammar masks {rates['grammar']:,.0f} tokens/s; peak RSS holds both models"}


def row_gan(quick: bool) -> dict[str, Any]:
    if importlib.util.find_spec("melodygan.engines.gan") is None:
        raise Skip("melodygan.engines.gan is not in this build")
    import numpy as np

    from melodygan.chords import Chord
    from melodygan.engines.gan import DEFAULT_CHECKPOINT, load_generator, pieces_from_frames, sample_frames
    from melodygan.keys import Key
    from melodygan.pianoroll import bar_steps_of, chords_to_bar_frames, meter_rows

    progressions = _script("bench_gan").PROGRESSIONS
    if not (DEFAULT_CHECKPOINT / "config.json").is_file():
        raise Skip("no shipped GAN weights (melodygan/weights/gan-melody)")
    model, cfg = load_generator(None, "cpu")
    clips, ts, bars = (64 if quick else 256), (4, 4), 8
    bar = bar_steps_of(ts)
    chord_lists = [[Chord(r, q, i * bar, bar) for i, (r, q) in enumerate(progressions[j % len(progressions)])]
                   for j in range(clips)]
    keys = [Key(0, "major")] * clips
    frames = np.stack([chords_to_bar_frames(c, bars, bar, cfg.steps_per_bar) for c in chord_lists])
    meter = meter_rows(ts, cfg.steps_per_bar)

    def run() -> None:
        probs = sample_frames(model, frames, keys, meter, seed=1, batch_size=clips)
        pieces_from_frames(probs, chord_lists, keys, ts, cfg.pitch_low)

    run()  # warm-up
    walls = []
    for _ in range(1 if quick else 3):
        t0 = time.perf_counter()
        run()
        walls.append(time.perf_counter() - t0)
    return {"measure": f"GAN: {clips} eight-bar melodies in one batch (noise → rolls → Pieces), clips/s",
            "ours": clips / min(walls), "baseline": None, "unit": "clips/s", "ratio": None,
            "peak_mib": _peak_mib(), "better": "higher"}


def row_preprocess(quick: bool) -> dict[str, Any]:
    """MIDI reading of the corpus path (the rows ``preprocess`` writes) in CPU seconds, vs pretty_midi
    and symusic's bare parse: on POP909 where it lies beside the checkout (the first 288 songs, 48
    with --quick), else on a synthetic corpus."""
    mod = _script("bench_preprocess")
    pop909 = ROOT.parent / "shared" / "datasets" / "pop909"
    with tempfile.TemporaryDirectory() as tmp:
        if pop909.is_dir():
            songs = sorted(d for d in pop909.iterdir() if d.is_dir() and d.name.isdigit())[:48 if quick else 288]
            paths = [d / f"{d.name}.mid" for d in songs]
            corpus = f"{len(paths)} POP909 songs"
        else:
            mod.write_corpus(Path(tmp), 50 if quick else 300, 300)
            paths = sorted(Path(tmp).glob("*.mid"))
            corpus = f"{len(paths)} synthetic MIDI files"
        mod.read_rows(paths[:2])  # imports out of the timing
        ours = mod.cpu_timed(lambda: mod.read_rows(paths))
        peak = _peak_mib()
        base = mod.cpu_timed(lambda: mod.plain_pretty_midi(paths))
        note = ""
        if importlib.util.find_spec("symusic") is not None:
            sym = mod.cpu_timed(lambda: mod.symusic_parse(paths))
            note = f"symusic bare parse {len(paths) / sym:,.0f} files per CPU-s: melodygan at {sym / ours:.3f}× of it"
    return {"measure": f"{corpus} → rows on the 16th grid (melody chosen, key, meter), files per CPU-s vs "
                       "pretty_midi get_piano_roll", "ours": len(paths) / ours, "baseline": len(paths) / base,
            "unit": "files/CPU-s", "ratio": base / ours, "peak_mib": peak, "better": "higher", "note": note}


def row_render(quick: bool) -> dict[str, Any]:
    """WAV rendering at the default quality (FluidSynth, brought to -18 LUFS; the first render of
    the process, imports included) against ``pretty_midi.fluidsynth()``; the CPU-time rates and the
    peak-normalised render in the note (on a shared machine the CPU figure is the one to read)."""
    if importlib.util.find_spec("melodygan.formats.audio") is None:
        raise Skip("melodygan.formats.audio is not in this build")
    mod = _script("bench_render")
    bars = 8 if quick else 32
    with tempfile.TemporaryDirectory() as tmp:
        ours = mod.worker("melodygan", bars, 120.0, Path(tmp))
        peak = _peak_mib()
        plain = mod.worker("melodygan-peak", bars, 120.0, Path(tmp))
        base = mod.worker("pretty_midi", bars, 120.0, Path(tmp))
    return {"measure": f"WAV render at the default -18 LUFS, {bars} bars melody + chords + bass at 120 bpm: "
                       "audio s per wall s, vs pretty_midi.fluidsynth()", "ours": ours["rtf_wall"],
            "baseline": base["rtf_wall"], "unit": "× real time", "ratio": ours["rtf_wall"] / base["rtf_wall"],
            "peak_mib": peak, "better": "higher",
            "note": f"per CPU s {ours['rtf_cpu']:.0f}× (pretty_midi {base['rtf_cpu']:.0f}×); peak-normalised, "
                    f"rendered next in the same process: {plain['rtf_wall']:.0f}× wall, {plain['rtf_cpu']:.0f}× CPU; "
                    f"load average {os.getloadavg()[0]:.1f}"}


def row_harmonize(quick: bool) -> dict[str, Any]:
    """Whole-song harmonization (a 64-bar sung-length melody, shipped weights) against the per-bar
    triad rule; also the same call with torch's default CPU threads, which the engine avoids."""
    if importlib.util.find_spec("melodygan.engines.harmonize") is None:
        raise Skip("melodygan.engines.harmonize is not in this build")
    import torch

    import melodygan
    from melodygan.engines.rules import harmonize_with_rule
    from melodygan.notes import Note

    bars = 16 if quick else 64
    scale = [62, 64, 66, 67, 69, 71, 73, 74]
    rng = __import__("random").Random(0)
    notes, t = [], 0
    while t < 16 * bars:
        d = rng.choice([2, 4, 4, 6, 8])
        notes.append(Note(t, min(d, 16 * bars - t), rng.choice(scale)))
        t += d
    piece = melodygan.Piece(melody=notes, key=melodygan.Key.parse("D"))
    melodygan.harmonize(piece)  # load the weights once

    def best_of(fn: Callable[[], Any], n: int = 3) -> float:
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    ours = best_of(lambda: melodygan.harmonize(piece))
    peak = _peak_mib()
    rule = best_of(lambda: harmonize_with_rule(piece, "triad"))
    from melodygan.engines import harmonize as engine

    model, _ = engine.load_harmonizer()
    x, _, _ = engine.encode(engine.song_from_piece(piece, "folk"))
    torch.set_num_threads(max(2, torch.get_num_threads()))

    def default_threads() -> None:
        with torch.no_grad():
            model(torch.from_numpy(x)[None], torch.tensor([len(x)]))

    both = best_of(default_threads)
    return {"measure": f"harmonize a {bars}-bar melody: wall s, vs the per-bar triad rule", "ours": ours,
            "baseline": rule, "unit": "s", "ratio": ours / rule, "peak_mib": peak, "better": "lower",
            "note": f"network alone with {torch.get_num_threads()} torch threads: {both:.3f} s"}


def row_write(quick: bool) -> dict[str, Any]:
    """Clips written as MIDI (melody + chords + bass, 8 bars of eighth notes) per CPU second: the
    project's writer vs pretty_midi writing the same notes (the library a user would reach for)."""
    import io
    import random

    import pretty_midi

    import melodygan
    from melodygan.formats.midi import piece_to_midi, piece_to_midi_bytes
    from melodygan.piece import chords_from_changes

    rng = random.Random(0)
    n = 100 if quick else 400
    pieces = []
    for _ in range(n):
        melody = [melodygan.Note(2 * i, 2, 60 + rng.randint(0, 12)) for i in range(64)]
        chords = chords_from_changes([(16 * b, melodygan.parse_chord_symbol(rng.choice(["C", "G7", "Am", "F"])))
                                      for b in range(8)], 128)
        pieces.append(melodygan.arrange(melodygan.Piece(melody=melody, chords=chords), style="block"))
    pms: list[pretty_midi.PrettyMIDI] = [piece_to_midi(p) for p in pieces]
    t0 = time.process_time()
    for p in pieces:
        piece_to_midi_bytes(p)
    ours = n / (time.process_time() - t0)
    peak = _peak_mib()
    t0 = time.process_time()
    for pm in pms:
        pm.write(io.BytesIO())
    base = n / (time.process_time() - t0)
    return {"measure": "8-bar clips (melody, chords, bass) written as MIDI per CPU s, vs pretty_midi.write",
            "ours": ours, "baseline": base, "unit": "clips/s", "ratio": ours / base, "peak_mib": peak,
            "better": "higher"}


# Dense bf16 tensor-core peak of the GPUs this is likely to meet, FLOP/s (vendor datasheets).
PEAK_BF16_FLOPS = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L4": 121e12}


def row_cuda(quick: bool) -> dict[str, Any]:
    import torch

    if not torch.cuda.is_available():
        raise Skip("no CUDA device on this machine")
    name = torch.cuda.get_device_name(0)
    rates, params, peak = _bench_sampling(["--device", "cuda", "--size", "gpu", "--batch", "64", "--new", "256",
                                           "--repeats", "2" if quick else "3"])
    tokens_per_s = rates["ours"]
    # Sampling is memory-bound; MFU counts 2 FLOPs per parameter per generated token (no attention term).
    peak_flops = next((v for k, v in PEAK_BF16_FLOPS.items() if k in name), None)
    mfu = f"MFU {2 * params * tokens_per_s / peak_flops:.2%} of {name}'s bf16 peak" if peak_flops else name
    return {"measure": "CUDA sampling, batch 64, tokens/s vs HF GPT-2 generate()", "ours": tokens_per_s,
            "baseline": rates["hf"], "unit": "tokens/s", "ratio": tokens_per_s / rates["hf"], "peak_mib": peak,
            "better": "higher", "note": mfu}


ROW_FUNCS: dict[str, Callable[[bool], dict[str, Any]]] = {
    "cli": row_cli, "sampling": row_sampling, "gan": row_gan, "preprocess": row_preprocess,
    "render": row_render, "harmonize": row_harmonize, "write": row_write, "cuda": row_cuda,
}


def _child(name: str, quick: bool) -> None:
    try:
        result: dict[str, Any] = {"ok": True, **ROW_FUNCS[name](quick)}
    except Skip as e:
        result = {"ok": False, "reason": str(e)}
    print("BENCH-RESULT " + json.dumps(result))


def _run_row(name: str, quick: bool) -> dict[str, Any]:
    extra = (["--quick"] if quick else []) + (["--checkpoint", CHECKPOINT] if CHECKPOINT else [])
    proc = subprocess.run([sys.executable, __file__, "--child", name, *extra],
                          capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH-RESULT "):
            return json.loads(line[len("BENCH-RESULT "):])
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return {"ok": False, "reason": f"crashed: {tail[:200]}"}


def _num(x: float | None, unit: str = "") -> str:
    if x is None:
        return "–"
    return f"{x:,.3g} {unit}".strip() if x < 100 else f"{x:,.0f} {unit}".strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default=",".join(ROWS), help="comma-separated rows to run")
    parser.add_argument("--quick", action="store_true", help="fewer repeats and smaller sizes")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--checkpoint", default=None, help="transformer checkpoint for the cli row "
                        "(default: the shipped weights)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    global CHECKPOINT
    CHECKPOINT = str(Path(args.checkpoint).resolve()) if args.checkpoint else None
    if args.child:
        _child(args.child, args.quick)
        return 0
    names = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = [n for n in names if n not in ROW_FUNCS]
    if unknown:
        parser.error(f"unknown rows {unknown}; choose from {', '.join(ROWS)}")
    import platform

    import torch

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}, CUDA {'yes' if torch.cuda.is_available() else 'no'}\n")
    print("| row | measure | melodygan | baseline | ratio | peak RSS |")
    print("|---|---|---|---|---|---|")
    results = {}
    for name in names:
        r = _run_row(name, args.quick)
        results[name] = r
        if not r["ok"]:
            print(f"| {name} | skipped: {r['reason']} | | | | |", flush=True)
            continue
        ratio = "–" if r["ratio"] is None else f"{r['ratio']:.2f}× ({r['better']} is better)"
        mem = f"{r['peak_mib']:.0f} MiB"
        if "baseline_peak_mib" in r:
            mem += f" (baseline {r['baseline_peak_mib']:.0f} MiB)"
        note = f"; {r['note']}" if r.get("note") else ""
        print(f"| {name} | {r['measure']}{note} | {_num(r['ours'], r['unit'])} | {_num(r['baseline'], r['unit'])} "
              f"| {ratio} | {mem} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
