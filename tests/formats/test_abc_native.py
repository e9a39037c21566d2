"""The native ABC reader: exact values on hand-written tunes, the same Pieces as music21's path on
tunes that use every construct it covers, music21 for what it does not, and (slow) every tune
of the Nottingham Music Database."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from melodygan.chords import QUALITIES, Chord, parse_chord_symbol
from melodygan.formats import abc
from melodygan.formats.abc import abc_tunes, read_abc_text, split_tunes
from melodygan.formats.abc_native import NotCovered, read_tune
from melodygan.formats.readers import read_score
from melodygan.notes import Note
from melodygan.piece import Piece

HEADER = "X: {n}\nT:Tune {n}\n"
TUNES = {
    "pickup, repeats, endings, ties, triplets, broken rhythm, the collection's chord spellings": """
% Nottingham Music Database
S:by hand
M:4/4
L:1/8
Q:1/4=112
K:G
P:A
D|"G"G2 AB "Gd"c2 B>A|"D/f+"A4 "Gm/bb"G2-G2|"C"c>d e<f (3gfe "D7"d2|\\
"Em"e/f/g/a/ "Am"a2 "D"^f=f ^c c|z8|[1"G"g6 d2:|[2"G"g8||
P:B
|:"C"c'2 b2 a2 g2|"G"G,A,B,C D2 G2|"D7"F2 A2 "G"G4::
"Em"e2>d2 B2 G2|"Am"A2 "D"d2 "G"G4:|
""",
    "a modal key, the meter of the second M:, |1 |2 endings, a key change": """
M:4/4
K:Ador
M:6/8
E|"Am"A2B cBA|"G"G2A B2d|"Am"e2a "Em"g2e|1"D"d3 d2B:|2"D"d3 d3|]
K:D
|:"D"f2f Fdd|"A7"c2e A3|"D"d3 "G"B3|"A7"A3 "D"d3:|
""",
    "2/4 without L: (sixteenths), chords in the melody, rests, octaves, double accidentals": """
M:2/4
Q:120
K:Bb
"Bb"B2d2 f2b2|"F7"[Ac]4 [FA]2 z2|"Bb"^^c2__e2 =B,2 B,,2|"Eb"[E2G2B2]2 "F"[F4A4]|
"Bb"d3/2c//B// A/B/c/d/ e2|"F"(3c2d2e2 f2 z2|"Bb"b4 z4|]
""",
    "an overfull bar re-barred (a tie across the cut), a tie across a bar line": """
M:3/4
L:1/4
K:D
"D"A|"D"d2 e|"G"d c- B2 A B|"A7"c B/2A/2 G|"D"F3-|F2 z|
""",
    "N.C., optional, augmented and slash chords, empty quotes, two symbols on one note": """
M:4/4
L:1/4
K:Em
"Em"E "(E7)"G "N.C."B " "e|"Ea"c "Fa7"A "Bm/f+"F "A7/c+"E|"G""D"G2 "Bb"B2|]
""",
    "p:q:r tuplets, broken-rhythm chains, slurs, decorations": """
M:2/2
L:1/8
K:F
(3:2:3cde f>g a>b>c' d'/2|"F"!trill!a>>g f<<e ~d>>>c B<<<A|(AB) (cd) (3::6efgabc'|"C7"c8|]
""",
    "L:, M: and K: changes inside the tune, comments after notes": """
M:3/4
L:1/8
K:C
C2 E2 G2|c6|% a comment after a bar
L:1/4
M:2/4
d e|f2|
M:3/8
L:1/8
K:Dm
gfe|d3|B3|]
""",
}


def _text(i: int, body: str) -> str:
    return HEADER.format(n=i + 1) + body.lstrip("\n")


def _music21(text: str, title: str = "x") -> object:
    return abc._parse_tune(text, title, "test.abc", reader="music21")


@pytest.mark.parametrize("name", list(TUNES))
def test_native_reads_what_music21_reads(name: str) -> None:
    text = _text(list(TUNES).index(name), TUNES[name])
    native = read_tune(text, "x")  # raises NotCovered if the tune left the covered subset
    assert native.melody  # the tune was read, not skipped
    assert native == _music21(text)


@pytest.mark.parametrize(("title", "tempo", "expected"), [("Short Grass, The", "3/8=84", "The Short Grass"),
                                                      ("Ale, a", "104", "a Ale"), ("A, B", "1/2=60", "A, B")])
def test_titles_and_tempi_as_music21_gives_them(title: str, tempo: str, expected: str) -> None:
    # music21's metadata moves a trailing article to the front; its tempo arithmetic is kept too
    text = f"X:1\nT:{title}\nM:6/8\nL:1/8\nQ:{tempo}\nK:D\nd2e f2g|a3 a3|d2e f2g|a6|]\n"
    native = read_tune(text, "x")
    assert native.title == expected and native == _music21(text)


def test_exact_notes_of_a_reel() -> None:
    piece = read_tune(_text(0, TUNES[next(iter(TUNES))]), "x")
    assert (piece.title, piece.time_signature, piece.key.name, piece.tempo_bpm, piece.pickup_steps) == \
        ("Tune 1", (4, 4), "G", 112.0, 2)
    got = [(n.start_steps, n.duration_steps, n.pitch) for n in piece.melody[:12]]
    assert got == [(0, 2, 62), (2, 4, 67), (6, 2, 69), (8, 2, 71), (10, 4, 72), (14, 3, 71), (17, 1, 69),
                   (18, 8, 69), (26, 8, 67),  # G2-G2: the tie makes one half note
                   (34, 3, 72), (37, 1, 74), (38, 1, 76)]  # c>d e<f: dotted pairs
    bar4 = [(n.start_steps, n.pitch) for n in piece.melody if 50 <= n.start_steps < 70]
    # e/f/g/a/ a2 ^f=f ^c c: f is F# by the key; an accidental holds for its note only (ABC without
    # a version line, as music21 reads it), so the last c is C natural
    assert bar4 == [(50, 76), (51, 78), (52, 79), (53, 81), (54, 81), (58, 78), (60, 77), (62, 73), (64, 72)]
    assert [c.symbol() for c in piece.chords[:4]] == ["G", "Gdim", "D/F#", "Gm/Bb"]


def test_a_tie_into_a_re_barred_note_keeps_two_notes() -> None:
    # 'd c- B2 A B' fills two bars of 3/4: music21 cuts it after three beats, through B2, and its tie
    # merging then keeps c and B apart (a tie between different pitches joins them only uncut)
    piece = read_tune(_text(3, TUNES[list(TUNES)[3]]), "x")
    assert [(n.start_steps, n.duration_steps, n.pitch) for n in piece.melody[3:7]] == \
        [(16, 4, 74), (20, 4, 73), (24, 8, 71), (32, 4, 69)]
    assert piece.melody[-1] == Note(52, 20, 66)  # F3-|F2: five beats


@pytest.mark.parametrize(("construct", "body"), [
    ("voices", "V:1\nabc|def|\nV:2\nABC|DEF|\n"),
    ("inline field", "abc|[K:D]def|gab|\n"),
    ("grace notes", "{g}abc|def|gab|\n"),
    ("annotation", '"^Segno"abc|def|gab|\n'),
    ("fermata", "Habc|def|gab|\n"),
    ("invisible rest", "x2 abc|def|gab|\n"),
    ("version line", "%abc-2.1\nabc|def|gab|\n"),
    ("quintuplet", "(5abcde|def|gab|\n"),
])
def test_what_it_does_not_cover_goes_to_music21(construct: str, body: str) -> None:
    text = "X:1\nT:t\nM:3/4\nL:1/8\nK:G\n" + body
    with pytest.raises(NotCovered):
        read_tune(text, "t")
    with pytest.raises(Exception, match="not read natively"):
        list(abc.iter_abc_tunes(text, reader="native")) and abc._parse_tune(text, "t", "f.abc", "native")
    if construct in ("annotation", "grace notes"):
        assert abc_tunes(text) == abc_tunes(text, reader="music21")


def test_a_note_before_a_double_repeat_is_kept() -> None:
    # music21 reads 'B::' after a note as a field 'B:' and loses the B (and the rest of its line);
    # written with a space, music21 reads what the native reader reads from the tune as it is
    text = "X:1\nT:t\nM:3/4\nL:1/8\nK:G\nGAB cBA|G4 B::\nd2 g2 d2|B6|]\n"
    native = read_tune(text, "t")
    assert [n.pitch for n in native.melody][6:8] == [67, 71]  # G4 B
    assert native == _music21(text.replace("B::", "B ::"))
    assert len(_music21(text).melody) == len(native.melody) - 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("reader", ["native", "music21"])
def test_a_unit_length_holds_for_its_own_tune_only(reader: str) -> None:
    # Nottingham's jigs.abc gives tune 168 'L:1/4'; the 172 jigs after it have no L: field, and a
    # 6/8 tune without one counts in eighths. Read as quarters they would move in a 3/4 feel at half
    # speed, twice as many bars long.
    text = ("X:1\nT:air\nM:6/4\nL:1/4\nK:D\nd3 cBA|d6|]\n\n"
            "X:2\nT:jig\nM:6/8\nK:D\nA|dfa gfe|d3 d2|]\n")
    air, jig = abc_tunes(text, reader=reader)
    assert isinstance(air, Piece) and isinstance(jig, Piece)
    assert [n.duration_steps for n in air.melody] == [12, 4, 4, 4, 24]
    assert jig.pickup_steps == 2 and jig.num_bars == 2
    assert [(n.start_steps, n.duration_steps) for n in jig.melody] == [
        (0, 2), (2, 2), (4, 2), (6, 2), (8, 2), (10, 2), (12, 2), (14, 6), (20, 4)]


def _assert_survives_music21(chords: list[Chord]) -> None:
    # The native reader takes a chord from parse_chord_symbol; the music21 path rewrites the symbol
    # to Chord.symbol(), lets music21 read it and reads its figure back: the same chord must result.
    from music21 import harmony

    from melodygan.formats.notation import chord_symbol_text

    for chord in chords:
        name = re.sub("([A-Ga-g])b", r"\1-", chord.symbol())  # music21's cleanedFlatNotation
        back = parse_chord_symbol(chord_symbol_text(str(harmony.ChordSymbol(name).figure)))
        assert (back.root, back.quality, back.bass) == (chord.root, chord.quality, chord.bass), chord.symbol()


def test_chord_spellings_survive_music21() -> None:
    # every quality on a natural, a flat and a sharp root (music21 writes flats as '-'); every bass
    chords = [Chord(root, q) for root in (1, 6, 10) for q in QUALITIES]
    _assert_survives_music21(chords + [Chord(0, "maj", bass=b) for b in range(1, 12)] + [Chord(10, "min7", bass=5)])


@pytest.mark.slow
def test_every_chord_of_the_vocabulary_survives_music21() -> None:
    _assert_survives_music21([Chord(root, q, bass=b) for root in range(12) for q in QUALITIES
                              for b in (None, (root + 4) % 12, (root + 10) % 12)])


def test_reading_a_score_parses_only_its_first_tune(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tunes = "".join(f"X:{i}\nT:Tune {i}\nM:2/4\nL:1/8\nK:D\nd2 f2|a4|]\n\n" for i in range(1, 341))
    path = tmp_path / "many.abc"
    path.write_text(tunes)
    calls = []
    parse = abc._parse_tune
    monkeypatch.setattr(abc, "_parse_tune", lambda *a: calls.append(a[1]) or parse(*a))
    piece = read_score(path)
    assert piece.title == "Tune 1" and calls == ["Tune 1"]


NOTTINGHAM = Path(os.environ.get("MELODYGAN_NOTTINGHAM")
                  or Path(__file__).resolve().parents[3] / "shared" / "datasets" / "nottingham")
DOUBLE_REPEAT = re.compile(r"([A-G])::")


def _as_music21_reads_it(tune: str) -> str:
    """The one known difference (docs/formats.md): 'B::' after a note, written 'B ::'."""
    return "\n".join(line if re.match(r"\s*[A-Z]:", line) else DOUBLE_REPEAT.sub(r"\1 ::", line)
                     for line in tune.split("\n"))


@pytest.mark.slow
@pytest.mark.skipif(not NOTTINGHAM.is_dir(), reason="the Nottingham ABC files are not on this machine")
def test_every_nottingham_tune_reads_as_in_music21() -> None:
    native = covered = explained = 0
    for f in sorted(NOTTINGHAM.glob("*.abc")):
        text = read_abc_text(f)
        header, tunes = split_tunes(text)
        assert not header.strip()
        for i, (auto, old) in enumerate(zip(abc_tunes(text, f.name), abc_tunes(text, f.name, reader="music21"),
                                            strict=True)):
            try:
                read_tune(tunes[i], f"{f.stem} #{i + 1}")
                native += 1
            except NotCovered:
                assert auto == old, (f.name, i)  # read by music21 alike
                continue
            if auto == old:
                covered += 1
                continue
            title = auto.title if not isinstance(auto, str) else ""
            assert auto == abc._parse_tune(_as_music21_reads_it(tunes[i]), title, f.name, "music21"), (f.name, i)
            explained += 1
    print(f"Nottingham: {native} tunes read natively, {covered} the same as music21, {explained} differ "
          "by a note before '::' that music21 loses")
    assert native > 1000 and covered > 950
