"""Keys: the key of a chord progression, the written key against the notes' estimate, and how a
melody note is spelled in a key."""

from __future__ import annotations

import pytest

from melodygan.beats import choose_key
from melodygan.chords import Chord, key_of_chords
from melodygan.engines.generate import parse_progression
from melodygan.keys import Key, estimate_key, pitch_spelling, spell_flats
from melodygan.notes import Note


def _key(progression: str, bars: int = 8) -> str:
    return key_of_chords(parse_progression(progression, bars, 16, 4)).name


@pytest.mark.parametrize("progression, key", [
    ("Dm7 G7 Cmaj7 A7", "C"),  # ii-V-I(-VI7) in C; chord tones alone point to G or D minor
    ("Am Dm E7", "Am"),  # i-iv-V with the raised leading tone
    ("Am Dm E", "Am"),
    ("D A Bm G", "D"),  # pop I-V-vi-IV: every chord is in B minor too
    ("G C D7 G", "G"),
    ("Gm Cm D7 Gm", "Gm"),
    ("Bb Gm Cm F7", "Bb"),
    ("C7 C7 C7 C7 F7 F7 C7 C7 G7 F7 C7 G7", "C"),  # a twelve-bar blues in C, not F
])
def test_key_of_a_progression(progression: str, key: str) -> None:
    assert _key(progression, bars=12) == key


def test_key_of_the_four_bar_progressions_without_repetition() -> None:
    assert _key("Dm7 G7 Cmaj7 A7", bars=4) == "C"
    assert _key("Am Dm E", bars=3) == "Am"
    assert _key("D A Bm G", bars=4) == "D"
    assert key_of_chords([]) == Key(0, "major")
    assert key_of_chords([Chord(None, "N", 0, 16)]) == Key(0, "major")


def test_a_melody_between_f_and_d_minor_keeps_its_f_signature() -> None:
    # D-heavy, with C# and B natural as chromatic notes, ending on A: D minor to the key profile
    pitches = [62, 65, 69, 62, 61, 62, 64, 65, 67, 69, 70, 69, 71, 69, 65, 62, 61, 62, 65, 69]
    melody = [Note(4 * i, 4, p) for i, p in enumerate(pitches)]
    assert estimate_key(melody)[0] == Key(2, "minor")
    assert choose_key(melody, Key(5, "major")) == Key(5, "major")  # the file's F wins
    assert choose_key(melody, None) == Key(2, "minor")  # without a written key: the estimate


def test_the_notes_overrule_a_written_key_they_clearly_contradict() -> None:
    f_tune = [Note(4 * i, 4, p) for i, p in enumerate([65, 69, 72, 70, 69, 67, 65, 65])]  # F A C Bb A G F F
    assert choose_key(f_tune, Key(0, "major")) == Key(5, "major")  # B-flats: not C
    # a tune written in F without a B-flat, one passing B natural: C fits 6 points better, not 10
    f_passing = [Note(4 * i, 4, p) for i, p in enumerate([72, 67, 64, 65, 67, 69, 71, 72,
                                                           69, 67, 65, 64, 62, 64, 65, 67])]
    assert estimate_key(f_passing)[0] != Key(5, "major")
    assert choose_key(f_passing, Key(5, "major")) == Key(5, "major")
    # a minor tune in a file whose signature says C major: ends on A, leans on G#
    a_minor = [Note(4 * i, 4, p) for i, p in enumerate([69, 72, 71, 68, 69, 64, 65, 68, 71, 69])]
    assert choose_key(a_minor, Key(0, "major")) == Key(9, "minor")


@pytest.mark.parametrize("key, pitch_classes, names", [
    ("A", [8, 9, 8, 10, 3], ["G#", "A", "G#", "A#", "D#"]),
    ("Am", [8, 9, 8, 6, 3, 10], ["G#", "A", "G#", "F#", "D#", "Bb"]),
    ("C", [6, 1, 3, 8, 10], ["F#", "C#", "Eb", "Ab", "Bb"]),
    ("C#m", [0, 10, 8], ["B#", "A#", "G#"]),
    ("F", [10, 11, 6], ["Bb", "B", "F#"]),
    ("Db", [11, 6, 1], ["Cb", "Gb", "Db"]),
    ("F#", [5, 6], ["E#", "F#"]),
])
def test_melody_notes_are_spelled_for_the_key(key: str, pitch_classes: list[int], names: list[str]) -> None:
    assert [pitch_spelling(pc, Key.parse(key)) for pc in pitch_classes] == names


def test_chord_roots_on_a_minor_keys_raised_degrees_are_sharps() -> None:
    assert Chord(8, "dim").symbol(key=Key.parse("Am")) == "G#dim"
    assert Chord(1, "dim7").symbol(key=Key.parse("Dm")) == "C#dim7"
    assert Chord(4, "maj", bass=8).symbol(key=Key.parse("Am")) == "E/G#"
    assert spell_flats(10, Key.parse("Dm")) is True  # Bb stays a flat
