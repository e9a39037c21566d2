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


def _drum_file(path: Path, with_piano: bool) -> Path:
    """Drums (channel 10), optionally a piano, and a tempo change half-way."""
    import mido

    mid = mido.MidiFile(type=1, ticks_per_beat=96)
    conductor, drums = mido.MidiTrack(), mido.MidiTrack()
    conductor.append(mido.MetaMessage("set_tempo", tempo=500000))
    conductor.append(mido.MetaMessage("set_tempo", tempo=400000, time=384))
    for k in range(8):
        drums.append(mido.Message("note_on", channel=9, note=36, velocity=110, time=0 if k == 0 else 72))
        drums.append(mido.Message("note_off", channel=9, note=36, time=24))
    mid.tracks += [conductor, drums]
    if with_piano:
        piano = mido.MidiTrack()
        for k, p in enumerate((60, 64, 67, 72)):
            piano.append(mido.Message("note_on", channel=0, note=p, velocity=80, time=0 if k == 0 else 96))
            piano.append(mido.Message("note_off", channel=0, note=p, time=96))
        mid.tracks.append(piano)
    mid.save(str(path))
    return path


def test_render_wav_plays_a_drum_only_file_without_lead_sheet_talk(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np

    src = _drum_file(tmp_path / "beat.mid", with_piano=False)
    assert main(["render", str(src), "--wav", "--sample-rate", "22050"]) == 0
    out, err = capsys.readouterr()
    assert out.split() == [str(tmp_path / "beat.wav")] and err == ""  # no "drums left out", no melody choice
    y, _ = soundfile.read(str(tmp_path / "beat.wav"))
    assert np.abs(y).max() > 0.1


def test_reader_reports_say_they_concern_the_notation_not_the_wav(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    src = _drum_file(tmp_path / "song.mid", with_piano=True)
    assert main(["render", str(src), "--wav", "--png", "--sample-rate", "22050"]) == 0
    warned = [ln for ln in capsys.readouterr().err.splitlines() if "warning" in ln]
    assert warned and all("notation and piano roll only; the WAV plays the file as it is" in ln for ln in warned)
    assert any("drum notes left out" in ln for ln in warned) and any("tempo change" in ln for ln in warned)


@pytest.mark.parametrize("args, message", [
    (["--loop"], "--loop shape the WAV; add --wav"),
    (["--stems", "--png"], "--stems shape the WAV; add --wav"),
    (["--png", "--loudness", "-16"], "--loudness shape the WAV; add --wav"),
    (["--wav", "--loudness", "-80"], "outside -60..-5"),
    (["--wav", "--loudness", "loud"], "not a loudness in LUFS"),
])
def test_daw_flags_are_checked_before_any_work(song: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                               message: str) -> None:
    try:
        code = main(["render", str(song), *args])
    except SystemExit as e:  # refused by the argument parser itself
        code = int(e.code or 0)
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1
    assert sorted(p.name for p in song.parent.iterdir()) == ["song.mid"]


def test_render_loop_and_loudness_from_the_command_line(song: Path) -> None:
    import pyloudnorm

    assert main(["render", str(song), "--wav", "--stems", "--loop", "--loudness", "-16", "--sample-rate",
                 "22050"]) == 0
    frames = {soundfile.info(str(song.parent / f"song{s}.wav")).frames for s in ("", "-Melody", "-Chords", "-Bass")}
    assert frames == {round(2 * 4 * 60 / 140 * 22050)}  # 2 bars of 4/4 at 140 bpm, to the sample
    y, sr = soundfile.read(str(song.parent / "song.wav"))
    assert pyloudnorm.Meter(sr).integrated_loudness(y) == pytest.approx(-16.0, abs=0.1)
