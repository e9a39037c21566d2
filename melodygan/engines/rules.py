"""Rule-based harmonizers: the baselines every learned harmonizer must beat.

Two rules, both writing chord symbols under a melody that is kept note for note:

* ``"triad"`` — the best-fitting diatonic triad per bar: for each bar the triad built on one of
  the seven degrees of the key's scale (major scale, or natural minor) whose tones cover the most
  melody duration sounding in that bar; ties go to the earlier degree (I before ii …); a bar with
  no melody keeps the chord before it. Bars follow the bar lines (``grid="bars"``: a pickup is a
  bar of its own), or are windows of one bar's length from step 0 (``grid="start"``), which
  ignores the pickup: that is how the evaluation guide's reference row was made (on Nottingham
  the windows straddle bar lines in tunes with a pickup, so that rule fits worse: CTnCTR 0.931
  and PCS 0.577 against 0.945 and 0.607 on the bar lines).
* ``"tonic"`` — the tonic triad (major or minor) from the first step to the end.

The key is estimated from the melody. ``key_method="aarden-essen"`` (default) correlates the
duration-weighted pitch-class histogram with the Aarden–Essen profiles, which is what music21's
``Stream.analyze('key')`` does by default; ``"krumhansl"`` uses the Krumhansl–Kessler profiles of
:func:`melodygan.keys.estimate_key`; ``"piece"`` takes the piece's own key signature.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from melodygan.chords import Chord
from melodygan.errors import MelodyganError
from melodygan.keys import MAJOR_SCALE, NATURAL_MINOR_SCALE, Key, estimate_key, estimate_key_aarden_essen
from melodygan.piece import Piece, chords_from_changes

KEY_METHODS = ("aarden-essen", "krumhansl", "piece")
_TRIAD_QUALITY = {(4, 7): "maj", (3, 7): "min", (3, 6): "dim", (4, 8): "aug"}


def melody_key(piece: Piece, key_method: str = "aarden-essen") -> Key:
    """The key a rule harmonizes in (see the module docstring for the methods).

    Raises:
        MelodyganError: for an unknown ``key_method``.
    """
    if key_method == "aarden-essen":
        return estimate_key_aarden_essen(piece.melody)
    if key_method == "krumhansl":
        return estimate_key(piece.melody)[0]
    if key_method == "piece":
        return piece.key
    raise MelodyganError(f"unknown key method {key_method!r}; allowed: {', '.join(KEY_METHODS)}")


def diatonic_triads(key: Key) -> list[Chord]:
    """The seven triads stacked in thirds on the degrees of ``key`` (natural minor for minor keys).

    C major gives C Dm Em F G Am Bdim; A minor gives Am Bdim C Dm Em F G.
    """
    steps = MAJOR_SCALE if key.mode == "major" else NATURAL_MINOR_SCALE
    scale = [(key.tonic + s) % 12 for s in steps]
    triads = []
    for i, root in enumerate(scale):
        third, fifth = (scale[(i + 2) % 7] - root) % 12, (scale[(i + 4) % 7] - root) % 12
        triads.append(Chord(root, _TRIAD_QUALITY[(third, fifth)]))
    return triads


def tonic_triad(key: Key) -> Chord:
    """The tonic triad: major for a major key, minor for a minor key."""
    return Chord(key.tonic, "maj" if key.mode == "major" else "min")


GRIDS = ("bars", "start")


def _bar_starts(piece: Piece, grid: str = "bars") -> list[int]:
    end = max(piece.end_steps, piece.content_end_steps)
    if grid == "start":
        return list(range(0, end, piece.bar_steps))
    if grid != "bars":
        raise MelodyganError(f"unknown bar grid {grid!r}; allowed: {', '.join(GRIDS)}")
    return ([0] if piece.pickup_steps else []) + list(range(piece.pickup_steps, end, piece.bar_steps))


def best_triad_per_bar(piece: Piece, key: Key | None = None, key_method: str = "aarden-essen",
                       grid: str = "bars") -> Piece:
    """Harmonize with the best-fitting diatonic triad in every bar (see the module docstring).

    Args:
        piece: a melody (its chords are replaced).
        key: harmonize in this key; None estimates it with ``key_method``.
        key_method: one of :data:`KEY_METHODS`.
        grid: ``"bars"`` (bar lines, pickup its own bar) or ``"start"`` (bar-length windows from step 0).

    Returns:
        The same piece with one chord symbol per bar (repeats merged).
    """
    key = key or melody_key(piece, key_method)
    triads = diatonic_triads(key)
    masks = np.array([[pc in t.pitch_classes for pc in range(12)] for t in triads], dtype=np.float64)  # (7, 12)
    end = max(piece.end_steps, piece.content_end_steps)
    starts = _bar_starts(piece, grid)
    changes: list[tuple[int, Chord]] = []
    previous = tonic_triad(key)
    for s, e in zip(starts, [*starts[1:], end]):
        weights = np.zeros(12)  # melody duration per pitch class sounding inside the bar, in steps
        for n in piece.melody:
            overlap = min(n.end_steps, e) - max(n.start_steps, s)
            if overlap > 0:
                weights[n.pitch % 12] += overlap
        if weights.sum() > 0:
            previous = triads[int(np.argmax(masks @ weights))]  # argmax: first degree wins ties
        changes.append((s, previous))
    return piece.with_chords(chords_from_changes(changes, end))


def tonic_throughout(piece: Piece, key: Key | None = None, key_method: str = "aarden-essen", **_: object) -> Piece:
    """Harmonize with the tonic triad from step 0 to the end of the piece."""
    key = key or melody_key(piece, key_method)
    end = max(piece.end_steps, piece.content_end_steps)
    return piece.with_chords(chords_from_changes([(0, tonic_triad(key))], end))


RULES: dict[str, Callable[..., Piece]] = {"triad": best_triad_per_bar, "tonic": tonic_throughout}


def harmonize_with_rule(piece: Piece, rule: str, key_method: str = "aarden-essen", grid: str = "bars") -> Piece:
    """Apply the rule named ``rule`` (``"triad"`` or ``"tonic"``; ``grid`` matters to ``"triad"`` only).

    Raises:
        MelodyganError: for an unknown rule, key method or grid.
    """
    if rule not in RULES:
        raise MelodyganError(f"unknown rule {rule!r}; allowed: {', '.join(RULES)}")
    return RULES[rule](piece, key_method=key_method, grid=grid)
