"""The block-by-block loudness meter against pyloudnorm's whole-signal meter, and the peak-safe
gain on hand-made signals."""

from __future__ import annotations

import math

import numpy as np
import pyloudnorm
import pytest

from melodygan.formats.loudness import LoudnessMeter, loudness_gain


def _signal(sr: int, seconds: float, seed: int) -> np.ndarray:
    """A tone that stops and starts (so the gates have work) over a little noise, stereo."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    tone = 0.3 * np.sin(2 * np.pi * 440 * t) * (t % 1.0 < 0.6)
    return np.stack([tone, 0.05 * rng.standard_normal(len(t))], axis=1)


@pytest.mark.parametrize("sr, seconds", [(44100, 3.7), (22050, 1.0), (48000, 6.03), (8000, 0.45)])
def test_fed_in_blocks_it_reads_what_pyloudnorm_reads_on_the_whole(sr: int, seconds: float) -> None:
    x = _signal(sr, seconds, seed=sr)
    meter, rng, i = LoudnessMeter(sr), np.random.default_rng(1), 0
    while i < len(x):  # blocks of random sizes, edges anywhere
        k = int(rng.integers(1, 20000))
        meter.feed(x[i:i + k])
        i += k
    assert meter.integrated() == pytest.approx(pyloudnorm.Meter(sr).integrated_loudness(x), abs=1e-9)
    # at a gain, the gates move: it still agrees with pyloudnorm on the scaled signal
    assert meter.integrated(0.01) == pytest.approx(pyloudnorm.Meter(sr).integrated_loudness(0.01 * x), abs=1e-9)


@pytest.mark.parametrize("mono", [False, True])
def test_read_mid_stream_and_fed_on_it_reads_like_the_whole(mono: bool) -> None:
    # A reading in the middle filters the frames held back (less than a 32-frame chunk) and the
    # meter carries on from there; float32 blocks (what the synth renders) are measured as given.
    sr = 44100
    x = _signal(sr, 2.3, seed=7)
    x = x[:, 0] if mono else x
    blocks = np.array_split(x, [65536, 65536 + 31, 65536 + 63, 90001])
    blocks = [b.astype(np.float32) if k % 2 else b for k, b in enumerate(blocks)]
    meter = LoudnessMeter(sr)
    for block in blocks:
        meter.feed(block)
        meter.integrated()
    whole = np.concatenate([b.astype(np.float64) for b in blocks])
    assert meter.frames == len(x)
    assert meter.integrated() == pytest.approx(pyloudnorm.Meter(sr).integrated_loudness(whole), abs=1e-9)


def test_silence_and_signals_shorter_than_a_block() -> None:
    meter = LoudnessMeter(44100)
    meter.feed(np.zeros((50000, 2)))
    assert meter.integrated() == -math.inf
    short = LoudnessMeter(44100)
    short.feed(np.full((1000, 2), 0.1))  # 23 ms of DC: K-weighting's high pass lets only its start through
    assert math.isfinite(short.integrated()) and short.integrated() < -20


def test_gain_reaches_the_target_or_stops_at_the_ceiling() -> None:
    x = _signal(22050, 2.0, seed=3)
    meter = LoudnessMeter(22050)
    meter.feed(x)
    peak = float(np.abs(x).max())
    level = loudness_gain(meter, peak, -23.0, -1.0)
    assert not level.limited and level.lufs == pytest.approx(-23.0, abs=0.01)
    assert pyloudnorm.Meter(22050).integrated_loudness(x * level.gain) == pytest.approx(-23.0, abs=0.01)
    hot = loudness_gain(meter, peak, -3.0, -1.0)
    assert hot.limited and hot.peak_dbfs == pytest.approx(-1.0) and hot.lufs < -3.0
    assert peak * hot.gain == pytest.approx(10 ** (-1 / 20))
