"""PieceArrays: a Piece held as integer rows, for corpus ingest that reads and writes arrays.

A corpus holds millions of notes; building a ``Note`` object for each, and a Piece around them,
is most of the time of preprocessing a song. The MIDI and POP909 readers can give a PieceArrays
instead (:func:`melodygan.formats.midi_arrays.midi_to_arrays`,
:func:`melodygan.corpora.pop909.read_song_arrays`), preprocessing writes its rows as they are
(:mod:`melodygan.corpora.preprocess`), and :meth:`PieceArrays.to_piece` builds the Piece where
one is needed: the one the Note path gives (:meth:`PieceArrays.from_piece` is the inverse).

Layout (every time in steps of the piece's grid)::

    notes   int64 (M, 5): track, start_steps, duration_steps, pitch, velocity; by track, each
            track's notes in the order of the Piece's list. Track 0 is the melody, then the
            voices in order (``tracks`` names them).
    chords  int64 (K, 4): start_steps, duration_steps, chord index (:mod:`melodygan.chords`, 0 =
            N.C.), slash bass pitch class (-1 = none); in the Piece's order.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from itertools import pairwise

import numpy as np

from melodygan.chords import Chord, chord_from_index
from melodygan.keys import Key
from melodygan.notes import NoteColumns, notes_from_arrays
from melodygan.piece import DEFAULT_STEPS_PER_QUARTER, Grid, Piece, check_grid

NOTE_COLUMNS = ("track", "start_steps", "duration_steps", "pitch", "velocity")
CHORD_COLUMNS = ("start_steps", "duration_steps", "chord_index", "bass_pc")


def chord_of_row(start: int, duration: int, index: int, bass: int) -> Chord:
    """The Chord of a chord row (see the module docstring)."""
    c = chord_from_index(int(index), int(start), int(duration))
    return c if bass < 0 or c.root is None or bass == c.root else Chord(c.root, c.quality, c.start_steps,
                                                                        c.duration_steps, int(bass))


def chord_rows(chords: list[Chord]) -> np.ndarray:
    """Chords as rows ``(K, 4)`` int64 (see the module docstring)."""
    rows = [(c.start_steps, c.duration_steps, c.index, -1 if c.bass is None else c.bass) for c in chords]
    return np.asarray(rows, dtype=np.int64).reshape(-1, 4)


def _empty(columns: int) -> np.ndarray:
    return np.zeros((0, columns), dtype=np.int64)


@dataclass(eq=False)
class PieceArrays(Grid):
    """A Piece as rows (see the module docstring); the other fields are the Piece's.

    Attributes:
        notes: ``(M, 5)`` int64 note rows.
        tracks: track names, the melody's first (a Piece's ``melody_name``, then its voices).
        chords: ``(K, 4)`` int64 chord rows.
    """

    notes: np.ndarray = field(default_factory=lambda: _empty(5))
    tracks: list[str] = field(default_factory=lambda: ["Melody"])
    chords: np.ndarray = field(default_factory=lambda: _empty(4))
    key: Key = field(default_factory=Key)
    time_signature: tuple[int, int] = (4, 4)
    tempo_bpm: float = 120.0
    steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER
    pickup_steps: int = 0
    length_steps: int | None = None
    title: str = ""
    programs: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_grid(self.time_signature, self.tempo_bpm, self.steps_per_quarter, self.pickup_steps)

    # --- grid: bar_steps, beat_steps, end_steps as Piece has them (Grid) ---------------------
    @property
    def content_end_steps(self) -> int:
        """End of the last note or chord (0 for an empty piece)."""
        ends = [int((self.notes[:, 1] + self.notes[:, 2]).max()) if len(self.notes) else 0,
                int((self.chords[:, 0] + self.chords[:, 1]).max()) if len(self.chords) else 0]
        return max(ends)

    # --- content --------------------------------------------------------------------------------
    @property
    def melody_name(self) -> str:
        return self.tracks[0]

    def track_notes(self, track: int) -> NoteColumns:
        """The notes of one track (0 = the melody) as columns, in the Piece's order."""
        lo, hi = np.searchsorted(self.notes[:, 0], [track, track + 1]).tolist()
        rows = self.notes[lo:hi]
        return NoteColumns(rows[:, 1], rows[:, 2], rows[:, 3], rows[:, 4])

    @property
    def melody_count(self) -> int:
        """Notes in the melody."""
        return int(np.searchsorted(self.notes[:, 0], 1))

    def with_chords(self, chords: np.ndarray) -> PieceArrays:
        """A copy with these chord rows (sorted by onset, as :meth:`melodygan.piece.Piece.with_chords`)."""
        rows = np.asarray(chords, dtype=np.int64).reshape(-1, 4)
        return replace(self, chords=rows[np.argsort(rows[:, 0], kind="stable")])

    # --- Piece ⇄ rows ---------------------------------------------------------------------------
    @classmethod
    def from_piece(cls, piece: Piece) -> PieceArrays:
        """The rows of a Piece (inverse of :meth:`to_piece`)."""
        tracks = [piece.melody, *piece.voices.values()]
        rows = [(t, n.start_steps, n.duration_steps, n.pitch, n.velocity) for t, notes in enumerate(tracks)
                for n in notes]
        return cls(np.asarray(rows, dtype=np.int64).reshape(-1, 5), [piece.melody_name, *piece.voices],
                   chord_rows(piece.chords), piece.key, piece.time_signature, piece.tempo_bpm,
                   piece.steps_per_quarter, piece.pickup_steps, piece.length_steps, piece.title,
                   dict(piece.programs))

    def to_piece(self) -> Piece:
        """The Piece (inverse of :meth:`from_piece`).

        Raises:
            ValueError: a note outside the ranges of :class:`melodygan.notes.Note`.
        """
        bounds = np.searchsorted(self.notes[:, 0], np.arange(len(self.tracks) + 1)).tolist()
        notes = [notes_from_arrays(*self.notes[lo:hi, 1:].T) for lo, hi in pairwise(bounds)]
        chords = [chord_of_row(*row) for row in self.chords.tolist()]
        return Piece(melody=notes[0], chords=chords, voices=dict(zip(self.tracks[1:], notes[1:])), key=self.key,
                     time_signature=self.time_signature, tempo_bpm=self.tempo_bpm,
                     steps_per_quarter=self.steps_per_quarter, pickup_steps=self.pickup_steps,
                     length_steps=self.length_steps, title=self.title, melody_name=self.tracks[0],
                     programs=dict(self.programs))


__all__ = ["CHORD_COLUMNS", "NOTE_COLUMNS", "PieceArrays", "chord_of_row", "chord_rows"]
