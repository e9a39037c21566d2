"""Reproduce the reference table of the evaluation guide: human vs rule harmonizations on Nottingham.

Subset: for each Nottingham ABC file (sorted by name), every 6th tune (``tunes[::6]``), keeping
tunes with at least 8 melody notes and 2 chord symbols. Rows: the tunes' own chords, the
best-fitting diatonic triad per bar, the tonic triad throughout (:mod:`melodygan.engines.rules`). The
rule rows come with both key finders (Aarden–Essen = music21's ``analyze('key')``;
Krumhansl–Kessler = ``melodygan.keys.estimate_key``) and, for the triad rule, both bar grids
(bar-length windows from step 0 as in the guide; the bar lines, which ``rule-triad`` uses). Every
metric is the mean over tunes of the per-tune value. The rows checked against the guide are
``human``, ``triad (aarden-essen, start)`` and ``tonic (aarden-essen)``.

    python scripts/reference_table.py [--data DIR] [--every 6] [--json OUT.json]

Exit code 0 when every reference value is matched within its tolerance (±0.01; ±0.05 for the
one-decimal "distinct chords" column), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import replace
from pathlib import Path

from melodygan.corpora.nottingham import nottingham_files, read_nottingham
from melodygan.engines.rules import best_triad_per_bar, tonic_throughout
from melodygan.metrics import harmony_metrics, mean_metrics
from melodygan.piece import Piece

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "nottingham"
COLUMNS = ("ctnctr", "pcs", "mctd", "che", "cc")
HEADERS = ("CTnCTR", "PCS", "MCTD", "CHE", "distinct chords per tune")
REFERENCE = {
    "human": {"ctnctr": 0.940, "pcs": 0.585, "mctd": 1.274, "che": 1.449, "cc": 5.5},
    "triad": {"ctnctr": 0.932, "pcs": 0.578, "mctd": 1.298, "che": 1.184, "cc": 4.0},
    "tonic": {"ctnctr": 0.825, "pcs": 0.436, "mctd": 1.404, "che": 0.0, "cc": 1.0},
}
TOLERANCE = {"cc": 0.05}


def subset(data: Path, every: int) -> list[Piece]:
    """Every ``every``-th tune of each file with >= 8 melody notes and >= 2 chord symbols."""
    tunes: list[Piece] = []
    for path in nottingham_files(data):
        tunes += [t for t in read_nottingham(path)[::every] if len(t.melody) >= 8 and len(t.chords) >= 2]
    return tunes


def rows_for(tunes: list[Piece]) -> dict[str, dict[str, float]]:
    melodies = [replace(t, chords=[]) for t in tunes]
    rows = {"human": mean_metrics([harmony_metrics(t) for t in tunes])}
    for method in ("aarden-essen", "krumhansl"):
        for grid in ("start", "bars"):
            rows[f"triad ({method}, {grid})"] = mean_metrics(
                [harmony_metrics(best_triad_per_bar(m, key_method=method, grid=grid)) for m in melodies])
        rows[f"tonic ({method})"] = mean_metrics(
            [harmony_metrics(tonic_throughout(m, key_method=method)) for m in melodies])
    return rows


CHECKED = ("human", "triad (aarden-essen, start)", "tonic (aarden-essen)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of Nottingham .abc files")
    parser.add_argument("--every", type=int, default=6, help="take every N-th tune of each file")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    tunes = subset(args.data, args.every)
    rows = rows_for(tunes)
    print(f"{len(tunes)} tunes (reference: 174), read and scored in {time.perf_counter() - t0:.0f} s\n")
    print("| harmonization | " + " | ".join(HEADERS) + " |")
    print("|---" * (len(HEADERS) + 1) + "|")
    ok = True
    for name, row in rows.items():
        ref = REFERENCE[name.split(" ")[0]]
        cells = []
        for col in COLUMNS:
            value, want = row[col], ref[col]
            good = not math.isnan(value) and abs(value - want) <= TOLERANCE.get(col, 0.01)
            cells.append(f"{value:.3f}" + ("" if good else f" (ref {want})"))
            if name in CHECKED:
                ok &= good
        print(f"| {name}{' (checked)' if name in CHECKED else ''} | " + " | ".join(cells) + " |")
    print("\nAll reference values matched." if ok else "\nSome values differ from the reference (shown in brackets).")
    if args.json:
        args.json.write_text(json.dumps({"tunes": len(tunes), "rows": rows}, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
