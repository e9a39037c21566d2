"""Nottingham ABC reader: exact notes, chords (the collection's own spelling), pickup, key, meter."""

from __future__ import annotations

from pathlib import Path

import pytest

from melodygan.corpora.nottingham import read_nottingham
from melodygan.errors import MelodyganError
from melodygan.formats.abc import normalize_chord_symbols

TUNES = """X: 1
T:Test Tune
% Nottingham Music Database
M:4/4
L:1/8
K:G
D2|"G"G2 AB "Gd"c2 B2|"D/f+"A4 "Gm/bb"G2-G2|" "c2 "From here"d2 "(E7)"e2 (3fga|"Ea"b8|]

X: 2
T:Second
M:6/8
L:1/8
K:Em
"Em"EFG "Fa7"ABc|"Bm/f+"d3 [ceg]3|
"""


@pytest.fixture(scope="module")
def tunes(tmp_path_factory: pytest.TempPathFactory) -> list:
    d = tmp_path_factory.mktemp("nott")
    (d / "b.abc").write_text(TUNES)
    (d / "a.abc").write_text(TUNES.replace("Test Tune", "First File"))
    return read_nottingham(d)


def test_files_in_name_order_tunes_in_file_order(tunes: list) -> None:
    assert [t.title for t in tunes] == ["First File", "Second", "Test Tune", "Second"]


def test_melody_on_grid_with_pickup_ties_and_triplets(tunes: list) -> None:
    t = tunes[2]
    assert t.time_signature == (4, 4) and t.key.name == "G" and t.pickup_steps == 4
    got = [(n.start_steps, n.duration_steps, n.pitch) for n in t.melody]
    assert got == [(0, 4, 62), (4, 4, 67), (8, 2, 69), (10, 2, 71), (12, 4, 72), (16, 4, 71),
                   (20, 8, 69), (28, 8, 67),  # G2-G2: the tie makes one half note
                   (36, 4, 72), (40, 4, 74), (44, 4, 76),
                   (48, 1, 78), (49, 2, 79), (51, 1, 81),  # (3fga: a triplet rounded to 16ths
                   (52, 16, 83)]
    assert t.length_steps == 68


def test_nottingham_chord_spelling_and_non_chord_text(tunes: list) -> None:
    t = tunes[2]
    got = [(c.symbol(), c.start_steps, c.duration_steps) for c in t.chords]
    # " " and "From here" are not chords: Gm/Bb lasts until the optional (E7).
    assert got == [("G", 4, 8), ("Gdim", 12, 8), ("D/F#", 20, 8), ("Gm/Bb", 28, 16), ("E7", 44, 8),
                   ("Eaug", 52, 16)]
    assert t.chords[2].pitch_classes == (2, 6, 9)  # D F# A, not music21's F-F#-A#-D


def test_six_eight_minor_key_and_chords_in_the_melody(tunes: list) -> None:
    t = tunes[1]
    assert t.time_signature == (6, 8) and t.key.name == "Em" and t.pickup_steps == 0
    assert [c.symbol() for c in t.chords] == ["Em", "F+7", "Bm/F#"]
    assert t.melody[-1].pitch == 79  # [ceg] → the skyline keeps the top note


def test_normalize_keeps_headers_and_annotations() -> None:
    text = 'T:"Gd" in a title\n"Gd"G "^text"A "Bm/f+"B\n'
    assert normalize_chord_symbols(text) == 'T:"Gd" in a title\n"Gdim"G "^text"A "Bm/F#"B\n'


def test_missing_path_names_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(MelodyganError, match="Nottingham"):
        read_nottingham(tmp_path / "nowhere")
    with pytest.raises(MelodyganError, match=r"no \.abc files"):
        read_nottingham(tmp_path)
