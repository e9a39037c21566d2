"""Listener: an independent, listener-style quality check of lead-sheet clips (numpy; scikit-learn for the test).

The yardstick is a *classifier two-sample test*: if a small classifier on interpretable features
can tell real 8-bar excerpts from generated clips, the features it leans on say what a listener
would notice. Accuracy 0.5 = indistinguishable; the floor is measured on two halves of the real
set (:func:`split_halves`), because with ~100 pieces per side cross-validated accuracy scatters
by a few points around 0.5 even with no difference at all.

Conventions shared by every feature
-----------------------------------
*Window.* :func:`melody_features` looks at ``bars`` bars after the pickup: steps
``[pickup_steps, pickup_steps + bars * bar_steps)`` (:func:`window` cuts them out and shifts them
to step 0). A note belongs to the window when its onset is inside; its duration is clipped at the
window's end. Chords overlapping the window are clipped to it, so the chord sounding at the
window's first step is kept. Same-onset notes are reduced to the highest (skyline); Nottingham
melodies are monophonic anyway.

*Key-relative.* ``tonic`` is ``piece.key.tonic``; a pitch relative to the key is ``pitch - tonic``.
A chord is *tonic* when its root equals the tonic (any quality); *V* = root ``tonic + 7``, *IV* =
root ``tonic + 5`` (mode ignored: in minor these are v/V and iv/IV).

*Intervals* are ``pitch[k+1] - pitch[k]`` of consecutive notes (in onset order), in semitones.

*Chord labels.* A chord's label is ``(root, quality)``: a slash bass makes no new label; N.C. is a
label of its own. A *chord change* is a step inside the window, after its first step, where the
label differs from the label sounding just before; runs of the same label are one *segment*.

*Undefined values are NaN* (e.g. interval shares with fewer than two notes); the classifier imputes
them with the median of its training fold.

Melody features (:func:`melody_features`, :data:`MELODY_FEATURES` in this order)
-------------------------------------------------------------------------------
=========================  =========================================================================
``int_repeat``             share of intervals with |i| = 0
``int_step``               share with 1 <= |i| <= 2
``int_small_leap``         share with 3 <= |i| <= 4
``int_leap5``              share with |i| >= 5
``int_leap8``              share with |i| >= 8 (a subset of ``int_leap5``)
``int_mean_abs``           mean |i| in semitones
``contour_changes``        over the non-zero intervals, the share of consecutive pairs whose signs
                           differ (up↔down), i.e. sign changes / (non-zero intervals − 1)
``pitch_range``            max − min pitch, semitones (0 for one note)
``notes_per_bar``          notes in the window / ``bars``
``dur_16th``               share of notes lasting ≤ 1/4 quarter (a 16th or shorter)
``dur_8th``                share lasting > 1/4 and ≤ 1/2 quarter
``dur_quarter``            share lasting > 1/2 and ≤ 1 quarter (dotted 8ths included)
``dur_long``               share lasting > 1 quarter (the four shares sum to 1)
``rhythm_monotony``        share of notes having the most common duration (exact steps)
``distinct_durations``     number of distinct durations (exact steps)
``onset_on_beat``          share of notes whose onset is on a beat (bar position % ``beat_steps`` = 0;
                           a beat is a dotted quarter in 6/8, 9/8, 12/8)
``syncopation``            share of notes that start off a beat and sound across the next beat
                           (onset + duration > the next beat's step)
``rest_share``             share of the window's steps where no melody note sounds
``chord_tone``             among notes with a chord (not N.C.) sounding at their onset, the share whose
                           pitch class is a chord tone (slash bass included)
``in_scale``               share of notes whose pitch class is in ``key.scale_extended``
``first_note_tonic_triad`` 1 if the first note's pitch class is the key's tonic, third (major 3rd in
                           major, minor 3rd in minor) or fifth, else 0
``first_note_tonic``       1 if the first note's pitch class is the tonic
``last_note_tonic``        1 if the last note's pitch class is the tonic
``first_chord_tonic``      1 if the first chord of the window (the one sounding at its first step, else
                           the first to start in it; N.C. skipped) is tonic-rooted
``last_chord_tonic``       1 if the last chord (the last non-N.C. segment of the window) is tonic-rooted
``cadence``                1 if, in the window's sequence of chord roots (N.C. dropped, consecutive
                           equal roots merged), the last root is the tonic and the one before is V or IV
``sim_lag1/2/4``           bar self-similarity at lag L: mean over bar pairs (i, i + L) inside the
                           window of :func:`bar_similarity` (pairs of two empty bars skipped)
``echo4``                  1 if max over i of bar_similarity(bar i, bar i + 4) ≥ :data:`ECHO_THRESHOLD`
``chord_changes_per_bar``  chord changes in the window / ``bars``
``chord_mid_bar``          share of those changes that fall off a bar line
``distinct_chords``        number of distinct non-N.C. labels in the window
=========================  =========================================================================

*Bar similarity* (:func:`bar_similarity`): the Jaccard index ``|A ∩ B| / |A ∪ B|`` of the two bars'
sets of ``(onset position in the bar, pitch - tonic)``: 1.0 for the same notes at the same places,
0 when nothing is shared (or exactly one bar is empty). Durations are ignored, the octave is not.

Chord features (:func:`chord_features`, :data:`CHORD_FEATURES`), over the whole piece
-----------------------------------------------------------------------------------
=========================  =========================================================================
``changes_per_bar``        chord changes (as above, from step 0 to ``end_steps``) / ``num_bars``
``mid_bar``                share of changes off a bar line (bar lines at ``pickup + k * bar_steps``)
``distinct_chords``        distinct non-N.C. labels
``root_I … root_vi``       share of chord *duration* (non-N.C. steps) whose root is, relative to the
                           tonic, 0 (I), 2 (ii), 5 (IV), 7 (V), and the submediant (9 in major, 8 in
                           minor: vi / VI); ``root_other`` the rest (the six shares sum to 1)
``seventh``                share of segments whose quality is a seventh chord (dom7, maj7, min7,
                           hdim7, dim7, aug7)
``minor``                  share of segments of quality min, min7 or min6
``first_chord_I``          1 if the first non-N.C. segment is tonic-rooted
``last_chord_I``           1 if the last non-N.C. segment is tonic-rooted
``cadence``                as for melodies: root sequence ends (V or IV) → I
``held_over_barline``      share of bar lines (after bar 1) where the same label sounds on both sides
``root_motion``            mean root movement between consecutive merged roots, min(d, 12 − d) with
                           d = (root₂ − root₁) mod 12, in semitones (0..6)
``root_motion_4th5th``     share of those moves by a fourth or fifth (d = 5 or 7)
=========================  =========================================================================

Other measures: :func:`classifier_test` (the yardstick), :func:`profile` (the summary numbers to
put beside real data) and :func:`novelty` (the longest run of bars copied from training tunes).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from itertools import pairwise
from typing import Any

import numpy as np

from melodygan.chords import Chord, ChordTimeline
from melodygan.notes import Note, skyline
from melodygan.piece import Piece

ECHO_THRESHOLD = 0.8
SIMILARITY_LAGS = (1, 2, 4)
PROFILE_LAGS = (1, 2, 3, 4, 5, 6, 7)
SEVENTH_QUALITIES = frozenset({"dom7", "maj7", "min7", "hdim7", "dim7", "aug7"})
MINOR_QUALITIES = frozenset({"min", "min7", "min6"})

MELODY_FEATURES: tuple[str, ...] = (
    "int_repeat", "int_step", "int_small_leap", "int_leap5", "int_leap8", "int_mean_abs", "contour_changes",
    "pitch_range", "notes_per_bar",
    "dur_16th", "dur_8th", "dur_quarter", "dur_long", "rhythm_monotony", "distinct_durations",
    "onset_on_beat", "syncopation", "rest_share",
    "chord_tone", "in_scale",
    "first_note_tonic_triad", "first_note_tonic", "last_note_tonic", "first_chord_tonic", "last_chord_tonic",
    "cadence",
    *(f"sim_lag{lag}" for lag in SIMILARITY_LAGS), "echo4",
    "chord_changes_per_bar", "chord_mid_bar", "distinct_chords",
)
CHORD_FEATURES: tuple[str, ...] = (
    "changes_per_bar", "mid_bar", "distinct_chords",
    "root_I", "root_ii", "root_IV", "root_V", "root_vi", "root_other",
    "seventh", "minor", "first_chord_I", "last_chord_I", "cadence", "held_over_barline",
    "root_motion", "root_motion_4th5th",
)
NAN = math.nan
FeatureFn = Callable[[Piece], dict[str, float]]


# --- windows and shared pieces ------------------------------------------------------------------
def window(piece: Piece, first_bar: int = 1, bars: int = 8) -> Piece:
    """Bars ``first_bar .. first_bar + bars - 1`` (1 = the first bar after the pickup), shifted to start at step 0.

    Melody and voices: notes with onsets inside, durations clipped at the end. Chords overlapping
    the window are clipped to it. The result has no pickup and ``length_steps = bars * bar_steps``.
    """
    if first_bar < 1 or bars < 1:
        raise ValueError(f"first_bar ({first_bar}) and bars ({bars}) must be >= 1")
    start = piece.pickup_steps + (first_bar - 1) * piece.bar_steps
    end = start + bars * piece.bar_steps

    def cut(notes: Sequence[Note]) -> list[Note]:
        return [Note(n.start_steps - start, min(n.end_steps, end) - n.start_steps, n.pitch, n.velocity)
                for n in notes if start <= n.start_steps < end]

    chords = []
    for c in piece.chords:
        s, e = max(c.start_steps, start), min(c.end_steps, end)
        if e > s:
            chords.append(c.with_time(s - start, e - s))
    return replace(piece, melody=cut(piece.melody), chords=chords,
                   voices={k: cut(v) for k, v in piece.voices.items()}, pickup_steps=0,
                   length_steps=bars * piece.bar_steps)


def _melody(piece: Piece) -> list[Note]:
    return skyline(piece.melody, keep_every_onset=True)


def _label(c: Chord) -> tuple[int | None, str]:
    return (c.root, c.quality)


def _segments(chords: Sequence[Chord], start: int, end: int) -> list[tuple[int, int, Chord]]:
    """``(start, end, chord)`` runs of one label covering ``[start, end)`` where chords sound (gaps left out)."""
    out: list[tuple[int, int, Chord]] = []
    for c in sorted(chords, key=lambda c: c.start_steps):
        s, e = max(c.start_steps, start), min(c.end_steps, end)
        if e <= s:
            continue
        if out and out[-1][1] == s and _label(out[-1][2]) == _label(c):
            out[-1] = (out[-1][0], e, out[-1][2])
        else:
            out.append((s, e, c))
    return out


def _changes(segments: Sequence[tuple[int, int, Chord]]) -> list[int]:
    """Steps where the sounding label changes (a segment starting right where a different one ended)."""
    return [b[0] for a, b in pairwise(segments) if a[1] == b[0] and _label(a[2]) != _label(b[2])]


def _merged_roots(segments: Sequence[tuple[int, int, Chord]]) -> list[int]:
    roots: list[int] = []
    for _, _, c in segments:
        if c.root is not None and (not roots or roots[-1] != c.root):
            roots.append(c.root)
    return roots


def _cadence(roots: Sequence[int], tonic: int) -> float:
    if len(roots) < 2:
        return NAN if not roots else 0.0
    return float(roots[-1] == tonic and (roots[-2] - tonic) % 12 in (5, 7))


def _share(flags: Sequence[bool]) -> float:
    return float(np.mean(flags)) if len(flags) else NAN


# --- bar similarity -----------------------------------------------------------------------------
def bar_sets(piece: Piece, bars: int) -> list[frozenset[tuple[int, int]]]:
    """Per bar after the pickup, the set of ``(onset position in bar, pitch - tonic)`` of its notes."""
    sets: list[set[tuple[int, int]]] = [set() for _ in range(bars)]
    bar = piece.bar_steps
    for n in _melody(piece):
        b, pos = divmod(n.start_steps - piece.pickup_steps, bar)
        if 0 <= b < bars:
            sets[b].add((pos, n.pitch - piece.key.tonic))
    return [frozenset(s) for s in sets]


def bar_similarity(a: frozenset[tuple[int, int]], b: frozenset[tuple[int, int]]) -> float:
    """Jaccard index of two bar sets (:func:`bar_sets`); NaN when both are empty."""
    union = len(a | b)
    return len(a & b) / union if union else NAN


def self_similarity(piece: Piece, lag: int, bars: int = 8) -> float:
    """Mean :func:`bar_similarity` of bars i and i + ``lag`` over the first ``bars`` bars (NaN if no pair)."""
    sets = bar_sets(piece, bars)
    vals = [bar_similarity(sets[i], sets[i + lag]) for i in range(bars - lag)]
    vals = [v for v in vals if not math.isnan(v)]
    return float(np.mean(vals)) if vals else NAN


def _echo(sets: Sequence[frozenset[tuple[int, int]]], lag: int = 4, threshold: float = ECHO_THRESHOLD) -> float:
    vals = [bar_similarity(sets[i], sets[i + lag]) for i in range(len(sets) - lag)]
    vals = [v for v in vals if not math.isnan(v)]
    return float(max(vals) >= threshold) if vals else NAN


# --- melody features ----------------------------------------------------------------------------
def melody_features(piece: Piece, bars: int = 8) -> dict[str, float]:
    """The :data:`MELODY_FEATURES` of the first ``bars`` bars after the pickup (definitions in the module docstring)."""
    w = window(piece, 1, bars)
    notes = _melody(w)
    tonic, mode = w.key.tonic, w.key.mode
    spq, bar, beat, total = w.steps_per_quarter, w.bar_steps, w.beat_steps, bars * w.bar_steps
    f: dict[str, float] = {}

    pitches = [n.pitch for n in notes]
    ints = np.diff(pitches) if len(pitches) > 1 else np.zeros(0, dtype=int)
    a = np.abs(ints)
    f["int_repeat"] = _share(list(a == 0))
    f["int_step"] = _share(list((a >= 1) & (a <= 2)))
    f["int_small_leap"] = _share(list((a >= 3) & (a <= 4)))
    f["int_leap5"] = _share(list(a >= 5))
    f["int_leap8"] = _share(list(a >= 8))
    f["int_mean_abs"] = float(a.mean()) if a.size else NAN
    signs = np.sign(ints[ints != 0])
    f["contour_changes"] = float(np.mean(signs[1:] != signs[:-1])) if signs.size > 1 else NAN
    f["pitch_range"] = float(max(pitches) - min(pitches)) if pitches else NAN
    f["notes_per_bar"] = len(notes) / bars

    durs = [n.duration_steps / spq for n in notes]
    f["dur_16th"] = _share([d <= 0.25 for d in durs])
    f["dur_8th"] = _share([0.25 < d <= 0.5 for d in durs])
    f["dur_quarter"] = _share([0.5 < d <= 1.0 for d in durs])
    f["dur_long"] = _share([d > 1.0 for d in durs])
    counts = Counter(n.duration_steps for n in notes)
    f["rhythm_monotony"] = max(counts.values()) / len(notes) if notes else NAN
    f["distinct_durations"] = float(len(counts)) if notes else NAN

    pos = [n.start_steps % bar for n in notes]
    f["onset_on_beat"] = _share([p % beat == 0 for p in pos])
    f["syncopation"] = _share([p % beat != 0 and p + n.duration_steps > (p // beat + 1) * beat
                               for p, n in zip(pos, notes)])
    sounding = np.zeros(total, dtype=bool)
    for n in notes:
        sounding[n.start_steps:n.end_steps] = True
    f["rest_share"] = float(1.0 - sounding.mean()) if total else NAN

    timeline = ChordTimeline(w.chords)
    tones = []
    for n in notes:
        c = timeline.at(n.start_steps)
        if c is not None and not c.is_no_chord:
            tones.append(n.pitch % 12 in c.pitch_classes)
    f["chord_tone"] = _share(tones)
    scale = set(w.key.scale_extended)
    f["in_scale"] = _share([n.pitch % 12 in scale for n in notes])

    third = 4 if mode == "major" else 3
    first = (notes[0].pitch - tonic) % 12 if notes else None
    f["first_note_tonic_triad"] = NAN if first is None else float(first in (0, third, 7))
    f["first_note_tonic"] = NAN if first is None else float(first == 0)
    f["last_note_tonic"] = float((notes[-1].pitch - tonic) % 12 == 0) if notes else NAN

    segs = _segments(w.chords, 0, total)
    real_segs = [s for s in segs if not s[2].is_no_chord]
    f["first_chord_tonic"] = float(real_segs[0][2].root == tonic) if real_segs else NAN
    f["last_chord_tonic"] = float(real_segs[-1][2].root == tonic) if real_segs else NAN
    f["cadence"] = _cadence(_merged_roots(segs), tonic)

    sets = bar_sets(w, bars)
    for lag in SIMILARITY_LAGS:
        vals = [bar_similarity(sets[i], sets[i + lag]) for i in range(bars - lag)]
        vals = [v for v in vals if not math.isnan(v)]
        f[f"sim_lag{lag}"] = float(np.mean(vals)) if vals else NAN
    f["echo4"] = _echo(sets)

    changes = _changes(segs)
    f["chord_changes_per_bar"] = len(changes) / bars if segs else NAN
    f["chord_mid_bar"] = _share([c % bar != 0 for c in changes])
    f["distinct_chords"] = float(len({_label(s[2]) for s in real_segs})) if segs else NAN
    return {k: f[k] for k in MELODY_FEATURES}


# --- chord features -----------------------------------------------------------------------------
def chord_features(piece: Piece) -> dict[str, float]:
    """The :data:`CHORD_FEATURES` of a whole piece's chord symbols (definitions in the module docstring)."""
    tonic = piece.key.tonic
    end, bar = max(piece.end_steps, piece.content_end_steps), piece.bar_steps
    segs = _segments(piece.chords, 0, end)
    real = [s for s in segs if not s[2].is_no_chord]
    f: dict[str, float] = {}
    changes = _changes(segs)
    f["changes_per_bar"] = len(changes) / max(piece.num_bars, 1) if segs else NAN
    f["mid_bar"] = _share([(c - piece.pickup_steps) % bar != 0 for c in changes])
    f["distinct_chords"] = float(len({_label(s[2]) for s in real}))

    submediant = 9 if piece.key.mode == "major" else 8
    degrees = {"root_I": 0, "root_ii": 2, "root_IV": 5, "root_V": 7, "root_vi": submediant}
    weight = dict.fromkeys((*degrees, "root_other"), 0.0)
    for s, e, c in real:
        d = (int(c.root or 0) - tonic) % 12
        name = next((k for k, v in degrees.items() if v == d), "root_other")
        weight[name] += e - s
    total = sum(weight.values())
    for k, v in weight.items():
        f[k] = v / total if total else NAN

    f["seventh"] = _share([c.quality in SEVENTH_QUALITIES for _, _, c in real])
    f["minor"] = _share([c.quality in MINOR_QUALITIES for _, _, c in real])
    f["first_chord_I"] = float(real[0][2].root == tonic) if real else NAN
    f["last_chord_I"] = float(real[-1][2].root == tonic) if real else NAN
    roots = _merged_roots(segs)
    f["cadence"] = _cadence(roots, tonic)

    timeline = ChordTimeline(piece.chords)
    held = []
    for line in range(piece.pickup_steps + bar, end, bar):
        before, after = timeline.at(line - 1), timeline.at(line)
        if before is not None and after is not None and before.end_steps >= line \
                and after.start_steps <= line < after.end_steps:
            held.append(_label(before) == _label(after))
    f["held_over_barline"] = _share(held)
    moves = [(b - a) % 12 for a, b in pairwise(roots)]
    f["root_motion"] = float(np.mean([min(d, 12 - d) for d in moves])) if moves else NAN
    f["root_motion_4th5th"] = _share([d in (5, 7) for d in moves])
    return {k: f[k] for k in CHORD_FEATURES}


