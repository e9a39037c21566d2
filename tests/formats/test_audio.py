"""Audio rendering: pitch accuracy checked with librosa's pyin, no clipping, tails, stems, the
fallback synth's single warning, overwrite refusal; loop-exact lengths, equal stems, loudness
targets (measured back with pyloudnorm), soundfont gaps reported in one line."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import soundfile

import melodygan.formats.audio as audio
from melodygan.errors import MelodyganError
from melodygan.formats.audio import SynthFallbackWarning, render_wav
from melodygan.notes import Note
from melodygan.piece import Piece

TUNE = [60, 62, 64, 65, 67, 69, 71, 72, 74, 72, 67, 64]  # quarter notes at 120 bpm: 0.5 s each


def melody_piece(pitches: list[int] = TUNE) -> Piece:
    return Piece(melody=[Note(i * 4, 4, p, 90) for i, p in enumerate(pitches)], tempo_bpm=120.0)


def fluidsynth_available() -> bool:
    try:
        import fluidsynth  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


def share_within_50_cents(y: np.ndarray, sr: int, pitches: list[int], note_seconds: float) -> float:
    """Share of pyin's voiced frames (inside the notes) within 50 cents of the intended pitch."""
    librosa = pytest.importorskip("librosa")
    f0, voiced, _ = librosa.pyin(y, fmin=80, fmax=1000, sr=sr, frame_length=2048, hop_length=256)
    times = librosa.times_like(f0, sr=sr, hop_length=256)
    hits = total = 0
    for f, v, t in zip(f0, voiced, times):
        k = int(t / note_seconds)
        if not v or k >= len(pitches):
            continue
        target = 440.0 * 2 ** ((pitches[k] - 69) / 12)
        total += 1
        hits += abs(1200 * np.log2(f / target)) <= 50
    assert total > 0.6 * len(f0[: int(len(pitches) * note_seconds * sr / 256)]), "too few voiced frames"
    return hits / total


@pytest.mark.skipif(not fluidsynth_available(), reason="FluidSynth library not installed")
def test_fluidsynth_melody_is_in_tune_and_never_clips(tmp_path: Path) -> None:
    sr = 22050
    with warnings.catch_warnings():
        warnings.simplefilter("error", SynthFallbackWarning)  # must really be FluidSynth
        (path,) = render_wav(melody_piece(), tmp_path / "m.wav", sample_rate=sr, bit_depth=24)
    info = soundfile.info(str(path))
    assert (info.samplerate, info.channels, info.subtype) == (sr, 2, "PCM_24")
    y, _ = soundfile.read(str(path), dtype="float32")
    peak = float(np.abs(y).max())
    assert peak <= 10 ** (-1 / 20)  # no clipping: under the -1 dBFS ceiling
    assert pyloudnorm.Meter(sr).integrated_loudness(y.astype(np.float64)) == pytest.approx(-18.0, abs=0.1)
    music_end = len(TUNE) * 0.5
    assert len(y) / sr > music_end + 0.05  # the release tail is kept
    assert np.abs(y[-20:]).max() < 1e-3  # and faded out, no click
    assert share_within_50_cents(y.mean(axis=1), sr, TUNE, 0.5) >= 0.85


