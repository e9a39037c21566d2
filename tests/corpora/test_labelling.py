"""Chord labelling on hand-built voicings, key helpers, the JSB reader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from melodygan.chords import key_of_chords, parse_chord_symbol
from melodygan.corpora.jsb import read_jsb, steps_to_notes
from melodygan.corpora.labelling import (
    label_chords,
    label_chords_with_confidence,
    label_windows,
)
from melodygan.errors import MelodyganError
from melodygan.keys import Key, semitones_to_c
from melodygan.notes import Note
from melodygan.piece import Piece


def _block(pitches: list[int], start: int, dur: int) -> list[Note]:
    return [Note(start, dur, p) for p in pitches]


def test_per_beat_block_chords() -> None:
    # I - IV - V7 - vi in C, one chord per beat (4 steps), four voices.
    notes = (_block([48, 64, 67, 72], 0, 4) + _block([53, 65, 69, 72], 4, 4)
             + _block([43, 65, 67, 71], 8, 4) + _block([45, 64, 69, 72], 12, 4))
    piece = Piece(melody=[n for n in notes if n.pitch >= 71], voices={"Low": [n for n in notes if n.pitch < 71]})
    chords, conf = label_chords_with_confidence(piece, per="beat")
    assert [(c.symbol(), c.start_steps, c.duration_steps) for c in chords] == [
        ("C", 0, 4), ("F", 4, 4), ("G7", 8, 4), ("Am", 12, 4)]
    assert conf == pytest.approx([1.0, 1.0, 1.0, 1.0])


def test_per_bar_passing_notes_lower_confidence_and_merge() -> None:
    # Bar 1: C major arpeggio with a passing D; bar 2 the same → one chord over two bars.
    bar = [Note(0, 4, 60), Note(4, 2, 62), Note(6, 2, 64), Note(8, 8, 67)]
    melody = bar + [n.shifted(16) for n in bar]
    chords, conf = label_chords_with_confidence(Piece(melody=melody), per="bar")
    assert [(c.symbol(), c.start_steps, c.duration_steps) for c in chords] == [("C", 0, 32)]
    # D sounds 2 of 16 steps per bar; the lowest note (C, 4 steps) counts half again: 16 of 18 explained.
    assert conf[0] == pytest.approx(16 / 18)


def test_relative_chords() -> None:
    # A C E G: the simpler, more common reading (Am7) wins over C6.
    am7 = Piece(melody=_block([57, 60, 64, 67], 0, 16))
    assert label_chords(am7, per="bar").chords[0].symbol() == "Am7"
    # E G with C in the bass is C major; the same E G over an A bass is A minor.
    assert label_chords(Piece(melody=_block([48, 64, 67], 0, 16)), per="bar").chords[0].symbol() == "C"
    assert label_chords(Piece(melody=_block([45, 64, 72], 0, 16)), per="bar").chords[0].symbol() == "Am"


def test_silence_gets_no_chord_and_windows_follow_the_pickup() -> None:
    piece = Piece(melody=[Note(0, 4, 67), Note(20, 4, 60)], pickup_steps=4, time_signature=(4, 4))
    assert label_windows(piece, "bar")[:2] == [(0, 4), (4, 20)]
    chords = label_chords(piece, per="beat").chords
    assert [c.start_steps for c in chords] == [0, 20]
    with pytest.raises(ValueError, match="per must be"):
        label_windows(piece, "half")


def test_semitones_to_c_and_key_of_chords() -> None:
    assert [semitones_to_c(t) for t in (0, 2, 5, 6, 7, 11)] == [0, -2, -5, 6, 5, 1]
    progression = [parse_chord_symbol(s, 4 * i, 4) for i, s in enumerate(["G", "C", "D7", "G"])]
    assert key_of_chords(progression) == Key(7, "major")


def test_jsb_reader(tmp_path: Path) -> None:
    chorale = [[72, 67, 64, 48]] * 4 + [[71, 67, 62, 43]] * 4 + [[-1, -1, -1, -1]] * 2 + [[72, 67, 64, 48]] * 6
    data = {"train": [chorale, chorale], "valid": [chorale], "test": []}
    f = tmp_path / "jsb.json"
    f.write_text(json.dumps(data))
    splits = read_jsb(f)
    assert {k: len(v) for k, v in splits.items()} == {"train": 2, "valid": 1, "test": 0}
    p = splits["valid"][0]
    assert p.melody_name == "Soprano" and list(p.voices) == ["Alto", "Tenor", "Bass"]
    assert [(n.start_steps, n.duration_steps, n.pitch) for n in p.melody] == [(0, 4, 72), (4, 4, 71), (10, 6, 72)]
    # the beat window 8-12 holds two silent steps and a C chord
    assert [(c.symbol(), c.start_steps) for c in p.chords] == [("C", 0), ("G", 4), ("C", 8)]
    assert p.key == Key(0, "major") and p.length_steps == 16
    assert steps_to_notes([60, 60, -1, 60]) == [Note(0, 2, 60), Note(3, 1, 60)]
    f.write_text('{"train": [[[1, 2]]], "valid": [], "test": []}')
    with pytest.raises(MelodyganError, match="4"):
        read_jsb(f)


def test_batch_labelling_matches_label_chord() -> None:
    import numpy as np

    from melodygan.chords import label_chord
    from melodygan.corpora.labelling import label_chord_batch

    rng = np.random.default_rng(0)
    weights = np.zeros((400, 12), dtype=np.float32)
    for row in weights:
        k = int(rng.integers(1, 7))
        row[rng.choice(12, k, replace=False)] = rng.integers(1, 17, k)
        row[rng.integers(12)] += 0.5 * rng.integers(0, 9)  # a bass weight, as in window_weights
    for qualities in (None, ("maj", "min")):
        got = label_chord_batch(weights, qualities)
        want = [label_chord(w, qualities) for w in weights]
        assert [(c.index, conf) for c, conf in got] == [(c.index, conf) for c, conf in want]


def test_labelled_rows_are_the_labelled_chords_of_the_piece() -> None:
    import random

    import numpy as np

    from melodygan.corpora.labelling import label_chord_rows, label_windows, window_weights
    from melodygan.piece_arrays import PieceArrays, chord_rows

    for seed in range(150):
        r = random.Random(seed)
        melody = sorted({Note(r.randint(0, 90), r.choice([1, 2, 3, 4, 8, 24]), r.randint(50, 80))
                         for _ in range(r.randint(0, 40))})
        bass = [Note(r.randint(0, 90), r.choice([4, 16, 40]), r.randint(30, 50)) for _ in range(r.randint(0, 8))]
        piece = Piece(melody=melody, voices={"Bass": bass}, time_signature=r.choice([(4, 4), (6, 8), (3, 4)]),
                      pickup_steps=r.choice([0, 2]))
        rows = PieceArrays.from_piece(piece)
        for per in ("beat", "bar"):
            assert np.array_equal(label_chord_rows(rows, per), chord_rows(label_chords(piece, per).chords)), seed
        # the weights, summed note by note and window by window
        windows = label_windows(piece, "beat")
        notes = piece.all_notes()
        want = np.zeros((len(windows), 12), dtype=np.float32)
        for k, (a, b) in enumerate(windows):
            sounding = [(min(n.end_steps, b) - max(n.start_steps, a), n.pitch) for n in notes
                        if n.start_steps < b and n.end_steps > a]
            for overlap, pitch in sounding:
                want[k, pitch % 12] += overlap
            if sounding:
                overlap, pitch = min(sounding, key=lambda x: x[1])
                want[k, pitch % 12] += 0.5 * overlap
        got = window_weights(rows.notes[:, 1], rows.notes[:, 1] + rows.notes[:, 2], rows.notes[:, 3], windows)
        assert np.array_equal(got, want), seed
