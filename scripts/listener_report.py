"""Listener report: can a small classifier tell real 8-bar excerpts from generated clips? (:mod:`melodygan.listener`)

References first, to read the engine rows against:

* ``real halves``: two random halves of the real excerpts (bars 1–8): the floor, ~0.5 ± a few points
  (``--floor-splits`` halvings; the row gives the mean over them and, after ±, their spread);
* ``real 1–8 vs 9–16``: bars 1–8 against bars 9–16 of the same tunes (tunes of >= 16 bars): how far
  apart two kinds of *real* music are (openings vs continuations: tonic openings, cadences).

Then one row per engine in ``--engines``: ``ar``, ``gan``, ``hybrid`` sample ``--num`` clips with
:func:`melodygan.generate` (``bars=8``). With ``--meters matched`` (the default) the clips are made
in the meters of the real excerpts, in the same proportions, so meter alone gives nothing away;
``--meters default`` makes them all in the library's default 4/4 (as ``melodygan evaluate`` does).
``gan-chords`` writes one GAN melody over each real excerpt's own chords, key and meter (excerpts in
meters the GAN refuses are left out on both sides). Engines that write chords also get a row on
:func:`melodygan.listener.chord_features`. Then the :func:`melodygan.listener.profile` numbers side by
side, and novelty: the longest run of bars copied from a training tune (real test excerpts as the
baseline: Nottingham holds variants of the same tunes).

    python scripts/listener_report.py --data DIR [--engines ar,gan-chords] [--num 100] [--seed 1]
        [--meters matched|default] [--genre folk|pop] [--candidates N] [--checkpoint RUN] [--json OUT.json]
        [--ending full|open] [--reference openings|endings] [--split test|valid] [--temperature T] [--top-p P]
        [--engines infill-melody,infill-both --infill-bars 3-6]

``--reference endings`` judges the clips against the *last* 8 bars of the test tunes instead (the
reference for clips written as whole tunes, ``--ending full``); ``--ending open`` asks the transformer
for tune openings (the reference: bars 1–8). ``--split valid`` judges the validation tunes (to choose
sampling settings without looking at the test split). ``--temperature`` and ``--top-p`` go to the
transformer.

``--genre`` is passed to the generators (``pop`` for a POP909 folder); ``--candidates`` and
``--checkpoint`` too (the transformer's re-ranking by its own likelihood, another transformer).

``infill-melody`` and ``infill-both`` take each real excerpt and regenerate bars ``--infill-bars``
(default 3–6, the middle half) with :func:`melodygan.engines.infill.infill` (the melody over the
kept chords, or melody and chords), every other bar kept; the classifier then tells the originals
from the infilled versions, and a table compares the melody's joins into and out of the gap
(interval across the bar lines) with the originals'.

``DIR`` is a folder written by ``melodygan preprocess``; its ``test`` split is judged, its ``train``
split is the novelty reference.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from melodygan import listener
from melodygan.corpora.preprocess import load_pieces
from melodygan.errors import MelodyganError
from melodygan.piece import Piece

GENERATORS = ("ar", "gan", "hybrid")
INFILLS = ("infill-melody", "infill-both")  # real excerpts with bars --infill-bars regenerated
CHORD_WRITERS = ("ar", "gan", "hybrid")  # engines whose chords are their own (gan without chords: the transformer's)
MIN_NOTES = 8
SHOW_GIVEAWAYS = 4


def excerpts(pieces: list[Piece], first_bar: int, bars: int) -> list[Piece]:
    """Bars ``first_bar ..`` of the tunes long enough for them, with at least MIN_NOTES notes."""
    out = []
    for p in pieces:
        if p.num_bars >= first_bar + bars - 1:
            w = listener.window(p, first_bar, bars)
            if len(w.melody) >= MIN_NOTES:
                out.append(w)
    return out


def last_bars(pieces: list[Piece], bars: int) -> list[Piece]:
    """The last ``bars`` bars of each tune that is longer than ``bars`` (its close), with at least
    MIN_NOTES notes."""
    out = []
    for p in pieces:
        if p.num_bars > bars:
            w = listener.window(p, p.num_bars - bars + 1, bars)
            if len(w.melody) >= MIN_NOTES:
                out.append(w)
    return out


def paired_halves(pieces: list[Piece], bars: int) -> tuple[list[Piece], list[Piece]]:
    """Bars 1..bars and bars+1..2*bars of each tune that has both (each with at least MIN_NOTES notes)."""
    first, second = [], []
    for p in pieces:
        if p.num_bars >= 2 * bars:
            a, b = listener.window(p, 1, bars), listener.window(p, bars + 1, bars)
            if len(a.melody) >= MIN_NOTES and len(b.melody) >= MIN_NOTES:
                first.append(a)
                second.append(b)
    return first, second


def meter_plan(real: list[Piece], num: int) -> list[tuple[tuple[int, int], int]]:
    """``num`` split over the real excerpts' meters in proportion (largest remainder), most common first."""
    counts = Counter(p.time_signature for p in real).most_common()
    quotas = [(m, num * c / len(real)) for m, c in counts]
    plan = {m: int(q) for m, q in quotas}
    for m, _ in sorted(quotas, key=lambda mq: -(mq[1] - int(mq[1])))[:num - sum(plan.values())]:
        plan[m] += 1
    return [(m, plan[m]) for m, _ in counts if plan[m] > 0]


