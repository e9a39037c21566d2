"""Notes: the atom of every melody and voice, on the integer step grid.

Time is measured in integer *steps*; a Piece says how many steps make a quarter note
(``steps_per_quarter``, 4 by default, i.e. 16th notes). Pitches are MIDI note numbers (0-127).

:class:`NoteColumns` holds many notes as integer columns, for readers and corpus ingest that work
on arrays; :func:`is_monophonic_columns` and :func:`skyline_columns` are :func:`is_monophonic` and
:func:`skyline` on them, with the same results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise

import numpy as np

PITCH_NAMES_SHARP = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
PITCH_NAMES_FLAT = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")


@dataclass(frozen=True, order=True)
class Note:
    """One sounding note on the step grid.

    Attributes:
        start_steps: onset, in steps from the start of the piece (pickup included), >= 0.
        duration_steps: length in steps, >= 1.
        pitch: MIDI note number, 0-127.
        velocity: MIDI velocity, 1-127.
    """

    start_steps: int
    duration_steps: int
    pitch: int
    velocity: int = 90

    def __post_init__(self) -> None:
        if not 0 <= self.pitch <= 127:
            raise ValueError(f"pitch {self.pitch} is outside MIDI's 0-127")
        if self.duration_steps < 1:
            raise ValueError(f"duration_steps must be >= 1, got {self.duration_steps}")
        if self.start_steps < 0:
            raise ValueError(f"start_steps must be >= 0, got {self.start_steps}")
        if not 1 <= self.velocity <= 127:
            raise ValueError(f"velocity {self.velocity} is outside MIDI's 1-127")

    @property
    def end_steps(self) -> int:
        """First step after the note (exclusive end)."""
        return self.start_steps + self.duration_steps

    def transposed(self, semitones: int) -> Note:
        """The same note moved by ``semitones`` (raises ValueError if it leaves 0-127)."""
        return replace(self, pitch=self.pitch + semitones)

    def shifted(self, steps: int) -> Note:
        """The same note moved in time by ``steps``."""
        return replace(self, start_steps=self.start_steps + steps)


def notes_from_arrays(start_steps: Sequence[int] | np.ndarray, duration_steps: Sequence[int] | np.ndarray,
                      pitch: Sequence[int] | np.ndarray, velocity: Sequence[int] | np.ndarray) -> list[Note]:
    """Notes from equal-length integer columns, checked as a whole (the ranges of :class:`Note`)
    rather than note by note: what readers and decoders that work on arrays use.

    Raises:
        ValueError: a value outside the ranges :class:`Note` allows.
    """
    cols = [np.asarray(c, dtype=np.int64).reshape(-1) for c in (start_steps, duration_steps, pitch, velocity)]
    st, du, pi, ve = cols
    if not len(st) == len(du) == len(pi) == len(ve):
        raise ValueError(f"columns of unequal length: {[len(c) for c in cols]}")
    if len(st) and (st.min() < 0 or du.min() < 1 or pi.min() < 0 or pi.max() > 127 or ve.min() < 1 or ve.max() > 127):
        bad = next(i for i in range(len(st)) if not (st[i] >= 0 and du[i] >= 1 and 0 <= pi[i] <= 127
                                                     and 1 <= ve[i] <= 127))
        Note(int(st[bad]), int(du[bad]), int(pi[bad]), int(ve[bad]))  # raises Note's own message
    # Note.__init__ would check each note again (most of the time of building a long list)
    new, set_attr = object.__new__, object.__setattr__
    out = []
    for a, b, c, d in zip(st.tolist(), du.tolist(), pi.tolist(), ve.tolist()):
        note = new(Note)
        set_attr(note, "__dict__", {"start_steps": a, "duration_steps": b, "pitch": c, "velocity": d})
        out.append(note)
    return out


def stable_order(*keys: np.ndarray | tuple[np.ndarray, int]) -> np.ndarray:
    """The stable sort order of rows by integer columns, the first key first: ``np.lexsort`` of
    the keys reversed, computed as one argsort of the keys joined into one int64 where their
    ranges fit in 62 bits (some fifty times faster on a song's notes), else by ``np.lexsort``.

    Args:
        keys: ``(N,)`` integer arrays, most significant first; a key given as ``(array, bits)``
            holds values in ``0 .. 2**bits - 1`` (no range to compute).

    Returns:
        ``(N,)`` int64 indices.
    """
    arrays = [k[0] if isinstance(k, tuple) else k for k in keys]
    n = len(arrays[0])
    if n < 2:
        return np.arange(n)
    joined = np.zeros(n, dtype=np.int64)
    total = 0
    for k in keys:
        if isinstance(k, tuple):
            values, width = k
        else:
            lo = int(k.min())
            values, width = k - lo, (int(k.max()) - lo).bit_length()
        total += width
        if total > 62:
            return np.lexsort(arrays[::-1])
        joined = (joined << width) | values
    return np.argsort(joined, kind="stable")


@dataclass(frozen=True, eq=False)
class NoteColumns:
    """Notes as four ``(N,)`` int64 columns, in :class:`Note` order (start, duration, pitch,
    velocity) unless a function says otherwise; the ranges of :class:`Note` hold.

    Attributes:
        start_steps, duration_steps, pitch, velocity: one entry per note.
    """

    start_steps: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    duration_steps: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    pitch: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.start_steps)

    @property
    def end_steps(self) -> np.ndarray:
        """``(N,)`` the first step after each note."""
        return self.start_steps + self.duration_steps

    @classmethod
    def from_notes(cls, notes: Sequence[Note]) -> NoteColumns:
        """The columns of ``notes``, in their order."""
        n = len(notes)
        return cls(np.fromiter((x.start_steps for x in notes), dtype=np.int64, count=n),
                   np.fromiter((x.duration_steps for x in notes), dtype=np.int64, count=n),
                   np.fromiter((x.pitch for x in notes), dtype=np.int64, count=n),
                   np.fromiter((x.velocity for x in notes), dtype=np.int64, count=n))

    def to_notes(self) -> list[Note]:
        """The notes, in column order (:func:`notes_from_arrays`)."""
        return notes_from_arrays(self.start_steps, self.duration_steps, self.pitch, self.velocity)

    def take(self, index: np.ndarray | slice) -> NoteColumns:
        """The notes at ``index`` (an index array, a boolean mask or a slice), in that order."""
        return NoteColumns(self.start_steps[index], self.duration_steps[index], self.pitch[index],
                           self.velocity[index])

    def sorted(self) -> NoteColumns:
        """The notes in :class:`Note` order (start, duration, pitch, velocity); a stable sort."""
        return self.take(stable_order(self.start_steps, self.duration_steps, (self.pitch, 7), (self.velocity, 7)))


def pitch_name(pitch: int, flats: bool = False) -> str:
    """Scientific pitch name of a MIDI number, e.g. ``60 -> 'C4'``, ``61 -> 'C#4'`` (``'Db4'`` with flats)."""
    names = PITCH_NAMES_FLAT if flats else PITCH_NAMES_SHARP
    return f"{names[pitch % 12]}{pitch // 12 - 1}"


def is_monophonic(notes: list[Note]) -> bool:
    """True when no two notes overlap in time (a note may start exactly where another ends)."""
    ordered = sorted(notes)
    return all(a.end_steps <= b.start_steps for a, b in pairwise(ordered))


def skyline(notes: list[Note], *, keep_every_onset: bool = False) -> list[Note]:
    """Reduce polyphony to a monophonic line by keeping the highest sounding pitch.

    At every onset the highest note starting there wins. A note that starts while a higher note
    is still sounding is dropped; a sounding note is cut where a higher-or-equal note begins.
    This is the classic "skyline" melody extraction (Uitdenbogerd & Zobel 1999).

    Args:
        notes: any notes, possibly overlapping.
        keep_every_onset: keep the winner of every onset, cutting whatever still sounds there
            (a legato line: what a token stream of one note per onset means) instead of dropping
            a note hidden under a higher sustained one.

    Returns:
        Monophonic notes sorted by start, none overlapping.
    """
    by_onset: dict[int, Note] = {}
    for n in notes:
        best = by_onset.get(n.start_steps)
        if best is None or n.pitch > best.pitch:
            by_onset[n.start_steps] = n
    out: list[Note] = []
    for n in sorted(by_onset.values()):
        if out and out[-1].end_steps > n.start_steps:
            prev = out[-1]
            if prev.pitch > n.pitch and not keep_every_onset:
                continue  # hidden under a higher sustained note
            out[-1] = replace(prev, duration_steps=n.start_steps - prev.start_steps)
        out.append(n)
    return out


def is_monophonic_columns(notes: NoteColumns) -> bool:
    """:func:`is_monophonic` of notes in :class:`Note` order."""
    return bool((notes.end_steps[:-1] <= notes.start_steps[1:]).all())


def skyline_columns(notes: NoteColumns, group: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`skyline` of notes in :class:`Note` order, as indices; of many tracks at once with
    ``group`` (``(N,)`` each note's track, the notes by track, each track's in Note order).

    Returns:
        ``(kept, duration_steps)``: ``(K,)`` int64 indices of the notes kept, in the lines' order
        (by track, then onset), and their durations in the line (cut where the next kept note of
        the track begins).
    """
    st, pi, end = notes.start_steps, notes.pitch, notes.end_steps
    n = len(st)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    g = np.zeros(n, dtype=np.int64) if group is None else group
    # at every onset the highest pitch wins, the first of equal ones in the notes' order
    order = stable_order(g, st, -pi)
    head = np.ones(n, dtype=bool)
    head[1:] = (st[order[1:]] != st[order[:-1]]) | (g[order[1:]] != g[order[:-1]])
    win = np.sort(order[head])  # (W,) one per onset; in Note order that is by onset
    ws, we, wp, wg = st[win], end[win], pi[win], g[win]
    idx = np.arange(len(win))
    track_first = np.searchsorted(wg, wg)  # (W,) the first winner of each one's track
    # A note is dropped when the last kept note before it still sounds and is higher. The kept
    # notes are the one fixed point of that rule; each pass settles at least one more note, and a
    # real line settles in two or three.
    kept = np.ones(len(win), dtype=bool)
    for _ in range(_SKYLINE_PASSES):
        last = np.maximum.accumulate(np.where(kept, idx, -1))  # (W,) the last kept at or before each
        prev = np.concatenate([[-1], last[:-1]])  # (W,) the last kept before each
        prev = np.where(prev >= track_first, prev, -1)
        safe = np.maximum(prev, 0)
        new = (prev < 0) | ~((we[safe] > ws) & (wp[safe] > wp))
        if (new == kept).all():
            break
        kept = new
    else:  # a line that needs more passes: settle it note by note
        last_kept = -1
        for i in range(len(win)):
            if last_kept >= 0 and wg[last_kept] != wg[i]:
                last_kept = -1
            kept[i] = last_kept < 0 or not (we[last_kept] > ws[i] and wp[last_kept] > wp[i])
            last_kept = i if kept[i] else last_kept
    line = win[kept]
    dur = notes.duration_steps[line].copy()
    cut = (end[line][:-1] > st[line][1:]) & (g[line][1:] == g[line][:-1])
    dur[:-1][cut] = st[line][1:][cut] - st[line][:-1][cut]
    return line, dur


_SKYLINE_PASSES = 32
