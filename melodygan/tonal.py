"""Tonal centroid: the 6-D harmonic network embedding of a pitch-class set (Harte et al. 2006).

A chroma vector ``c`` (12 weights, C = 0) maps to

    ζ(c) = Φ c / ‖c‖₁,   Φ[:, l] = (r₁ sin(l·7π/6), r₁ cos(l·7π/6),
                                     r₂ sin(l·3π/2), r₂ cos(l·3π/2),
                                     r₃ sin(l·2π/3), r₃ cos(l·2π/3))

with radii ``r = (1, 1, 0.5)``: the circle of fifths, the circle of minor thirds and the circle of
major thirds. Pitch classes a fifth or a third apart land close together, so the Euclidean distance
between two centroids measures how far apart two chords (or a note and a chord) are in harmony.
An empty chroma maps to the origin.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

RADII = (1.0, 1.0, 0.5)


def _phi() -> np.ndarray:
    """The ``(6, 12)`` projection matrix Φ."""
    l_ = np.arange(12, dtype=np.float64)
    r1, r2, r3 = RADII
    return np.stack([
        r1 * np.sin(l_ * 7 * np.pi / 6), r1 * np.cos(l_ * 7 * np.pi / 6),
        r2 * np.sin(l_ * 3 * np.pi / 2), r2 * np.cos(l_ * 3 * np.pi / 2),
        r3 * np.sin(l_ * 2 * np.pi / 3), r3 * np.cos(l_ * 2 * np.pi / 3),
    ])


PHI = _phi()


def tonal_centroid(chroma: np.ndarray) -> np.ndarray:
    """Tonal centroid of one chroma vector or a batch.

    Args:
        chroma: shape ``(12,)`` or ``(N, 12)``, non-negative weights per pitch class.

    Returns:
        float64, shape ``(6,)`` or ``(N, 6)``; rows whose chroma sums to 0 are all zeros.
    """
    c = np.asarray(chroma, dtype=np.float64)
    total = c.sum(axis=-1, keepdims=True)  # (..., 1)
    safe = np.where(total > 0, total, 1.0)
    return (c / safe) @ PHI.T  # (..., 6)


def pitch_class_centroid(pitch_classes: Iterable[int]) -> np.ndarray:
    """Tonal centroid of a set of pitch classes, each weighted 1 (duplicates count once), shape ``(6,)``."""
    chroma = np.zeros(12)
    for pc in set(pitch_classes):
        chroma[int(pc) % 12] = 1.0
    return tonal_centroid(chroma)
