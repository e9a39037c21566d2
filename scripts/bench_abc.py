#!/usr/bin/env python
"""Benchmark: reading ABC, melodygan's native reader against music21 and abc2midi + symusic, in one run.

Rows, in CPU seconds (best of ``--repeats``; CPU time, so other load on the machine matters less):

* ``melodygan``: :func:`melodygan.formats.abc.abc_tunes` on one file (the native reader, music21
  for the tunes it leaves);
* ``melodygan, music21 only``: the same with ``reader="music21"`` (what it did before);
* ``music21 alone``: ``converter.parseData(text, format="abc")``, the whole file as an Opus,
  nothing more (no Pieces, no chord spellings);
* ``abc2midi + symusic``: the ``abc2midi`` program (Debian ``abcmidi``) writes one MIDI file per
  tune, symusic reads them (notes only: no chord symbols or pickups); skipped when either is missing.

Then, each in a fresh interpreter (wall and CPU seconds, peak RSS): ``read_score`` of the first
tune of a many-tune file, native and music21-only; and with ``--preprocess``, ``melodygan
preprocess nottingham:DIR`` into an empty folder (a cold cache), with this checkout and, with
``--before CHECKOUT``, with another one (its ``PYTHONPATH``), e.g. the revision before the native
reader.

Usage: ``python scripts/bench_abc.py [--file slip.abc] [--many jigs.abc] [--repeats 5]
[--preprocess DIR] [--before CHECKOUT]``; the files default to the Nottingham Music Database at
``$MELODYGAN_NOTTINGHAM`` or ``../shared/datasets/nottingham``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTTINGHAM = Path(os.environ.get("MELODYGAN_NOTTINGHAM") or ROOT.parent / "shared" / "datasets" / "nottingham")


def cpu_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Best CPU time of ``repeats`` calls, child processes included."""
    best = float("inf")
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        fn()
        after = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        best = min(best, sum(a.ru_utime + a.ru_stime - b.ru_utime - b.ru_stime for a, b in zip(after, before)))
    return best


def abc2midi_symusic(path: Path) -> Callable[[], object]:
    import symusic

    def run() -> int:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["abc2midi", str(path), "-o", str(Path(tmp) / "tune.mid")], capture_output=True,
                           check=False)
            scores = [symusic.Score(str(f)) for f in sorted(Path(tmp).glob("*.mid"))]
            return sum(t.note_num() for s in scores for t in s.tracks)

    return run


