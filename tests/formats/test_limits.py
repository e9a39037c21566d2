"""Readers refuse over-limit inputs fast, with one line that names the limit and how to raise it;
legal inputs under the same limits read as before."""

from __future__ import annotations

import contextlib
import time
import zipfile
from pathlib import Path

import mido
import pytest

from melodygan import limits
from melodygan.cli import main
from melodygan.errors import MelodyganError
from melodygan.formats.readers import read_score


def _midi(path: Path, notes: list[tuple[int, int, int]], tpq: int = 480, conductor: tuple = ()) -> Path:
    mid = mido.MidiFile(type=1, ticks_per_beat=tpq)
    mid.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000), *conductor]))
    events = sorted([(s, 1, p) for s, _, p in notes] + [(s + d, 0, p) for s, d, p in notes])
    track, now = mido.MidiTrack(), 0
    for tick, on, p in events:
        track.append(mido.Message("note_on" if on else "note_off", note=p, velocity=80 if on else 0, time=tick - now))
        now = tick
    mid.tracks.append(track)
    mid.save(str(path))
    return path


def _refused(path: Path, name: str) -> str:
    t0 = time.time()
    with pytest.raises(MelodyganError) as info:
        read_score(path)
    text = str(info.value)
    assert f"limit {name}=" in text and f"--limit {name}=N" in text and "\n" not in text
    assert time.time() - t0 < 5
    return text


def test_midi_ten_hour_note_refused(tmp_path: Path) -> None:
    path = _midi(tmp_path / "long.mid", [(0, 10 * 3600 * 2 * 96, 60)], tpq=96)  # 10 h at 120 bpm
    assert "length 600 minutes" in _refused(path, "score_minutes")


def test_midi_marker_far_past_the_notes_is_clipped(tmp_path: Path) -> None:
    far = mido.MetaMessage("marker", text="Coda", time=10 * 3600 * 2 * 96)
    path = _midi(tmp_path / "marker.mid", [(i * 96, 96, 60 + i) for i in range(8)], tpq=96, conductor=(far,))
    with pytest.warns(UserWarning, match="after the last note dropped"):
        piece = read_score(path)
    assert len(piece.melody) == 8 and piece.end_steps <= 48


def test_midi_notes_and_tracks_limits(tmp_path: Path) -> None:
    path = _midi(tmp_path / "n.mid", [(i * 120, 120, 60) for i in range(20)])
    with limits.override(notes=10):
        assert "note count 20" in _refused(path, "notes")
    with limits.override(tracks=1):
        _refused(path, "tracks")
    assert len(read_score(path).melody) == 20


def test_abc_bad_lengths_meters_tempos_are_refused_before_music21(tmp_path: Path) -> None:
    cases = {"C999": "X:1\nT:t\nM:4/4\nK:C\nC999|\n", "huge": "X:1\nT:t\nK:C\nC99999999|\n",
             "q0": "X:1\nT:t\nQ:1/4=0\nK:C\nCDEF|\n", "meter": "X:1\nT:t\nM:4/4/9999\nK:C\nCDEF|\n",
             "L0": "X:1\nT:t\nL:1/0\nK:C\nCDEF|\n", "tuplet": "X:1\nT:t\nK:C\n(999CDE|\n"}
    for name, text in cases.items():
        path = tmp_path / f"{name}.abc"
        path.write_text(text)
        t0 = time.time()
        with pytest.raises(MelodyganError, match="tune 1"):
            read_score(path)
        assert time.time() - t0 < 5, name  # no music21 parse runs (a busy machine allowed for)


def test_abc_tunes_and_line_limits(tmp_path: Path) -> None:
    tune = "X:{}\nT:T{}\nM:4/4\nL:1/8\nK:G\nGABc dedB|]\n"
    path = tmp_path / "many.abc"
    path.write_text("".join(tune.format(i, i) for i in range(1, 6)))
    assert read_score(path).title == "T1"
    with limits.override(abc_tunes=3):
        assert "tune count 5" in _refused(path, "abc_tunes")
    long = tmp_path / "long.abc"
    long.write_text("X:1\nT:L\nK:C\n" + "CDEF GABc|" * 30 + "\n")
    with limits.override(abc_line_chars=100):
        _refused(long, "abc_line_chars")


