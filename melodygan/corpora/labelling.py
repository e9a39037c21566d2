"""Chord labelling for sources without chord symbols (chorales, plain MIDI), by template matching.

In :func:`label_chords` the piece is cut into windows of one beat or one bar, aligned to the bar lines (the pickup
is cut back from bar 1). In each window every sounding note of every track adds its overlap in
steps to its pitch class, and the lowest sounding pitch gets half as much again (the bass
defines the chord more than an inner voice). The weight vector goes to
:func:`melodygan.chords.label_chord` (template matching over the 168 chords of the vocabulary
with a preference for simple chords), which also gives the confidence: the share of the window's
weight that the chord's tones explain. Silent windows get no chord; consecutive windows with the
same label merge into one chord, which lasts until the next change.

:func:`label_chord_rows` does the same on a :class:`~melodygan.piece_arrays.PieceArrays` and gives
chord rows (the corpus path: no Note or Chord object per note or window).
"""

from __future__ import annotations

import bisect
import functools
import itertools

import numpy as np

from melodygan.chords import _QUALITY_PRIOR, QUALITIES, Chord, chord_from_index, chord_templates
from melodygan.keys import Key, estimate_key
from melodygan.notes import stable_order
from melodygan.piece import Piece, chords_from_changes
from melodygan.piece_arrays import PieceArrays

BASS_WEIGHT = 0.5
PER_CHOICES = ("beat", "bar")


def label_windows(piece: Piece | PieceArrays, per: str = "beat") -> list[tuple[int, int]]:
    """Labelling windows ``[(start_steps, end_steps), ...]`` covering the piece, aligned to its bars.

    Raises:
        ValueError: ``per`` is not ``"beat"`` or ``"bar"``.
    """
    if per not in PER_CHOICES:
        raise ValueError(f"per must be one of {PER_CHOICES}, got {per!r}")
    size = piece.beat_steps if per == "beat" else piece.bar_steps
    end = max(piece.end_steps, piece.content_end_steps)
    bounds = {0, end}
    t = piece.pickup_steps
    while t > 0:
        bounds.add(t)
        t -= size
    t = piece.pickup_steps
    while t < end:
        bounds.add(t)
        t += size
    edges = sorted(bounds)
    return [(a, b) for a, b in itertools.pairwise(edges) if b > a]


def all_window_weights(piece: Piece, windows: list[tuple[int, int]]) -> np.ndarray:
    """Pitch-class weights of each window, shape ``(W, 12)`` float32: the steps each pitch class
    sounds inside the window, the lowest sounding note's overlap counted ``1 + BASS_WEIGHT`` times."""
    notes = piece.all_notes()
    starts = np.array([n.start_steps for n in notes], dtype=np.int64)  # (N,)
    ends = np.array([n.end_steps for n in notes], dtype=np.int64)
    pitches = np.array([n.pitch for n in notes], dtype=np.int64)
    return window_weights(starts, ends, pitches, windows)


def window_weights(starts: np.ndarray, ends: np.ndarray, pitches: np.ndarray,
                   windows: list[tuple[int, int]]) -> np.ndarray:
    """:func:`all_window_weights` of notes given as ``(N,)`` start, end and pitch columns (all
    tracks, in the order of :meth:`melodygan.piece.Piece.all_notes`, which decides the lowest of
    equal pitches).

    Each note is paired with the windows it reaches into (a note spans a few, so memory grows
    with the notes, not with notes × windows); the weights are whole and half steps, exact in
    float32 however they are summed."""
    out = np.zeros((len(windows), 12), dtype=np.float32)
    if not len(starts) or not windows:
        return out
    w = np.asarray(windows, dtype=np.int64)  # (W, 2) sorted, one after another
    first = np.searchsorted(w[:, 1], starts, side="right")  # (N,) the first window ending after the start
    last = np.searchsorted(w[:, 0], ends, side="left") - 1  # (N,) the last window starting before the end
    span = np.maximum(last - first + 1, 0)
    note = np.repeat(np.arange(len(starts)), span)  # (P,) a (note, window) pair each, by note
    window = first[note] + np.arange(len(note)) - np.repeat(np.cumsum(span) - span, span)
    overlap = np.minimum(ends[note], w[window, 1]) - np.maximum(starts[note], w[window, 0])  # (P,) >= 1
    pc = pitches[note] % 12
    cells = np.bincount(window * 12 + pc, weights=overlap, minlength=12 * len(windows))
    out[:] = cells.reshape(-1, 12)
    # the lowest sounding note of each window (the first of equal pitches) counts again, by half
    order = stable_order(window, pitches[note])
    head = np.ones(len(order), dtype=bool)
    head[1:] = window[order[1:]] != window[order[:-1]]
    low = order[head]
    out[window[low], pc[low]] += BASS_WEIGHT * overlap[low].astype(np.float32)
    return out


