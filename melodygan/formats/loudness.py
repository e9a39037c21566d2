"""Loudness: integrated loudness (ITU-R BS.1770-4, LUFS) of audio fed block by block, and the
gain that brings a WAV to a target loudness without clipping.

The meter is pyloudnorm's (its K-weighting filters, 400 ms gating blocks with 75 % overlap, the
absolute gate at -70 LUFS and the relative gate 10 LU under the ungated level), run on
consecutive blocks so that a long song is measured without holding it in memory:
:class:`LoudnessMeter` keeps the filter's tail between blocks and the running sum of squares at
the gating-block edges, and gives the value pyloudnorm's ``Meter.integrated_loudness`` gives for
the whole signal (to a few thousandths of a LU, from the float64 sums). A signal shorter than
one gating block (400 ms) is measured as a single block over its whole length.

The K-weighting (pyloudnorm's two biquads, the same coefficients) is applied without scipy: its
impulse response, computed once per sample rate and cut where it has decayed below 1e-15 of its
peak, is convolved with each block by FFT (numpy), the overlap carried to the next block. That
keeps ``import scipy.signal`` (about a second) off the path of every WAV written.

:func:`loudness_gain` turns a measurement into a gain: the target loudness, unless that would put
the sample peak above the ceiling, in which case the gain stops at the ceiling (peak-safe gain,
no limiter: the sound is never changed, only scaled) and the caller says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from melodygan.errors import MelodyganError

DEFAULT_LOUDNESS_LUFS = -18.0  # every WAV at one level, with headroom for a -1 dBFS peak (docs/formats.md)
LOUDNESS_RANGE_LUFS = (-60.0, -5.0)
BLOCK_SECONDS = 0.4  # BS.1770 gating block
STEP = 0.25  # blocks start every quarter block (75 % overlap)
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0


def k_weighting_biquads(sample_rate: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """pyloudnorm's K-weighting as ``(b, a)`` pairs (normalised by ``a0``): a high shelf of
    +4 dB above 1.5 kHz (Q 1/sqrt 2), then a high pass at 38 Hz (Q 0.5) — RBJ cookbook biquads."""
    out = []
    w0 = 2.0 * math.pi * 1500.0 / sample_rate
    big_a, alpha = 10 ** (4.0 / 40.0), math.sin(w0) / (2.0 * (1 / math.sqrt(2)))
    cos, root = math.cos(w0), math.sqrt(10 ** (4.0 / 40.0))
    b = [big_a * ((big_a + 1) + (big_a - 1) * cos + 2 * root * alpha), -2 * big_a * ((big_a - 1) + (big_a + 1) * cos),
         big_a * ((big_a + 1) + (big_a - 1) * cos - 2 * root * alpha)]
    a = [(big_a + 1) - (big_a - 1) * cos + 2 * root * alpha, 2 * ((big_a - 1) - (big_a + 1) * cos),
         (big_a + 1) - (big_a - 1) * cos - 2 * root * alpha]
    out.append((np.array(b) / a[0], np.array(a) / a[0]))
    w0 = 2.0 * math.pi * 38.0 / sample_rate
    alpha, cos = math.sin(w0) / (2.0 * 0.5), math.cos(w0)
    b = [(1 + cos) / 2, -(1 + cos), (1 + cos) / 2]
    a = [1 + alpha, -2 * cos, 1 - alpha]
    out.append((np.array(b) / a[0], np.array(a) / a[0]))
    return out


_RESPONSES: dict[int, np.ndarray] = {}


def k_weighting_response(sample_rate: int, floor: float = 1e-15) -> np.ndarray:
    """Impulse response of the K-weighting cascade, cut once it stays below ``floor`` × its peak."""
    if sample_rate not in _RESPONSES:
        (b1, a1), (b2, a2) = k_weighting_biquads(sample_rate)
        out: list[float] = []
        x1 = x2 = y1 = y2 = z1 = z2 = 0.0  # stage 1: x -> y, stage 2: y -> z
        peak, quiet, n = 0.0, 0, 0
        while quiet < 64 and n < 1 << 20:
            x = 1.0 if n == 0 else 0.0
            y = b1[0] * x + b1[1] * x1 + b1[2] * x2 - a1[1] * y1 - a1[2] * y2
            z = b2[0] * y + b2[1] * y1 + b2[2] * y2 - a2[1] * z1 - a2[2] * z2
            x2, x1, y2, y1, z2, z1 = x1, x, y1, y, z1, z
            out.append(z)
            peak = max(peak, abs(z))
            quiet = quiet + 1 if abs(z) < floor * peak and n > 8 else 0
            n += 1
        _RESPONSES[sample_rate] = np.array(out)
    return _RESPONSES[sample_rate]


class LoudnessMeter:
    """Integrated loudness of a stereo (or mono) signal given as consecutive ``(frames, channels)`` blocks.

    Usage::

        meter = LoudnessMeter(44100)
        for block in blocks:
            meter.feed(block)
        lufs = meter.integrated()   # -inf for silence
    """

    def __init__(self, sample_rate: int) -> None:
        self.rate = sample_rate
        self._h = k_weighting_response(sample_rate)  # (taps,)
        self._tail: np.ndarray | None = None  # (taps - 1, channels): the filtered blocks' overlap
        self._sum: np.ndarray | None = None  # running sum of squares per channel, float64
        self.frames = 0
        self._marks: dict[int, np.ndarray] = {}  # frame -> sum of squares of the frames before it
        self._next = [0, 0]  # the next block whose start (0) / end (1) edge is to be recorded

    def _edge(self, j: int, end: int) -> int:
        """Where gating block ``j`` starts (``end`` 0) or ends (1), in frames, computed as pyloudnorm does."""
        return int(BLOCK_SECONDS * (j * STEP + end) * self.rate)

    def feed(self, block: np.ndarray) -> None:
        """Add the next ``(frames, channels)`` float block."""
        x = np.asarray(block, dtype=np.float64)
        if x.ndim == 1:
            x = x[:, None]
        n, channels = x.shape
        if self._tail is None:
            self._tail = np.zeros((len(self._h) - 1, channels))
            self._sum = np.zeros(channels)
            self._marks[0] = np.zeros(channels)
        if n == 0:
            return
        taps = len(self._h)
        size = 1 << (n + taps - 2).bit_length()
        response = np.fft.rfft(self._h, size)
        filtered = np.empty_like(x)
        for c in range(channels):  # one channel at a time: half the transient memory of both at once
            full = np.fft.irfft(np.fft.rfft(x[:, c], size) * response, size)[:n + taps - 1]
            full[:taps - 1] += self._tail[:, c]
            filtered[:, c], self._tail[:, c] = full[:n], full[n:]  # the overlap: always taps - 1 frames
        x = filtered
        cum = np.cumsum(x * x, axis=0)  # (frames, channels)
        assert self._sum is not None
        start = self.frames
        for end in (0, 1):  # block edges in (start, start + n]: the sum of squares up to each
            while (e := self._edge(self._next[end], end)) <= start + n:
                if e > start:
                    self._marks[e] = self._sum + cum[e - start - 1]
                self._next[end] += 1
        self._sum = self._sum + cum[-1]
        self.frames += n

    def integrated(self, gain: float = 1.0) -> float:
        """Integrated loudness in LUFS of everything fed so far, times ``gain`` (linear); ``-inf``
        for silence or no audio. The gates are absolute, so a gain of +6 dB can raise the loudness
        by more than 6 LU (quiet blocks pass the -70 LUFS gate): :meth:`gain_to` accounts for it."""
        if self._sum is None or self.frames == 0:
            return -math.inf
        total = self._sum
        window = BLOCK_SECONDS * self.rate
        if self.frames < window:  # one block, the whole signal
            z = (total / self.frames)[None]  # (1, channels)
        else:
            T = self.frames / self.rate
            blocks = int(np.round((T - BLOCK_SECONDS) / (BLOCK_SECONDS * STEP))) + 1
            z = np.empty((blocks, len(total)))  # (blocks, channels) mean squares
            for j in range(blocks):
                lo, hi = self._edge(j, 0), self._edge(j, 1)
                z[j] = (self._marks.get(min(hi, self.frames), total) - self._marks.get(min(lo, self.frames), total)) \
                    / window
        z = z * gain**2
        power = z.sum(axis=1)  # channel gains are 1.0 for left and right
        with np.errstate(divide="ignore"):
            block_lufs = -0.691 + 10.0 * np.log10(power)
        gated = block_lufs >= ABSOLUTE_GATE_LUFS
        if not gated.any():
            return -math.inf
        relative = -0.691 + 10.0 * math.log10(z[gated].mean(axis=0).sum()) + RELATIVE_GATE_LU
        kept = (block_lufs > relative) & (block_lufs > ABSOLUTE_GATE_LUFS)
        if not kept.any():
            return -math.inf
        return -0.691 + 10.0 * math.log10(z[kept].mean(axis=0).sum())

    def gain_to(self, target_lufs: float) -> float:
        """The linear gain after which the signal measures ``target_lufs`` (1.0 for silence): the
        level difference, refined a few times because the gates move with the gain."""
        measured = self.integrated()
        if not math.isfinite(measured):
            return 1.0
        gain_db = target_lufs - measured
        for _ in range(12):
            got = self.integrated(10 ** (gain_db / 20))
            if not math.isfinite(got) or abs(got - target_lufs) < 0.005:
                break
            gain_db += target_lufs - got
        return 10 ** (gain_db / 20)


@dataclass(frozen=True)
class Leveling:
    """What :func:`loudness_gain` chose.

    Attributes:
        gain: linear factor to apply.
        lufs: the loudness after the gain (``-inf`` for silence).
        peak_dbfs: the sample peak after the gain.
        limited: True when the target would have put the peak above the ceiling, so the gain
            stopped at the ceiling and the loudness is under the target.
    """

    gain: float
    lufs: float
    peak_dbfs: float
    limited: bool


def loudness_gain(meter: LoudnessMeter, peak: float, target_lufs: float, ceiling_dbfs: float) -> Leveling:
    """The gain that brings the audio ``meter`` measured (sample peak ``peak``, linear) to
    ``target_lufs``, never putting the peak above ``ceiling_dbfs``. Silence gets a gain of 1."""
    if peak <= 0 or not math.isfinite(meter.integrated()):
        return Leveling(1.0, -math.inf, -math.inf if peak <= 0 else 20 * math.log10(peak), False)
    gain = meter.gain_to(target_lufs)
    ceiling = 10 ** (ceiling_dbfs / 20)
    limited = peak * gain > ceiling
    if limited:
        gain = ceiling / peak
    return Leveling(gain, meter.integrated(gain), 20 * math.log10(peak * gain), limited)


def check_loudness(loudness_lufs: float | None) -> None:
    """Refuse a loudness target outside :data:`LOUDNESS_RANGE_LUFS` (None, peak normalisation, is fine).

    Raises:
        MelodyganError: naming the value and the range.
    """
    lo, hi = LOUDNESS_RANGE_LUFS
    if loudness_lufs is not None and not lo <= loudness_lufs <= hi:
        raise MelodyganError(f"loudness {loudness_lufs:g} LUFS outside {lo:g}..{hi:g} (e.g. -16 for -16 LUFS)")
