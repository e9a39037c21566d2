"""Loudness: integrated loudness (ITU-R BS.1770-4, LUFS) of audio fed block by block, and the
gain that brings a WAV to a target loudness without clipping.

The meter is pyloudnorm's (its K-weighting filters, 400 ms gating blocks with 75 % overlap, the
absolute gate at -70 LUFS and the relative gate 10 LU under the ungated level), run on
consecutive blocks so that a long song is measured without holding it in memory (and while it is
being rendered): :class:`LoudnessMeter` keeps the filter's state between blocks and the running
sum of squares at the gating-block edges, and gives the value pyloudnorm's
``Meter.integrated_loudness`` gives for the whole signal (within 1e-9 LU: the same filter in
float64, only the order of the additions differs). A signal shorter than one gating block (400 ms)
is measured as a single block over its whole length.

The K-weighting (pyloudnorm's two biquads, the same coefficients) is the exact recursive filter,
computed without scipy (``import scipy.signal`` costs about a second, on the path of every WAV
written) and without a Python loop per sample. The two biquads in series are one linear system
with four state variables ``s`` (transposed direct form II, as scipy's ``lfilter`` runs them):
``s[n+1] = A s[n] + b x[n]``, ``y[n] = c s[n] + d x[n]``. Over a chunk of :data:`CHUNK_FRAMES`
frames, the outputs are a matrix times the chunk's inputs plus a matrix times the state at its
start, and the state at its end is likewise linear in both; so a block of audio is filtered by
one matrix product for all its chunks, once the chunk-start states are known. Those follow the
same kind of recursion one level up (``s[j+1] = A^L s[j] + u[j]``), solved :data:`GROUP` chunks
per matrix product, the group starts again one level up, until a level has at most
:data:`GROUP` steps (:class:`_Recurrence`). About 40 multiply-adds per sample in BLAS, in float64:
a minute of stereo in about 40 ms on one core, a tenth of what convolving each block with the
filter's impulse response by FFT took (docs/performance.md).

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
CHUNK_FRAMES = 32  # frames filtered by one row of the matrix product
GROUP = 16  # chunk states solved together, per level of the recursion


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


def k_weighting_system(sample_rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The K-weighting cascade as ``(A, b, c, d)``: ``s' = A s + b x``, ``y = c s + d x``, with
    ``s`` the two states of each biquad in transposed direct form II (stage 1, then stage 2)."""
    (b1, a1), (b2, a2) = k_weighting_biquads(sample_rate)

    def step(s: np.ndarray, x: float) -> tuple[np.ndarray, float]:
        y = b1[0] * x + s[0]  # the shelf's output feeds the high pass
        z = b2[0] * y + s[2]
        return np.array([b1[1] * x - a1[1] * y + s[1], b1[2] * x - a1[2] * y,
                         b2[1] * y - a2[1] * z + s[3], b2[2] * y - a2[2] * z]), float(z)

    big_a, c = np.empty((4, 4)), np.empty(4)
    for i in range(4):  # the system is linear: its matrices are its responses to unit states and input
        big_a[:, i], c[i] = step(np.eye(4)[i], 0.0)
    b, d = step(np.zeros(4), 1.0)
    return big_a, b, c, d


ONE_THREAD_PRODUCT = 1 << 18  # multiply-adds up to which OpenBLAS computes a matrix product on the calling thread


