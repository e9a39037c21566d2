"""Chord paths: the best chord per beat for a whole melody, given the harmonizer's beliefs.

A path ``c_1..c_T`` (key-relative labels 1..168, one per beat) scores

    sum_t  log p_t(c_t) - alpha * log prior(c_t)                               (the network, per beat)
  + sum_{t>1} [c_t == c_{t-1}] * w_change * log(1 - q_t)                        (stay)
            + [c_t != c_{t-1}] * (w_change * log q_t + w_trans * log T(c_t | c_{t-1}) + bias(pos_t))

with ``q_t`` the network's probability of a change at beat ``t``, ``T`` the chord-transition
matrix of the genre (counted at chord changes on the training songs), ``prior`` the label
frequencies, and ``bias`` a bonus or penalty for changing on a downbeat, the middle of an even
bar, or another beat. The weights (:class:`PathWeights`) are tuned on validation songs by the
trainer and stored with the checkpoint.

Constraints are hard: ``allowed_changes`` (the harmonic rhythm the user asks for: every beat, half
bars, bars) forbids a change elsewhere, and ``fixed`` pins the label of chosen beats. :func:`best_path`
is Viterbi; :func:`sample_paths` draws paths from the same score read as a distribution (forward
filtering, backward sampling), which gives distinct alternatives ranked by :func:`path_score`.

**Qualities.** A path holds a chord over several beats, and its score multiplies the network's
per-beat beliefs: where each beat says "C 70%, Cmaj7 30%", a four-beat C scores 0.7⁴ against
0.3⁴, so a colour the network gives a third of the time is never chosen (the path of a pop song
held 0% seventh chords where the songs have 8%). With ``draw_quality`` (chosen per genre by the
trainer on validation songs, :func:`quality_distance`), :func:`draw_qualities` keeps each chord's
root and span from the path and draws its quality from the network's mean belief over its beats,
given the root — the colours then come as often as the network expects them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

NEG = -1e9  # "impossible" in log space without the NaNs of -inf arithmetic


@dataclass(frozen=True)
class PathWeights:
    """Weights of the path score (see the module docstring)."""

    alpha: float = 0.0
    w_change: float = 1.0
    w_trans: float = 0.5
    bias_downbeat: float = 0.0
    bias_half_bar: float = 0.0
    bias_other: float = -1.0
    draw_quality: bool = False  # draw each chord's quality from the network's belief (see the module docstring)


def metrical_class(downbeat: np.ndarray) -> np.ndarray:
    """Per beat: 0 = downbeat, 1 = middle beat of an even bar of 4+ beats, 2 = any other beat."""
    num = len(downbeat)
    pos = np.full(num, 2, dtype=np.int64)
    starts = [int(i) for i in np.flatnonzero(downbeat)]
    bounds = ([0] if not starts or starts[0] > 0 else []) + starts + [num]
    for a, b in itertools.pairwise(bounds):
        if downbeat[a]:
            pos[a] = 0
        if b - a >= 4 and (b - a) % 2 == 0:
            pos[a + (b - a) // 2] = 1
    return pos


def change_mask(downbeat: np.ndarray, rate: str) -> np.ndarray:
    """Beats where a change is allowed for a harmonic rhythm: ``beat`` or ``auto`` (every beat),
    ``half-bar`` (downbeats and bar middles), ``bar`` (downbeats). Pickup beats may always change
    into bar 1's chord, so the first downbeat is always allowed."""
    pos = metrical_class(downbeat)
    if rate in ("beat", "auto"):
        return np.ones(len(downbeat), dtype=bool)
    if rate == "half-bar":
        return pos <= 1
    if rate == "bar":
        return pos == 0
    raise ValueError(f"chord rate {rate!r}; allowed: auto, beat, half-bar, bar")


@dataclass
class _Terms:
    emit: np.ndarray  # (T, K)
    trans: np.ndarray  # (K, K), diagonal NEG
    stay: np.ndarray  # (T,)
    move: np.ndarray  # (T,)


def _terms(log_p: np.ndarray, change_p: np.ndarray, downbeat: np.ndarray, log_transitions: np.ndarray,
           log_prior: np.ndarray, weights: PathWeights, allowed_changes: np.ndarray | None,
           fixed: dict[int, int] | None) -> _Terms:
    w = weights
    emit = log_p[:, 1:] - w.alpha * log_prior[None, 1:]  # (T, K): labels 1..168
    emit = np.where(np.isfinite(emit), emit, NEG)
    for beat, label in (fixed or {}).items():
        row = np.full(emit.shape[1], NEG)
        row[label - 1] = 0.0
        emit[beat] = row
    trans = w.w_trans * np.maximum(log_transitions[1:, 1:], NEG)  # (K, K) from → to
    np.fill_diagonal(trans, NEG)
    bias = np.array([w.bias_downbeat, w.bias_half_bar, w.bias_other])[metrical_class(downbeat)]
    q = np.clip(change_p, 1e-4, 1 - 1e-4)
    stay = w.w_change * np.log1p(-q)
    move = w.w_change * np.log(q) + bias
    if allowed_changes is not None:
        move = np.where(allowed_changes, move, NEG)
    return _Terms(emit, trans, stay, move)


