"""Notes: the atom of every melody and voice, on the integer step grid.

Time is measured in integer *steps*; a Piece says how many steps make a quarter note
(``steps_per_quarter``, 4 by default, i.e. 16th notes). Pitches are MIDI note numbers (0-127).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
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
