"""read_score on a file of every kind the test writes, and one-line errors for bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from melodygan.chords import parse_chord_symbol
from melodygan.cli import main
from melodygan.errors import MelodyganError
from melodygan.formats.readers import read_score
from melodygan.keys import Key
from melodygan.notes import Note
from melodygan.piece import Piece

MELODY = [Note(0, 4, 60), Note(4, 4, 62), Note(8, 4, 64), Note(12, 4, 65), Note(16, 8, 67), Note(24, 8, 67)]


def _notes(piece: Piece) -> list[tuple[int, int, int]]:
    return [(n.start_steps, n.duration_steps, n.pitch) for n in piece.melody]


def test_midi_round_trip(tmp_path: Path) -> None:
    from melodygan.formats.midi import write_midi

    piece = Piece(melody=MELODY, chords=[parse_chord_symbol("C", 0, 16), parse_chord_symbol("G7", 16, 16)],
                  key=Key(0, "major"), tempo_bpm=100.0, title="Round")
    path = write_midi(piece, tmp_path / "round.mid")
    back = read_score(path)
    assert _notes(back) == _notes(piece)
    assert [c.symbol() for c in back.chords] == ["C", "G7"]
    assert back.tempo_bpm == pytest.approx(100.0)


def test_musicxml_keeps_chord_symbols(tmp_path: Path) -> None:
    from music21 import harmony, key, meter, note, stream

    part = stream.Part()
    part.append(meter.TimeSignature("3/4"))
    part.append(key.Key("F"))
    part.append(harmony.ChordSymbol("F"))
    for p, ql in (("F4", 1.0), ("A4", 1.0), ("C5", 1.0)):
        part.append(note.Note(p, quarterLength=ql))
    part.append(harmony.ChordSymbol("B-/D"))
    part.append(note.Note("B-4", quarterLength=2.0))
    part.append(note.Note("D5", quarterLength=1.0))
    score = stream.Score([part])
    path = tmp_path / "lead.musicxml"
    score.write("musicxml", fp=str(path))
    piece = read_score(path)
    assert _notes(piece) == [(0, 4, 65), (4, 4, 69), (8, 4, 72), (12, 8, 70), (20, 4, 74)]
    assert [(c.symbol(), c.start_steps, c.duration_steps) for c in piece.chords] == [("F", 0, 12), ("Bb/D", 12, 12)]
    assert piece.time_signature == (3, 4) and piece.key == Key(5, "major")


def test_abc_first_tune(tmp_path: Path) -> None:
    path = tmp_path / "tune.abc"
    path.write_text('X:1\nT:Mine\nM:2/4\nL:1/8\nK:D\n"D"DF "A7/c+"Ac|"Bm"B4|]\n\nX:2\nT:Other\nK:C\nC4|]\n')
    piece = read_score(path)
    assert piece.title == "Mine" and piece.key == Key(2, "major") and piece.time_signature == (2, 4)
    assert _notes(piece) == [(0, 2, 62), (2, 2, 66), (4, 2, 69), (6, 2, 73), (8, 8, 71)]
    assert [c.symbol(flats=False) for c in piece.chords] == ["D", "A7/C#", "Bm"]


def test_kern(tmp_path: Path) -> None:
    path = tmp_path / "tune.krn"
    path.write_text("**kern\n*M4/4\n*k[]\n=1\n4c\n4d\n4e\n4f\n=2\n2g\n2g\n==\n*-\n")
    piece = read_score(path)
    assert _notes(piece) == _notes(Piece(melody=MELODY))


def _sine_melody(path: Path, pitches: list[int], seconds: float, sr: int = 22050) -> None:
    import soundfile as sf

    parts = [np.zeros(sr // 4)]
    for p in pitches:
        t = np.arange(int(sr * seconds)) / sr
        env = np.clip(np.minimum(t / 0.01, (seconds - t) / 0.03), 0, 1)
        parts.append(0.5 * np.sin(2 * np.pi * 440 * 2 ** ((p - 69) / 12) * t) * env)
    parts.append(np.zeros(sr // 4))
    sf.write(path, np.concatenate(parts), sr)


def test_audio_transcription(tmp_path: Path) -> None:
    path = tmp_path / "hum.wav"
    _sine_melody(path, [60, 62, 64, 64, 67], seconds=0.5)  # quarter notes at 120 bpm
    piece = read_score(path, tempo_bpm=120.0)
    # The repeated E stays two notes (an onset splits the run).
    assert _notes(piece) == [(0, 4, 60), (4, 4, 62), (8, 4, 64), (12, 4, 64), (16, 4, 67)]
    assert piece.tempo_bpm == 120.0 and not piece.chords


def _hummed(path: Path, notes: list[tuple[float, float, int]], sr: int = 22050) -> None:
    """A hummed line: a voice-like tone (harmonics falling off), 5.5 Hz vibrato of ±30 cents, a
    slow swell into each note, and breathy noise 25 dB down; ``notes`` = (start_s, length_s, pitch)."""
    import soundfile as sf

    rng = np.random.default_rng(7)
    end = max(s + d for s, d, _ in notes) + 0.3
    y = np.zeros(int(sr * end))
    for start, length, pitch in notes:
        t = np.arange(int(sr * length)) / sr
        f = 440 * 2 ** ((pitch - 69) / 12) * 2 ** (0.3 / 12 * np.sin(2 * np.pi * 5.5 * t + rng.uniform(0, 6)))
        phase = 2 * np.pi * np.cumsum(f) / sr
        tone = sum(a * np.sin(k * phase) for k, a in ((1, 1.0), (2, 0.45), (3, 0.25), (4, 0.1)))
        env = np.clip(np.minimum(t / 0.04, (length - t) / 0.05), 0, 1)
        i = int(sr * start)
        y[i:i + len(t)] += 0.3 * tone * env
    y += 10 ** (-25 / 20) * 0.3 * rng.standard_normal(len(y))
    sf.write(path, y, sr)


def test_a_hummed_melody_comes_back(tmp_path: Path) -> None:
    """Pitch right and onset within a 16th for at least 90% of the notes of a hummed tune at 100 bpm."""
    beat = 0.6
    rhythm = [1, 1, 0.5, 0.5, 1, 2, 1, 0.5, 0.5, 1, 1, 1.5, 0.5, 2]  # in beats
    pitches = [62, 64, 66, 67, 69, 71, 69, 67, 66, 64, 62, 64, 66, 62]
    notes, t = [], 0.25
    for length, pitch in zip(rhythm, pitches):
        notes.append((t, length * beat - 0.02, pitch))  # a breath of a gap between sung notes
        t += length * beat
    path = tmp_path / "hummed.wav"
    _hummed(path, notes)
    piece = read_score(path, tempo_bpm=100.0)
    step_s = beat / 4
    origin = piece.melody[0].start_steps * step_s - (notes[0][0])  # the transcription starts at its first note
    got = [(n.start_steps * step_s - origin, n.pitch) for n in piece.melody]
    right = sum(any(p == pitch and abs(s - start) <= step_s for s, p in got) for start, _, pitch in notes)
    assert right >= 0.9 * len(notes), (right, got)
    assert len(piece.melody) <= len(notes) + 2  # no shower of spurious notes from the vibrato


def test_silent_audio_is_a_one_line_error(tmp_path: Path) -> None:
    import soundfile as sf

    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(22050), 22050)
    with pytest.raises(MelodyganError, match="silent"):
        read_score(path)


@pytest.mark.slow
def test_noise_is_unvoiced(tmp_path: Path) -> None:
    import soundfile as sf

    path = tmp_path / "noise.wav"
    sf.write(path, 0.3 * np.random.default_rng(0).standard_normal(22050 * 2), 22050)
    with pytest.raises(MelodyganError, match="pitched"):
        read_score(path)


@pytest.mark.parametrize(("name", "content", "match"), [
    ("broken.mid", b"MThd this is not midi", "not a readable MIDI"),
    ("empty.musicxml", b"", "empty"),
    ("bad.musicxml", b"<score-partwise><part", "not a readable score"),
    ("notes.txt", b"hello", "unknown score type"),
    ("noise.wav", b"RIFF....WAVEfmt garbage", "not a readable audio"),
])
def test_bad_files_raise_one_line(tmp_path: Path, name: str, content: bytes, match: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(MelodyganError, match=match) as info:
        read_score(path)
    assert "\n" not in str(info.value) and name in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MelodyganError, match="no such file"):
        read_score(tmp_path / "gone.mid")


def test_cli_reports_a_bad_source_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preprocess", "nottingham:" + str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("melodygan: error:") and "\n" not in err and "music21:bach" in err