def best_path(log_p: np.ndarray, change_p: np.ndarray, downbeat: np.ndarray, log_transitions: np.ndarray,
              log_prior: np.ndarray, weights: PathWeights, *, allowed_changes: np.ndarray | None = None,
              fixed: dict[int, int] | None = None) -> np.ndarray:
    """The highest-scoring key-relative label path ``(T,)`` (labels 1..168), by Viterbi.

    Args:
        log_p: ``(T, 169)`` log posteriors of the network (column 0, no chord, ignored).
        change_p: ``(T,)`` probability of a change at each beat.
        downbeat: ``(T,)`` bool.
        log_transitions: ``(169, 169)`` log transition matrix of the genre.
        log_prior: ``(169,)`` log label frequencies of the genre.
        weights: the path-score weights.
        allowed_changes: ``(T,)`` bool, where a change may happen (None = anywhere).
        fixed: ``{beat: label}`` pinned labels (key-relative).
    """
    t = _terms(log_p, change_p, downbeat, log_transitions, log_prior, weights, allowed_changes, fixed)
    num, k = t.emit.shape
    delta = t.emit[0].copy()
    back = np.zeros((num, k), dtype=np.int32)
    ar = np.arange(k)
    for i in range(1, num):
        cand = delta[:, None] + t.trans  # (from, to)
        best_from = np.argmax(cand, axis=0)
        move = cand[best_from, ar] + t.move[i]
        stay = delta + t.stay[i]
        keep = stay >= move
        back[i] = np.where(keep, ar, best_from)
        delta = np.where(keep, stay, move) + t.emit[i]
    path = np.zeros(num, dtype=np.int64)
    path[-1] = int(np.argmax(delta))
    for i in range(num - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    return path + 1


def path_score(path: np.ndarray, log_p: np.ndarray, change_p: np.ndarray, downbeat: np.ndarray,
               log_transitions: np.ndarray, log_prior: np.ndarray, weights: PathWeights) -> float:
    """The score of one path (see the module docstring); higher is better."""
    t = _terms(log_p, change_p, downbeat, log_transitions, log_prior, weights, None, None)
    k = path - 1
    score = float(t.emit[np.arange(len(k)), k].sum())
    for i in range(1, len(k)):
        score += t.stay[i] if k[i] == k[i - 1] else t.move[i] + t.trans[k[i - 1], k[i]]
    return score


def sample_paths(num_paths: int, rng: np.random.Generator, log_p: np.ndarray, change_p: np.ndarray,
                 downbeat: np.ndarray, log_transitions: np.ndarray, log_prior: np.ndarray, weights: PathWeights, *,
                 temperature: float = 1.0, allowed_changes: np.ndarray | None = None,
                 fixed: dict[int, int] | None = None) -> list[np.ndarray]:
    """``num_paths`` paths drawn from ``exp(score / temperature)`` (forward filtering, backward sampling)."""
    t = _terms(log_p, change_p, downbeat, log_transitions, log_prior, weights, allowed_changes, fixed)
    tau = max(temperature, 1e-3)
    num, k = t.emit.shape
    alpha = np.zeros((num, k))
    alpha[0] = t.emit[0] / tau
    for i in range(1, num):
        cand = alpha[i - 1][:, None] + (t.trans + t.move[i]) / tau  # (from, to)
        np.fill_diagonal(cand, alpha[i - 1] + t.stay[i] / tau)
        m = cand.max(axis=0)
        alpha[i] = m + np.log(np.exp(cand - m).sum(axis=0)) + t.emit[i] / tau
    paths = []
    for _ in range(num_paths):
        path = np.zeros(num, dtype=np.int64)
        path[-1] = _draw(alpha[-1], rng)
        for i in range(num - 1, 0, -1):
            step = (t.trans[:, path[i]] + t.move[i]) / tau
            step[path[i]] = t.stay[i] / tau
            path[i - 1] = _draw(alpha[i - 1] + step, rng)
        paths.append(path + 1)
    return paths


def _draw(logits: np.ndarray, rng: np.random.Generator) -> int:
    p = np.exp(logits - logits.max())
    return int(rng.choice(len(p), p=p / p.sum()))


def segments(path: np.ndarray) -> list[tuple[int, int]]:
    """``(start, end)`` beat spans of the path's chords (runs of one label)."""
    cuts = [0, *(np.flatnonzero(path[1:] != path[:-1]) + 1).tolist(), len(path)]
    return list(itertools.pairwise(cuts))


def draw_qualities(path: np.ndarray, log_p: np.ndarray, rng: np.random.Generator,
                   fixed: dict[int, int] | None = None) -> np.ndarray:
    """The path with each chord's quality drawn from the mean per-beat posterior of its root over its
    span; roots, spans and chords holding a ``fixed`` beat unchanged. Labels as in :func:`best_path`."""
    out = path.copy()
    post = np.exp(log_p)
    num_qualities = (log_p.shape[1] - 1) // 12
    pinned = set(fixed or {})
    for start, end in segments(path):
        if pinned.intersection(range(start, end)):
            continue
        root = (int(path[start]) - 1) % 12
        labels = 1 + 12 * np.arange(num_qualities) + root
        w = post[start:end][:, labels].mean(axis=0)
        if not np.isfinite(w).all() or w.sum() <= 0:
            continue
        out[start:end] = labels[int(rng.choice(num_qualities, p=w / w.sum()))]
    return out


def quality_histogram(paths: list[np.ndarray], num_qualities: int) -> np.ndarray:
    """Share of chords (segments) of each quality over the paths (label 0, no chord, not counted)."""
    counts = np.zeros(num_qualities)
    for path in paths:
        for start, _ in segments(path):
            if path[start] > 0:
                counts[(int(path[start]) - 1) // 12] += 1
    return counts / max(counts.sum(), 1.0)


def quality_distance(paths: list[np.ndarray], human: list[np.ndarray], num_qualities: int) -> float:
    """Total-variation distance between the chord-quality shares of ``paths`` and of ``human`` paths."""
    return 0.5 * float(np.abs(quality_histogram(paths, num_qualities) - quality_histogram(human, num_qualities)).sum())