def _xml(measures: int, depth: int = 0) -> str:
    m = ('<measure number="{}"><note><pitch><step>C</step><octave>4</octave></pitch><duration>4</duration>'
         "</note></measure>")
    nest = "<x>" * depth + "</x>" * depth
    return ('<?xml version="1.0"?><score-partwise><part-list><score-part id="P1"><part-name>M</part-name>'
            '</score-part></part-list><part id="P1">' + nest + "".join(m.format(i + 1) for i in range(measures))
            + "</part></score-partwise>")


def test_musicxml_measures_depth_and_mxl_size(tmp_path: Path) -> None:
    path = tmp_path / "m.musicxml"
    path.write_text(_xml(30))
    with limits.override(xml_measures=10):
        assert "more than 10 measures" in _refused(path, "xml_measures")
    deep = tmp_path / "deep.musicxml"
    deep.write_text(_xml(1, depth=200))
    _refused(deep, "xml_depth")
    bomb = tmp_path / "bomb.mxl"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        end = "</part></score-partwise>"
        z.writestr("score.xml", _xml(1)[:-len(end)] + " " * 3_000_000 + end)
    assert bomb.stat().st_size < 100_000
    with limits.override(xml_mb=1):
        assert "decompressed size" in _refused(bomb, "xml_mb")


def test_audio_duration_limit(tmp_path: Path) -> None:
    import numpy as np
    import soundfile

    path = tmp_path / "take.wav"
    soundfile.write(str(path), np.zeros(8000 * 3, dtype=np.float32), 8000)
    with limits.override(audio_minutes=0.02):  # 1.2 s
        assert "length 0.05 minutes" in _refused(path, "audio_minutes")


def test_time_limit_stops_a_runaway_call() -> None:
    with limits.override(parse_seconds=0.2), pytest.raises(MelodyganError, match=r"parse_seconds=0\.2"), \
            limits.time_limit("x.abc", "reading"):
        while True:
            with contextlib.suppress(Exception):  # a library's broad handler does not swallow the alarm
                time.sleep(0.01)


def test_limit_flag_and_environment(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(limits.ENV, raising=False)
    path = _midi(tmp_path / "n.mid", [(i * 120, 120, 60) for i in range(20)])
    monkeypatch.setenv(limits.ENV, "notes=5")
    assert main(["harmonize", str(path), "--out", str(tmp_path / "o.mid")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--limit notes=N" in err
    assert main(["--limit", "notes=50", "harmonize", str(path), "--out", str(tmp_path / "o.mid")]) == 0
    assert main(["--limit", "bogus=1", "tokens"]) == 2
    assert "NAME=VALUE" in capsys.readouterr().err


def test_wav_rendering_memory_is_bounded_by_the_block(tmp_path: Path) -> None:
    import tracemalloc

    import numpy as np
    import soundfile

    from melodygan.formats.audio import render_midifile, render_wav
    from melodygan.formats.loudness import LoudnessMeter

    path = _midi(tmp_path / "held.mid", [(0, 480 * 2 * 60, 60)])  # one note held for 60 s
    LoudnessMeter(44100)  # computes its filter response (and imports what it needs) before the count
    tracemalloc.start()
    render_wav(path, tmp_path / "held.wav", synth="additive", tail_seconds=0.5)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    song = 60.5 * 44100 * 2 * 4  # the whole song as float32 stereo: 21 MB
    assert peak < song / 3, peak
    audio, sr = soundfile.read(str(tmp_path / "held.wav"), dtype="float32")
    assert sr == 44100 and len(audio) >= 60 * 44100
    whole = render_midifile(mido.MidiFile(str(path)), synth="additive", tail_seconds=0.5)
    import pyloudnorm

    assert pyloudnorm.Meter(sr).integrated_loudness(audio.astype(np.float64)) == pytest.approx(-18.0, abs=0.1)
    assert np.abs(audio).max() <= 10 ** (-1 / 20)  # the loudness was measured block by block, never clipped
    assert len(whole) >= len(audio)
    long = _midi(tmp_path / "long.mid", [(0, 10 * 3600 * 2 * 96, 60)], tpq=96)
    with pytest.raises(MelodyganError, match="score_minutes"):
        render_wav(long, tmp_path / "long.wav", synth="additive")