# --- the classifier test ------------------------------------------------------------------------
def feature_matrix(items: Sequence[Piece | dict[str, float]], features: FeatureFn | None = melody_features
                   ) -> tuple[np.ndarray, list[str]]:
    """Stack the features of pieces (or of ready feature dicts) into ``(N, F)`` float64, NaN kept."""
    rows = [x if isinstance(x, dict) else (features or melody_features)(x) for x in items]
    names = list(rows[0]) if rows else []
    return np.array([[r.get(k, NAN) for k in names] for r in rows], dtype=np.float64).reshape(len(rows), -1), names


def _nan_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = np.array([np.nanmean(c) if np.isfinite(c).any() else NAN for c in x.T])
    var = np.array([np.nanvar(c) if np.isfinite(c).sum() > 1 else NAN for c in x.T])
    return mean, var


def classifier_test(real: Sequence[Piece | dict[str, float]], generated: Sequence[Piece | dict[str, float]],
                    features: FeatureFn | None = melody_features, folds: int = 5, seed: int = 0,
                    top: int = 8, repeats: int = 1) -> dict[str, Any]:
    """Can a classifier tell ``real`` from ``generated`` on ``features``? 0.5 = no.

    The larger side is subsampled (with ``seed``) to the size of the smaller. Two models are
    scored by ``folds``-fold stratified cross-validation (shuffled with ``seed``): a logistic
    regression on standardized features and a gradient-boosting classifier (100 trees of depth 2);
    both impute NaN with the training fold's median.

    Args:
        real, generated: Pieces (turned into features by ``features``) or ready feature dicts.
        features: piece -> ``{name: value}``; :func:`melody_features` by default.
        folds: cross-validation folds (lowered to the class size when that is smaller; >= 2).
        seed: seeds the subsampling, the folds and the boosting.
        top: how many give-away features to list.
        repeats: repeat the cross-validation with reshuffled folds (``RepeatedStratifiedKFold``);
            mean and std are then over all ``folds * repeats`` scores. With ~100 pieces per class
            one 5-fold run scatters by several points; repeats steady the mean.

    Returns:
        ``lr`` and ``gb``: ``{"mean", "std"}`` accuracy over folds; ``n_per_class``; ``folds``,
        ``repeats``; ``giveaways``: the ``top`` features by |standardized difference| (generated
        mean − real mean over the pooled standard deviation), each ``{"feature", "real",
        "generated", "std_diff"}``; ``lr_coef``: the logistic regression's coefficients (per
        standard deviation; positive = more "generated") fitted on all the balanced data, sorted
        by |coef|; ``features``: the feature names.

    Raises:
        ValueError: fewer than 2 pieces per class.
    """
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    xr, names = feature_matrix(real, features)
    xg, names_g = feature_matrix(generated, features)
    if names_g != names:
        raise ValueError("real and generated pieces give different feature names")
    n = min(len(xr), len(xg))
    if n < 2:
        raise ValueError(f"need at least 2 pieces per class, got {len(xr)} real and {len(xg)} generated")
    rng = np.random.default_rng(seed)
    xr = xr[np.sort(rng.choice(len(xr), n, replace=False))]
    xg = xg[np.sort(rng.choice(len(xg), n, replace=False))]
    x = np.concatenate([xr, xg])
    y = np.repeat([0, 1], n)

    def imputer() -> SimpleImputer:
        return SimpleImputer(strategy="median", keep_empty_features=True)

    lr = make_pipeline(imputer(), StandardScaler(), LogisticRegression(max_iter=2000))
    gb = make_pipeline(imputer(), GradientBoostingClassifier(n_estimators=100, max_depth=2, random_state=seed))
    k = max(2, min(folds, n))
    cv = (StratifiedKFold(n_splits=k, shuffle=True, random_state=seed) if repeats <= 1
          else RepeatedStratifiedKFold(n_splits=k, n_repeats=repeats, random_state=seed))
    acc_lr = cross_val_score(lr, x, y, cv=cv, scoring="accuracy")
    acc_gb = cross_val_score(gb, x, y, cv=cv, scoring="accuracy")

    mr, vr = _nan_stats(xr)
    mg, vg = _nan_stats(xg)
    sd = np.sqrt((np.nan_to_num(vr) + np.nan_to_num(vg)) / 2)
    diff = np.where(sd > 1e-12, (mg - mr) / np.where(sd > 1e-12, sd, 1.0), 0.0)
    diff = np.nan_to_num(diff)
    order = np.argsort(-np.abs(diff), kind="stable")
    giveaways = [{"feature": names[i], "real": _num(mr[i]), "generated": _num(mg[i]), "std_diff": float(diff[i])}
                 for i in order[:top]]
    lr.fit(x, y)
    coef = lr[-1].coef_[0]
    lr_coef = {names[i]: float(coef[i]) for i in np.argsort(-np.abs(coef), kind="stable")}
    return {
        "lr": {"mean": float(acc_lr.mean()), "std": float(acc_lr.std())},
        "gb": {"mean": float(acc_gb.mean()), "std": float(acc_gb.std())},
        "n_per_class": int(n),
        "folds": k,
        "repeats": max(repeats, 1),
        "giveaways": giveaways,
        "lr_coef": lr_coef,
        "features": names,
    }


