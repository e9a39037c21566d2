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
import melodygan.formats.synth as synth
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
    monkeypatch.setattr(synth, "_warned_fallback", False)
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


@pytest.mark.skipif(not fluidsynth_available(), reason="FluidSynth library not installed")
def test_stems_rendered_at_once_are_the_files_rendered_one_after_another(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # Each stem is its own synth's output either way; in threads they must come out byte for byte the same.
    piece = Piece(melody=[Note(4 * i, 4, p, 90) for i, p in enumerate(TUNE[:6])],
                  voices={"Bass": [Note(0, 24, 36, 100)], "Chords": [Note(0, 24, p, 70) for p in (60, 64, 67)]},
                  tempo_bpm=120.0)
    files = {}
    for cores in (1, 2):
        monkeypatch.setattr(synth, "MACHINE_CORES", cores)  # 1: one render after another; 2: two at once
        paths = render_wav(piece, tmp_path / f"c{cores}.wav", sample_rate=22050, stems=True)
        files[cores] = [p.read_bytes() for p in paths]
    assert len(files[1]) == 4 and files[1] == files[2]


def test_the_end_of_a_file_is_where_its_events_end_under_its_tempo_map() -> None:
    import mido

    mid = mido.MidiFile(type=1, ticks_per_beat=96)
    conductor, notes = mido.MidiTrack(), mido.MidiTrack()
    conductor.append(mido.MetaMessage("set_tempo", tempo=400000, time=96))  # beat 1 at 0.5 s, then 0.4 s a beat
    conductor.append(mido.MetaMessage("set_tempo", tempo=1000000, time=96 * 3))
    notes.append(mido.Message("note_on", note=60, velocity=90, time=10))
    notes.append(mido.Message("note_off", note=60, time=96 * 6))  # ends 2.5 beats after the last change
    mid.tracks += [conductor, notes]
    assert synth.end_seconds(mid) == synth.events_seconds(mid)[1] == pytest.approx(0.5 + 3 * 0.4 + (10 / 96 + 2) * 1.0)


@pytest.mark.parametrize("bit_depth", [16, 24])
def test_wav_files_are_what_libsndfile_writes_for_the_same_samples(tmp_path: Path, bit_depth: int) -> None:
    rng = np.random.default_rng(bit_depth)
    x = np.clip(rng.normal(0, 0.4, (3001, 2)), -1.2, 1.2).astype(np.float32)  # some samples clip
    ours = audio.write_wav(x, tmp_path / "ours.wav", sample_rate=32000, bit_depth=bit_depth)
    pcm = audio._pcm(x.copy(), bit_depth)
    soundfile.write(str(tmp_path / "sf.wav"), pcm, 32000, subtype=audio.BIT_DEPTHS[bit_depth], format="WAV")
    assert ours.read_bytes() == (tmp_path / "sf.wav").read_bytes()
    back, sr = soundfile.read(str(ours), dtype="float32")
    assert sr == 32000 and back.shape == x.shape and np.abs(back - np.clip(x, -1, 1)).max() < 2 ** -(bit_depth - 2)


def test_a_wav_over_4_gib_is_refused_before_it_is_written(tmp_path: Path) -> None:
    with pytest.raises(MelodyganError, match="do not fit in a WAV file"):
        audio._WavWriter(tmp_path / "long.wav", 44100, 24, 600 * 60 * 44100)
    assert not (tmp_path / "long.wav").exists()


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


# --- loops, stems, loudness ---------------------------------------------------------------------
def held_to_the_end() -> Piece:
    """Two bars of 4/4 at 120 bpm (4 s): silent first beat, then a melody and a bass held to the bar line."""
    return Piece(melody=[Note(4, 12, 72, 100), Note(16, 16, 76, 100)], voices={"Bass": [Note(4, 28, 43, 100)]},
                 tempo_bpm=120.0)


def _fold(x: np.ndarray, frames: int) -> np.ndarray:
    out = np.zeros((frames, 2))
    for k in range(0, len(x), frames):
        part = x[k:k + frames]
        out[:len(part)] += part
    return out


SYNTHS = ["additive", pytest.param("fluidsynth", marks=pytest.mark.skipif(not fluidsynth_available(),
                                                                           reason="FluidSynth library not installed"))]


@pytest.mark.parametrize("synth", SYNTHS)
def test_loop_wav_and_stems_are_exactly_the_bars_with_the_tail_folded_onto_the_start(tmp_path: Path,
                                                                                      synth: str) -> None:
    sr = 22050
    loop = render_wav(held_to_the_end(), tmp_path / "l.wav", sample_rate=sr, stems=True, loop=True, synth=synth,
                      bit_depth=24)
    assert [p.name for p in loop] == ["l.wav", "l-Melody.wav", "l-Bass.wav"]
    assert [soundfile.info(str(p)).frames for p in loop] == [2 * 4 * sr // 2] * 3  # 2 bars x 4 beats x 0.5 s
    plain = render_wav(held_to_the_end(), tmp_path / "t.wav", sample_rate=sr, stems=True, synth=synth)
    lengths = {soundfile.info(str(p)).frames for p in plain}
    assert len(lengths) == 1 and lengths.pop() > 4 * sr  # without --loop: the tail is kept, every stem as long
    y, _ = soundfile.read(str(loop[0]), dtype="float64")
    t, _ = soundfile.read(str(plain[0]), dtype="float64")
    first_beat = slice(0, int(0.4 * sr))
    assert np.abs(t[first_beat]).max() < 1e-4  # nothing plays on the first beat ...
    assert np.sqrt((y[first_beat] ** 2).mean()) > 1e-3  # ... but in the loop the last bar's tail rings into it
    if synth == "additive":  # the plain synth is linear and exact: the loop is the rendering folded
        raw = audio.render_midifile(audio.midifile_of(held_to_the_end()), sample_rate=sr, synth="additive")
        folded = _fold(raw.astype(np.float64), len(y))
        gain = float((y * folded).sum() / (folded * folded).sum())
        assert np.abs(y - gain * folded).max() < 1e-4
    stems = [soundfile.read(str(p), dtype="float64")[0] for p in loop[1:]]
    assert np.abs(sum(stems) - y).max() < 2e-3  # the stems still add up to the mix


def test_loop_of_a_foreign_file_ends_on_the_next_bar_line_under_its_tempo_map(tmp_path: Path) -> None:
    import mido

    mid = mido.MidiFile(type=1, ticks_per_beat=96)
    conductor, notes = mido.MidiTrack(), mido.MidiTrack()
    conductor.append(mido.MetaMessage("time_signature", numerator=3, denominator=4))
    conductor.append(mido.MetaMessage("set_tempo", tempo=500000))  # bar 1: 3 beats of 0.5 s
    conductor.append(mido.MetaMessage("set_tempo", tempo=1000000, time=3 * 96))  # bar 2: 3 beats of 1 s
    notes.append(mido.Message("note_on", note=60, velocity=90))
    notes.append(mido.Message("note_off", note=60, time=4 * 96))  # ends, with the file, in bar 2
    mid.tracks += [conductor, notes]
    mid.save(str(tmp_path / "f.mid"))
    assert audio.loop_end_seconds(mid) == pytest.approx(4.5)
    (path,) = render_wav(tmp_path / "f.mid", tmp_path / "f.wav", sample_rate=8000, loop=True, synth="additive")
    assert soundfile.info(str(path)).frames == 4.5 * 8000


def test_wavs_sit_at_one_loudness_and_never_clip(tmp_path: Path) -> None:
    sr = 22050
    soft = Piece(melody=[Note(4 * i, 4, p, 35) for i, p in enumerate(TUNE[:8])], tempo_bpm=120.0)
    full = Piece(melody=[Note(4 * i, 4, p, 120) for i, p in enumerate(TUNE[:8])],
                 voices={"Chords": [Note(0, 32, p, 120) for p in (48, 52, 55, 60)]}, tempo_bpm=120.0)
    for target in (None, -20.0):
        for name, piece in (("soft", soft), ("full", full)):
            kwargs = {} if target is None else {"loudness_lufs": target}
            (path,) = render_wav(piece, tmp_path / f"{name}{target}.wav", sample_rate=sr, synth="additive", **kwargs)
            y, _ = soundfile.read(str(path), dtype="float64")
            lufs = pyloudnorm.Meter(sr).integrated_loudness(y)
            assert lufs == pytest.approx(-18.0 if target is None else target, abs=0.1), (name, target)
            assert np.abs(y).max() <= 10 ** (-1 / 20)
    (path,) = render_wav(soft, tmp_path / "peak.wav", sample_rate=sr, synth="additive", loudness_lufs=None)
    y, _ = soundfile.read(str(path), dtype="float64")
    assert 20 * np.log10(np.abs(y).max()) == pytest.approx(-1.0, abs=0.05)  # peak normalisation on request


def test_a_target_that_would_clip_is_met_as_far_as_the_ceiling_and_said(tmp_path: Path) -> None:
    with pytest.warns(audio.LoudnessWarning, match=r"-5 LUFS would put the peak at \+[0-9.]+ dBFS; written at"):
        (path,) = render_wav(melody_piece(), tmp_path / "hot.wav", sample_rate=22050, synth="additive",
                             loudness_lufs=-5.0)
    y, _ = soundfile.read(str(path), dtype="float64")
    assert 20 * np.log10(np.abs(y).max()) == pytest.approx(-1.0, abs=0.05)  # at the ceiling, not above
    assert pyloudnorm.Meter(22050).integrated_loudness(y) < -5.5
    with pytest.raises(MelodyganError, match="-80 LUFS outside"):
        render_wav(melody_piece(), tmp_path / "x.wav", loudness_lufs=-80.0)


@pytest.mark.skipif(not fluidsynth_available(), reason="FluidSynth library not installed")
def test_a_drum_kit_the_soundfont_lacks_is_one_warning_in_our_words(tmp_path: Path,
                                                                   capfd: pytest.CaptureFixture[str]) -> None:
    import mido

    mid = mido.MidiFile(type=1, ticks_per_beat=96)
    drums = mido.MidiTrack()
    drums.append(mido.Message("program_change", channel=9, program=99))  # no kit 99 in TimGM6mb.sf2
    for k in range(4):
        drums.append(mido.Message("note_on", channel=9, note=36, velocity=100, time=0 if k == 0 else 72))
        drums.append(mido.Message("note_off", channel=9, note=36, time=24))
    mid.tracks.append(drums)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (path,) = render_wav(mid, tmp_path / "k.wav", sample_rate=22050)
    said = [str(w.message) for w in caught]
    assert said == ["soundfont TimGM6mb.sf2 has no preset for drum kit 99 (played with drum kit 0)"]
    out, err = capfd.readouterr()
    assert "fluidsynth" not in (out + err).lower()
    y, _ = soundfile.read(str(path))
    assert np.abs(y).max() > 0.05  # played with the standard kit
