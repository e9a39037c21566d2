"""Pieces as rows and notes as columns: the array versions give what the Note versions give (round
trips, skyline, monophony, sort order, key estimate), on notes built here."""

from __future__ import annotations

import random

import numpy as np
import pytest

from melodygan.chords import Chord, parse_chord_symbol
from melodygan.keys import Key, estimate_key, estimate_keys, pitch_class_histogram
from melodygan.notes import (
    Note,
    NoteColumns,
    is_monophonic,
    is_monophonic_columns,
    skyline,
    skyline_columns,
    stable_order,
)
from melodygan.piece import Piece
from melodygan.piece_arrays import PieceArrays


def _notes(r: random.Random, n: int) -> list[Note]:
    return sorted(Note(r.randint(0, 60), r.choice([1, 2, 4, 8, 16, 32]), r.randint(55, 75), r.randint(1, 127))
                  for _ in range(n))


def test_a_piece_and_its_rows_round_trip() -> None:
    piece = Piece(melody=[Note(0, 4, 67), Note(4, 2, 69, 100), Note(6, 10, 71)],
                  chords=[parse_chord_symbol("G", 0, 8), Chord(2, "dom7", 8, 8, bass=6)],
                  voices={"Bass": [Note(0, 16, 43)], "Empty": []}, key=Key(7, "major"), time_signature=(3, 4),
                  tempo_bpm=96.5, pickup_steps=4, length_steps=16, title="t", programs={"Bass": 33})
    rows = PieceArrays.from_piece(piece)
    assert rows.notes.tolist() == [[0, 0, 4, 67, 90], [0, 4, 2, 69, 100], [0, 6, 10, 71, 90], [1, 0, 16, 43, 90]]
    assert rows.chords.tolist() == [[0, 8, parse_chord_symbol("G").index, -1], [8, 8, Chord(2, "dom7").index, 6]]
    assert rows.tracks == ["Melody", "Bass", "Empty"] and rows.melody_count == 3
    assert (rows.end_steps, rows.content_end_steps, rows.bar_steps) == (piece.end_steps, 16, 12)
    assert rows.to_piece() == piece
    with pytest.raises(ValueError, match="pickup_steps"):
        PieceArrays(pickup_steps=16)  # the checks of a Piece


def test_skyline_and_monophony_on_columns_as_on_notes() -> None:
    for seed in range(2000):
        r = random.Random(seed)
        tracks = [_notes(r, r.randint(0, 30)) for _ in range(r.randint(1, 3))]
        cols = NoteColumns.from_notes([n for t in tracks for n in t])
        group = np.repeat(np.arange(len(tracks)), [len(t) for t in tracks])
        line, dur = skyline_columns(cols, group)
        got = [Note(int(cols.start_steps[i]), int(d), int(cols.pitch[i]), int(cols.velocity[i]))
               for i, d in zip(line, dur)]
        assert got == [n for t in tracks for n in skyline(t)], seed
        first = NoteColumns.from_notes(tracks[0])
        assert is_monophonic_columns(first) == is_monophonic(tracks[0])
        assert first.sorted().to_notes() == tracks[0]


def test_stable_order_is_lexsort() -> None:
    rng = np.random.default_rng(0)
    for size in (0, 1, 50, 3000):
        keys = [rng.integers(-5, 5, size), rng.integers(0, 1 << 40, size), rng.integers(0, 128, size)]
        assert np.array_equal(stable_order(*keys), np.lexsort(keys[::-1]))
        assert np.array_equal(stable_order(keys[0], (keys[2], 7)), np.lexsort((keys[2], keys[0])))


def test_keys_of_many_histograms_at_once() -> None:
    r = random.Random(3)
    sets = [[Note(0, r.randint(1, 8), r.randint(40, 90)) for _ in range(r.randint(0, 30))] for _ in range(300)]
    sets += [[Note(0, 4, 60 + 12 * k) for k in range(3)], [Note(0, 2, p) for p in range(60, 72)]]  # ties, flat
    keys = estimate_keys(np.stack([pitch_class_histogram(s) for s in sets]))
    assert keys == [estimate_key(s)[0] for s in sets]
