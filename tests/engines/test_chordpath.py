"""Chord paths on hand-built beliefs: Viterbi follows strong evidence, obeys the harmonic rhythm
and pinned chords; samples are seeded and never beat the best path's score."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from melodygan.chords import QUALITY_NAMES
from melodygan.engines.chordpath import (
    PathWeights,
    best_path,
    change_mask,
    draw_qualities,
    metrical_class,
    path_score,
    quality_distance,
    sample_paths,
)

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


def _colour_beliefs(beats: int, plain: int, colour: int, share: float) -> np.ndarray:
    """Every beat: ``plain`` with 1 - share, ``colour`` (same root, other quality) with share."""
    p = np.full((beats, L), 1e-9)
    p[:, plain], p[:, colour] = 1 - share, share
    p[:, 0] = 0.0
    with np.errstate(divide="ignore"):
        return np.log(p / p.sum(1, keepdims=True))


def test_the_path_never_takes_a_minority_colour_and_the_draw_takes_it_as_often_as_believed() -> None:
    plain, colour = 1 + 12 * QUALITY_NAMES.index("maj"), 1 + 12 * QUALITY_NAMES.index("maj7")  # C, Cmaj7
    log_p = _colour_beliefs(16, plain, colour, 0.3)
    change = np.array([0.5] + [0.02] * 3 + [0.9] + [0.02] * 3 + [0.9] + [0.02] * 3 + [0.9] + [0.02] * 3)
    path = best_path(log_p, change, DOWN, UNIFORM, PRIOR, W)
    assert set(path.tolist()) == {plain}
    rng = np.random.default_rng(0)
    drawn = [draw_qualities(path, log_p, rng) for _ in range(400)]
    share = np.mean([d[0] == colour for d in drawn])
    assert 0.24 < share < 0.36  # as often as the network believes (0.3), where the path gives 0
    for d in drawn:  # the root and the span never move; one quality per chord
        assert ((d - 1) % 12 == (path - 1) % 12).all() and len(set(d.tolist())) == 1
    two = np.array([plain] * 8 + [plain + 7] * 8)  # C for two bars, then G: each chord drawn on its own span
    for d in (draw_qualities(two, log_p, np.random.default_rng(s)) for s in range(20)):
        assert len(set(d[:8].tolist())) == 1 and len(set(d[8:].tolist())) == 1 and ((d - two) % 12 == 0).all()
    pinned = draw_qualities(path, log_p, np.random.default_rng(1), fixed={3: plain})
    assert pinned.tolist() == path.tolist()  # a chord holding a pinned beat is kept as it is


def test_quality_distance_compares_the_mix_of_qualities() -> None:
    c, cmaj7 = 1, 1 + 12 * QUALITY_NAMES.index("maj7")
    human = [np.array([c, c, cmaj7, cmaj7, 0, c])]
    assert quality_distance(human, human, len(QUALITY_NAMES)) == 0.0
    assert quality_distance([np.array([c] * 6)], human, len(QUALITY_NAMES)) == pytest.approx(1 / 3)
