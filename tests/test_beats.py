"""Beat frames on hand-built pieces: pickup padding, downbeats, labels per beat, chords back, features."""

from __future__ import annotations

import numpy as np
import pytest

from melodygan.beats import (
    NUM_FEATURES,
    absolute_label,
    beat_features,
    choose_key,
    chords_of,
    feature_slice,
    relative_label,
    rotate,
    song_from_piece,
)
from melodygan.chords import parse_chord_symbol
from melodygan.keys import Key
from melodygan.notes import Note
from melodygan.piece import Piece, chords_from_changes


def _piece(pickup: int = 0) -> Piece:
    melody = [Note(pickup + 4 * i, 4, p) for i, p in enumerate([60, 64, 67, 64, 65, 69, 72, 69])]
    if pickup:
        melody = [Note(0, pickup, 55), *melody]
    chords = chords_from_changes([(pickup, parse_chord_symbol("C")), (pickup + 16, parse_chord_symbol("F"))],
                                 pickup + 32)
    return Piece(melody=melody, chords=chords, key=Key(0, "major"), pickup_steps=pickup)


def test_beats_without_pickup() -> None:
    song = song_from_piece(_piece())
    assert song.num_beats == 8 and song.offset_steps == 0
    assert song.downbeat.tolist() == [True, False, False, False] * 2
    c, f = parse_chord_symbol("C").index, parse_chord_symbol("F").index
    assert song.chords.tolist() == [c] * 4 + [f] * 4


def test_an_eighth_note_pickup_is_padded_to_a_beat() -> None:
    song = song_from_piece(_piece(pickup=2))
    assert song.offset_steps == 2 and song.num_beats == 9  # one pickup beat, then two bars
    assert song.downbeat.tolist() == [False] + [True, False, False, False] * 2
    assert song.notes[0].start_steps == 2 and song.chords[0] == 0  # the pickup has no human chord
    back = chords_of(song, song.chords, 34)
    assert [(c.start_steps, c.symbol()) for c in back] == [(2, "C"), (18, "F")]
    assert back[-1].end_steps == 34


def test_labels_relative_and_back() -> None:
    g7 = parse_chord_symbol("G7").index
    rel = relative_label(np.array([0, g7]), 7)
    assert rel[0] == 0 and rel[1] == parse_chord_symbol("C7").index
    assert absolute_label(rel, 7).tolist() == [0, g7]


def test_features_and_rotation() -> None:
    song = song_from_piece(_piece())
    x = beat_features(song, tonic=0, minor=False)
    assert x.shape == (8, NUM_FEATURES) and x.dtype == np.float32
    dur = x[:, feature_slice("dur_pc")]
    assert dur[0, 0] == 1.0 and dur[1, 4] == 1.0 and dur.sum() == pytest.approx(8.0)
    assert x[:, feature_slice("beat_in_bar")].argmax(1).tolist() == [0, 1, 2, 3] * 2
    assert x[-1, feature_slice("to_end").start] == 1.0
    moved, labels = rotate(x, relative_label(song.chords, 0), 2)
    assert moved[0, feature_slice("dur_pc")].argmax() == 2
    assert labels[0] == parse_chord_symbol("D").index
    # the same tune in D, encoded relative to D, gives the same features
    in_d = song_from_piece(_piece().transposed(2).replace(key=Key(2, "major")))
    assert np.array_equal(beat_features(in_d, 2, False)[:, :60], x[:, :60])


def test_key_choice_weighs_the_written_key() -> None:
    f_tune = [Note(4 * i, 4, p) for i, p in enumerate([65, 69, 72, 70, 69, 67, 65, 65])]  # F A C Bb A G F F
    assert choose_key(f_tune, Key(0, "major")) == Key(5, "major")  # written "no sharps or flats"
    c_tune = [Note(4 * i, 4, p) for i, p in enumerate([60, 64, 67, 65, 64, 62, 60, 60])]
    assert choose_key(c_tune, Key(0, "major")) == Key(0, "major")
