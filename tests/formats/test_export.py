"""`melodygan render` end to end through main([...]), and export_piece: outputs beside the input,
--out, refusal to overwrite (exit 2, one line, nothing written), --force, user errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile

from melodygan.chords import parse_chord_symbol
from melodygan.cli import main
from melodygan.engines.arrange import arrange
from melodygan.formats.export import export_piece
from melodygan.formats.midi import midi_to_piece, write_midi
from melodygan.notes import Note
from melodygan.piece import Piece, chords_from_changes


def lead_sheet() -> Piece:
    chords = chords_from_changes([(0, parse_chord_symbol("F")), (16, parse_chord_symbol("C7"))], 32)
    melody = [Note(4 * i, 4, [65, 69, 72, 69, 67, 70, 72, 70][i]) for i in range(8)]
    return arrange(Piece(melody=melody, chords=chords, tempo_bpm=140.0, title="cli"), "block", "root")


@pytest.fixture
def song(tmp_path: Path) -> Path:
    return write_midi(lead_sheet(), tmp_path / "song.mid")


def test_render_writes_beside_the_input(song: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", str(song), "--wav", "--png", "--musicxml", "--sample-rate", "22050"]) == 0
    folder = song.parent
    assert sorted(p.name for p in folder.iterdir()) == ["song.mid", "song.musicxml", "song.png", "song.wav"]
    out, err = capsys.readouterr()
    assert out.split() == [str(folder / n) for n in ("song.wav", "song.musicxml", "song.png")]
    # the reader says what it chose, with the file's track numbers and why
    assert err.strip() == "melodygan: song.mid: melody = track 1 'Melody' (name says melody, monophonic, register " \
                          "F4-C5, highest line; next: track 2 'Chords': name says accompaniment, chords (100% of " \
                          "notes overlap)); other tracks: 2 'Chords', 3 'Bass'"
    info = soundfile.info(str(folder / "song.wav"))
    assert info.samplerate == 22050 and info.duration > 3.4  # 2 bars at 140 bpm, plus the tail


def test_existing_outputs_are_refused_with_exit_2(song: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (song.parent / "song.png").write_bytes(b"mine")
    code = main(["render", str(song), "--wav", "--png"])
    err = capsys.readouterr().err
    # one error line (the reader's choice, printed as soon as it is made, may come before it)
    assert code == 2 and err.count("melodygan: error:") == 1 and "song.png exists" in err and "--force" in err
    assert all(line.startswith("melodygan: ") for line in err.splitlines())
    assert sorted(p.name for p in song.parent.iterdir()) == ["song.mid", "song.png"]  # no WAV either
    assert (song.parent / "song.png").read_bytes() == b"mine"
    assert main(["render", str(song), "--wav", "--png", "--force"]) == 0
    assert (song.parent / "song.png").read_bytes()[:4] == b"\x89PNG"


def test_out_folder_stems_and_melody_track(song: Path, tmp_path: Path) -> None:
    out = tmp_path / "renders"
    assert main(["render", str(song), "--wav", "--stems", "--musicxml", "--layout", "score", "--out", str(out),
                 "--melody-track", "Melody"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["song-Bass.wav", "song-Chords.wav", "song-Melody.wav",
                                                      "song.musicxml", "song.wav"]


@pytest.mark.parametrize("args, message", [
    (["--wav"], "not found"),
    ([], "nothing to render"),
])
def test_user_errors_are_one_line(tmp_path: Path, song: Path, capsys: pytest.CaptureFixture[str],
                                  args: list[str], message: str) -> None:
    target = str(tmp_path / "missing.mid") if "--wav" in args else str(song)
    assert main(["render", target, *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_corrupt_midi_and_bad_melody_track(tmp_path: Path, song: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"MThd garbage")
    assert main(["render", str(bad), "--png"]) == 2
    assert "not a readable MIDI file" in capsys.readouterr().err
    assert main(["render", str(song), "--png", "--melody-track", "7"]) == 2
    assert "out of range" in capsys.readouterr().err


def test_export_piece_writes_everything_with_accents(tmp_path: Path) -> None:
    flat = Piece(melody=[Note(4 * i, 4, 72) for i in range(8)], tempo_bpm=140.0)
    written = export_piece(flat, tmp_path / "g.mid", wav=True, png=True, musicxml=True)
    assert [p.name for p in written] == ["g.mid", "g.wav", "g.musicxml", "g.png"]
    back = midi_to_piece(tmp_path / "g.mid")
    assert back.melody[0].velocity > back.melody[1].velocity  # downbeat accent
    with pytest.raises(Exception, match="exists"):
        export_piece(flat, tmp_path / "g.mid", png=True)