def label_chord_batch(weights: np.ndarray, qualities: tuple[str, ...] | None = None) -> list[tuple[Chord, float]]:
    """:func:`melodygan.chords.label_chord` for many weight vectors at once (same scores, same answers).

    Args:
        weights: ``(W, 12)`` non-negative pitch-class weights, each row with a positive sum.
        qualities: restrict to these qualities; default all.

    Returns:
        ``(chord, confidence)`` per row.
    """
    best, conf = label_chord_indices(weights, qualities)
    return [(chord_from_index(int(b)), float(c)) for b, c in zip(best, conf)]


def label_chord_indices(weights: np.ndarray, qualities: tuple[str, ...] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`label_chord_batch` as arrays: ``(W,)`` int64 chord-vocabulary indices (1 ..; see
    :mod:`melodygan.chords`) and ``(W,)`` float32 confidences."""
    w = np.asarray(weights, dtype=np.float32).reshape(-1, 12)  # (W, 12)
    if len(w) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    templates = chord_templates()[1:]  # (168, 12)
    total = w.sum(1, keepdims=True)  # (W, 1); float32 throughout, as in label_chord, so ties break alike
    # the weight on each chord's tones: sums of at most four whole or half steps, exact in any
    # order, so summed here without a BLAS call (whose threads, woken for each call on a busy
    # machine, cost more than the sums)
    tones = _chord_tones(templates)  # (168, 4)
    padded = np.concatenate([w, np.zeros((len(w), 1), dtype=np.float32)], axis=1)  # (W, 13)
    inside = padded[:, tones].sum(axis=2)  # (W, 168)
    outside = total - inside
    present = np.concatenate([(w > 0), np.zeros((len(w), 1), dtype=bool)], axis=1)
    missing = templates.sum(1)[None] - present[:, tones].sum(axis=2, dtype=np.float32)  # (W, 168) tones never heard
    prior = np.repeat(_QUALITY_PRIOR, 12)[None]  # (1, 168)
    root_bonus = 0.1 * w[:, np.tile(np.arange(12), len(QUALITIES))] / total  # (W, 168)
    score = prior * (inside - 0.5 * outside) / total - 0.15 * missing + root_bonus
    if qualities is not None:
        allowed = np.repeat(np.array([q in qualities for q in QUALITIES]), 12)[None]
        score = np.where(allowed, score, -np.inf)
    best = score.argmax(1)  # (W,)
    conf = inside[np.arange(len(w)), best] / total[:, 0]
    return best.astype(np.int64) + 1, conf


@functools.cache
def _chord_tones_of(key: bytes) -> np.ndarray:
    templates = np.frombuffer(key, dtype=np.float32).reshape(-1, 12)
    tones = np.full((len(templates), 4), 12, dtype=np.int64)  # 12: a column of zeros
    for i, row in enumerate(templates):
        pcs = np.flatnonzero(row)
        tones[i, :len(pcs)] = pcs
    return tones


def _chord_tones(templates: np.ndarray) -> np.ndarray:
    """``(C, 4)`` the pitch classes of each template (padded with 12, a column of zeros)."""
    return _chord_tones_of(np.ascontiguousarray(templates, dtype=np.float32).tobytes())


def label_chord_rows(piece: PieceArrays, per: str = "beat") -> np.ndarray:
    """The chords :func:`label_chords` gives a piece, as chord rows ``(K, 4)`` int64 (start,
    duration, chord index, -1; see :mod:`melodygan.piece_arrays`), from its note rows.

    Raises:
        ValueError: ``per`` is not ``"beat"`` or ``"bar"``.
    """
    windows = label_windows(piece, per)
    notes = piece.notes  # all tracks, the melody first, as Piece.all_notes orders them
    weights = window_weights(notes[:, 1], notes[:, 1] + notes[:, 2], notes[:, 3], windows)  # (W, 12)
    sounding = np.flatnonzero(weights.sum(1) > 0)
    if not len(sounding):
        return np.zeros((0, 4), dtype=np.int64)
    index, _ = label_chord_indices(weights[sounding])
    start = np.asarray(windows, dtype=np.int64).reshape(-1, 2)[sounding, 0]  # (S,) increasing
    # chords_from_changes: each change lasts until the next; consecutive equal labels merge
    head = np.ones(len(index), dtype=bool)
    head[1:] = index[1:] != index[:-1]
    start, index = start[head], index[head]
    end = np.append(start[1:], max(piece.end_steps, piece.content_end_steps))
    return np.stack([start, end - start, index, np.full(len(index), -1)], axis=1)


def label_chords_with_confidence(piece: Piece, per: str = "beat",
                                 qualities: tuple[str, ...] | None = None) -> tuple[list[Chord], list[float]]:
    """Chord labels of a piece from its notes, with a confidence per chord.

    Args:
        piece: any piece (all tracks are heard together).
        per: ``"beat"`` or ``"bar"`` windows.
        qualities: restrict to these chord qualities (e.g. ``("maj", "min")``); default all.

    Returns:
        ``(chords, confidences)``: chords merged over consecutive equal windows, each lasting until
        the next; confidence in [0, 1] = the duration-weighted mean of its windows' confidences.
    """
    changes: list[tuple[int, Chord]] = []
    window_conf: list[tuple[int, int, float]] = []
    windows = label_windows(piece, per)
    weights = all_window_weights(piece, windows)  # (W, 12)
    sounding = np.flatnonzero(weights.sum(1) > 0)
    for i, (chord, conf) in zip(sounding, label_chord_batch(weights[sounding], qualities)):
        start, end = windows[i]
        changes.append((start, chord))
        window_conf.append((start, end, conf))
    if not changes:
        return [], []
    end_steps = max(piece.end_steps, piece.content_end_steps)
    chords = chords_from_changes(changes, end_steps)
    # Each labelled window lies inside the chord that starts at or before it (chords are merged
    # runs of windows), so one pass with bisect weights each chord's windows by their length.
    starts = [c.start_steps for c in chords]
    num = [0.0] * len(chords)
    den = [0.0] * len(chords)
    for s, e, conf in window_conf:
        k = bisect.bisect_right(starts, s) - 1
        if k < 0:
            continue
        overlap = min(e, chords[k].end_steps) - max(s, chords[k].start_steps)
        if overlap > 0:
            num[k] += conf * overlap
            den[k] += overlap
    return chords, [n / d if d else 0.0 for n, d in zip(num, den)]


def label_chords(piece: Piece, per: str = "beat") -> Piece:
    """The piece with chord symbols labelled from its notes (replacing any it had); see the module docstring."""
    chords, _ = label_chords_with_confidence(piece, per)
    return piece.with_chords(chords)


def estimate_piece_key(piece: Piece) -> tuple[Key, float]:
    """Krumhansl-Schmuckler key of all the piece's notes: ``(key, correlation)``."""
    return estimate_key(piece.all_notes())
