"""Performance: a piece as played (:func:`humanize`), with small deviations of timing and velocity
that follow the meter and the instrument, the way players deviate from the grid.

A Piece lives on a coarse grid (16ths), where a few milliseconds cannot be written, so
:func:`humanize` returns the piece on the MIDI file's own grid, :data:`TICKS_PER_QUARTER` steps
per quarter note (1 ms is about one step at 120 bpm); everything else (chords, key, meter,
tempo, pickup, names, programs) is unchanged, and so is the length: the piece ends on the same
bar line, so a loop stays a loop. ``amount`` (0..1) scales every deviation; 0 returns the piece
itself. All draws come from ``seed`` (one stream per track, so a track's performance does not
depend on the others): the same seed gives the same performance.

The model, per note (``a`` = amount):

* **Onset**: a normal deviation with a standard deviation of ``a`` × the instrument's spread
  (melody 14 ms, other voices 10 ms, chords 9 ms, bass 5 ms: the bass holds the time, the tune
  is freest), times the position's factor (downbeat 0.5, other beats 0.8, off-beats 1.0), cut at
  2.5 standard deviations. An onset never leaves its bar: a note on a downbeat can only come late.
* **Chords**: notes that start together in a chordal track move together, spread upwards by
  ``a`` × 6 ms per note (a gentle roll, lowest note first).
* **End**: moves by half the onset's spread, stays at least a step after the onset, never past a
  bar line it did not cross before, and never past the end of the piece.
* **Velocity**: downbeats ``+6a``, other beats ``+2a``, eighth off-beats ``-4a``, finer positions
  ``-6a``, plus a normal deviation of ``5a`` (bass ``3a``), within 1..127.

Tracks are told apart by name and General MIDI program: the melody is ``piece.melody_name``; a
name with "bass" or a bass program (32-39) is a bass; a track where at least a fifth of the
notes start together with another is chordal.
"""

from __future__ import annotations

import zlib

import numpy as np

from melodygan.chords import Chord
from melodygan.errors import MelodyganError
from melodygan.notes import Note
from melodygan.piece import Piece

TICKS_PER_QUARTER = 480  # the grid of a humanized piece: the MIDI file's resolution
SPREAD_MS = {"melody": 14.0, "voice": 10.0, "chords": 9.0, "bass": 5.0}
POSITION_FACTOR = {"downbeat": 0.5, "beat": 0.8, "offbeat": 1.0, "fine": 1.0}
VELOCITY_ACCENT = {"downbeat": 6.0, "beat": 2.0, "offbeat": -4.0, "fine": -6.0}
VELOCITY_SPREAD = {"melody": 5.0, "voice": 5.0, "chords": 5.0, "bass": 3.0}
ROLL_MS = 6.0  # per chord note, lowest first
CUT_SD = 2.5


def humanize(piece: Piece, amount: float = 0.5, seed: int = 1) -> Piece:
    """A performance of ``piece``: timing and velocity deviations by metrical position and
    instrument (see the module docstring), on a grid of :data:`TICKS_PER_QUARTER` steps per quarter.

    Args:
        piece: any piece (its grid must divide 480 steps per quarter, as every MIDI-writable one does).
        amount: 0..1; 0 returns ``piece`` unchanged.
        seed: the same seed gives the same performance.

    Returns:
        The humanized piece (same bars, same end, same chords), or ``piece`` itself for amount 0.

    Raises:
        MelodyganError: ``amount`` outside 0..1, or a grid that does not divide 480.
    """
    if not 0.0 <= amount <= 1.0:
        raise MelodyganError(f"humanize amount {amount:g} outside 0..1")
    if amount == 0.0:
        return piece
    if TICKS_PER_QUARTER % piece.steps_per_quarter:
        raise MelodyganError(f"a grid of {piece.steps_per_quarter} steps per quarter does not divide "
                             f"{TICKS_PER_QUARTER}; cannot humanize it")
    scale = TICKS_PER_QUARTER // piece.steps_per_quarter
    end = piece.end_steps * scale
    ticks_per_ms = TICKS_PER_QUARTER * piece.tempo_bpm / 60000.0
    tracks = {}
    for name, notes in piece.tracks().items():
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        kind = _kind(piece, name, notes)
        tracks[name] = _perform(piece, notes, kind, amount, rng, scale, end, ticks_per_ms)
    melody = tracks.pop(piece.melody_name, []) if piece.melody else []
    return piece.replace(
        melody=melody,
        voices={name: tracks[name] for name in piece.voices},
        chords=[Chord(c.root, c.quality, c.start_steps * scale, c.duration_steps * scale, c.bass)
                for c in piece.chords],
        steps_per_quarter=TICKS_PER_QUARTER,
        pickup_steps=piece.pickup_steps * scale,
        length_steps=end,
    )


