"""Piano rolls: notes ⇄ onset/sustain arrays, chords ⇄ per-step labels.

Layout (the one place it is written down):
    one track          ``(2, T, P)`` uint8 — channel 0 = sustain (1 while a note sounds),
                       channel 1 = onset (1 on a note's first step); ``T`` steps, ``P`` pitches
                       starting at ``pitch_low`` (pitch = pitch_low + column).
    several tracks     ``(N, 2, T, P)`` — tracks in the Piece's order (melody first).
    chords             ``(T,)`` int64 chord-vocabulary indices per step (0 = no chord, see
                       :mod:`melodygan.chords`), or ``(T, 12)`` float32 pitch-class rows.
    bar frames         ``(N, 2, S, P)`` float32 — a phrase cut into ``N`` bars, each padded to a
                       frame of ``S`` steps (16: a 4/4 bar); steps past the bar stay zero. The
                       GAN works in this frame so that one network serves every meter whose bar
                       fits. Chords in frames: ``(N, S, 12)``; the meter: ``(2, S)`` rows
                       (:func:`meter_rows`: inside the bar, beat starts).

The onset channel makes repeated notes survive a round trip: two quarter notes on the same pitch
are sustain ``1 1 1 1 1 1 1 1`` with onsets ``1 0 0 0 1 0 0 0``, where a plain roll would merge
them into one half note. ``roll_to_notes(notes_to_roll(x)) == x`` holds exactly for notes on the
grid and inside the pitch range, with one velocity.
"""

from __future__ import annotations

import numpy as np

from melodygan.chords import Chord, chord_from_index
from melodygan.errors import MelodyganError
from melodygan.notes import Note
from melodygan.piece import DEFAULT_STEPS_PER_QUARTER

SUSTAIN, ONSET = 0, 1


def notes_to_roll(notes: list[Note], length_steps: int, pitch_low: int = 0, num_pitches: int = 128,
                  strict: bool = True) -> np.ndarray:
    """Render notes to an onset/sustain roll.

    Args:
        notes: notes on the grid.
        length_steps: ``T``; notes are cut at the end.
        pitch_low: MIDI pitch of column 0.
        num_pitches: ``P``.
        strict: raise on notes outside the pitch range (else they are dropped).

    Returns:
        uint8 array ``(2, T, P)``.

    Raises:
        ValueError: a note outside ``pitch_low .. pitch_low + P - 1`` when ``strict``.
    """
    roll = np.zeros((2, length_steps, num_pitches), dtype=np.uint8)  # (2, T, P)
    count = len(notes)
    start = np.fromiter((n.start_steps for n in notes), dtype=np.int64, count=count)
    end = start + np.fromiter((n.duration_steps for n in notes), dtype=np.int64, count=count)
    col = np.fromiter((n.pitch for n in notes), dtype=np.int64, count=count) - pitch_low
    outside = (col < 0) | (col >= num_pitches)
    if strict and outside.any():
        pitch = int(col[outside][0]) + pitch_low
        raise ValueError(f"pitch {pitch} outside roll range {pitch_low}..{pitch_low + num_pitches - 1}")
    keep = ~outside & (start < length_steps)
    start, end, col = start[keep], np.minimum(end[keep], length_steps), col[keep]
    # every sounding cell: each note's start repeated over its length, plus 0, 1, 2, ... within it
    lengths = end - start
    within = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    roll[SUSTAIN, np.repeat(start, lengths) + within, np.repeat(col, lengths)] = 1
    roll[ONSET, start, col] = 1
    return roll


def roll_to_notes(roll: np.ndarray, pitch_low: int = 0, velocity: int = 90) -> list[Note]:
    """Inverse of :func:`notes_to_roll`.

    A note starts at every onset, and at a sustained step whose previous step was silent on that
    pitch (a sustain with no onset, as a model may emit); it ends at the next onset or silence.
    Onsets without sustain count as one-step notes.

    Args:
        roll: ``(2, T, P)`` (bool, int or float > 0.5 counts as on).
        pitch_low: MIDI pitch of column 0.
        velocity: velocity of every note.

    Returns:
        Notes sorted by (start, pitch).
    """
    on = np.asarray(roll) > 0.5
    sustain = on[SUSTAIN] | on[ONSET]  # (T, P)
    onset = on[ONSET]  # (T, P)
    length = sustain.shape[0]
    notes: list[Note] = []
    for col in np.flatnonzero(sustain.any(0)):
        s, o = sustain[:, col], onset[:, col]
        start = -1
        for t in range(length + 1):
            ends = t == length or not s[t] or o[t]
            if start >= 0 and ends:
                notes.append(Note(start, t - start, pitch_low + int(col), velocity))
                start = -1
            if t < length and s[t] and start < 0:
                start = t
    return sorted(notes)


