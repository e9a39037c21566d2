"""Core types: notes, chords and their spelling, keys, Piece grid, piano-roll round trips."""

import numpy as np
import pytest

from melodygan.chords import (
    NUM_CHORD_CLASSES,
    Chord,
    chord_from_index,
    label_chord,
    parse_chord_symbol,
)
from melodygan.keys import Key, estimate_key
from melodygan.notes import Note, is_monophonic, skyline
from melodygan.pianoroll import (
    chords_to_labels,
    chords_to_pitch_classes,
    labels_to_chords,
    notes_to_roll,
    roll_to_notes,
)
from melodygan.piece import Piece, chords_from_changes


@pytest.mark.parametrize(
    ("text", "root", "quality", "bass"),
    [
        ("C", 0, "maj", None), ("Am", 9, "min", None), ("F#m7", 6, "min7", None),
        ("Bb7", 10, "dom7", None), ("Gd", 7, "dim", None), ("Ea", 4, "aug", None),
        ("Fa7", 5, "aug7", None), ("D/f+", 2, "maj", 6), ("Gm/bb", 7, "min", 10),
        ("(E7)", 4, "dom7", None), ("Bm7b5", 11, "hdim7", None), ("C#dim7", 1, "dim7", None),
        ("Ebd", 3, "dim", None), ("Cmaj7", 0, "maj7", None), ("Dsus4", 2, "sus4", None),
        ("C6", 0, "maj6", None), ("Dm6", 2, "min6", None), ("E7b9", 4, "dom7", None),
        ("C+7", 0, "aug7", None), ("A7/c+", 9, "dom7", 1),
    ],
)
def test_parse_chord_symbol(text, root, quality, bass):
    c = parse_chord_symbol(text)
    assert (c.root, c.quality, c.bass) == (root, quality, bass)


def test_nottingham_slash_bass_adds_its_pitch_class():
    assert parse_chord_symbol("D/f+").pitch_classes == (2, 6, 9)
    assert parse_chord_symbol("Gm/bb").pitch_classes == (2, 7, 10)
    assert parse_chord_symbol("C/e").pitch_classes == (0, 4, 7)
    assert parse_chord_symbol("Am/g").pitch_classes == (0, 4, 7, 9)


@pytest.mark.parametrize("bad", ["", " ", "hello", "H7", "Cxyz", "C/zz"])
def test_parse_rejects_non_chords(bad):
    with pytest.raises(ValueError):
        parse_chord_symbol(bad)


def test_every_vocabulary_chord_spells_and_parses_back():
    for i in range(NUM_CHORD_CLASSES):
        c = chord_from_index(i)
        assert parse_chord_symbol(c.symbol()).index == i
        assert parse_chord_symbol(c.symbol(flats=False)).index == i
        assert parse_chord_symbol(c.symbol(flats=True)).index == i


def test_symbol_spelling():
    assert Chord(6, "min7").symbol() == "F#m7"
    assert Chord(10, "maj", bass=2).symbol() == "Bb/D"
    assert Chord(None, "N").symbol() == "N.C."
    assert Chord(11, "hdim7").symbol() == "Bm7b5"


def test_chords_are_spelled_as_their_key_spells_them():
    a_major, c_sharp_minor, a_flat = Key.parse("A"), Key.parse("C#m"), Key.parse("Ab")
    assert [Chord(r, q).symbol(key=a_major) for r, q in [(9, "maj"), (1, "min"), (6, "min"), (4, "dom7"),
                                                          (8, "dim")]] == ["A", "C#m", "F#m", "E7", "G#dim"]
    assert [Chord(r, q).symbol(key=c_sharp_minor) for r, q in [(1, "min"), (8, "min"), (1, "dom7")]] == [
        "C#m", "G#m", "C#7"]
    assert Chord(1, "maj", bass=8).symbol(key=a_flat) == "Db/Ab"
    assert Chord(10, "maj").symbol(key=a_major) == "Bb"  # outside the scale: the common name


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ({0: 4, 4: 4, 7: 4}, "C"),
        ({9: 4, 0: 4, 4: 4}, "Am"),
        ({7: 4, 11: 2, 2: 2, 5: 2}, "G7"),
        ({11: 3, 2: 3, 5: 3}, "Bdim"),
        ({2: 6, 6: 2, 9: 2, 4: 1}, "D"),  # a passing E does not change the chord
    ],
)
def test_label_chord_templates(weights, expected):
    w = np.zeros(12)
    for pc, v in weights.items():
        w[pc] = v
    chord, confidence = label_chord(w)
    assert chord.symbol() == expected
    assert 0.5 < confidence <= 1.0


