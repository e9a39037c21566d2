"""Chord paths on hand-built beliefs: Viterbi follows strong evidence, obeys the harmonic rhythm
and pinned chords; samples are seeded and never beat the best path's score."""

from __future__ import annotations

import itertools

import numpy as np

from melodygan.engines.chordpath import PathWeights, best_path, change_mask, metrical_class, path_score, sample_paths

L = 169
DOWN = np.array([True, False, False, False] * 4)


def _beliefs(labels: list[int], confidence: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    logits = np.zeros((len(labels), L))
    logits[np.arange(len(labels)), labels] = confidence
    logits[:, 0] = -np.inf
    log_p = logits - np.log(np.exp(logits[:, 1:]).sum(1, keepdims=True))
    change = np.array([0.5] + [0.9 if a != b else 0.1 for a, b in itertools.pairwise(labels)])
    return log_p, change


UNIFORM = np.full((L, L), -np.log(L))
PRIOR = np.full(L, -np.log(L))
W = PathWeights(bias_other=0.0)


def test_strong_evidence_is_followed() -> None:
    want = [1] * 4 + [6] * 4 + [8] * 4 + [1] * 4
    log_p, change = _beliefs(want)
    assert best_path(log_p, change, DOWN, UNIFORM, PRIOR, W).tolist() == want


def test_metrical_classes_and_masks() -> None:
    assert metrical_class(DOWN[:8]).tolist() == [0, 2, 1, 2, 0, 2, 1, 2]
    three = np.array([False, True, False, False, True, False, False])  # a pickup beat, then 3/4
    assert metrical_class(three).tolist() == [2, 0, 2, 2, 0, 2, 2]
    assert change_mask(DOWN[:8], "bar").tolist() == [True, False, False, False, True, False, False, False]
    assert change_mask(DOWN[:8], "half-bar").tolist() == [True, False, True, False] * 2


def test_bar_rate_and_pinned_chords_are_hard() -> None:
    want = [1, 6, 1, 6] * 4  # evidence for a change on every beat
    log_p, change = _beliefs(want)
    path = best_path(log_p, change, DOWN, UNIFORM, PRIOR, W, allowed_changes=change_mask(DOWN, "bar"))
    changes = np.flatnonzero(path[1:] != path[:-1]) + 1
    assert all(DOWN[c] for c in changes)
    pinned = best_path(log_p, change, DOWN, UNIFORM, PRIOR, W, fixed={b: 20 for b in range(4, 8)})
    assert pinned[4:8].tolist() == [20] * 4


def test_samples_are_seeded_and_scored() -> None:
    log_p, change = _beliefs([1] * 8 + [8] * 8, confidence=1.0)
    args = (log_p, change, DOWN, UNIFORM, PRIOR, W)
    a = sample_paths(5, np.random.default_rng(3), *args)
    b = sample_paths(5, np.random.default_rng(3), *args)
    assert [p.tolist() for p in a] == [p.tolist() for p in b]
    best = path_score(best_path(*args), *args)
    assert all(path_score(p, *args) <= best + 1e-9 for p in a)
    assert all(p.min() >= 1 for p in a)