def reading_rows(path: Path, repeats: int) -> list[tuple[str, float, str]]:
    from music21 import converter

    from melodygan.formats.abc import abc_tunes, read_abc_text

    text = read_abc_text(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tunes = abc_tunes(text, path.name, reader="music21")  # imports music21 once, before timing
        pieces = [t for t in tunes if not isinstance(t, str)]
        native = abc_tunes(text, path.name, reader="native")
        n_native = sum(1 for t in native if not isinstance(t, str))
        rows = [(f"melodygan (native reader; {n_native} of {len(tunes)} tunes native, the rest music21)",
                 cpu_seconds(lambda: abc_tunes(text, path.name), repeats), f"{len(pieces)} Pieces"),
                (f"melodygan, native reader only (`reader=\"native\"`: the {n_native} tunes it reads)",
                 cpu_seconds(lambda: abc_tunes(text, path.name, reader="native"), repeats), f"{n_native} Pieces"),
                ("melodygan, music21 only (`reader=\"music21\"`)",
                 cpu_seconds(lambda: abc_tunes(text, path.name, reader="music21"), repeats), f"{len(pieces)} Pieces"),
                ("music21 alone: `converter.parseData(text, format=\"abc\")`",
                 cpu_seconds(lambda: converter.parseData(text, format="abc"), repeats), "an Opus")]
    if shutil.which("abc2midi") is None:
        rows.append(("abc2midi + symusic", float("nan"), "skipped: no abc2midi (Debian: apt install abcmidi)"))
    else:
        try:
            run = abc2midi_symusic(path)
            rows.append(("abc2midi + symusic (notes only)", cpu_seconds(run, repeats), f"{run()} notes"))
        except ImportError:
            rows.append(("abc2midi + symusic", float("nan"), "skipped: no symusic (pip install symusic)"))
    return rows


def fresh(code: str, pythonpath: Path = ROOT) -> tuple[float, float, float]:
    """Wall s, CPU s and peak RSS (MiB) of ``python -c code`` in a fresh interpreter, by /usr/bin/time
    (a child's own peak: one forked from this big process would start from its size)."""
    time_bin = shutil.which("time") or "/usr/bin/time"
    with tempfile.NamedTemporaryFile("r", suffix=".txt") as report:
        t0 = time.perf_counter()
        subprocess.run([time_bin, "-f", "%U %S %M", "-o", report.name, sys.executable, "-c", code], check=True,
                       capture_output=True, env=dict(os.environ, PYTHONPATH=str(pythonpath)),
                       cwd=pythonpath)  # (python -c puts the working folder first on sys.path)
        wall = time.perf_counter() - t0
        user, system, peak_kib = report.read().split()[-3:]
    return wall, float(user) + float(system), int(peak_kib) / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--file", type=Path, default=NOTTINGHAM / "slip.abc", help="ABC file to read (11 tunes)")
    parser.add_argument("--many", type=Path, default=NOTTINGHAM / "jigs.abc",
                        help="many-tune ABC file whose first tune read_score reads")
    parser.add_argument("--repeats", type=int, default=5, help="runs per row; the best counts")
    parser.add_argument("--corpus", type=Path, default=None, metavar="DIR",
                        help="also read every .abc file of DIR once, native and music21-only")
    parser.add_argument("--preprocess", type=Path, default=None, metavar="DIR",
                        help="also time a cold `melodygan preprocess nottingham:DIR`")
    parser.add_argument("--before", type=Path, default=None, metavar="CHECKOUT",
                        help="another checkout to time the preprocess with (its PYTHONPATH)")
    args = parser.parse_args(argv)
    if not args.file.is_file():
        parser.error(f"{args.file}: no such file (set MELODYGAN_NOTTINGHAM or pass --file)")

    rows = reading_rows(args.file, args.repeats)
    ours = rows[0][1]
    print(f"\nReading {args.file.name}, CPU seconds, best of {args.repeats}:\n")
    print("| method | CPU s | vs melodygan | output |\n|---|---:|---:|---|")
    for name, sec, note in rows:
        ratio = f"{sec / ours:.1f}×" if sec == sec else "–"
        print(f"| {name} | {sec:.3f} | {ratio} | {note} |" if sec == sec else f"| {name} | – | – | {note} |")

    if args.corpus:
        from melodygan.formats.abc import abc_tunes, read_abc_text

        texts = [(f.name, read_abc_text(f)) for f in sorted(args.corpus.glob("*.abc"))]
        print(f"\nEvery tune of {len(texts)} files in {args.corpus}, CPU seconds, one run:\n")
        print("| reader | CPU s | tunes read |\n|---|---:|---:|")
        for reader in ("auto", "native", "music21"):
            got: list[object] = []

            def read_all(reader: str = reader, got: list[object] = got) -> None:
                got.extend(t for name, text in texts for t in abc_tunes(text, name, reader=reader))

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sec = cpu_seconds(read_all, 1)
            print(f"| {reader} | {sec:.2f} | {sum(1 for t in got if not isinstance(t, str))} |")

    print(f"\n`read_score` of the first tune of {args.many.name} in a fresh interpreter:\n")
    print("| reader | wall s | CPU s | peak RSS MiB |\n|---|---:|---:|---:|")
    for reader in ("auto", "music21"):
        code = ("from melodygan.formats.abc import iter_abc_tunes, read_abc_text as r\n"
                f"p = next(iter_abc_tunes(r({str(args.many)!r}), reader={reader!r})); assert p.melody")
        wall, cpu, rss = fresh(code)
        print(f"| {'native' if reader == 'auto' else 'music21'} | {wall:.2f} | {cpu:.2f} | {rss:.0f} |")

    if args.preprocess:
        print(f"\nCold `melodygan preprocess nottingham:{args.preprocess}`, --workers 2:\n")
        print("| checkout | wall s | CPU s (all processes) | peak RSS MiB (largest process) |\n|---|---:|---:|---:|")
        for label, checkout in [("this one", ROOT)] + ([("--before", args.before)] if args.before else []):
            with tempfile.TemporaryDirectory() as out:
                code = ("from melodygan.cli import main; "
                        f"assert main(['preprocess', 'nottingham:{args.preprocess}', '--out', {out!r}, "
                        "'--workers', '2', '--quiet']) == 0")
                wall, cpu, rss = fresh(code, checkout)
            print(f"| {label} ({checkout}) | {wall:.1f} | {cpu:.1f} | {rss:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
