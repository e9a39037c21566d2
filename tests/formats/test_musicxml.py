"""MusicXML: lead sheets and scores read back by music21 with the same notes, chord symbols, key,
meter, tempo and pickup; the sheet-PNG path without MuseScore."""

from __future__ import annotations

from pathlib import Path

import pytest

from melodygan.chords import QUALITIES, Chord, parse_chord_symbol
from melodygan.engines.arrange import arrange
from melodygan.errors import MelodyganError
from melodygan.formats.musicxml import choose_layout, find_musescore, write_musicxml, write_sheet_png
from melodygan.keys import Key
from melodygan.notes import Note
from melodygan.piece import Piece, chords_from_changes

music21 = pytest.importorskip("music21")


def tune() -> Piece:
    """3/4 in Bb with a quarter pickup; a note tied over a bar line; a slash chord."""
    chords = chords_from_changes([(4, parse_chord_symbol("Bb")), (16, parse_chord_symbol("F7/A")),
                                  (28, parse_chord_symbol("Gm"))], 40)
    melody = [Note(0, 4, 65), Note(4, 6, 70), Note(10, 2, 72), Note(12, 8, 74), Note(20, 4, 72), Note(24, 12, 70)]
    return Piece(melody=melody, chords=chords, key=Key(10, "major"), time_signature=(3, 4), pickup_steps=4,
                 tempo_bpm=96.0, title="Tune")


def test_lead_sheet_reads_back_with_the_same_music(tmp_path: Path) -> None:
    path = write_musicxml(tune(), tmp_path / "t.musicxml")
    assert b'<measure implicit="yes" number="0">' in path.read_bytes()
    score = music21.converter.parse(str(path))
    assert len(score.parts) == 1 and score.parts[0].partName == "Melody"
    assert score.metadata.bestTitle == "Tune"
    part = score.parts[0]
    measures = list(part.getElementsByClass("Measure"))
    assert measures[0].number == 0 and float(measures[0].paddingLeft) == 2.0  # a one-beat pickup in 3/4
    notes = [n for n in part.flatten().stripTies().notes if not isinstance(n, music21.harmony.ChordSymbol)]
    got = [(round(float(n.offset) * 4), round(float(n.quarterLength) * 4), n.pitch.midi) for n in notes]
    assert got == [(n.start_steps, n.duration_steps, n.pitch) for n in tune().melody]
    symbols = [(round(float(c.offset) * 4), c.figure) for c in part.flatten().getElementsByClass("ChordSymbol")]
    assert symbols == [(4, "B-"), (16, "F7/A"), (28, "Gm")]
    flat = part.flatten()
    assert flat.getElementsByClass("KeySignature")[0].sharps == -2
    assert flat.getElementsByClass("TimeSignature")[0].ratioString == "3/4"
    assert flat.getElementsByClass("MetronomeMark")[0].number == 96


def test_compound_meter_keeps_the_second_beat_in_sight(tmp_path: Path) -> None:
    # 6/8, 12 steps a bar: a note of four eighths on the downbeat is a dotted quarter tied to an
    # eighth; a dotted half filling the bar and notes inside a beat stay as they are; 3/4 untouched
    jig = Piece(melody=[Note(0, 8, 67), Note(8, 2, 69), Note(10, 2, 71), Note(12, 12, 72), Note(24, 2, 74),
                        Note(26, 4, 72), Note(30, 6, 71)], time_signature=(6, 8))
    part = music21.converter.parse(str(write_musicxml(jig, tmp_path / "jig.musicxml"))).parts[0]
    bars = [[(float(n.quarterLength), n.tie.type if n.tie else None) for n in m.notes
             if not isinstance(n, music21.harmony.ChordSymbol)] for m in part.getElementsByClass("Measure")]
    assert bars[0] == [(1.5, "start"), (0.5, "stop"), (0.5, None), (0.5, None)]
    assert bars[1] == [(3.0, None)]
    assert bars[2] == [(0.5, None), (1.0, None), (1.5, None)]
    back = [(round(float(n.offset) * 4), round(float(n.quarterLength) * 4), n.pitch.midi)
            for n in part.flatten().stripTies().notes if not isinstance(n, music21.harmony.ChordSymbol)]
    assert back == [(n.start_steps, n.duration_steps, n.pitch) for n in jig.melody]  # the same music
    waltz = Piece(melody=[Note(0, 8, 67), Note(8, 4, 69)], time_signature=(3, 4))
    part = music21.converter.parse(str(write_musicxml(waltz, tmp_path / "waltz.musicxml"))).parts[0]
    assert [float(n.quarterLength) for n in part.flatten().notes] == [2.0, 1.0]