def make_clips(engine: str, real: list[Piece], num: int, bars: int, seed: int,
               meters: str, **options: Any) -> tuple[list[Piece], list[Piece]]:
    """The engine's clips and the real excerpts to compare them with (``options``: more keywords of
    :func:`melodygan.generate` for the generators)."""
    import melodygan

    if engine == "gan-chords":
        made, used = [], []
        for i, p in enumerate(real[:num]):
            try:
                made += melodygan.generate(engine="gan", num=1, bars=bars, chords=p.chords, key=p.key,
                                           time_signature=p.time_signature, seed=seed + i)
                used.append(p)
            except MelodyganError as e:
                print(f"  gan-chords: excerpt {i} ({p.time_signature[0]}/{p.time_signature[1]}) left out: {e}",
                      file=sys.stderr)
        return made, used
    if engine in INFILLS:
        from melodygan.engines.infill import infill

        first, last = options.pop("infill_bars")
        made, used = [], []
        for i, p in enumerate(real[:num]):
            try:
                made += infill(p, (first, last), engine.split("-")[1], seed=seed + i, **options)
                used.append(p)
            except MelodyganError as e:
                print(f"  {engine}: excerpt {i} left out: {e}", file=sys.stderr)
        return made, used
    if engine not in GENERATORS:
        raise MelodyganError(f"unknown engine {engine!r}; allowed: {', '.join((*GENERATORS, 'gan-chords', *INFILLS))}")
    if meters == "default":
        return melodygan.generate(engine=engine, num=num, bars=bars, seed=seed, **options), real
    made, covered = [], []
    for j, (meter, n) in enumerate(meter_plan(real, num)):
        try:
            made += melodygan.generate(engine=engine, num=n, bars=bars, time_signature=meter, seed=seed + 1000 * j,
                                       **options)
            covered.append(meter)
        except MelodyganError as e:
            print(f"  {engine}: {n} clip(s) in {meter[0]}/{meter[1]} left out: {e}", file=sys.stderr)
    return made, [p for p in real if p.time_signature in covered]


def seams(pieces: list[Piece], first: int, last: int) -> dict[str, float]:
    """The melody's joins into and out of bars ``first..last`` (1 = the first bar): mean absolute
    interval (semitones) from the last note before the bar line to the first note after it, and
    the share of those joins that move by step (1-2 semitones) or repeat."""
    gaps: list[int] = []
    for p in pieces:
        for bar in (first, last + 1):
            line = p.pickup_steps + (bar - 1) * p.bar_steps
            before = [n for n in p.melody if n.start_steps < line]
            after = [n for n in p.melody if n.start_steps >= line]
            if before and after and bar <= p.num_bars:
                gaps.append(abs(after[0].pitch - before[-1].pitch))
    if not gaps:
        return {"joins": 0, "mean_abs_interval": float("nan"), "step_or_repeat": float("nan")}
    return {"joins": len(gaps), "mean_abs_interval": float(np.mean(gaps)),
            "step_or_repeat": float(np.mean([g <= 2 for g in gaps]))}


def _g(x: float | None, digits: int = 2) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def giveaway_text(result: dict[str, Any], k: int = SHOW_GIVEAWAYS) -> str:
    return "; ".join(f"{g['feature']} {_g(g['real'])} → {_g(g['generated'])} ({g['std_diff']:+.1f}σ)"
                     for g in result["giveaways"][:k])