def _num(x: float) -> float | None:
    return None if not math.isfinite(float(x)) else float(x)


def split_halves(real: Sequence[Any], seed: int = 0) -> tuple[list[Any], list[Any]]:
    """Two random halves of ``real`` (the odd one out goes to the first): the classifier's floor, ~0.5."""
    idx = np.random.default_rng(seed).permutation(len(real))
    half = (len(real) + 1) // 2
    return [real[i] for i in sorted(idx[:half])], [real[i] for i in sorted(idx[half:])]


# --- profile ------------------------------------------------------------------------------------
PROFILE_KEYS: tuple[str, ...] = (
    "int_step", "int_leap8", "dur_16th", "rhythm_monotony",
    *(f"sim_lag{lag}" for lag in PROFILE_LAGS), "echo4",
    "first_note_tonic", "first_note_tonic_triad", "first_chord_tonic",
    "last_chord_tonic", "cadence", "last_note_tonic",
)


def profile(pieces: Sequence[Piece], bars: int = 8) -> dict[str, float]:
    """Mean over pieces (NaN ignored) of the summary numbers to report beside real data (:data:`PROFILE_KEYS`).

    ``sim_lag1`` … ``sim_lag7`` are :func:`self_similarity` at lags 1–7; the rest are the
    :func:`melody_features` of the same names (the 0/1 ones become rates). ``n`` is the count.
    """
    rows = []
    for p in pieces:
        f = melody_features(p, bars)
        sets = bar_sets(window(p, 1, bars), bars)
        for lag in PROFILE_LAGS:
            vals = [bar_similarity(sets[i], sets[i + lag]) for i in range(bars - lag)]
            vals = [v for v in vals if not math.isnan(v)]
            f[f"sim_lag{lag}"] = float(np.mean(vals)) if vals else NAN
        rows.append(f)
    out: dict[str, float] = {"n": float(len(rows))}
    for k in PROFILE_KEYS:
        vals = [r[k] for r in rows if not math.isnan(r[k])]
        out[k] = float(np.mean(vals)) if vals else NAN
    return out


