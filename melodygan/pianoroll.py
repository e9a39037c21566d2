"""Piano rolls: notes ⇄ onset/sustain arrays, chords ⇄ per-step labels.

Layout (the one place it is written down):
    one track          ``(2, T, P)`` uint8 — channel 0 = sustain (1 while a note sounds),
                       channel 1 = onset (1 on a note's first step); ``T`` steps, ``P`` pitches
                       starting at ``pitch_low`` (pitch = pitch_low + column).
    several tracks     ``(N, 2, T, P)`` — tracks in the Piece's order (melody first).
    chords             ``(T,)`` int64 chord-vocabulary indices per step (0 = no chord, see
                       :mod:`melodygan.chords`), or ``(T, 12)`` float32 pitch-class rows.

The onset channel makes repeated notes survive a round trip: two quarter notes on the same pitch
are sustain ``1 1 1 1 1 1 1 1`` with onsets ``1 0 0 0 1 0 0 0``, where a plain roll would merge
them into one half note. ``roll_to_notes(notes_to_roll(x)) == x`` holds exactly for notes on the
grid and inside the pitch range, with one velocity.
"""

from __future__ import annotations

import numpy as np

from melodygan.chords import Chord, chord_from_index
from melodygan.notes import Note

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
    for n in notes:
        col = n.pitch - pitch_low
        if not 0 <= col < num_pitches:
            if strict:
                raise ValueError(f"pitch {n.pitch} outside roll range {pitch_low}..{pitch_low + num_pitches - 1}")
            continue
        if n.start_steps >= length_steps:
            continue
        roll[SUSTAIN, n.start_steps:min(n.end_steps, length_steps), col] = 1
        roll[ONSET, n.start_steps, col] = 1
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
            rows[c.start_steps:min(c.end_steps, length_steps), pc] = 1.0
    return rows