def render(out: dict[str, Any]) -> str:
    which = f"the last {out['bars']} bars" if out.get("reference") == "endings" else f"bars 1–{out['bars']}"
    lines = [f"# Listener report: `{out['data']}` ({out.get('split', 'test')} split)", "",
             f"{out['num_real']} real excerpts ({which}), seed {out['seed']}, meters {out['meters']}, "
             f"generator options {out.get('options', {})}. "
             f"Accuracy = 5-fold CV × {out['repeats']} repeats, mean ± std over folds; 0.5 = indistinguishable. "
             "Give-aways: real mean → generated mean (standardized difference).", "",
             "## Classifier test, melody features", "",
             "| comparison | n / class | LR acc | GB acc | top give-away features (real → generated) |",
             "|---|---|---|---|---|"]
    for row in out["tests"]:
        r = row["result"]
        lines.append(f"| {row['name']} | {r['n_per_class']} | {_g(r['lr']['mean'])} ± {_g(r['lr']['std'])} | "
                     f"{_g(r['gb']['mean'])} ± {_g(r['gb']['std'])} | {giveaway_text(r)} |")
    if out["chord_tests"]:
        lines += ["", "## Classifier test, chord features (engines that write chords)", "",
                  "| comparison | n / class | LR acc | GB acc | top give-away features |", "|---|---|---|---|---|"]
        for row in out["chord_tests"]:
            r = row["result"]
            lines.append(f"| {row['name']} | {r['n_per_class']} | {_g(r['lr']['mean'])} ± {_g(r['lr']['std'])} | "
                         f"{_g(r['gb']['mean'])} ± {_g(r['gb']['std'])} | {giveaway_text(r)} |")
    names = list(out["profiles"])
    lines += ["", "## Profile (means over pieces)", "", "| | " + " | ".join(names) + " |",
              "|---|" + "---|" * len(names)]
    for key in ("n", *listener.PROFILE_KEYS):
        digits = 0 if key == "n" else 3
        lines.append(f"| {key} | " + " | ".join(_g(out["profiles"][n].get(key), digits) for n in names) + " |")
    lines += ["", "## Novelty: longest run of bars copied from a training tune", "",
              "| set | clips | mean run | max run | share ≥ 2 bars | share ≥ 4 bars |", "|---|---|---|---|---|---|"]
    for name, nv in out["novelty"].items():
        lines.append(f"| {name} | {len(nv['per_clip'])} | {_g(nv['mean'])} | {nv['max']} | {_g(nv['share_ge_2'])} | "
                     f"{_g(nv['share_ge_4'])} |")
    if out.get("joins"):
        a, b = out["infill_bars"]
        lines += ["", f"## Joins into and out of the regenerated bars {a}–{b}", "",
                  "| engine | joins | mean interval (semitones), real → infilled | step or repeat, real → infilled |",
                  "|---|---|---|---|"]
        for name, j in out["joins"].items():
            lines.append(f"| {name} | {j['infilled']['joins']} | {_g(j['real']['mean_abs_interval'])} → "
                         f"{_g(j['infilled']['mean_abs_interval'])} | {_g(j['real']['step_or_repeat'])} → "
                         f"{_g(j['infilled']['step_or_repeat'])} |")
    lines += ["", "Seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in out["seconds"].items())]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="a preprocessed corpus folder (melodygan preprocess --out)")
    ap.add_argument("--engines", default="ar,gan-chords", help="comma-separated: ar, gan, hybrid, gan-chords")
    ap.add_argument("--num", type=int, default=100, help="clips per engine")
    ap.add_argument("--bars", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--meters", choices=("matched", "default"), default="matched")
    ap.add_argument("--repeats", type=int, default=5, help="repeats of the 5-fold cross-validation")
    ap.add_argument("--floor-splits", type=int, default=5, help="random halvings of the real set for the floor")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--genre", choices=("folk", "pop"), default=None, help="genre asked of the generators")
    ap.add_argument("--candidates", type=int, default=1, help="transformer: samples per segment, most likely kept")
    ap.add_argument("--checkpoint", default=None, help="transformer checkpoint folder (default: the shipped one)")
    ap.add_argument("--temperature", type=float, default=None, help="transformer: sampling temperature (default: "
                    "generate's)")
    ap.add_argument("--top-p", type=float, default=None, help="transformer: nucleus sampling (default: generate's)")
    ap.add_argument("--ending", choices=("full", "open"), default=None,
                    help="transformer: clips as whole tunes (full) or tune openings (open); default: generate's")
    ap.add_argument("--reference", choices=("openings", "endings"), default="openings",
                    help="real excerpts the clips are judged against: bars 1-8 of the test tunes (openings) or "
                         "their last 8 bars (endings: what a whole tune's close sounds like)")
    ap.add_argument("--split", choices=("test", "valid"), default="test",
                    help="the split judged: valid to choose sampling settings, test to report them")
    ap.add_argument("--infill-bars", default="3-6", metavar="A-B",
                    help="bars the infill engines regenerate in each real excerpt (the rest kept)")
    ap.add_argument("--json", type=Path, help="write everything here")
    args = ap.parse_args(argv)
    from melodygan.engines.infill import parse_bars

    infill_bars = parse_bars(args.infill_bars)
    options: dict[str, Any] = {"genre": args.genre, "candidates": args.candidates}
    for name in ("temperature", "top_p", "ending"):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    if args.checkpoint:
        options["checkpoint"] = args.checkpoint
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]

    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    test, train = load_pieces(args.data, args.split), load_pieces(args.data, "train")
    openings = excerpts(test, 1, args.bars)
    endings = last_bars(test, args.bars)
    real = openings if args.reference == "openings" else endings
    opening, later = paired_halves(test, args.bars)
    if len(real) < 4:
        raise MelodyganError(f"{args.data}: {len(real)} usable test excerpts; need at least 4")
    feats = {id(p): listener.melody_features(p, args.bars) for p in openings + endings + opening + later}

    def f(ps: list[Piece]) -> list[dict[str, float]]:
        return [feats[id(p)] if id(p) in feats else listener.melody_features(p, args.bars) for p in ps]

    tests: list[dict[str, Any]] = []
    def judge(r: list[Any], g: list[Any], features: listener.FeatureFn | None = None) -> dict[str, Any]:
        return listener.classifier_test(r, g, features=features, seed=args.seed, repeats=args.repeats)

    halves = [judge(*listener.split_halves(f(real), seed=args.seed + k)) for k in range(max(args.floor_splits, 1))]
    floor = dict(halves[0])
    for model in ("lr", "gb"):  # mean over splits; std = spread of the split means
        means = [h[model]["mean"] for h in halves]
        floor[model] = {"mean": float(np.mean(means)), "std": float(np.std(means)), "splits": means}
    tests.append({"name": f"real halves (floor, {len(halves)} splits)", "result": floor})
    if len(later) >= 4:
        tests.append({"name": f"real bars 1–{args.bars} vs {args.bars + 1}–{2 * args.bars}",
                      "result": judge(f(opening), f(later))})
    if len(endings) >= 4:
        tests.append({"name": f"real bars 1–{args.bars} vs the last {args.bars} (tune endings)",
                      "result": judge(f(openings), f(endings))})
    profiles = {f"real 1–{args.bars}": listener.profile(openings, args.bars)}
    if later:
        profiles[f"real {args.bars + 1}–{2 * args.bars}"] = listener.profile(later, args.bars)
    if endings:
        profiles[f"real last {args.bars}"] = listener.profile(endings, args.bars)
    novelty = {f"real {args.split} {args.reference}": listener.novelty(real, train, args.bars)}
    seconds["references"] = time.perf_counter() - t0

    chord_tests: list[dict[str, Any]] = []
    clips: dict[str, list[Piece]] = {}
    joins: dict[str, dict[str, dict[str, float]]] = {}
    if engines:
        import torch

        torch.set_num_threads(args.threads)
    for engine in engines:
        t = time.perf_counter()
        if engine in INFILLS:
            engine_options: dict[str, Any] = {"infill_bars": infill_bars, "genre": args.genre or "folk"}
            if args.checkpoint:
                engine_options["checkpoint"] = args.checkpoint
        else:
            engine_options = options if engine in ("ar", "hybrid") else {"genre": args.genre}
        made, compared = make_clips(engine, real, args.num, args.bars, args.seed, args.meters, **engine_options)
        seconds[f"{engine} generate"] = time.perf_counter() - t
        t = time.perf_counter()
        if len(made) < 2:
            print(f"{engine}: only {len(made)} clip(s); skipped", file=sys.stderr)
            continue
        clips[engine] = made
        tests.append({"name": engine, "result": judge(f(compared), f(made))})
        if engine in CHORD_WRITERS:
            chord_tests.append({"name": engine, "result": judge(compared, made, listener.chord_features)})
        profiles[engine] = listener.profile(made, args.bars)
        if engine in INFILLS:
            joins[engine] = {"real": seams(compared, *infill_bars), "infilled": seams(made, *infill_bars)}
        novelty[engine] = listener.novelty(made, train, args.bars)
        seconds[f"{engine} judge"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - t0

    out: dict[str, Any] = {
        "data": str(args.data), "split": args.split, "reference": args.reference,
        "bars": args.bars, "seed": args.seed, "meters": args.meters, "num": args.num,
        "options": {k: v for k, v in options.items()},
        "repeats": args.repeats,
        "num_real": len(real), "num_later": len(later), "num_train": len(train),
        "real_meters": {f"{m[0]}/{m[1]}": c for m, c in Counter(p.time_signature for p in real).most_common()},
        "clip_meters": {e: {f"{m[0]}/{m[1]}": c for m, c in Counter(p.time_signature for p in ps).most_common()}
                        for e, ps in clips.items()},
        "tests": tests, "chord_tests": chord_tests, "profiles": profiles, "novelty": novelty, "seconds": seconds,
        "joins": joins, "infill_bars": list(infill_bars),
    }
    print(render(out))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(_clean(out), indent=2, ensure_ascii=False) + "\n")
    return 0


def _clean(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


if __name__ == "__main__":
    try:
        sys.exit(main())
    except MelodyganError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
