"""Piano-roll PNG: a real image with each track's colour, written atomically, refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from melodygan.chords import parse_chord_symbol
from melodygan.errors import MelodyganError
from melodygan.formats.plot import TRACK_COLOURS, plot_piano_roll
from melodygan.notes import Note
from melodygan.piece import Piece, chords_from_changes


def rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def test_piano_roll_draws_every_track_in_its_colour(tmp_path: Path) -> None:
    import matplotlib.image

    chords = chords_from_changes([(4, parse_chord_symbol("C")), (20, parse_chord_symbol("G7"))], 36)
    piece = Piece(melody=[Note(0, 4, 67, 127)] + [Note(4 + 4 * i, 4, 72 + i % 3, 127) for i in range(8)],
                  voices={"Bass": [Note(4, 16, 36, 127), Note(20, 16, 43, 127)]}, chords=chords, pickup_steps=4,
                  title="Roll")
    path = plot_piano_roll(piece, tmp_path / "r.png")
    img = (matplotlib.image.imread(str(path))[..., :3] * 255).round().astype(int)  # (H, W, 3)
    assert img.shape[0] >= 300 and img.shape[1] >= 700
    pixels = {tuple(p) for p in img.reshape(-1, 3)}
    for colour in TRACK_COLOURS[:2]:  # melody, then bass: full velocity draws the exact colour
        assert rgb(colour) in pixels
    assert rgb(TRACK_COLOURS[2]) not in pixels  # no third track, no third colour
    assert [p.name for p in tmp_path.iterdir()] == ["r.png"]


def test_refusals(tmp_path: Path) -> None:
    with pytest.raises(MelodyganError, match="no notes"):
        plot_piano_roll(Piece(), tmp_path / "e.png")
    path = tmp_path / "r.png"
    path.write_bytes(b"mine")
    piece = Piece(melody=[Note(0, 4, 60)])
    with pytest.raises(MelodyganError, match="exists"):
        plot_piano_roll(piece, path)
    assert path.read_bytes() == b"mine"
    plot_piano_roll(piece, path, force=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert np.array_equal(np.frombuffer(path.read_bytes()[:4], np.uint8), np.array([0x89, 0x50, 0x4E, 0x47]))
