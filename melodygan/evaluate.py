"""Evaluation: run an engine on held-out data and write a report of metrics, real vs model.

An *engine* is a function ``fn(real, num, checkpoint, seed) -> list[Piece]`` registered in
:data:`ENGINES` with a kind:

* ``"harmonizer"`` engines get the held-out melodies with their chords stripped and return them
  harmonized; they are judged against the human chords of the same melodies (CTnCTR, PCS, MCTD,
  CHE, CC, CTD, chord agreement with the human chords).
* ``"generator"`` engines sample ``num`` new 8-bar pieces; they are judged against real 8-bar
  excerpts (the same harmony metrics, piano-roll statistics, and the Yang–Lerch distribution
  match of melodies).

Built in: ``rule-triad`` and ``rule-tonic`` (:mod:`melodygan.engines.rules`); ``ar``, ``gan``, ``hybrid``
(:func:`melodygan.engines.generate.generate`), ``gan-chords`` (the GAN's melodies over the real excerpts'
chords, :func:`melodygan.engines.gan.gan_melodies`), ``harmonize``
(:func:`melodygan.engines.harmonize.harmonize`) and ``harmonize-transformer`` (the earlier
bar-by-bar one), imported only when used. Chorale data (JSB, Bach) also gets
the voice-leading counts of Bach's own voices, the yardstick for a future SATB harmonizer. A new engine plugs in with
:func:`register_engine` and needs no change to the report code.

Output folder: ``report.md``, ``metrics.json`` and PNG plots (pitch-class histograms, feature
distributions, an example piano roll). The folder is written to a temporary sibling and moved into
place at the end, so a failed run leaves nothing half-written.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from melodygan import metrics
from melodygan.engines.rules import harmonize_with_rule
from melodygan.errors import MelodyganError
from melodygan.piece import Piece

EngineFn = Callable[..., list[Piece]]  # (real, num, checkpoint, seed[, genre=...]) -> pieces
ENGINES: dict[str, EngineFn] = {}
ENGINE_KINDS: dict[str, str] = {}
KINDS = ("harmonizer", "generator")
EXCERPT_BARS = 8
HARMONIZE_BARS = 16  # harmonizers are judged on bars 1-16 of each held-out melody (pickup kept)
_CHUNK = 8  # pieces per progress-bar tick for generators


def register_engine(name: str, kind: str) -> Callable[[EngineFn], EngineFn]:
    """Decorator: add ``fn`` to :data:`ENGINES` under ``name`` with ``kind`` ``"harmonizer"``/``"generator"``."""
    if kind not in KINDS:
        raise ValueError(f"engine kind {kind!r} not one of {KINDS}")

    def add(fn: EngineFn) -> EngineFn:
        ENGINES[name] = fn
        ENGINE_KINDS[name] = kind
        return fn

    return add


def _import(module: str, engine: str) -> Any:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name != module:  # the module exists but something it imports is missing: a real bug
            raise
        raise MelodyganError(f"{engine!r} needs {module}, which this build does not have") from None


def strip_chords(piece: Piece) -> Piece:
    """The melody alone: chords and other voices removed."""
    return replace(piece, chords=[], voices={})


@register_engine("rule-triad", "harmonizer")
def _rule_triad(real: list[Piece], num: int, checkpoint: Path | None, seed: int,
        genre: str | None = None) -> list[Piece]:
    return [harmonize_with_rule(strip_chords(p), "triad") for p in tqdm(real[:num], desc="rule-triad", unit="tune")]


@register_engine("rule-tonic", "harmonizer")
def _rule_tonic(real: list[Piece], num: int, checkpoint: Path | None, seed: int,
        genre: str | None = None) -> list[Piece]:
    return [harmonize_with_rule(strip_chords(p), "tonic") for p in tqdm(real[:num], desc="rule-tonic", unit="tune")]


@register_engine("harmonize", "harmonizer")
def _harmonize(real: list[Piece], num: int, checkpoint: Path | None, seed: int,
        genre: str | None = None) -> list[Piece]:
    harmonize = _import("melodygan.engines.harmonize", "harmonize").harmonize
    return [harmonize(strip_chords(p), seed=seed, checkpoint=checkpoint, genre=genre)  # type: ignore[misc]
            for p in tqdm(real[:num], desc="harmonize", unit="tune")]


@register_engine("harmonize-transformer", "harmonizer")
def _harmonize_transformer(real: list[Piece], num: int, checkpoint: Path | None, seed: int,
        genre: str | None = None) -> list[Piece]:
    harmonize = _import("melodygan.engines.harmonize", "harmonize-transformer").harmonize_with_transformer
    return [harmonize(strip_chords(p), seed=seed, checkpoint=checkpoint)
            for p in tqdm(real[:num], desc="harmonize-transformer", unit="tune")]


@register_engine("chorale", "harmonizer")
def _chorale(real: list[Piece], num: int, checkpoint: Path | None, seed: int,
             genre: str | None = None) -> list[Piece]:
    harmonize_chorale = _import("melodygan.engines.chorale", "chorale").harmonize_chorale
    return [harmonize_chorale(strip_chords(p), seed=seed, checkpoint=checkpoint)[0]
            for p in tqdm(real[:num], desc="chorale", unit="chorale")]


WHOLE_PIECES = frozenset({"chorale"})  # engines judged on whole pieces (chorales are short), not bars 1-16


def _generator(engine: str) -> EngineFn:
    def run(real: list[Piece], num: int, checkpoint: Path | None, seed: int,
        genre: str | None = None) -> list[Piece]:
        """``num`` clips in the real excerpts' meters, in the same proportions (so that the meter
        alone tells nothing), ``_CHUNK`` clips per call."""
        generate = _import("melodygan.engines.generate", engine).generate
        meters = [real[i % len(real)].time_signature for i in range(num)]
        out: list[Piece] = []
        with tqdm(total=num, desc=engine, unit="clip") as bar:
            k = 0
            for meter in sorted(set(meters)):
                want = meters.count(meter)
                for start in range(0, want, _CHUNK):
                    n = min(_CHUNK, want - start)
                    try:  # chunk k uses seed + k: the same (seed, num, data) always gives the same clips
                        out += generate(engine=engine, num=n, bars=EXCERPT_BARS, time_signature=meter, seed=seed + k,
                                        checkpoint=checkpoint, genre=genre)
                    except MelodyganError as e:  # a meter this engine does not cover
                        tqdm.write(f"{engine}: {n} clip(s) in {meter[0]}/{meter[1]} left out ({e})")
                    k += 1
                    bar.update(n)
        return out

    return run


for _name in ("ar", "gan", "hybrid"):
    register_engine(_name, "generator")(_generator(_name))


@register_engine("gan-chords", "generator")
def _gan_over_real_chords(real: list[Piece], num: int, checkpoint: Path | None, seed: int,
        genre: str | None = None) -> list[Piece]:
    """GAN melodies over the chords of the real excerpts: the melody alone is judged, chords held equal."""
    gan_melodies = _import("melodygan.engines.gan", "gan-chords").gan_melodies
    chosen = real[:num]
    out: list[Piece | None] = [None] * len(chosen)
    meters = sorted({p.time_signature for p in chosen})
    for meter in tqdm(meters, desc="gan-chords", unit="meter"):
        idx = [i for i, p in enumerate(chosen) if p.time_signature == meter]
        try:
            made = gan_melodies([chosen[i].chords for i in idx], bars=EXCERPT_BARS, time_signature=meter,
                                seed=seed, checkpoint=checkpoint)
        except MelodyganError as e:  # a meter the GAN does not cover: those excerpts are left out
            tqdm.write(f"gan-chords: {len(idx)} excerpt(s) in {meter[0]}/{meter[1]} left out ({e})")
            continue
        for i, piece in zip(idx, made):
            out[i] = piece
    return [p for p in out if p is not None]


# --- data ---------------------------------------------------------------------------------------
def load_real(data: str | Path | list[Piece], split: str = "test") -> list[Piece]:
    """Held-out pieces from ``data``: a preprocessed folder (its ``split``), the JSB Chorales ``.json``
    (its ``split``), a Nottingham ``.abc`` file or folder of them, any score file
    :func:`melodygan.formats.readers.read_score` reads, or Pieces.

    Raises:
        MelodyganError: when ``data`` does not exist or holds no pieces.
    """
    if isinstance(data, list):
        return data
    path = Path(data)
    if not path.exists():
        raise MelodyganError(f"--data {str(data)!r} does not exist; give a preprocessed folder or a score file/folder")
    if path.is_dir() and (path / "meta.json").exists():
        pieces = _import("melodygan.corpora.preprocess", "evaluate").load_pieces(path, split)
    elif path.suffix.lower() == ".json":
        pieces = _import("melodygan.corpora.jsb", "evaluate").read_jsb(path)[split]
    elif (path.is_dir() and any(path.glob("*.abc"))) or path.suffix.lower() == ".abc":
        pieces = _import("melodygan.corpora.nottingham", "evaluate").read_nottingham(path)
    elif path.is_file():
        pieces = [_import("melodygan.formats.readers", "evaluate").read_score(path)]
    else:
        raise MelodyganError(f"--data {str(data)!r}: no meta.json and no .abc files in this folder")
    if not pieces:
        raise MelodyganError(f"--data {str(data)!r} holds no pieces")
    return pieces


def excerpt(piece: Piece, bars: int = EXCERPT_BARS) -> Piece:
    """Bars 1..``bars`` of a piece (pickup dropped), shifted to start at step 0; chords clipped."""
    start = piece.pickup_steps
    end = start + bars * piece.bar_steps
    melody = [n.shifted(-start) for n in piece.melody if start <= n.start_steps < end]
    melody = [replace(n, duration_steps=min(n.duration_steps, end - start - n.start_steps)) for n in melody]
    chords = []
    for c in piece.chords:
        s, e = max(c.start_steps, start), min(c.end_steps, end)
        if e > s:
            chords.append(c.with_time(s - start, e - s))
    voices = {k: [replace(n.shifted(-start), duration_steps=min(n.duration_steps, end - n.start_steps))
                  for n in v if start <= n.start_steps < end] for k, v in piece.voices.items()}
    return replace(piece, melody=melody, chords=chords, voices=voices, pickup_steps=0,
                   length_steps=bars * piece.bar_steps)


def head(piece: Piece, bars: int = HARMONIZE_BARS) -> Piece:
    """The pickup and bars 1..``bars`` of a piece (times unchanged), chords and notes clipped there."""
    end = piece.pickup_steps + bars * piece.bar_steps
    if piece.end_steps <= end:
        return piece
    melody = [replace(n, duration_steps=min(n.duration_steps, end - n.start_steps))
              for n in piece.melody if n.start_steps < end]
    chords = [c.with_time(c.start_steps, min(c.end_steps, end) - c.start_steps) for c in piece.chords
              if c.start_steps < end]
    voices = {k: [replace(n, duration_steps=min(n.duration_steps, end - n.start_steps))
                  for n in v if n.start_steps < end] for k, v in piece.voices.items()}
    return replace(piece, melody=melody, chords=chords, voices=voices, length_steps=end)


def judge_harmonizations(human: list[Piece], model: list[Piece]) -> dict[str, Any]:
    """Per-beat agreement and harmonic rhythm of ``model`` beside the human chords and the two
    rule baselines on the same melodies (:func:`melodygan.metrics.beat_agreement`,
    :func:`melodygan.metrics.harmonic_rhythm`), and how often the model beats the triad rule."""
    rules = {name: [harmonize_with_rule(strip_chords(p), name) for p in human] for name in ("triad", "tonic")}
    out: dict[str, Any] = {}
    for name, pieces in (("model", model), ("rule-triad", rules["triad"]), ("rule-tonic", rules["tonic"])):
        agree = [metrics.beat_agreement(h, m) for h, m in zip(human, pieces)]
        rhythm = [metrics.harmonic_rhythm(m) for m in pieces]
        out[name] = {"root": float(np.nanmean([a["root"] for a in agree])),
                     "label": float(np.nanmean([a["label"] for a in agree])),
                     **metrics.mean_metrics(rhythm)}
        out[name]["_roots"] = [a["root"] for a in agree]
    out["human"] = metrics.mean_metrics([metrics.harmonic_rhythm(h) for h in human])
    ours, rule = np.array(out["model"].pop("_roots")), np.array(out["rule-triad"].pop("_roots"))
    out["rule-tonic"].pop("_roots")
    out["wins_vs_rule_triad"] = int(np.sum(ours > rule))
    out["losses_vs_rule_triad"] = int(np.sum(ours < rule))
    return out


def _usable(piece: Piece, kind: str) -> bool:
    if kind == "harmonizer":
        return len(piece.melody) >= 8 and len(piece.chords) >= 2
    return len(piece.melody) >= 8


def _pick(pieces: list[Piece], num: int, seed: int) -> list[Piece]:
    """``num`` pieces drawn without replacement with ``seed``, kept in corpus order."""
    if len(pieces) <= num:
        return pieces
    idx = np.sort(np.random.default_rng(seed).choice(len(pieces), size=num, replace=False))
    return [pieces[i] for i in idx]


# --- metrics ------------------------------------------------------------------------------------
def _is_chorale(p: Piece) -> bool:
    return all(v in p.voices for v in ("Alto", "Tenor", "Bass"))


def piece_metrics(piece: Piece) -> dict[str, float]:
    """Every metric that applies to one piece (harmony needs chords, voice leading SATB voices)."""
    row: dict[str, float] = {}
    if piece.chords:
        row.update(metrics.harmony_metrics(piece))
    row.update(metrics.roll_metrics(piece))
    if _is_chorale(piece):
        voices = {"Soprano": piece.melody, **piece.voices}
        vl = metrics.voice_leading(voices)
        row.update({f"vl_{k}": v for k, v in vl.items()})
    return row


def pooled_voice_leading(pieces: list[Piece]) -> dict[str, float]:
    """Voice-leading counts per 100 transitions pooled over all the chorales' transitions
    (:func:`melodygan.metrics.voice_leading`), and the number of transitions."""
    rows = [metrics.voice_leading({"Soprano": p.melody, **p.voices}) for p in pieces]
    n = sum(r["transitions"] for r in rows)
    out = {"transitions": n}
    for key in ("parallel_fifths", "parallel_octaves", "crossings", "spacing", "out_of_range"):
        out[key] = sum(r[key] * r["transitions"] for r in rows if r["transitions"]) / n if n else math.nan
    return out


def chord_agreement(human: Piece, model: Piece) -> float:
    """Share of melody-sounding steps where the model's chord equals the human one (root and quality)."""
    steps = [t for n in human.melody for t in range(n.start_steps, n.end_steps)]
    hits = 0
    for t in steps:
        a, b = human.chord_at(t), model.chord_at(t)
        hits += int(a is not None and b is not None and (a.root, a.quality) == (b.root, b.quality))
    return hits / len(steps) if steps else math.nan