def _product(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b`` (``a`` 2-D, rows of any stride) as one stacked product of pieces of rows, each small
    enough for BLAS to compute on the calling thread.

    A product of a few million multiply-adds is threaded by OpenBLAS; on a busy machine its second
    thread, waiting for a core that FluidSynth or another process holds, made the meter ten times
    slower. numpy hands each matrix of a stack to BLAS on its own, from one loop in C.
    """
    rows, (k, n) = len(a), b.shape
    piece = max(1, ONE_THREAD_PRODUCT // (k * n))
    if out is None:
        out = np.empty((rows, n))
    whole = rows - rows % piece
    if whole:
        np.matmul(a[:whole].reshape(-1, piece, k), b, out=out[:whole].reshape(-1, piece, n))
    if whole < rows:
        np.matmul(a[whole:], b, out=out[whole:])
    return out


def _powers(m: np.ndarray, k: int) -> list[np.ndarray]:
    """``[I, m, m^2, ..., m^k]``."""
    out = [np.eye(len(m))]
    for _ in range(k):
        out.append(m @ out[-1])
    return out


class _Recurrence:
    """All the states of ``s[j+1] = M s[j] + u[j]`` (4 states, many rows of independent signals)
    from ``s[0]`` and the inputs, :data:`GROUP` steps per matrix product.

    Within a group, the states before each step are a fixed matrix times the group's inputs plus
    ``M^i`` times the group's first state; the groups' first states follow the same recursion with
    ``M^GROUP``, solved by the next level (exact: nothing is truncated, the powers are float64).
    Row-vector convention: states are the last axis, ``s @ M.T``.
    """

    def __init__(self, m: np.ndarray) -> None:
        powers = _powers(m, GROUP)
        # inputs of a group (GROUP x 4, flattened) -> the states before steps 0..GROUP from a zero start
        self.inputs = np.zeros((4 * GROUP, 4 * (GROUP + 1)))
        for i in range(1, GROUP + 1):
            for j in range(i):
                self.inputs[4 * j:4 * j + 4, 4 * i:4 * i + 4] = powers[i - 1 - j].T
        self.start = np.concatenate([p.T for p in powers], axis=1)  # (4, 4 (GROUP + 1)): s -> M^i s
        self.group_matrix = powers[GROUP]
        self.up: _Recurrence | None = None  # the next level, made when a signal is long enough

    def solve(self, u: np.ndarray, s0: np.ndarray) -> np.ndarray:
        """States ``(rows, steps + 1, 4)`` from inputs ``u`` ``(rows, steps, 4)`` and ``s0`` ``(rows, 4)``."""
        rows, steps, _ = u.shape
        if steps <= GROUP:
            k = 4 * (steps + 1)
            out = u.reshape(rows, 4 * steps) @ self.inputs[:4 * steps, :k]  # (rows, 4 (steps + 1))
            out += s0 @ self.start[:, :k]
            return out.reshape(rows, steps + 1, 4)
        groups = steps // GROUP
        whole = groups * GROUP
        local = _product(u[:, :whole].reshape(rows * groups, 4 * GROUP), self.inputs)  # (rows groups, 4 (GROUP + 1))
        local = local.reshape(rows, groups, GROUP + 1, 4)
        if self.up is None:
            self.up = _Recurrence(self.group_matrix)
        starts = self.up.solve(local[:, :, GROUP], s0)  # (rows, groups + 1, 4): each group's first state
        out = np.empty((rows, steps + 1, 4))
        from_start = starts[:, :groups].reshape(rows * groups, 4) @ self.start[:, :4 * GROUP]  # (rows groups, 4 GROUP)
        np.add(local[:, :, :GROUP], from_start.reshape(rows, groups, GROUP, 4),
               out=out[:, :whole].reshape(rows, groups, GROUP, 4))
        if whole < steps:  # the last steps, fewer than a group
            out[:, whole:] = self.solve(u[:, whole:], starts[:, groups])
        else:
            out[:, whole] = starts[:, groups]
        return out


class _KWeighting:
    """The K-weighting of one sample rate, applied :data:`CHUNK_FRAMES` frames per matrix row."""

    def __init__(self, sample_rate: int) -> None:
        big_a, b, c, d = k_weighting_system(sample_rate)
        n = CHUNK_FRAMES
        self.powers = _powers(big_a, n)  # A^k, k = 0..n
        self.impulse_states = np.array([self.powers[k] @ b for k in range(n)])  # (n, 4): A^k b
        response = np.concatenate([[d], self.impulse_states[:n - 1] @ c])  # the impulse response's first n samples
        self.toeplitz = np.zeros((n, n))  # (n, n): outputs from the chunk's inputs
        for i in range(n):
            self.toeplitz[i, :i + 1] = response[i::-1]
        self.from_state = np.array([c @ p for p in self.powers[:n]])  # (n, 4): outputs from the start state
        self.out = np.concatenate([self.toeplitz.T, self.from_state.T])  # (n + 4, n): [inputs | state] -> outputs
        self.to_state = np.ascontiguousarray(self.impulse_states[::-1])  # (n, 4): inputs -> end state (less A^n s)
        self.chunks = _Recurrence(self.powers[n])

    def whole_chunks(self, x: np.ndarray, state: np.ndarray, space: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Filter ``x`` ``(frames, channels)`` (frames a multiple of :data:`CHUNK_FRAMES`) from
        ``state`` ``(channels, 4)``: the output ``(channels, frames)`` float64, a view of ``space``
        (a flat float64 buffer of at least :meth:`space_needed` values, reused from block to
        block: new pages cost more than the arithmetic), and the end state."""
        frames, channels = x.shape
        n = CHUNK_FRAMES
        chunks = frames // n
        work = space[:channels * chunks * (n + 4)].reshape(channels, chunks, n + 4)  # a chunk's inputs, its start state
        work[:, :, :n] = x.T.reshape(channels, chunks, n)  # the one copy of the input (and float64 from here)
        rows = work.reshape(channels * chunks, n + 4)
        states = self.chunks.solve(_product(rows[:, :n], self.to_state).reshape(channels, chunks, 4), state)
        work[:, :, n:] = states[:, :chunks]
        y = space[work.size:work.size + channels * frames].reshape(channels, frames)
        _product(rows, self.out, out=y.reshape(channels * chunks, n))
        return y, states[:, chunks]

    @staticmethod
    def space_needed(frames: int, channels: int) -> int:
        return channels * frames * (2 * CHUNK_FRAMES + 4) // CHUNK_FRAMES

    def part_chunk(self, x: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The same for fewer than :data:`CHUNK_FRAMES` frames."""
        r = len(x)
        xt = np.asarray(x, dtype=np.float64).T  # (channels, r)
        y = xt @ self.toeplitz[:r, :r].T + state @ self.from_state[:r].T
        return y, state @ self.powers[r].T + xt @ self.impulse_states[r - 1::-1]


_FILTERS: dict[int, _KWeighting] = {}


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
        if sample_rate not in _FILTERS:
            _FILTERS[sample_rate] = _KWeighting(sample_rate)
        self._filter = _FILTERS[sample_rate]
        self._state: np.ndarray | None = None  # (channels, 4): the filter's state after the frames filtered
        self._held = np.zeros((0, 0))  # fed frames not yet filtered (less than a chunk)
        self._space = np.zeros(0)  # the filter's working memory, kept from block to block
        self.frames = 0  # frames fed
        self._done = 0  # frames filtered and summed
        self._sum = 0.0  # their sum of squares, all channels
        self._all_edges = np.zeros(1, dtype=np.int64)  # gating-block edges (starts and ends) ...
        self._known = 0  # ... all of them up to this frame
        self._edges: list[np.ndarray] = [np.zeros(1, dtype=np.int64)]  # the edges passed, in frames ...
        self._sums: list[np.ndarray] = [np.zeros(1)]  # ... and the sum of squares of the frames before each
        self._blocks: np.ndarray | None = None  # mean squares per gating block, while nothing more is fed

    def _edge_frames(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Where gating blocks ``0..count-1`` start and end, in frames, computed as pyloudnorm does
        (``int(0.4 * (j * 0.25 + end) * rate)``, the same float64 operations in the same order)."""
        j = np.arange(count)
        return tuple((BLOCK_SECONDS * (j * STEP + end) * self.rate).astype(np.int64) for end in (0, 1))  # type: ignore[return-value]

    def _edges_in(self, start: int, end: int) -> np.ndarray:
        """The gating-block edges in ``(start, end]``, in order."""
        while self._known < end:  # know twice as many blocks as needed so far
            count = 2 * int(self._known / (BLOCK_SECONDS * STEP * self.rate)) + 8
            starts, ends = self._edge_frames(count)
            edges = np.sort(np.concatenate([starts, ends]))  # (np.union1d costs 10 ms on its first call)
            self._all_edges = edges[np.concatenate([[True], edges[1:] != edges[:-1]])]
            self._known = int(starts[-1])  # every edge up to here (the ends go further, the starts do not)
        lo, hi = np.searchsorted(self._all_edges, [start, end], side="right")
        return self._all_edges[lo:hi]

    def feed(self, block: np.ndarray) -> None:
        """Add the next ``(frames, channels)`` float block."""
        x = np.asarray(block)
        if x.ndim == 1:
            x = x[:, None]
        if self._state is None:
            self._state = np.zeros((x.shape[1], 4))
            self._held = np.zeros((0, x.shape[1]))
        if len(x) == 0:
            return
        self.frames += len(x)
        self._blocks = None
        if len(self._held):
            x = np.concatenate([self._held, x])
        whole = len(x) - len(x) % CHUNK_FRAMES
        if whole:
            need = self._filter.space_needed(whole, x.shape[1])
            if len(self._space) < need:
                self._space = np.empty(need)
            y, self._state = self._filter.whole_chunks(x[:whole], self._state, self._space)
            self._add(y)
        self._held = np.array(x[whole:], dtype=np.float64)  # a copy: the caller may reuse its buffer

    def _finish(self) -> None:
        """Filter the frames held back (fewer than a chunk)."""
        if len(self._held):
            assert self._state is not None
            y, self._state = self._filter.part_chunk(self._held, self._state)
            self._held = self._held[:0]
            self._add(y)

    def _add(self, y: np.ndarray) -> None:
        """Sum the squares of filtered frames ``y`` ``(channels, frames)`` between gating-block edges
        (``y`` is squared in place)."""
        start, end = self._done, self._done + y.shape[1]
        np.square(y, out=y)
        edges = self._edges_in(start, end)
        inner = edges[edges < end]
        cuts = np.concatenate([[0], inner - start])
        sums = self._sum + np.cumsum(np.add.reduceat(y, cuts, axis=1).sum(axis=0))  # before cuts[1:], then all
        self._edges.append(edges)
        self._sums.append(sums[:len(inner)] if len(inner) == len(edges) else np.append(sums[:len(inner)], sums[-1]))
        self._sum = float(sums[-1])
        self._done = end

    def _block_powers(self) -> np.ndarray:
        """Mean square (summed over channels) of every gating block, as pyloudnorm cuts them."""
        if self._blocks is None:
            self._finish()
            window = BLOCK_SECONDS * self.rate
            if self.frames < window:  # one block, the whole signal
                self._blocks = np.array([self._sum / self.frames])
            else:
                count = int(np.round((self.frames / self.rate - BLOCK_SECONDS) / (BLOCK_SECONDS * STEP))) + 1
                los, his = self._edge_frames(count)
                edges, sums = np.concatenate(self._edges), np.append(np.concatenate(self._sums), self._sum)

                def before(frame: np.ndarray) -> np.ndarray:  # sum of squares before each frame; all past the end
                    at = np.minimum(np.searchsorted(edges, frame), len(edges) - 1)
                    inside = frame < self.frames
                    assert (edges[at[inside]] == frame[inside]).all(), "a gating edge was not passed"
                    return np.where(inside, sums[at], self._sum)

                self._blocks = (before(his) - before(los)) / window
        return self._blocks

    def integrated(self, gain: float = 1.0) -> float:
        """Integrated loudness in LUFS of everything fed so far, times ``gain`` (linear); ``-inf``
        for silence or no audio. The gates are absolute, so a gain of +6 dB can raise the loudness
        by more than 6 LU (quiet blocks pass the -70 LUFS gate): :meth:`gain_to` accounts for it."""
        if self._state is None or self.frames == 0:
            return -math.inf
        z = self._block_powers() * gain**2  # (blocks,) channel gains are 1.0 for left and right
        with np.errstate(divide="ignore"):
            block_lufs = -0.691 + 10.0 * np.log10(z)
        gated = block_lufs >= ABSOLUTE_GATE_LUFS
        if not gated.any():
            return -math.inf
        relative = -0.691 + 10.0 * math.log10(z[gated].mean()) + RELATIVE_GATE_LU
        kept = (block_lufs > relative) & (block_lufs > ABSOLUTE_GATE_LUFS)
        if not kept.any():
            return -math.inf
        return -0.691 + 10.0 * math.log10(z[kept].mean())

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