def test_label_silence_is_no_chord():
    chord, confidence = label_chord(np.zeros(12))
    assert chord.is_no_chord and confidence == 0.0


def test_key_parse_and_signature():
    assert Key.parse("G") == Key(7, "major") and Key.parse("G").sharps == 1
    assert Key.parse("F#m") == Key(6, "minor") and Key.parse("F#m").sharps == 3
    assert Key.parse("Bb major").sharps == -2
    assert Key.parse("e minor").name == "Em"
    with pytest.raises(ValueError, match="not a key"):
        Key.parse("H#")


def test_estimate_key_of_a_scale():
    g_major = [Note(i * 4, 4, 67 + s) for i, s in enumerate([0, 2, 4, 5, 7, 9, 11, 12, 7, 0])]
    key, r = estimate_key(g_major)
    assert key == Key(7, "major") and r > 0.5


def test_roll_round_trip_keeps_repeated_notes():
    notes = [Note(0, 4, 60), Note(4, 4, 60), Note(8, 2, 62), Note(12, 4, 64), Note(12, 2, 67)]
    roll = notes_to_roll(notes, 16)
    assert roll.shape == (2, 16, 128)
    assert roll[0, :8, 60].tolist() == [1] * 8
    assert roll[1, :8, 60].tolist() == [1, 0, 0, 0, 1, 0, 0, 0]
    assert roll_to_notes(roll) == sorted(notes)


def test_roll_pitch_window_and_strictness():
    notes = [Note(0, 2, 40)]
    with pytest.raises(ValueError, match="outside roll range"):
        notes_to_roll(notes, 4, pitch_low=48, num_pitches=24)
    assert notes_to_roll(notes, 4, pitch_low=48, num_pitches=24, strict=False).sum() == 0
    assert roll_to_notes(notes_to_roll(notes, 4, pitch_low=36, num_pitches=12), pitch_low=36) == notes


def test_chord_labels_round_trip():
    chords = [Chord(0, "maj", 0, 8), Chord(7, "dom7", 8, 4), Chord(9, "min", 12, 4)]
    labels = chords_to_labels(chords, 16)
    assert labels_to_chords(labels) == chords
    pcs = chords_to_pitch_classes(chords, 16)
    assert pcs.shape == (16, 12) and pcs[9].nonzero()[0].tolist() == [2, 5, 7, 11]


def test_piece_grid():
    p = Piece(melody=[Note(0, 2, 67), Note(2, 12, 72)], time_signature=(3, 4), pickup_steps=2)
    assert p.bar_steps == 12 and p.beat_steps == 4
    assert p.end_steps == 14 and p.num_bars == 1
    six_eight = Piece(time_signature=(6, 8))
    assert six_eight.bar_steps == 12 and six_eight.beat_steps == 6
    with pytest.raises(ValueError, match="time signature"):
        Piece(time_signature=(4, 3))


def test_piece_transpose_and_chord_at():
    p = Piece(melody=[Note(0, 4, 60)], chords=[Chord(0, "maj", 0, 8), Chord(7, "maj", 8, 8)], key=Key(0))
    t = p.transposed(2)
    assert t.melody[0].pitch == 62 and t.key == Key(2) and t.chords[1].symbol() == "A"
    assert p.chord_at(9).symbol() == "G" and p.chord_at(0).symbol() == "C"


def test_chords_from_changes_merges_repeats():
    c, g = parse_chord_symbol("C"), parse_chord_symbol("G")
    out = chords_from_changes([(0, c), (4, c), (8, g)], 16)
    assert [(x.symbol(), x.start_steps, x.duration_steps) for x in out] == [("C", 0, 8), ("G", 8, 8)]


def test_skyline_keeps_highest():
    notes = [Note(0, 8, 60), Note(0, 4, 64), Note(4, 4, 67), Note(2, 2, 55)]
    line = skyline(notes)
    assert is_monophonic(line)
    assert [(n.start_steps, n.duration_steps, n.pitch) for n in line] == [(0, 4, 64), (4, 4, 67)]
