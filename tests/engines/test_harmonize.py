"""harmonize(): the melody comes back note for note with chords added; the CLI end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from melodygan.chords import parse_chord_symbol
from melodygan.cli import main
from melodygan.engines.harmonize import harmonize
from melodygan.engines.leadsheet import chord_fit
from melodygan.errors import MelodyganError
from melodygan.keys import Key
from melodygan.notes import Note
from melodygan.piece import Piece


def _tune(bars: int = 4, pickup: int = 0, tonic: int = 2) -> Piece:
    degrees = (0, 2, 4, 5, 7, 4, 2, 0)
    melody = [Note(pickup + 4 * j, 4 if j % 3 else 2, 60 + tonic + degrees[j % 8]) for j in range(4 * bars)]
    if pickup:
        melody = [Note(0, pickup, 67 + tonic), *melody]
    return Piece(melody=melody, key=Key(tonic, "major"), pickup_steps=pickup, title="t")


def test_chord_fit_on_hand_values() -> None:
    c = [parse_chord_symbol("C", 0, 16)]
    notes = [Note(0, 4, 60), Note(4, 4, 62), Note(8, 4, 64), Note(12, 4, 65)]  # C D E F over C
    # C, E chord tones; D passes to E (chord tone); F's next different note: none → miss
    assert chord_fit(notes, c) == pytest.approx(3 / 4)
    assert chord_fit([], c) == 1.0


@pytest.mark.parametrize("bars, pickup", [(3, 0), (20, 4)])
def test_melody_is_kept_note_for_note(ar_checkpoint: Path, bars: int, pickup: int) -> None:
    tune = _tune(bars, pickup)
    out = harmonize(tune, seed=3, checkpoint=ar_checkpoint, candidates=2)
    assert out.melody == tune.melody
    assert out.chords and out.chords[0].start_steps == 0
    assert all(a.end_steps == b.start_steps for a, b in zip(out.chords, out.chords[1:]))
    assert out.chords[-1].end_steps == out.end_steps
    assert out.key == Key(2, "major")


def test_same_seed_same_chords(ar_checkpoint: Path) -> None:
    tune = _tune(4)
    first = harmonize(tune, seed=1, checkpoint=ar_checkpoint)
    assert first.chords == harmonize(tune, seed=1, checkpoint=ar_checkpoint).chords


def test_polyphonic_input_is_reduced_by_skyline(ar_checkpoint: Path) -> None:
    tune = _tune(2)
    lower = [Note(n.start_steps, n.duration_steps, n.pitch - 7) for n in tune.melody]
    chordal = tune.replace(melody=tune.melody + lower)
    out = harmonize(chordal, seed=1, checkpoint=ar_checkpoint)
    assert out.melody == tune.melody


def test_empty_input_is_a_user_error(ar_checkpoint: Path) -> None:
    with pytest.raises(MelodyganError, match="no melody"):
        harmonize(Piece(), checkpoint=ar_checkpoint)


def test_cli_harmonizes_a_midi_file(ar_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from melodygan.formats.midi import midi_to_piece, write_midi

    src = write_midi(_tune(4), tmp_path / "tune.mid")
    assert main(["harmonize", str(src), "--checkpoint", str(ar_checkpoint), "--seed", "2"]) == 0
    out = tmp_path / "tune-harmonized.mid"
    back = midi_to_piece(out)
    assert [(n.start_steps, n.duration_steps, n.pitch) for n in back.melody] == [
        (n.start_steps, n.duration_steps, n.pitch) for n in _tune(4).melody]
    assert {"Chords", "Bass"} <= set(back.voices)
    assert "chords:" in capsys.readouterr().out
    assert main(["harmonize", str(src), "--checkpoint", str(ar_checkpoint)]) == 2  # exists, no --force
    assert "exists" in capsys.readouterr().err
    empty = tmp_path / "empty.mid"
    write_midi(Piece(voices={"Drums": []}), empty)
    assert main(["harmonize", str(empty), "--checkpoint", str(ar_checkpoint), "--out", str(tmp_path / "x.mid")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
