"""Accompaniment: chord tones only, smooth voice leading in the middle register, patterns on the
meter's beats, bass lines, dynamics."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from melodygan.chords import parse_chord_symbol
from melodygan.engines.arrange import (
    BASS_HIGH,
    BASS_LOW,
    CHORD_HIGH,
    CHORD_LOW,
    STYLES,
    arrange,
    choose_voicing,
)
from melodygan.errors import MelodyganError
from melodygan.formats.midi import midi_to_piece, write_midi
from melodygan.notes import Note
from melodygan.piece import Piece, add_dynamics, chords_from_changes


def sheet(symbols: list[str], time_signature: tuple[int, int] = (4, 4), pickup: int = 0,
          melody_pitch: int = 74) -> Piece:
    """One chord per bar under a melody of quarter notes."""
    probe = Piece(time_signature=time_signature)
    bar = probe.bar_steps
    end = pickup + bar * len(symbols)
    chords = chords_from_changes([(pickup + i * bar, parse_chord_symbol(s)) for i, s in enumerate(symbols)], end)
    melody = [Note(t, 4, melody_pitch) for t in range(0, end, 4)]
    return Piece(melody=melody, chords=chords, time_signature=time_signature, pickup_steps=pickup)


@pytest.mark.parametrize("style", STYLES)
def test_every_style_plays_only_chord_tones_in_register(style: str) -> None:
    piece = sheet(["C", "Am", "Dm7", "G7", "C"])
    out = arrange(piece, style, "walking")
    notes = out.voices["Chords"]
    assert notes, style
    for n in notes:
        chord = piece.chord_at(n.start_steps)
        assert chord is not None and n.pitch % 12 in chord.pitch_classes
        assert CHORD_LOW <= n.pitch <= CHORD_HIGH
        assert n.end_steps <= chord.end_steps  # nothing rings into the next chord
    assert out.melody == piece.melody and out.chords == piece.chords
    assert out.end_steps == piece.end_steps


def test_voice_leading_is_smooth() -> None:
    # I-vi-IV-V-I in C: each chord is reachable by moving the voices at most a few semitones.
    piece = sheet(["C", "Am", "F", "G", "C"])
    notes = arrange(piece, "sustained").voices["Chords"]
    voicings = [tuple(sorted(n.pitch for n in notes if n.start_steps == t)) for t in range(0, 80, 16)]
    moves = [sum(abs(a - b) for a, b in zip(v, w)) for v, w in itertools.pairwise(voicings)]
    assert max(moves) <= 6, voicings  # F -> G needs 6 (A-C-F to G-B-D or B-D-G)
    assert all(52 <= sum(v) / len(v) <= 68 for v in voicings)  # around middle C


def test_voicing_stays_under_a_low_melody() -> None:
    v = choose_voicing((0, 4, 7), None, melody_floor=64)
    assert max(v) <= 64


def test_waltz_leaves_beat_one_to_the_bass_in_three_four_and_six_eight() -> None:
    p34 = sheet(["C", "G7"], (3, 4))
    out = arrange(p34, "waltz", "root")
    chord_onsets = {n.start_steps for n in out.voices["Chords"]}
    assert chord_onsets == {4, 8, 16, 20}
    assert [(n.start_steps, n.pitch % 12) for n in out.voices["Bass"]] == [(0, 0), (12, 7)]
    p68 = sheet(["D", "A7"], (6, 8))
    onsets = sorted({n.start_steps for n in arrange(p68, "waltz").voices["Chords"]})
    assert onsets == [2, 4, 8, 10, 14, 16, 20, 22]  # the 2nd and 3rd eighth of each dotted-quarter beat


def test_patterns_follow_a_pickup() -> None:
    piece = sheet(["F", "C"], (4, 4), pickup=4)
    onsets = sorted({n.start_steps for n in arrange(piece, "block").voices["Chords"]})
    assert onsets == list(range(4, 36, 4))


def test_walking_bass_one_note_per_beat_with_chromatic_approach() -> None:
    piece = sheet(["C", "F", "G7", "C"])
    bass = arrange(piece, "block", "walking").voices["Bass"]
    assert [n.start_steps for n in bass] == list(range(0, 64, 4))
    for bar_start, next_root in ((0, 5), (16, 7), (32, 0)):
        first = next(n for n in bass if n.start_steps == bar_start)
        assert first.pitch % 12 == (0, 5, 7, 0)[bar_start // 16]
        last = next(n for n in bass if n.start_steps == bar_start + 12)
        nxt = next(n for n in bass if n.start_steps == bar_start + 16)
        assert nxt.pitch % 12 == next_root and abs(last.pitch - nxt.pitch) == 1
    assert all(BASS_LOW <= n.pitch <= BASS_HIGH for n in bass)


def test_root_fifth_and_slash_bass() -> None:
    piece = sheet(["C", "G/B"])
    bass = arrange(piece, "block", "root-fifth").voices["Bass"]
    assert [(n.start_steps, n.pitch % 12) for n in bass] == [(0, 0), (8, 7), (16, 11), (24, 2)]


def test_accents_on_strong_beats_and_dynamics_idempotent() -> None:
    out = arrange(sheet(["C", "F"]), "block")
    vel = {n.start_steps: n.velocity for n in out.voices["Chords"]}
    assert vel[0] > vel[8] > vel[4] and vel[4] == vel[12]
    flat = sheet(["C"])
    shaped = add_dynamics(flat)
    assert shaped.melody[0].velocity > shaped.melody[1].velocity
    assert add_dynamics(shaped) == shaped


def test_same_input_same_arrangement_and_midi_round_trip(tmp_path: Path) -> None:
    piece = sheet(["Am", "Dm", "E7", "Am"], (3, 4))
    a, b = arrange(piece, "alberti", "walking"), arrange(piece, "alberti", "walking")
    assert a == b
    back = midi_to_piece(write_midi(a, tmp_path / "a.mid"))
    assert back.voices == a.voices and back.chords == a.chords


def test_errors_name_the_bad_value() -> None:
    with pytest.raises(MelodyganError, match=r"'tango'.*block"):
        arrange(sheet(["C"]), "tango")
    with pytest.raises(MelodyganError, match="'slap'"):
        arrange(sheet(["C"]), "block", "slap")
    with pytest.raises(MelodyganError, match="no chord symbols"):
        arrange(Piece(melody=[Note(0, 4, 60)]))


def test_a_chorale_keeps_its_own_bass_and_arranging_twice_replaces() -> None:
    chords = chords_from_changes([(0, parse_chord_symbol("C"))], 16)
    satb = Piece(melody=[Note(0, 16, 72)], melody_name="Soprano", chords=chords,
                 voices={"Alto": [Note(0, 16, 67)], "Tenor": [Note(0, 16, 64)], "Bass": [Note(0, 16, 48)]})
    out = arrange(satb, "block", "root")
    assert out.voices["Bass"] == satb.voices["Bass"]
    assert list(out.voices) == ["Alto", "Tenor", "Bass", "Chords", "Bass line"]
    assert out.programs["Bass line"] == 32
    lead = sheet(["C", "G"])
    once = arrange(lead, "block", "root")
    twice = arrange(once, "arpeggio", "walking")
    assert list(twice.voices) == ["Chords", "Bass"] and twice.voices == arrange(lead, "arpeggio", "walking").voices
