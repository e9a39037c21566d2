"""Fuzz the score readers with mutated small real files: every case must read or be refused with a
one-line MelodyganError, within a time bound. Reports the cases run and every failure found.

    python scripts/fuzz_readers.py --cases 10000 --out fuzz-findings/     # the long run
    python scripts/fuzz_readers.py --cases 300 --formats abc --seed 7

The seed files (MIDI written by melodygan and by hand, ABC, MusicXML, kern) are built here. A
mutation flips, deletes, inserts or duplicates bytes, or (in text files) swaps a number for another
(0, 1, huge), which is what finds note lengths like ``C999`` or tempos like ``Q:1/4=0``.
Failures (an exception other than MelodyganError, or a case slower than ``--bound`` seconds) are
saved under ``--out`` with their traceback. Exit code 1 when there was any.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import re
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from pathlib import Path

MUTATIONS = ("flip", "delete", "insert", "duplicate", "number", "truncate")
_NUMBER = re.compile(rb"\d+")
_BIG = (b"0", b"1", b"2", b"3", b"7", b"64", b"65", b"999", b"99999999", b"4294967296", b"-1")


def seed_files() -> dict[str, bytes]:
    """Small real files of every text and binary format the readers take, by file name."""
    import mido

    from melodygan.chords import parse_chord_symbol
    from melodygan.formats.midi import piece_to_midifile
    from melodygan.formats.musicxml import piece_to_score
    from melodygan.keys import Key
    from melodygan.notes import Note
    from melodygan.piece import Piece

    melody = [Note(4 + 4 * i, 4 if i % 3 else 2, 60 + (i * 5) % 12) for i in range(14)]
    chords = [parse_chord_symbol(s, 4 + 16 * i, 16) for i, s in enumerate(["C", "G7", "Am", "F"])]
    piece = Piece(melody=melody, chords=chords,
                  voices={"Bass": [Note(4 + 16 * i, 16, 40 + i) for i in range(4)]}, key=Key(7, "major"),
                  time_signature=(4, 4), pickup_steps=4, tempo_bpm=96.0, title="Seed")
    out: dict[str, bytes] = {}
    buf = io.BytesIO()
    piece_to_midifile(piece).save(file=buf)
    out["written.mid"] = buf.getvalue()
    mid = mido.MidiFile(type=0, ticks_per_beat=96)
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=600000),
                            mido.MetaMessage("key_signature", key="Dm"),
                            mido.MetaMessage("time_signature", numerator=3, denominator=4),
                            mido.MetaMessage("marker", text="Dm")])
    for i in range(12):
        track.append(mido.Message("note_on", note=62 + i % 5, velocity=90, time=0 if i == 0 else 10))
        track.append(mido.Message("note_off", note=62 + i % 5, velocity=0, time=86))
    track.append(mido.Message("pitchwheel", pitch=200, time=5))
    mid.tracks.append(track)
    buf = io.BytesIO()
    mid.save(file=buf)
    out["handmade.mid"] = buf.getvalue()
    out["tunes.abc"] = (b'X:1\nT:First\nM:6/8\nL:1/8\nQ:3/8=100\nK:D\n"D"A|dfa "A7"gfe|"D"d3 -d2 (3ABc|'
                        b'"G"B2G "A/c+"A2c|"D"d3 d2:|\n\n'
                        b'X:2\nT:Second\nM:3/4\nL:1/4\nK:Am\n"Am"A>B c|[M:2/4]"E7"B2|"Am"[Ace]2|]\n')
    out["score.musicxml"] = _musicxml(piece_to_score(piece, layout="lead-sheet"))
    out["tune.krn"] = b"**kern\n*M4/4\n*k[f#]\n=1\n4g\n8a\n8b\n4cc\n4dd\n=2\n2.g\n4r\n==\n*-\n"
    return out


def _musicxml(score: object) -> bytes:
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    with contextlib.redirect_stderr(io.StringIO()):
        return bytes(GeneralObjectExporter(score).parse())


def mutate(data: bytes, rng: random.Random, count: int | None = None) -> bytes:
    """``data`` with 1-4 random mutations (see the module docstring)."""
    out = bytearray(data)
    for _ in range(count if count is not None else rng.randint(1, 4)):
        kind = rng.choice(MUTATIONS)
        at = rng.randrange(len(out) + 1) if out else 0
        if kind == "flip" and out:
            i = min(at, len(out) - 1)
            out[i] ^= 1 << rng.randrange(8)
        elif kind == "delete" and out:
            del out[at:at + rng.randint(1, 16)]
        elif kind == "insert":
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif kind == "duplicate" and out:
            chunk = out[at:at + rng.randint(1, 64)]
            out[at:at] = chunk * rng.randint(1, 8)
        elif kind == "number":
            numbers = list(_NUMBER.finditer(bytes(out)))
            if numbers:
                m = rng.choice(numbers)
                out[m.start():m.end()] = rng.choice(_BIG)
        elif kind == "truncate" and out:
            del out[rng.randrange(len(out)):]
    return bytes(out)


def run_case(name: str, data: bytes, folder: Path, bound_s: float) -> tuple[str, float, str]:
    """Read one mutated file: ``("ok" | "refused" | "crash" | "slow", seconds, detail)``."""
    from melodygan import limits
    from melodygan.errors import MelodyganError
    from melodygan.formats.readers import read_score

    path = folder / name
    path.write_bytes(data)
    t0 = time.perf_counter()
    outcome, detail = "ok", ""
    try:
        with warnings.catch_warnings(), limits.override(parse_seconds=bound_s):
            warnings.simplefilter("ignore")
            read_score(path)
    except MelodyganError as e:
        outcome, detail = "refused", str(e)
        if "\n" in detail:
            outcome, detail = "crash", "multi-line error: " + detail
    except Exception:  # what the fuzzing is looking for
        outcome, detail = "crash", traceback.format_exc()
    seconds = time.perf_counter() - t0
    if outcome != "crash" and seconds > bound_s:
        outcome, detail = "slow", f"{seconds:.1f} s"
    return outcome, seconds, detail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bound", type=float, default=10.0, help="seconds a case may take")
    parser.add_argument("--formats", default="mid,abc,musicxml,krn", help="comma-separated suffixes")
    parser.add_argument("--out", default=None, help="folder for the failing inputs and their tracebacks")
    args = parser.parse_args(argv)
    seeds = {k: v for k, v in seed_files().items() if Path(k).suffix.lstrip(".") in args.formats.split(",")}
    rng = random.Random(args.seed)
    counts: Counter[str] = Counter()
    by_format: Counter[str] = Counter()
    failures: list[tuple[str, str, str, bytes]] = []
    slowest = (0.0, "")
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.cases):
            name = rng.choice(sorted(seeds))
            data = mutate(seeds[name], rng)
            outcome, seconds, detail = run_case(name, data, Path(tmp), args.bound)
            counts[outcome] += 1
            by_format[Path(name).suffix] += 1
            slowest = max(slowest, (seconds, name))
            if outcome in ("crash", "slow"):
                failures.append((f"{i:06d}-{name}", outcome, detail, data))
                print(f"case {i} ({name}): {outcome}: {detail.strip().splitlines()[-1][:200]}", flush=True)
            if (i + 1) % 500 == 0:
                print(f"{i + 1} cases, {dict(counts)}, {time.time() - t0:.0f} s", flush=True)
    print(f"cases run: {sum(counts.values())} ({', '.join(f'{k} {v}' for k, v in sorted(by_format.items()))}) in "
          f"{time.time() - t0:.0f} s; outcomes: {dict(counts)}; slowest case {slowest[0]:.2f} s ({slowest[1]})")
    print(f"failures found: {len(failures)}")
    kinds = Counter(d.strip().splitlines()[-1][:120] for _, o, d, _ in failures if o == "crash")
    for text, n in kinds.most_common():
        print(f"  {n} x {text}")
    if args.out and failures:
        folder = Path(args.out)
        folder.mkdir(parents=True, exist_ok=True)
        for stem, outcome, detail, data in failures:
            (folder / stem).write_bytes(data)
            (folder / f"{stem}.txt").write_text(f"{outcome}\n{detail}\n")
        print(f"inputs and tracebacks in {folder}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