def _kind(piece: Piece, name: str, notes: list[Note]) -> str:
    """``melody``, ``bass``, ``chords`` or ``voice`` (see the module docstring)."""
    if name == piece.melody_name and piece.melody:
        return "melody"
    program = piece.programs.get(name)
    if "bass" in name.lower() or (program is not None and 32 <= program <= 39):
        return "bass"
    onsets = [n.start_steps for n in notes]
    together = len(onsets) - len(set(onsets))
    return "chords" if notes and together * 5 >= len(notes) else "voice"


def _position(piece: Piece, step: int) -> str:
    """``downbeat``, ``beat``, ``offbeat`` (eighths) or ``fine`` for a step of the piece's grid."""
    pos = (step - piece.pickup_steps) % piece.bar_steps
    if pos == 0:
        return "downbeat"
    if pos % piece.beat_steps == 0:
        return "beat"
    return "offbeat" if pos % max(piece.steps_per_quarter // 2, 1) == 0 else "fine"


def _bar(piece: Piece, step: int) -> tuple[int, int]:
    """The bar holding ``step``, as ``(start, end)`` steps; the pickup is the bar ``(0, pickup)``."""
    if step < piece.pickup_steps:
        return 0, piece.pickup_steps
    k = (step - piece.pickup_steps) // piece.bar_steps
    start = piece.pickup_steps + k * piece.bar_steps
    return start, start + piece.bar_steps


def _perform(piece: Piece, notes: list[Note], kind: str, amount: float, rng: np.random.Generator, scale: int,
             end: int, ticks_per_ms: float) -> list[Note]:
    """The notes of one track, humanized and moved to the fine grid (``scale`` ticks per step)."""
    spread = amount * SPREAD_MS[kind] * ticks_per_ms  # onset standard deviation in ticks, before the position
    by_onset: dict[int, list[Note]] = {}
    for n in sorted(notes):
        by_onset.setdefault(n.start_steps, []).append(n)
    out: list[Note] = []
    for onset, group in by_onset.items():
        where = _position(piece, onset)
        sd = spread * POSITION_FACTOR[where]
        shared = float(np.clip(rng.normal(0.0, sd), -CUT_SD * sd, CUT_SD * sd)) if sd > 0 else 0.0
        group = sorted(group, key=lambda n: n.pitch)
        roll = amount * ROLL_MS * ticks_per_ms if kind == "chords" and len(group) > 1 else 0.0
        if kind != "chords":  # one deviation per note: a melody's double stops are not a rolled chord
            deviations = [shared] + [float(np.clip(rng.normal(0.0, sd), -CUT_SD * sd, CUT_SD * sd)) if sd > 0
                                     else 0.0 for _ in group[1:]]
        else:
            deviations = [shared + k * roll for k in range(len(group))]
        bar_start, bar_end = (b * scale for b in _bar(piece, onset))
        for n, dev in zip(group, deviations):
            start = min(max(round(n.start_steps * scale + dev), bar_start), bar_end - 1)
            stop_sd = sd / 2
            stop_dev = float(np.clip(rng.normal(0.0, stop_sd), -CUT_SD * stop_sd, CUT_SD * stop_sd)) if sd > 0 else 0.0
            stop = round(n.end_steps * scale + stop_dev)
            if n.end_steps * scale <= bar_end:  # a note that ended by the bar line still does
                stop = min(stop, bar_end)
            stop = min(max(stop, start + 1), end)
            if stop <= start:  # only at the very end of the piece
                continue
            accent = amount * VELOCITY_ACCENT[where] + rng.normal(0.0, amount * VELOCITY_SPREAD[kind])
            velocity = int(np.clip(round(n.velocity + accent), 1, 127))
            out.append(Note(start, stop - start, n.pitch, velocity))
    return sorted(out)
