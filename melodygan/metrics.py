"""Metrics: how melodies, chords and voices are judged (numpy only).

Every metric of the evaluation guide, from its definition, with its conventions pinned here:

Harmony of melody and chords (Yeh et al. 2021):
    CHE, CC, CTD on the *chord-change sequence*: no-chord labels are dropped, then consecutive
    chords with the same *label* merge into one. A label is the chord-vocabulary class (root and
    quality, :attr:`melodygan.chords.Chord.index`): a slash bass does not make a new label, so
    ``C C/E`` is one change. (Counting slash chords as labels of their own gives CHE 1.491 and 5.8
    distinct chords per tune on the guide's Nottingham subset instead of 1.461 and 5.6; the guide's
    reference is 1.449 and 5.5.) A chord's pitch classes (CTD, CTnCTR, PCS, MCTD) include its slash
    bass. CHE uses the natural log; CTD is the mean Euclidean distance between the
    tonal centroids (:mod:`melodygan.tonal`) of consecutive changes (NaN with fewer than two).
    CTnCTR, PCS, MCTD compare each melody note with the chord *sounding at its onset*: the last chord
    symbol starting at or before the onset, which lasts until the next symbol or the end of the
    piece. Notes with no chord there (before the first symbol, or under N.C.) are left out.
    CTnCTR = (n_c + n_p) / (n_c + n_n); a non-chord note counts in n_p when the next note of a
    *different pitch* is at most 2 semitones away (in MIDI pitch, not folded) and is a chord tone
    of the chord at *its* onset. NaN when no note has a chord.
    PCS: on every step where a melody note sounds under a chord, each chord tone c scores +1 when
    (m − c) mod 12 ∈ {0, 3, 4, 7, 8, 9}, 0 when it is 5, −1 otherwise; mean over chord tones, then
    over (step, melody note) pairs. MCTD weights each note's ‖ζ({m}) − ζ(chord)‖ by its duration.

Piano-roll statistics (Dong et al. 2018), on the 16th-note grid (4 steps per quarter):
    EB = % of bars with no sounding note (the *empty* rate, not the non-empty one). UPC = number of
    *distinct* pitch classes sounding in a bar, averaged over non-empty bars (0 when all are empty).
    QN = % of notes lasting at least 3 steps (a dotted eighth on the 16th grid). TD = ‖ζ(PCP₁) −
    ζ(PCP₂)‖ per bar with duration-weighted pitch-class profiles, averaged over bars where both
    tracks sound (NaN when none).

In-scale ratio: share of notes (counted, not weighted) whose pitch class is in the key's scale
(major scale, or minor with raised 6th and 7th: :attr:`melodygan.keys.Key.scale_extended`).

Distribution match (Yang & Lerch 2020): per-piece features (:func:`piece_features`); intra-set
distances = Euclidean distances between all pairs of real pieces, inter-set = all (real,
generated) pairs; each set of distances is smoothed by a Gaussian KDE (Scott's bandwidth) and both
densities are evaluated on ONE common grid covering both, then OA = ∫ min(p, q) and
KL(intra ‖ inter) = ∫ p log(p / q) by the trapezoid rule.

Harmonizers against human chords, per beat (:func:`beat_agreement`): at the onset of every beat
(``piece.beat_steps`` from the first bar line; the pickup is not judged) where the human has a
chord, root agreement = the model's chord there has the same root; root+quality agreement = the
same vocabulary label. Harmonic rhythm (:func:`harmonic_rhythm`), on the same beats: a change is a
beat whose label differs from the previous beat's (no-chord beats skipped); changes per bar,
mid-bar share = changes not on a downbeat / changes; last-on-tonic = the last judged beat's root
is the key's tonic; cadence = that, with the chord before the last change rooted on the fifth or
fourth degree (V–I or IV–I).

Voice leading (chorales): see :func:`voice_leading`. Likelihood: :func:`notewise_nll`.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from melodygan.chords import Chord, ChordTimeline
from melodygan.keys import Key
from melodygan.notes import Note
from melodygan.piece import SATB, Piece
from melodygan.tonal import pitch_class_centroid, tonal_centroid

CONSONANT_INTERVALS = frozenset({0, 3, 4, 7, 8, 9})
QN_MIN_STEPS = 3
# SATB ranges (MIDI): S C4–G5, A F3–C5, T C3–G4, B E2–C4.
VOICE_RANGES: dict[str, tuple[int, int]] = {
    "Soprano": (60, 79), "Alto": (53, 72), "Tenor": (48, 67), "Bass": (40, 60),
}
# numpy >= 2 renamed trapz to trapezoid.
_trapezoid = getattr(np, "trapezoid", None) or np.trapz  # type: ignore[attr-defined]


# --- chord sequences ----------------------------------------------------------------------------
def chord_changes(chords: Sequence[Chord]) -> list[Chord]:
    """The chord-change sequence: no-chord labels dropped, consecutive chords of one label merged
    (the first of a run stands for it)."""
    out: list[Chord] = []
    for c in sorted(chords, key=lambda c: c.start_steps):
        if c.is_no_chord:
            continue
        if out and _label(out[-1]) == _label(c):
            continue
        out.append(c)
    return out


def _label(c: Chord) -> int:
    return c.index  # vocabulary class: root and quality, slash bass ignored


def chord_histogram_entropy(chords: Sequence[Chord]) -> float:
    """CHE = −Σ pᵢ ln pᵢ over the labels of the chord-change sequence (0 for one or no chord)."""
    counts = np.array(list(Counter(_label(c) for c in chord_changes(chords)).values()), dtype=np.float64)
    if counts.size == 0:
        return 0.0
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def chord_coverage(chords: Sequence[Chord]) -> int:
    """CC = number of distinct chord labels (vocabulary classes: root and quality); no-chord not counted."""
    return len({_label(c) for c in chord_changes(chords)})


def chord_tonal_distance(chords: Sequence[Chord]) -> float:
    """CTD = mean ‖ζ(c_{n+1}) − ζ(c_n)‖₂ over consecutive chord changes; NaN with fewer than two."""
    seq = chord_changes(chords)
    if len(seq) < 2:
        return math.nan
    z = np.stack([pitch_class_centroid(c.pitch_classes) for c in seq])  # (N, 6)
    return float(np.linalg.norm(np.diff(z, axis=0), axis=1).mean())


# --- melody against chords ----------------------------------------------------------------------
class _ChordLookup(ChordTimeline):
    """The chord sounding at a step, None for N.C. as for no chord (the metrics' convention)."""

    def at(self, step: int) -> Chord | None:
        c = super().at(step)
        return None if c is None or c.is_no_chord else c


def ctnctr(melody: Sequence[Note], chords: Sequence[Chord]) -> float:
    """Chord tone to non-chord tone ratio, (n_c + n_p) / (n_c + n_n); NaN if no note has a chord.

    Args:
        melody: melody notes (any order; sorted by onset here).
        chords: chord symbols; each lasts until the next.
    """
    lookup = _ChordLookup(chords)
    notes = sorted(melody)
    n_c = n_n = n_p = 0
    for i, note in enumerate(notes):
        chord = lookup.at(note.start_steps)
        if chord is None:
            continue
        if note.pitch % 12 in chord.pitch_classes:
            n_c += 1
            continue
        n_n += 1
        nxt = next((m for m in notes[i + 1:] if m.pitch != note.pitch), None)
        if nxt is None or abs(nxt.pitch - note.pitch) > 2:
            continue
        next_chord = lookup.at(nxt.start_steps)
        if next_chord is not None and nxt.pitch % 12 in next_chord.pitch_classes:
            n_p += 1
    if n_c + n_n == 0:
        return math.nan
    return (n_c + n_p) / (n_c + n_n)


def interval_score(melody_pitch: int, chord_pc: int) -> int:
    """PCS score of one melody pitch against one chord tone: +1 consonant, 0 fourth, −1 dissonant."""
    interval = (melody_pitch - chord_pc) % 12  # folded mod 12: a compound third is still a third
    if interval in CONSONANT_INTERVALS:
        return 1
    return 0 if interval == 5 else -1


def pitch_consonance_score(melody: Sequence[Note], chords: Sequence[Chord]) -> float:
    """PCS in [−1, 1] over every 16th step where a melody note sounds under a chord; NaN if none."""
    lookup = _ChordLookup(chords)
    total, frames = 0.0, 0
    for note in melody:
        for t in range(note.start_steps, note.end_steps):
            chord = lookup.at(t)
            if chord is None:
                continue
            pcs = chord.pitch_classes
            total += sum(interval_score(note.pitch, c) for c in pcs) / len(pcs)
            frames += 1
    return total / frames if frames else math.nan


def melody_chord_tonal_distance(melody: Sequence[Note], chords: Sequence[Chord]) -> float:
    """MCTD = Σ lₙ ‖ζ({mₙ}) − ζ(cₙ)‖ / Σ lₙ, cₙ the chord at the note's onset; NaN if no note has one."""
    lookup = _ChordLookup(chords)
    num = den = 0.0
    for note in melody:
        chord = lookup.at(note.start_steps)
        if chord is None:
            continue
        d = np.linalg.norm(pitch_class_centroid([note.pitch % 12]) - pitch_class_centroid(chord.pitch_classes))
        num += note.duration_steps * float(d)
        den += note.duration_steps
    return num / den if den else math.nan


def harmony_metrics(piece: Piece) -> dict[str, float]:
    """All melody/chord metrics of one lead sheet: ctnctr, pcs, mctd, che, cc, ctd."""
    return {
        "ctnctr": ctnctr(piece.melody, piece.chords),
        "pcs": pitch_consonance_score(piece.melody, piece.chords),
        "mctd": melody_chord_tonal_distance(piece.melody, piece.chords),
        "che": chord_histogram_entropy(piece.chords),
        "cc": float(chord_coverage(piece.chords)),
        "ctd": chord_tonal_distance(piece.chords),
    }


# --- harmonizers against human chords, per beat -------------------------------------------------
def beat_labels(piece: Piece, end_steps: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Chord label at each beat onset from the first bar line, and a downbeat flag per beat.

    Returns:
        ``(labels, downbeat)``: int64 ``(B,)`` vocabulary labels (0 = no chord), bool ``(B,)``.
    """
    end = piece.end_steps if end_steps is None else end_steps
    onsets = np.arange(piece.pickup_steps, end, piece.beat_steps)
    timeline = _ChordLookup(piece.chords)
    labels = np.array([getattr(timeline.at(int(t)), "index", 0) for t in onsets], dtype=np.int64)
    return labels, (onsets - piece.pickup_steps) % piece.bar_steps == 0


def beat_agreement(human: Piece, model: Piece) -> dict[str, float]:
    """Per-beat agreement of ``model``'s chords with ``human``'s (same melody, same grid): ``root``
    and ``label`` (root + quality) shares over the beats where the human has a chord (NaN if none)."""
    h, _ = beat_labels(human)
    m, _ = beat_labels(model, human.end_steps)
    judged = h > 0
    if not judged.any():
        return {"root": math.nan, "label": math.nan}
    roots_h, roots_m = (h - 1) % 12, np.where(m > 0, (m - 1) % 12, -1)
    return {"root": float(np.mean(roots_h[judged] == roots_m[judged])),
            "label": float(np.mean(h[judged] == m[judged]))}


def harmonic_rhythm(piece: Piece) -> dict[str, float]:
    """Changes per bar, mid-bar change share, last chord on the tonic, V/IV–I cadence (see the module docstring)."""
    labels, downbeat = beat_labels(piece)
    keep = labels > 0
    labels, downbeat = labels[keep], downbeat[keep]
    if len(labels) == 0:
        return {"changes_per_bar": math.nan, "mid_bar": math.nan, "last_on_tonic": math.nan, "cadence": math.nan}
    change = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    bars = max(1.0, (piece.end_steps - piece.pickup_steps) / piece.bar_steps)
    roots = (labels - 1) % 12
    degree = (roots - piece.key.tonic) % 12
    last_on_tonic = float(degree[-1] == 0)
    before = degree[change[-1] - 1] if len(change) else -1
    return {"changes_per_bar": len(change) / bars,
            "mid_bar": float(np.mean(~downbeat[change])) if len(change) else math.nan,
            "last_on_tonic": last_on_tonic,
            "cadence": float(last_on_tonic == 1.0 and before in (5, 7))}


# --- piano-roll statistics ----------------------------------------------------------------------
def _bars(length_steps: int, bar_steps: int, offset_steps: int = 0) -> list[tuple[int, int]]:
    """``[start, end)`` of each bar; a pickup before ``offset_steps`` is a bar of its own."""
    edges = ([0] if offset_steps > 0 else []) + list(range(offset_steps, length_steps, bar_steps))
    return [(a, min(b, length_steps)) for a, b in zip(edges, [*edges[1:], length_steps]) if b > a]


def pitch_class_roll(notes: Sequence[Note], length_steps: int) -> np.ndarray:
    """Per-step pitch-class activity, shape ``(T, 12)`` float64 (1 where a note of that class sounds)."""
    roll = np.zeros((length_steps, 12))
    for n in notes:
        roll[n.start_steps:min(n.end_steps, length_steps), n.pitch % 12] = 1.0
    return roll


def empty_bars(notes: Sequence[Note], length_steps: int, bar_steps: int, offset_steps: int = 0) -> float:
    """EB: percentage (0–100) of bars in which no note sounds."""
    roll = pitch_class_roll(notes, length_steps)
    bars = _bars(length_steps, bar_steps, offset_steps)
    if not bars:
        return math.nan
    empty = sum(1 for a, b in bars if not roll[a:b].any())
    return 100.0 * empty / len(bars)


def used_pitch_classes(notes: Sequence[Note], length_steps: int, bar_steps: int, offset_steps: int = 0) -> float:
    """UPC: distinct pitch classes sounding per bar (0–12), averaged over non-empty bars."""
    roll = pitch_class_roll(notes, length_steps)
    counts = [int(roll[a:b].any(0).sum()) for a, b in _bars(length_steps, bar_steps, offset_steps)]
    counts = [c for c in counts if c > 0]
    return float(np.mean(counts)) if counts else 0.0


def qualified_notes(notes: Sequence[Note], min_steps: int = QN_MIN_STEPS) -> float:
    """QN: percentage (0–100) of notes lasting at least ``min_steps`` steps; NaN without notes."""
    if not notes:
        return math.nan
    return 100.0 * sum(1 for n in notes if n.duration_steps >= min_steps) / len(notes)


def tonal_distance(chroma_a: np.ndarray, chroma_b: np.ndarray, bar_steps: int, offset_steps: int = 0) -> float:
    """TD between two tracks: per bar ‖ζ(PCP_a) − ζ(PCP_b)‖, averaged over bars where both sound.

    Args:
        chroma_a: ``(T, 12)`` per-step pitch-class weights of track a (e.g. :func:`pitch_class_roll`).
        chroma_b: ``(T, 12)`` the same for track b.
        bar_steps: steps per bar.
        offset_steps: pickup length (a bar of its own).
    """
    a, b = np.asarray(chroma_a, dtype=np.float64), np.asarray(chroma_b, dtype=np.float64)
    dists = []
    for s, e in _bars(len(a), bar_steps, offset_steps):
        pa, pb = a[s:e].sum(0), b[s:e].sum(0)  # (12,) duration-weighted profiles
        if pa.sum() > 0 and pb.sum() > 0:
            dists.append(float(np.linalg.norm(tonal_centroid(pa) - tonal_centroid(pb))))
    return float(np.mean(dists)) if dists else math.nan


def in_scale_ratio(notes: Sequence[Note], key: Key) -> float:
    """Share of notes whose pitch class is in ``key.scale_extended``; NaN without notes."""
    if not notes:
        return math.nan
    scale = set(key.scale_extended)
    return sum(1 for n in notes if n.pitch % 12 in scale) / len(notes)


def roll_metrics(piece: Piece) -> dict[str, float]:
    """EB, UPC, QN, in-scale ratio of the melody, and TD melody↔chords (NaN without chords)."""
    length = max(piece.end_steps, piece.content_end_steps)
    chord_chroma = np.zeros((length, 12))
    for c in piece.chords:
        for pc in c.pitch_classes:
            chord_chroma[c.start_steps:min(c.end_steps, length), pc] = 1.0
    mel = piece.melody
    return {
        "eb": empty_bars(mel, length, piece.bar_steps, piece.pickup_steps),
        "upc": used_pitch_classes(mel, length, piece.bar_steps, piece.pickup_steps),
        "qn": qualified_notes(mel),
        "in_scale": in_scale_ratio(mel, piece.key),
        "td": tonal_distance(pitch_class_roll(mel, length), chord_chroma, piece.bar_steps, piece.pickup_steps),
    }


# --- distribution match (Yang & Lerch 2020) -----------------------------------------------------
# Note-length bins in quarter notes: 16th, 8th, dotted 8th, quarter, dotted quarter, half,
# dotted half, whole, and anything longer; triplets fall into the nearest bin below.
NOTE_LENGTH_BINS_QUARTERS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)
SCALAR_FEATURES = ("pitch_count", "pitch_range", "avg_pitch_interval", "note_count", "avg_ioi")
FEATURES = (*SCALAR_FEATURES, "pitch_class_histogram", "pitch_class_transition", "note_length_histogram")


def piece_features(notes: Sequence[Note], steps_per_quarter: int = 4) -> dict[str, np.ndarray]:
    """Yang–Lerch per-piece features of one track.

    Returns:
        ``pitch_count`` distinct pitches; ``pitch_range`` max − min (semitones); ``avg_pitch_interval``
        mean |Δpitch| between consecutive onsets (semitones); ``note_count``; ``avg_ioi`` mean
        inter-onset interval in quarter notes; ``pitch_class_histogram`` (12,) note counts
        normalised to sum 1; ``pitch_class_transition`` (144,) = (12, 12) counts of consecutive
        pitch-class pairs normalised to sum 1; ``note_length_histogram`` (9,) normalised. All float64;
        scalars have shape (1,). Empty input gives zeros.
    """
    ordered = sorted(notes)
    pitches = np.array([n.pitch for n in ordered], dtype=np.float64)
    onsets = np.array([n.start_steps for n in ordered], dtype=np.float64)
    pch = np.zeros(12)
    trans = np.zeros((12, 12))
    nlh = np.zeros(len(NOTE_LENGTH_BINS_QUARTERS) + 1)
    for n in ordered:
        pch[n.pitch % 12] += 1
        q = n.duration_steps / steps_per_quarter
        if q > NOTE_LENGTH_BINS_QUARTERS[-1] + 1e-9:
            nlh[-1] += 1  # longer than a whole note
        else:
            nlh[max(0, bisect.bisect_right(NOTE_LENGTH_BINS_QUARTERS, q + 1e-9) - 1)] += 1
    for a, b in itertools.pairwise(ordered):
        trans[a.pitch % 12, b.pitch % 12] += 1

    def norm(x: np.ndarray) -> np.ndarray:
        return x / x.sum() if x.sum() > 0 else x

    unique_onsets = np.unique(onsets)
    return {
        "pitch_count": np.array([float(len(np.unique(pitches)))]),
        "pitch_range": np.array([float(pitches.max() - pitches.min()) if len(pitches) else 0.0]),
        "avg_pitch_interval": np.array([float(np.abs(np.diff(pitches)).mean()) if len(pitches) > 1 else 0.0]),
        "note_count": np.array([float(len(ordered))]),
        "avg_ioi": np.array([float(np.diff(unique_onsets).mean() / steps_per_quarter)
                             if len(unique_onsets) > 1 else 0.0]),
        "pitch_class_histogram": norm(pch),
        "pitch_class_transition": norm(trans).reshape(-1),
        "note_length_histogram": norm(nlh),
    }


def set_distances(real: np.ndarray, generated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Intra-set distances of ``real`` (all pairs i < j) and inter-set distances (all real × generated).

    Args:
        real: ``(N, D)`` features of N real pieces.
        generated: ``(M, D)`` features of M generated pieces.

    Returns:
        ``(intra, inter)``, shapes ``(N(N−1)/2,)`` and ``(N·M,)``.
    """
    r, g = np.atleast_2d(real).astype(np.float64), np.atleast_2d(generated).astype(np.float64)
    d_rr = np.linalg.norm(r[:, None, :] - r[None, :, :], axis=-1)  # (N, N)
    iu = np.triu_indices(len(r), k=1)
    d_rg = np.linalg.norm(r[:, None, :] - g[None, :, :], axis=-1)  # (N, M)
    return d_rr[iu], d_rg.reshape(-1)


def _kde(samples: np.ndarray, grid: np.ndarray, bandwidth: float) -> np.ndarray:
    z = (grid[:, None] - samples[None, :]) / bandwidth  # (G, S)
    density = np.exp(-0.5 * z**2).sum(1) / (len(samples) * bandwidth * math.sqrt(2 * math.pi))
    area = _trapezoid(density, grid)
    return density / area if area > 0 else density


def _scott(samples: np.ndarray) -> float:
    return float(samples.std(ddof=1) * len(samples) ** (-1 / 5)) if len(samples) > 1 else 0.0


def overlap_and_kl(p_samples: np.ndarray, q_samples: np.ndarray, grid_points: int = 1000) -> tuple[float, float]:
    """Overlapping area and KL(p ‖ q) of two Gaussian KDEs evaluated on one common grid.

    Each KDE uses Scott's bandwidth of its own samples (floored at 1e-3 of the pooled range, or 1e-3
    when every sample is equal); the grid spans both sample sets ± 4 bandwidths.

    Returns:
        ``(oa, kl)``: OA in [0, 1] (1 = identical), KL ≥ 0 in nats (q floored at 1e-12).
    """
    p, q = np.asarray(p_samples, dtype=np.float64).ravel(), np.asarray(q_samples, dtype=np.float64).ravel()
    if p.size == 0 or q.size == 0:
        return math.nan, math.nan
    both = np.concatenate([p, q])
    floor = 1e-3 * max(float(both.max() - both.min()), 1.0)
    hp, hq = max(_scott(p), floor), max(_scott(q), floor)
    h = max(hp, hq)
    grid = np.linspace(both.min() - 4 * h, both.max() + 4 * h, grid_points)  # (G,)
    dp, dq = _kde(p, grid, hp), _kde(q, grid, hq)
    oa = float(_trapezoid(np.minimum(dp, dq), grid))
    ratio = np.where(dp > 0, dp / np.maximum(dq, 1e-12), 1.0)
    kl = float(_trapezoid(dp * np.log(np.maximum(ratio, 1e-300)), grid))
    return min(oa, 1.0), max(kl, 0.0)


def distribution_match(real: Sequence[Sequence[Note]], generated: Sequence[Sequence[Note]],
                       steps_per_quarter: int = 4) -> dict[str, dict[str, float]]:
    """OA and KL per Yang–Lerch feature, real intra-set vs real↔generated inter-set distances.

    Args:
        real: note lists of at least two real pieces.
        generated: note lists of at least one generated piece.

    Returns:
        ``{feature: {"oa": float, "kl": float}}`` for every name in :data:`FEATURES`.
    """
    fr = [piece_features(n, steps_per_quarter) for n in real]
    fg = [piece_features(n, steps_per_quarter) for n in generated]
    out: dict[str, dict[str, float]] = {}
    for name in FEATURES:
        intra, inter = set_distances(np.stack([f[name] for f in fr]), np.stack([f[name] for f in fg]))
        oa, kl = overlap_and_kl(intra, inter)
        out[name] = {"oa": oa, "kl": kl}
    return out


# --- voice leading ------------------------------------------------------------------------------
def sonorities(voices: Sequence[Sequence[Note]]) -> np.ndarray:
    """Vertical sonorities of a part-song, shape ``(K, V)`` int64 MIDI pitches, top voice first.

    A sonority is taken at every step where some voice starts a note while all voices sound;
    consecutive identical sonorities merge (a repeated chord is not a transition).
    """
    length = max((n.end_steps for v in voices for n in v), default=0)
    grid = np.full((length, len(voices)), -1, dtype=np.int64)  # (T, V)
    onset = np.zeros(length, dtype=bool)
    for j, v in enumerate(voices):
        for n in v:
            grid[n.start_steps:n.end_steps, j] = n.pitch
            onset[n.start_steps] = True
    rows: list[np.ndarray] = []
    for t in np.flatnonzero(onset):
        if (grid[t] >= 0).all() and not (rows and (rows[-1] == grid[t]).all()):
            rows.append(grid[t])
    return np.stack(rows) if rows else np.zeros((0, len(voices)), dtype=np.int64)


def voice_leading(voices: Mapping[str, Sequence[Note]], order: Sequence[str] = SATB,
                  ranges: dict[str, tuple[int, int]] | None = None) -> dict[str, float]:
    """Voice-leading counts between consecutive sonorities (:func:`sonorities`).

    Per transition (chord k → k+1): a *parallel fifth/octave* is a pair of voices a perfect fifth
    (interval mod 12 = 7) or unison/octave (mod 12 = 0) apart at both chords, both moving in the same
    direction; *crossing*: an upper voice below its lower neighbour at chord k+1; *spacing*: more
    than an octave between adjacent upper voices (S–A, A–T; T–B may be wider) at chord k+1;
    *out of range*: notes of chord k+1 outside the voice's range (:data:`VOICE_RANGES`).

    Returns:
        ``transitions`` and, per 100 transitions, ``parallel_fifths``, ``parallel_octaves``,
        ``crossings``, ``spacing``, ``out_of_range`` (NaN rates without transitions).
    """
    ranges = ranges or VOICE_RANGES
    chords = sonorities([voices[name] for name in order])  # (K, V)
    counts = dict.fromkeys(("parallel_fifths", "parallel_octaves", "crossings", "spacing", "out_of_range"), 0)
    for prev, cur in itertools.pairwise(chords):
        motion = np.sign(cur - prev)  # (V,)
        for i in range(len(order)):
            for j in range(i + 1, len(order)):
                before, after = (prev[i] - prev[j]) % 12, (cur[i] - cur[j]) % 12
                if motion[i] != 0 and motion[i] == motion[j] and before == after and before in (0, 7):
                    counts["parallel_octaves" if before == 0 else "parallel_fifths"] += 1
        for i in range(len(order) - 1):
            counts["crossings"] += int(cur[i] < cur[i + 1])
            if i < len(order) - 2:
                counts["spacing"] += int(cur[i] - cur[i + 1] > 12)
        for name, p in zip(order, cur):
            lo, hi = ranges.get(name, (0, 127))
            counts["out_of_range"] += int(not lo <= p <= hi)
    n = len(chords) - 1 if len(chords) > 1 else 0
    out: dict[str, float] = {"transitions": float(n)}
    for k, v in counts.items():
        out[k] = 100.0 * v / n if n else math.nan
    return out


def notewise_nll(log_probs: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Note-wise NLL in nats: mean of −log p over (step, voice) tokens.

    Args:
        log_probs: natural-log probabilities the model gave each target token, any shape
            (e.g. ``(B, T·4)`` for S, A, T, B serialised within each step).
        mask: same shape, True where the token counts (padding False); None counts all.
    """
    lp = np.asarray(log_probs, dtype=np.float64)
    if mask is not None:
        lp = lp[np.asarray(mask, dtype=bool)]
    if lp.size == 0:
        return math.nan
    return float(-lp.mean())


def mean_metrics(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    """Per-key mean over pieces, ignoring NaN (NaN when every value is NaN)."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    out: dict[str, float] = {}
    for k in keys:
        vals = [r[k] for r in rows if k in r and not math.isnan(r[k])]
        out[k] = float(np.mean(vals)) if vals else math.nan
    return out