def chords_to_labels(chords: list[Chord], length_steps: int) -> np.ndarray:
    """Per-step vocabulary indices, shape ``(T,)`` int64 (0 where no chord sounds)."""
    labels = np.zeros(length_steps, dtype=np.int64)
    for c in chords:
        labels[c.start_steps:min(c.end_steps, length_steps)] = c.index
    return labels


def labels_to_chords(labels: np.ndarray) -> list[Chord]:
    """Inverse of :func:`chords_to_labels`: runs of equal labels become chords (runs of 0 are dropped)."""
    out: list[Chord] = []
    labels = np.asarray(labels)
    start = 0
    for t in range(1, len(labels) + 1):
        if t == len(labels) or labels[t] != labels[start]:
            if labels[start] != 0:
                out.append(chord_from_index(int(labels[start]), start, t - start))
            start = t
    return out


def chords_to_pitch_classes(chords: list[Chord], length_steps: int) -> np.ndarray:
    """Per-step chord pitch classes, shape ``(T, 12)`` float32 (slash basses included)."""
    rows = np.zeros((length_steps, 12), dtype=np.float32)
    for c in chords:
        for pc in c.pitch_classes:
            rows[max(c.start_steps, 0):min(c.end_steps, length_steps), pc] = 1.0
    return rows


# --- bar frames -------------------------------------------------------------------------------
def meter_rows(time_signature: tuple[int, int], steps_per_bar: int = 16) -> np.ndarray:
    """Meter condition ``(2, steps_per_bar)`` float32: bar mask and beat starts.

    Raises:
        MelodyganError: when the bar does not fit the model's frame.
    """
    num, den = time_signature
    if den not in (1, 2, 4, 8, 16) or num < 1:
        raise MelodyganError(f"bad time signature {num}/{den}")
    bar = DEFAULT_STEPS_PER_QUARTER * 4 * num // den
    if (DEFAULT_STEPS_PER_QUARTER * 4 * num) % den or bar > steps_per_bar:
        raise MelodyganError(f"time signature {num}/{den} has a bar of {bar} sixteenths; the GAN handles bars "
                             f"of up to {steps_per_bar} (e.g. 2/4, 3/4, 4/4, 6/8)")
    beat = DEFAULT_STEPS_PER_QUARTER * 4 // den
    if den == 8 and num % 3 == 0 and num > 3:
        beat *= 3  # compound meter: dotted-quarter beats
    rows = np.zeros((2, steps_per_bar), dtype=np.float32)
    rows[0, :bar] = 1.0
    rows[1, 0:bar:beat] = 1.0
    return rows


def bar_steps_of(time_signature: tuple[int, int]) -> int:
    """Sixteenths in one bar of ``time_signature``."""
    num, den = time_signature
    return DEFAULT_STEPS_PER_QUARTER * 4 * num // den


def chords_to_bar_frames(chords: list[Chord], bars: int, bar_steps: int, steps_per_bar: int = 16) -> np.ndarray:
    """Chord pitch classes per step in the bar frame, ``(bars, steps_per_bar, 12)`` float32.

    Steps past ``bar_steps`` in each frame stay zero. Chord times are in steps from the start.
    """
    flat = chords_to_pitch_classes(chords, bars * bar_steps)  # (T, 12)
    out = np.zeros((bars, steps_per_bar, 12), dtype=np.float32)
    out[:, :bar_steps] = flat.reshape(bars, bar_steps, 12)
    return out


def frames_to_roll(frames: np.ndarray, bar_steps: int) -> np.ndarray:
    """Bar frames ``(N, 2, S, P)`` → one continuous roll ``(2, N * bar_steps, P)`` (padding dropped)."""
    n, c, _, p = frames.shape
    return frames[:, :, :bar_steps].transpose(1, 0, 2, 3).reshape(c, n * bar_steps, p)