def _clean(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def evaluate(engine: str, data: str | Path | list[Piece], num: int, out_dir: str | Path,
             checkpoint: str | Path | None = None, seed: int = 1, force: bool = False,
             plots: bool = True, listener_test: bool = False, genre: str | None = None) -> dict[str, Any]:
    """Run ``engine`` and write ``report.md``, ``metrics.json`` and plots to ``out_dir``.

    Args:
        engine: a name in :data:`ENGINES`.
        data: held-out data (see :func:`load_real`).
        num: pieces to harmonize or generate (>= 1); as many real pieces are drawn with ``seed``.
        out_dir: report folder; must not exist (or be empty) unless ``force``.
        checkpoint: model folder for model engines (None = the shipped weights).
        seed: seed for the draw of real pieces and for sampling.
        force: replace an existing report folder.
        plots: draw the PNG plots (a few seconds of matplotlib).
        genre: ``folk``/``pop`` asked of the engines that take one (generators, ``harmonize``);
            None = their default.
        listener_test: add the listener test (:func:`melodygan.listener.classifier_test`): how well
            a cross-validated classifier on interpretable features tells the real pieces from the
            model's (melody features for generators, chord features for harmonizers).

    Returns:
        The content of ``metrics.json``.

    Raises:
        MelodyganError: unknown engine, bad ``num``, existing output, unusable data.
    """
    if engine not in ENGINES:
        raise MelodyganError(f"unknown engine {engine!r}; available: {', '.join(sorted(ENGINES))}")
    if num < 1:
        raise MelodyganError(f"--num must be >= 1, got {num}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise MelodyganError(f"--out {str(out)!r} is a file; give a folder for the report")
    if out.exists() and any(out.iterdir()) and not force:
        raise MelodyganError(f"report folder {str(out)!r} already exists; pass --force to replace it")
    ckpt = Path(checkpoint) if checkpoint is not None else None
    kind = ENGINE_KINDS[engine]
    pieces = [p for p in load_real(data) if _usable(p, kind)]
    if kind == "generator":
        pieces = [e for e in (excerpt(p) for p in pieces) if _usable(e, kind)]
    elif engine not in WHOLE_PIECES:
        pieces = [h for h in (head(p) for p in pieces) if _usable(h, kind)]
    if len(pieces) < 2:
        raise MelodyganError(f"the data has {len(pieces)} usable pieces; need at least 2")
    real = _pick(pieces, num, seed)
    # (engines registered from outside may take the four plain arguments only)
    model = ENGINES[engine](real, num, ckpt, seed, **({"genre": genre} if genre else {}))
    if not model:
        raise MelodyganError(f"engine {engine!r} returned no pieces")

    real_rows = [piece_metrics(p) for p in real]
    model_rows = [piece_metrics(p) for p in model]
    result: dict[str, Any] = {
        "engine": engine, "kind": kind,
        "data": f"{len(data)} pieces" if isinstance(data, list) else str(data),
        "num_real": len(real), "num_model": len(model),
        "seed": seed, "checkpoint": str(ckpt) if ckpt else None, "genre": genre,
        "real": metrics.mean_metrics(real_rows), "model": metrics.mean_metrics(model_rows),
    }
    if kind == "harmonizer":
        result["chord_agreement"] = float(np.nanmean([chord_agreement(h, m) for h, m in zip(real, model)]))
        result["per_beat"] = judge_harmonizations(real, model)
    if all(_is_chorale(p) for p in real + model):
        result["voice_leading"] = {side: pooled_voice_leading(ps) for side, ps in (("real", real), ("model", model))}
    if engine == "chorale" and not isinstance(data, list) and Path(data).suffix.lower() == ".json":
        result["conditional_nll"] = _import("melodygan.engines.chorale", "chorale").jsb_nll(data, checkpoint=ckpt)
    if kind == "generator":
        result["distribution"] = metrics.distribution_match([p.melody for p in real], [p.melody for p in model])
    if listener_test:
        from melodygan import listener

        features = listener.melody_features if kind == "generator" else listener.chord_features
        result["listener"] = listener.classifier_test(real, model, features=features, seed=seed)
        if kind == "generator":
            result["profile"] = {"real": listener.profile(real, EXCERPT_BARS),
                                 "model": listener.profile(model, EXCERPT_BARS)}
            train = _training_split(data)
            if train:
                result["novelty"] = {k: listener.novelty(ps, train, EXCERPT_BARS)["mean"]
                                     for k, ps in (("real", real), ("model", model))}
    result["per_piece"] = [{"title": p.title, **r} for p, r in zip(model, model_rows)]
    result = _clean(result)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        (tmp / "metrics.json").write_text(json.dumps(result, indent=2) + "\n")
        pngs = _plots(real, model, result, tmp) if plots else []
        (tmp / "report.md").write_text(render_report(result, pngs))
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return result


# --- report -------------------------------------------------------------------------------------
METRIC_LABELS = {
    "ctnctr": "CTnCTR (↑ agree)", "pcs": "PCS (↑ consonant)", "mctd": "MCTD (↓ closer)",
    "che": "CHE (chord entropy)", "cc": "CC (distinct chords)", "ctd": "CTD (chord motion)",
    "eb": "EB (% empty bars)", "upc": "UPC (pitch classes / bar)", "qn": "QN (% notes ≥ 3 steps)",
    "in_scale": "in-scale ratio", "td": "TD (melody ↔ chords)",
    "vl_transitions": "chord transitions per chorale", "vl_parallel_fifths": "parallel fifths / 100 transitions",
    "vl_parallel_octaves": "parallel octaves / 100 transitions", "vl_crossings": "voice crossings / 100 transitions",
    "vl_spacing": "spacing > octave / 100 transitions", "vl_out_of_range": "notes out of range / 100 transitions",
}


MELODY_ONLY = ("eb", "upc", "qn", "in_scale")


def _fmt(x: Any) -> str:
    return "–" if x is None else f"{x:.3f}" if isinstance(x, float) else str(x)


def render_report(result: dict[str, Any], plots: list[str]) -> str:
    """Markdown report of a :func:`evaluate` result."""
    lines = [
        f"# Evaluation: `{result['engine']}` ({result['kind']})", "",
        f"Data `{result['data']}`: {result['num_real']} real pieces, {result['num_model']} from the engine; "
        f"seed {result['seed']}; checkpoint {result['checkpoint'] or 'default'}.", "",
        "Real = " + ("the same melodies with their human chords." if result["kind"] == "harmonizer"
                     else f"{EXCERPT_BARS}-bar excerpts of held-out pieces."), "",
        "| metric | real | model |", "|---|---|---|",
    ]
    real, model = result["real"], result["model"]
    # A harmonizer keeps the melody, so the melody's own statistics are equal on both sides.
    same = MELODY_ONLY if result["kind"] == "harmonizer" else ()
    for key in [k for k in dict.fromkeys([*real, *model]) if k not in same]:
        lines.append(f"| {METRIC_LABELS.get(key, key)} | {_fmt(real.get(key))} | {_fmt(model.get(key))} |")
    if "chord_agreement" in result:
        lines += ["", f"Chord agreement with the human chords: {_fmt(result['chord_agreement'])} of melody steps."]
    if "per_beat" in result:
        pb = result["per_beat"]
        lines += ["", f"Per beat, bars 1–{HARMONIZE_BARS} (the model beats the triad rule on "
                      f"{pb['wins_vs_rule_triad']} melodies, loses on {pb['losses_vs_rule_triad']}):", "",
                  "| system | root agreement | root+quality | changes / bar | mid-bar changes | last on I | V/IV→I |",
                  "|---|---|---|---|---|---|---|"]
        for name in ("human", "model", "rule-triad", "rule-tonic"):
            r = pb[name]
            lines.append(f"| {result['engine'] if name == 'model' else name} | {_fmt(r.get('root'))} | "
                         f"{_fmt(r.get('label'))} | {_fmt(r.get('changes_per_bar'))} | {_fmt(r.get('mid_bar'))} | "
                         f"{_fmt(r.get('last_on_tonic'))} | {_fmt(r.get('cadence'))} |")
    if "voice_leading" in result:
        vl = result["voice_leading"]
        lines += ["", "Voice leading, per 100 transitions pooled over all chorales:", "",
                  "| | transitions | parallel fifths | parallel octaves | crossings | spacing > octave "
                  "| out of range |",
                  "|---|---|---|---|---|---|---|"]
        for side in ("real", "model"):
            r = vl[side]
            lines.append(f"| {side} | {_fmt(r['transitions'])} | {_fmt(r['parallel_fifths'])} | "
                         f"{_fmt(r['parallel_octaves'])} | {_fmt(r['crossings'])} | {_fmt(r['spacing'])} | "
                         f"{_fmt(r['out_of_range'])} |")
    if "conditional_nll" in result:
        nll = result["conditional_nll"]
        lines += ["", "Note-wise NLL of alto, tenor and bass given the soprano (nats per voice and 16th step): "
                      + ", ".join(f"{split} {_fmt(v)}" for split, v in nll.items()) + "."]
    if "distribution" in result:
        lines += ["", "Distribution match of melodies (Yang & Lerch 2020; OA 1 = identical, KL 0 = identical):", "",
                  "| feature | OA | KL |", "|---|---|---|"]
        for name, v in result["distribution"].items():
            lines.append(f"| {name} | {_fmt(v['oa'])} | {_fmt(v['kl'])} |")
    if "listener" in result:
        lv = result["listener"]
        lines += ["", f"Listener test, real vs model (0.5 = cannot tell): logistic regression "
                      f"{_fmt(lv['lr']['mean'])}, "
                      f"gradient boosting {_fmt(lv['gb']['mean'])}; what gives it away (real → model): "
                      + "; ".join(f"{g['feature']} {_fmt(g['real'])} → {_fmt(g['generated'])}"
                                  for g in lv["giveaways"][:4])]
    if "profile" in result:
        pr = result["profile"]
        lines += ["", "Profile (means over pieces; sim_lagK = similarity of bar i and bar i+K; echo4 = bars 5–8 "
                      "restate bars 1–4):", "", "| | real | model |", "|---|---|---|"]
        lines += [f"| {k} | {_fmt(pr['real'].get(k))} | {_fmt(pr['model'].get(k))} |" for k in pr["real"] if k != "n"]
    if "novelty" in result:
        nv = result["novelty"]
        lines += ["", f"Novelty, longest run of bars copied from a training piece (mean): real {_fmt(nv['real'])}, "
                      f"model {_fmt(nv['model'])}."]
    if plots:
        lines += ["", *[f"![{p}]({p})" for p in plots]]
    return "\n".join(lines) + "\n"


def _training_split(data: str | Path | list[Piece]) -> list[Piece]:
    """The ``train`` split of a preprocessed folder (the novelty reference); [] for other data."""
    if isinstance(data, list) or not (Path(data) / "meta.json").is_file():
        return []
    from melodygan.corpora.preprocess import load_pieces

    try:
        return load_pieces(data, "train")
    except MelodyganError:
        return []


def _pc_hist(pieces: list[Piece], chord_tones: bool) -> np.ndarray:
    """Duration-weighted pitch-class shares of the notes, or of the chord tones, shape ``(12,)``."""
    h = np.zeros(12)
    for p in pieces:
        if chord_tones:
            for c in p.chords:
                for pc in c.pitch_classes:
                    h[pc] += c.duration_steps
        else:
            for n in p.all_notes():
                h[n.pitch % 12] += n.duration_steps
    return h / h.sum() if h.sum() else h


def _root_degrees(pieces: list[Piece]) -> np.ndarray:
    """Duration-weighted shares of chord roots relative to each piece's key tonic, shape ``(12,)``."""
    h = np.zeros(12)
    for p in pieces:
        for c in p.chords:
            if c.root is not None:
                h[(c.root - p.key.tonic) % 12] += c.duration_steps
    return h / h.sum() if h.sum() else h


def _plots(real: list[Piece], model: list[Piece], result: dict[str, Any], folder: Path) -> list[str]:
    from melodygan.formats.charts import bar_chart, histogram_grid
    from melodygan.formats.plot import plot_piano_roll

    harmonizer = result["kind"] == "harmonizer"  # same melodies on both sides: compare the chords
    bar_chart({"real": _pc_hist(real, harmonizer), result["engine"]: _pc_hist(model, harmonizer)},
              ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"], folder / "pitch_classes.png",
              ylabel="share of duration",
              title="Pitch-class histogram of " + ("chord tones" if harmonizer else "notes"))
    names = ["pitch_classes.png"]
    if harmonizer:
        bar_chart({"human": _root_degrees(real), result["engine"]: _root_degrees(model)},
                  ["I", "bII", "II", "bIII", "III", "IV", "#IV", "V", "bVI", "VI", "bVII", "VII"],
                  folder / "chord_roots.png", ylabel="share of duration", title="Chord roots relative to the key")
        names.append("chord_roots.png")
    else:
        feats_r = [metrics.piece_features(p.melody, p.steps_per_quarter) for p in real]
        feats_m = [metrics.piece_features(p.melody, p.steps_per_quarter) for p in model]
        histogram_grid({name: {"real": [f[name][0] for f in feats_r], "model": [f[name][0] for f in feats_m]}
                        for name in metrics.SCALAR_FEATURES}, folder / "features.png")
        names.append("features.png")
    if "profile" in result:
        from melodygan.formats.charts import line_chart
        from melodygan.listener import PROFILE_LAGS

        line_chart({name: [(lag, result["profile"][side][f"sim_lag{lag}"]) for lag in PROFILE_LAGS
                           if result["profile"][side].get(f"sim_lag{lag}") is not None]
                    for name, side in (("real", "real"), (result["engine"], "model"))},
                   folder / "bar_lag_similarity.png", xlabel="lag (bars)", ylabel="similarity of bar i and bar i+lag",
                   markers={"real": "o-", result["engine"]: "s-"})
        names.append("bar_lag_similarity.png")
    example = model[0]
    if example.all_notes():
        plot_piano_roll(example, folder / "example_roll.png", title=f"Example: {example.title or result['engine']}",
                        force=True)
        names.append("example_roll.png")
    return names
