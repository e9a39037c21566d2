#!/usr/bin/env python
"""Differential fuzzing of the two ABC readers: mutate real tunes, and wherever the native reader
reads the result, music21's path must give the same Piece (or, for a note before ``::``, the Piece
music21 gives for the tune written with a space: the one known difference, docs/formats.md).

    python scripts/fuzz_abc.py --cases 3000 --seed 2 --out abc-findings/

Seeds are the tunes of the ``.abc`` files in ``--corpus`` (default the Nottingham Music Database at
``$MELODYGAN_NOTTINGHAM`` or ``../shared/datasets/nottingham``). A mutation inserts ABC snippets
(bar lines, tuplets, ties, chords, fields, decorations) or characters, deletes or duplicates a
stretch. Prints the counts (refused by the bounds, left to music21, the same, explained, differing,
crashed); each differing or crashing case is saved under ``--out``. Exit code 1 when there was any.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import traceback
import warnings
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTTINGHAM = Path(os.environ.get("MELODYGAN_NOTTINGHAM") or ROOT.parent / "shared" / "datasets" / "nottingham")
CHARS = list("abcdefgABCDEFGz^_=,'/23468|:[]()-<>~\"!. \nxHTuv{}%\\+")
SNIPPETS = ["::", "|:", ":|", "[1", "[2", "|1", ":|2", "(3", "(3:2:2", ">", "<<", "-", '"Am"', '" "', "[ceg]",
            "[c2e2]3", "z2", "c/", "c//", "c3/", "K:Dm\n", "M:3/4\n", "L:1/16\n", "Q:1/8=100\n", "[K:G]", "{g}",
            '"^x"', "A::", "!trill!", "\\\n", "% c\n", "T:\n", "P:B\n", "c-", "[1 ", "||", "|]", "[|", "B,", "c'"]


def mutate(tune: str, rng: random.Random) -> str:
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(tune))
        op = rng.random()
        if op < 0.3:
            tune = tune[:i] + rng.choice(SNIPPETS) + tune[i:]
        elif op < 0.55:
            tune = tune[:i] + rng.choice(CHARS) + tune[i:]
        elif op < 0.8:
            tune = tune[:i] + tune[i + rng.randint(1, 3):]
        else:
            j = rng.randrange(len(tune))
            tune = tune[:i] + tune[j:j + rng.randint(1, 20)] + tune[i:]
    return tune


def as_music21_reads_it(tune: str) -> str:
    """'B::' after a note, written 'B ::' (see docs/formats.md)."""
    return "\n".join(line if re.match(r"\s*[A-Z]:", line) else re.sub(r"([A-G])::", r"\1 ::", line)
                     for line in tune.split("\n"))


def main(argv: list[str] | None = None) -> int:
    from melodygan.errors import MelodyganError
    from melodygan.formats.abc import _parse_tune, check_abc_tune, read_abc_text, split_tunes
    from melodygan.formats.abc_native import NotCovered, read_tune

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=1000, help="mutated tunes to try")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the mutations")
    parser.add_argument("--corpus", type=Path, default=NOTTINGHAM, help="folder of .abc files to mutate")
    parser.add_argument("--out", type=Path, default=Path("abc-findings"), help="folder for differing cases")
    args = parser.parse_args(argv)
    tunes = [t for f in sorted(args.corpus.glob("*.abc")) for t in split_tunes(read_abc_text(f))[1]]
    if not tunes:
        parser.error(f"no .abc tunes in {args.corpus} (set MELODYGAN_NOTTINGHAM or pass --corpus)")
    warnings.simplefilter("ignore")
    rng = random.Random(args.seed)
    counts: Counter[str] = Counter()

    def music21(text: str) -> object:
        try:
            return _parse_tune(text, "x", "fuzz.abc", "music21")
        except MelodyganError as e:
            return str(e)

    for case in range(args.cases):
        text = mutate(rng.choice(tunes), rng)
        try:
            if check_abc_tune(text, "fuzz.abc"):
                counts["refused"] += 1
                continue
        except MelodyganError:
            counts["refused"] += 1
            continue
        try:
            native = read_tune(text, "x")
        except NotCovered:
            counts["left to music21"] += 1
            continue
        except Exception:
            counts["crashed"] += 1
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / f"crash-{args.seed}-{case}.abc").write_text(text + "\n%" + traceback.format_exc())
            continue
        if native == music21(text):
            counts["the same"] += 1
        elif native == music21(as_music21_reads_it(text)):
            counts["explained (a note before ::)"] += 1
        else:
            counts["differing"] += 1
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / f"differ-{args.seed}-{case}.abc").write_text(text)
    print(", ".join(f"{k}: {v}" for k, v in counts.most_common()))
    return 1 if counts["differing"] or counts["crashed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