def test_fallback_synth_warns_once_names_the_fix_and_still_writes(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fluidsynth", None)  # `import fluidsynth` now raises ImportError
    monkeypatch.setattr(audio, "_warned_fallback", False)
    sr = 22050
    with pytest.warns(SynthFallbackWarning, match="libfluidsynth3") as rec:
        render_wav(melody_piece(), tmp_path / "a.wav", sample_rate=sr)
        render_wav(melody_piece(), tmp_path / "b.wav", sample_rate=sr)
    assert len([w for w in rec if issubclass(w.category, SynthFallbackWarning)]) == 1
    y, got_sr = soundfile.read(str(tmp_path / "a.wav"), dtype="float32")
    assert got_sr == sr and y.shape[1] == 2
    assert np.abs(y).max() <= 10 ** (-0.1 / 20)
    assert share_within_50_cents(y.mean(axis=1), sr, TUNE, 0.5) >= 0.85
    with pytest.raises(MelodyganError, match="libfluidsynth3"):
        render_wav(melody_piece(), tmp_path / "c.wav", synth="fluidsynth")


def test_stems_add_up_to_the_mix(tmp_path: Path) -> None:
    piece = Piece(melody=[Note(0, 8, 72), Note(8, 8, 76)], voices={"Bass": [Note(0, 16, 36)]}, tempo_bpm=120.0)
    paths = render_wav(piece, tmp_path / "s.wav", sample_rate=22050, stems=True, synth="additive")
    assert [p.name for p in paths] == ["s.wav", "s-Melody.wav", "s-Bass.wav"]
    mix, _ = soundfile.read(str(paths[0]), dtype="float32")
    parts = [soundfile.read(str(p), dtype="float32")[0] for p in paths[1:]]
    n = min(len(mix), *(len(p) for p in parts)) - 600  # the ends are faded separately
    total = sum(p[:n] for p in parts)
    assert np.abs(total - mix[:n]).max() < 1e-3


def test_existing_outputs_are_refused_before_rendering(tmp_path: Path) -> None:
    (tmp_path / "x-Bass.wav").write_bytes(b"mine")
    piece = Piece(melody=[Note(0, 4, 72)], voices={"Bass": [Note(0, 4, 36)]})
    with pytest.raises(MelodyganError, match="exists"):
        render_wav(piece, tmp_path / "x.wav", stems=True, synth="additive")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x-Bass.wav"]  # nothing else written
    render_wav(piece, tmp_path / "x.wav", stems=True, synth="additive", force=True)
    assert (tmp_path / "x-Bass.wav").read_bytes()[:4] == b"RIFF"


def test_bad_settings_are_user_errors(tmp_path: Path) -> None:
    piece = melody_piece()
    with pytest.raises(MelodyganError, match=r"soundfont .*nope\.sf2"):
        render_wav(piece, tmp_path / "a.wav", soundfont=tmp_path / "nope.sf2")
    with pytest.raises(MelodyganError, match="bit depth 12"):
        render_wav(piece, tmp_path / "a.wav", bit_depth=12)
    with pytest.raises(MelodyganError, match=r"-0\.1"):
        render_wav(piece, tmp_path / "a.wav", peak_dbfs=0.0, synth="additive")
    with pytest.raises(MelodyganError, match="not a readable MIDI"):
        (tmp_path / "bad.mid").write_bytes(b"not midi")
        render_wav(tmp_path / "bad.mid", tmp_path / "a.wav")
    assert not (tmp_path / "a.wav").exists()


@pytest.mark.skipif(not fluidsynth_available(), reason="FluidSynth library not installed")
def test_any_midi_file_renders_drums_included(tmp_path: Path) -> None:
    import mido

    mid = mido.MidiFile(type=1, ticks_per_beat=96)
    drums = mido.MidiTrack()
    for k in range(4):
        drums.append(mido.Message("note_on", channel=9, note=36, velocity=100, time=0 if k == 0 else 72))
        drums.append(mido.Message("note_off", channel=9, note=36, time=24))
    mid.tracks.append(drums)
    mid.save(str(tmp_path / "d.mid"))
    (path,) = render_wav(tmp_path / "d.mid", tmp_path / "d.wav", sample_rate=22050)
    y, _ = soundfile.read(str(path))
    assert np.abs(y).max() > 0.5  # normalised kick drum, not silence


@pytest.mark.skipif(not fluidsynth_available(), reason="FluidSynth library not installed")
def test_same_piece_same_wav_even_after_another_render(tmp_path: Path) -> None:
    # Nothing (voices, reverb, controllers) may carry over from one render to the next.
    loud = Piece(melody=[Note(0, 16, 48, 127)], voices={"Chords": [Note(0, 16, p, 127) for p in (60, 64, 67)]},
                 programs={"Melody": 19})
    render_wav(melody_piece(), tmp_path / "a.wav", sample_rate=22050)
    render_wav(loud, tmp_path / "loud.wav", sample_rate=22050, tail_seconds=0.1)  # cut off mid-reverb
    render_wav(melody_piece(), tmp_path / "b.wav", sample_rate=22050)
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