# --- novelty ------------------------------------------------------------------------------------
Signature = tuple[int, int, tuple[tuple[int, int], ...]]


def bar_signatures(piece: Piece, bars: int | None = None) -> list[Signature | None]:
    """Per bar after the pickup, a key-relative, octave-free fingerprint of its onsets and pitches.

    ``(bar_steps, first pitch - tonic mod 12, ((onset position, pitch - first pitch), ...))``: the
    same notes at the same places in another key or octave give the same signature. Durations are
    ignored. Empty bars give None (never a match). ``bars`` None = all bars of the piece.
    """
    count = piece.num_bars if bars is None else bars
    per_bar: list[list[Note]] = [[] for _ in range(count)]
    for n in _melody(piece):
        b = (n.start_steps - piece.pickup_steps) // piece.bar_steps
        if 0 <= b < count:
            per_bar[b].append(n)
    out: list[Signature | None] = []
    for b, notes in enumerate(per_bar):
        if not notes:
            out.append(None)
            continue
        start, p0 = piece.pickup_steps + b * piece.bar_steps, notes[0].pitch
        out.append((piece.bar_steps, (p0 - piece.key.tonic) % 12,
                    tuple((n.start_steps - start, n.pitch - p0) for n in notes)))
    return out


def novelty(generated: Sequence[Piece], training: Sequence[Piece], bars: int = 8) -> dict[str, Any]:
    """The longest run of consecutive bars of each clip copied exactly from some training tune.

    Bars are compared by :func:`bar_signatures` (same onsets and key-relative pitches; any key or
    octave). Every run of 1 … ``bars`` consecutive training bars is hashed once, so a clip costs
    ``O(bars²)`` look-ups.

    Returns:
        ``mean`` and ``max`` of the per-clip longest run (bars), ``share_ge_2`` / ``share_ge_4``
        (clips with a copied run of at least 2 / 4 bars), ``per_clip`` (the runs) and, for the
        clip with the longest run, ``max_clip`` (its index) and ``max_source`` (the training
        tune's index).
    """
    ids: dict[Signature, int] = {}
    runs: dict[tuple[int, ...], int] = {}
    for t, tune in enumerate(training):
        seq = [-1 if s is None else ids.setdefault(s, len(ids)) for s in bar_signatures(tune)]
        for i in range(len(seq)):
            for length in range(1, bars + 1):
                gram = tuple(seq[i:i + length])
                if len(gram) < length or -1 in gram:
                    break
                runs.setdefault(gram, t)
    per_clip, sources = [], []
    for clip in generated:
        seq = [-1 if s is None else ids.get(s, -1) for s in bar_signatures(clip, bars)]
        best, source = 0, -1
        for i in range(len(seq)):
            length = best + 1  # only a longer run matters; runs are closed under prefixes
            while i + length <= len(seq) and tuple(seq[i:i + length]) in runs:
                best, source = length, runs[tuple(seq[i:i + length])]
                length += 1
        per_clip.append(best)
        sources.append(source)
    arr = np.array(per_clip, dtype=np.float64)
    top = int(np.argmax(arr)) if arr.size else -1
    return {
        "mean": float(arr.mean()) if arr.size else NAN,
        "max": int(arr.max()) if arr.size else 0,
        "share_ge_2": float((arr >= 2).mean()) if arr.size else NAN,
        "share_ge_4": float((arr >= 4).mean()) if arr.size else NAN,
        "per_clip": per_clip,
        "max_clip": top,
        "max_source": sources[top] if top >= 0 else -1,
    }
