"""Notation in and out: repeats and endings played through, ABC triplets and grace notes counted,
a key signature without a mode, and melody notes spelled for the key (read back by music21)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from melodygan.formats.abc import first_abc_tune
from melodygan.formats.musicxml import write_musicxml
from melodygan.formats.notation import ScoreImportWarning
from melodygan.formats.readers import read_score
from melodygan.keys import Key
from melodygan.notes import Note
from melodygan.piece import Piece

music21 = pytest.importorskip("music21")


def _score_with_repeat_and_endings(path: Path) -> Path:
    """||: C | D | [1 E :|| [2 F | G ||  — played C D E C D F G."""
    from music21 import bar, key, meter, note, spanner, stream

    part = stream.Part()
    measures = []
    for i, name in enumerate(["C4", "D4", "E4", "F4", "G4"]):
        m = stream.Measure(number=i + 1)
        if i == 0:
            m.insert(0, meter.TimeSignature("4/4"))
            m.insert(0, key.Key("C"))
        m.append(note.Note(name, quarterLength=4))
        measures.append(m)
        part.append(m)
    measures[0].leftBarline = bar.Repeat(direction="start")
    measures[2].rightBarline = bar.Repeat(direction="end")
    part.insert(0, spanner.RepeatBracket(measures[2], number=1))
    part.insert(0, spanner.RepeatBracket(measures[3], number=2))
    stream.Score([part]).write("musicxml", fp=str(path))
    return path


def test_musicxml_repeats_and_endings_are_played_through(tmp_path: Path) -> None:
    path = _score_with_repeat_and_endings(tmp_path / "rep.musicxml")
    as_written = [n.pitch.midi for n in music21.converter.parse(str(path)).flatten().notes]
    assert as_written == [60, 62, 64, 65, 67]  # the file itself holds each bar once
    piece = read_score(path)
    assert [(n.start_steps, n.pitch) for n in piece.melody] == [
        (0, 60), (16, 62), (32, 64), (48, 60), (64, 62), (80, 65), (96, 67)]
    assert piece.end_steps == 112


def test_a_score_without_repeats_is_read_as_it_is(tmp_path: Path) -> None:
    from music21 import note, stream

    part = stream.Part([note.Note(p, quarterLength=1) for p in ("C4", "E4", "G4", "C5")])
    path = tmp_path / "plain.musicxml"
    stream.Score([part]).write("musicxml", fp=str(path))
    assert [n.pitch for n in read_score(path).melody] == [60, 64, 67, 72]


ABC = "X:1\nT:Trips\nM:2/4\nL:1/8\nK:D\n{g}A2 (3ABc | d2 {ag}f2 | (3d/e/f/ g3/2 a/ | d4 |]\n"


def test_abc_triplets_are_spread_over_their_beat_and_grace_notes_reported(tmp_path: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        piece = first_abc_tune(ABC, source="trips.abc")
    reports = [str(w.message) for w in caught if issubclass(w.category, ScoreImportWarning)]
    assert reports == ["trips.abc: Trips: 6 tuplet notes (triplets) fitted to the 16th grid, 1 of them merged "
                       "into the note before (too short for the grid); 3 grace notes dropped"]
    got = [(n.start_steps, n.duration_steps, n.pitch) for n in piece.melody]
    assert got == [
        (0, 4, 69),  # A2 (its grace note g dropped)
        (4, 1, 69), (5, 2, 71), (7, 1, 73),  # (3ABc: three notes on the beat, each on its own step
        (8, 4, 74), (12, 4, 78),  # d2 f2 (grace notes a g dropped)
        (16, 1, 74), (17, 1, 76),  # (3d/e/f/: two steps for three notes, f merged into e
        (18, 3, 79), (21, 1, 81), (22, 8, 74),
    ]
    path = tmp_path / "trips.abc"
    path.write_text(ABC)
    with pytest.warns(ScoreImportWarning, match="3 grace notes dropped"):
        assert read_score(path).melody == piece.melody


def test_a_tune_without_tuplets_or_grace_notes_reads_without_a_report() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScoreImportWarning)
        piece = first_abc_tune("X:1\nT:t\nM:2/4\nL:1/8\nK:G\nGABc|d2 B2|]\n")
    assert [n.duration_steps for n in piece.melody] == [2, 2, 2, 2, 4, 4]


def test_key_signature_without_a_mode_takes_the_mode_from_the_notes(tmp_path: Path) -> None:
    from music21 import key, note, stream

    def write(pitches: list[str], name: str) -> Path:
        part = stream.Part([key.KeySignature(0)] + [note.Note(p, quarterLength=1) for p in pitches])
        path = tmp_path / name
        stream.Score([part]).write("musicxml", fp=str(path))
        assert "<mode>" not in path.read_text()
        return path

    a_minor = write(["A4", "C5", "E5", "G#4", "A4", "B4", "C5", "E4", "G#4", "A4"], "am.musicxml")
    assert read_score(a_minor).key == Key(9, "minor")
    c_major = write(["C4", "E4", "G4", "F4", "E4", "D4", "B3", "C4"], "c.musicxml")
    assert read_score(c_major).key == Key(0, "major")


@pytest.mark.parametrize("key, names", [
    ("A", ["G#4", "A4", "G#4", "F#4", "E4"]),
    ("Am", ["G#4", "A4", "G#4", "F#4", "E4"]),
    ("C#m", ["G#4", "A4", "G#4", "F#4", "E4"]),
])
def test_melody_notes_are_spelled_for_the_key_in_musicxml(tmp_path: Path, key: str, names: list[str]) -> None:
    melody = [Note(4 * i, 4, p) for i, p in enumerate([68, 69, 68, 66, 64])]
    path = write_musicxml(Piece(melody=melody, key=Key.parse(key)), tmp_path / "s.musicxml")
    score = music21.converter.parse(str(path))
    assert [n.pitch.nameWithOctave for n in score.flatten().notes] == names
    k = score.flatten().getElementsByClass("Key")[0]
    assert (k.tonic.pitchClass, k.mode) == (Key.parse(key).tonic, Key.parse(key).mode)
    assert read_score(path).key == Key.parse(key)  # the mode survives the round trip


def test_b_sharp_and_c_flat_land_in_the_right_octave(tmp_path: Path) -> None:
    for key, midi, name in (("C#m", 60, "B#3"), ("Db", 59, "C-4")):
        path = write_musicxml(Piece(melody=[Note(0, 16, midi)], key=Key.parse(key)), tmp_path / f"{key}.musicxml")
        (n,) = music21.converter.parse(str(path)).flatten().notes
        assert (n.pitch.nameWithOctave, n.pitch.midi) == (name, midi)