@pytest.mark.parametrize("quality", list(QUALITIES))
def test_every_chord_quality_survives_as_a_chord_symbol(tmp_path: Path, quality: str) -> None:
    chord = Chord(3, quality, 0, 16)  # Eb / D#: checks flat spelling too
    piece = Piece(melody=[Note(0, 16, 75)], chords=[chord], key=Key(3, "major"))
    score = music21.converter.parse(str(write_musicxml(piece, tmp_path / "c.musicxml")))
    (sym,) = score.flatten().getElementsByClass("ChordSymbol")
    assert sorted({p.pitchClass for p in sym.pitches}) == list(chord.pitch_classes)
    assert sym.root().pitchClass == 3


def test_spelling_follows_the_key_and_naturals_are_not_printed(tmp_path: Path) -> None:
    # G major: F# from the key, a borrowed Bb chord and note spelled as flats, no natural signs
    chords = chords_from_changes([(0, parse_chord_symbol("G")), (16, parse_chord_symbol("Bb"))], 32)
    melody = [Note(0, 8, 67), Note(8, 8, 66), Note(16, 8, 70), Note(24, 8, 71)]
    piece = Piece(melody=melody, chords=chords, key=Key(7, "major"))
    path = write_musicxml(piece, tmp_path / "g.musicxml")
    xml = path.read_text()
    assert "<accidental>natural</accidental>" in xml  # the B after the Bb needs its natural ...
    assert xml.count("<accidental>") == 2  # ... and only the Bb and that B carry a sign
    assert "Music21" not in xml
    score = music21.converter.parse(str(path))
    names = [n.pitch.name for n in score.flatten().notes if not isinstance(n, music21.harmony.ChordSymbol)]
    assert names == ["G", "F#", "B-", "B"]
    assert [c.figure for c in score.flatten().getElementsByClass("ChordSymbol")] == ["G", "B-"]


def test_chorale_becomes_a_four_part_score(tmp_path: Path) -> None:
    satb = Piece(melody=[Note(0, 8, 72), Note(8, 8, 71)], melody_name="Soprano",
                 voices={"Alto": [Note(0, 16, 67)], "Tenor": [Note(0, 8, 64), Note(8, 8, 62)],
                         "Bass": [Note(0, 8, 48), Note(8, 8, 43)]})
    assert choose_layout(satb) == "score"
    score = music21.converter.parse(str(write_musicxml(satb, tmp_path / "c.musicxml")))
    assert [p.partName for p in score.parts] == ["Soprano", "Alto", "Tenor", "Bass"]
    assert [n.pitch.midi for n in score.parts[3].flatten().notes] == [48, 43]
    assert score.parts[3].flatten().getElementsByClass("Clef")[0].sign == "F"


def test_arranged_lead_sheet_auto_and_full_score(tmp_path: Path) -> None:
    chords = chords_from_changes([(0, parse_chord_symbol("C")), (16, parse_chord_symbol("G7"))], 32)
    piece = arrange(Piece(melody=[Note(0, 16, 72), Note(16, 16, 71)], chords=chords), "block", "root")
    assert choose_layout(piece) == "lead-sheet"
    score = music21.converter.parse(str(write_musicxml(piece, tmp_path / "s.musicxml", layout="score")))
    assert [p.partName for p in score.parts] == ["Melody", "Chords", "Bass"]
    first = next(c for c in score.parts[1].flatten().notes if not isinstance(c, music21.harmony.ChordSymbol))
    assert sorted(p.midi for p in first.pitches) == sorted(n.pitch for n in piece.voices["Chords"]
                                                           if n.start_steps == 0)


def test_overwrite_refusal_and_bad_layout(tmp_path: Path) -> None:
    path = tmp_path / "t.musicxml"
    path.write_text("mine")
    with pytest.raises(MelodyganError, match="exists"):
        write_musicxml(tune(), path)
    assert path.read_text() == "mine"
    write_musicxml(tune(), path, force=True)
    assert path.read_text().startswith("<?xml")
    with pytest.raises(MelodyganError, match="'poster'"):
        write_musicxml(tune(), tmp_path / "u.musicxml", layout="poster")


def test_sheet_png_without_musescore_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no MuseScore on this PATH
    xml = write_musicxml(tune(), tmp_path / "t.musicxml")
    with pytest.raises(MelodyganError, match="musescore3") as err:
        write_sheet_png(xml, tmp_path / "t.png")
    assert "\n" not in str(err.value)
    assert not (tmp_path / "t.png").exists()


@pytest.mark.skipif(find_musescore() is None, reason="MuseScore not installed")
def test_sheet_png_with_musescore(tmp_path: Path) -> None:
    xml = write_musicxml(tune(), tmp_path / "t.musicxml")
    png = write_sheet_png(xml, tmp_path / "t-sheet.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t-sheet.png", "t.musicxml"]  # no temp files left
