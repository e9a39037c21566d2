"""Audio: render MIDI (or a Piece) to WAV with FluidSynth and a General MIDI soundfont.

Rendering goes through the same type-1 MIDI that :func:`melodygan.formats.midi.write_midi` writes, so
what a user hears is what their DAW gets (programs, channel volumes and pans included). Any MIDI
file renders too, drums and tempo changes included.

* Synth: FluidSynth through pyfluidsynth (``import fluidsynth`` happens on first use), writing
  32-bit float samples (so nothing clips inside the synth and 24-bit output is real), with reverb
  on and chorus off. Soundfont: TimGM6mb.sf2, the small GM soundfont that ships inside pretty_midi's
  package folder, unless ``soundfont=`` names another ``.sf2``/``.sf3``.
* Fallback: when the FluidSynth library cannot be loaded, a plain additive synth (harmonics with
  an attack/decay envelope, a duller timbre for basses, a decaying one for pianos and guitars)
  renders instead, after ONE :class:`SynthFallbackWarning` that names the fix (install the system
  library: Debian/Ubuntu ``libfluidsynth3``, macOS ``brew install fluid-synth``).
* Output: stereo ``(frames, 2)`` float32, 44.1 kHz unless asked, peak-normalised to
  ``peak_dbfs`` (-1 dBFS by default, never above -0.1 dBFS), with the release tail after the last
  note kept (up to ``tail_seconds``, trimmed once it falls 60 dB below the peak, then a 20 ms fade).
  WAV files are written with soundfile as 16- or 24-bit PCM, atomically.
* Stems: one WAV per track (the conductor track plus that track), scaled by the full mix's gain so
  that the stems add up to the mix.
"""

from __future__ import annotations

import ctypes
import importlib.util
import re
import warnings
from pathlib import Path
from typing import Any

import mido
import numpy as np

from melodygan.errors import MelodyganError
from melodygan.files import atomic_output, check_writable, output_path
from melodygan.piece import Piece

DEFAULT_SAMPLE_RATE = 44100
BIT_DEPTHS = {16: "PCM_16", 24: "PCM_24"}
MAX_PEAK_DBFS = -0.1
FALLBACK_FIX = ("FluidSynth library not found: rendering with a plain additive synth instead; for real instrument "
                "sounds install the system library (Debian/Ubuntu: apt install libfluidsynth3; macOS: brew install "
                "fluid-synth; conda: conda install -c conda-forge fluidsynth)")
_warned_fallback = False


class SynthFallbackWarning(UserWarning):
    """FluidSynth could not be loaded; audio comes from the plain additive synth."""


def default_soundfont() -> Path:
    """The GM soundfont shipped in pretty_midi's package folder (found without importing pretty_midi).

    Raises:
        MelodyganError: when pretty_midi or its TimGM6mb.sf2 is missing.
    """
    spec = importlib.util.find_spec("pretty_midi")
    if spec is None or spec.origin is None:
        raise MelodyganError("pretty_midi is not installed, so its TimGM6mb.sf2 soundfont is missing; "
                             "pip install pretty_midi or pass --soundfont PATH")
    path = Path(spec.origin).parent / "TimGM6mb.sf2"
    if not path.is_file():
        raise MelodyganError(f"no soundfont at {path}; pass --soundfont PATH")
    return path


def _load_fluidsynth() -> Any | None:
    """The pyfluidsynth module, or None (after one warning) when the library cannot be loaded."""
    global _warned_fallback
    try:
        import fluidsynth
        return fluidsynth
    except (ImportError, OSError):  # pyfluidsynth raises ImportError when libfluidsynth is absent
        if not _warned_fallback:
            warnings.warn(FALLBACK_FIX, SynthFallbackWarning, stacklevel=3)
            _warned_fallback = True
        return None


def _events_seconds(mid: mido.MidiFile) -> tuple[list[tuple[float, mido.Message]], float]:
    """Channel messages of all tracks with absolute times in seconds (tempo changes applied), in
    time order (note-offs first at equal times), and the end of the file in seconds (its last
    end-of-track). Walks the tracks directly: ``iter(MidiFile)`` and ``MidiFile.length`` copy every
    message, which costs more than the synthesis of a short clip."""
    timed: list[tuple[int, int, int, mido.Message]] = []  # (tick, order, sequence, message)
    tempos: list[tuple[int, int]] = []
    seq = 0
    end_tick = 0
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                tempos.append((tick, msg.tempo))
            elif msg.type in _PLAYED:
                off = msg.type == "note_off" or (msg.type == "note_on" and msg.velocity == 0)
                timed.append((tick, 0 if off else 1, seq, msg))
                seq += 1
        end_tick = max(end_tick, tick)
    timed.sort(key=lambda e: (e[0], e[1], e[2]))
    tempos.sort()
    k, seconds, last_tick, tempo = 0, 0.0, 0, 500000  # MIDI's default tempo: 120 bpm

    def to_seconds(tick: int) -> float:
        nonlocal k, seconds, last_tick, tempo
        while k < len(tempos) and tempos[k][0] <= tick:
            seconds += (tempos[k][0] - last_tick) * tempo / (mid.ticks_per_beat * 1e6)
            last_tick, tempo = tempos[k]
            k += 1
        return seconds + (tick - last_tick) * tempo / (mid.ticks_per_beat * 1e6)

    out = [(to_seconds(tick), msg) for tick, _, _, msg in timed]
    return out, to_seconds(end_tick)


_PLAYED = frozenset(("note_on", "note_off", "program_change", "control_change", "pitchwheel"))


def _new_synth(fs: Any, soundfont: Path, sample_rate: int) -> tuple[Any, int, Any]:
    """A fresh FluidSynth synth with ``soundfont`` loaded: ``(synth, soundfont id, write_float)``.

    A new synth per render keeps renders independent (a reset synth still carries reverb state),
    so the same MIDI always gives the same samples; dynamic sample loading reads only the presets
    a piece uses, which makes loading TimGM6mb.sf2 about three times faster (~30 ms).
    """
    # Reverb on (the soundfont's dry samples sound boxed in without it); chorus off: it costs a
    # quarter of the render time and smears the piano.
    synth = fs.Synth(gain=0.6, samplerate=float(sample_rate),
                     **{"synth.chorus.active": 0, "synth.dynamic-sample-loading": 1})
    sfid = synth.sfload(str(soundfont))
    if sfid < 0:
        synth.delete()
        raise MelodyganError(f"FluidSynth could not load the soundfont {soundfont} (not an .sf2/.sf3 file?)")
    write_float = fs.cfunc("fluid_synth_write_float", ctypes.c_int, ("synth", ctypes.c_void_p, 1),
                           ("len", ctypes.c_int, 1), ("lout", ctypes.c_void_p, 1), ("loff", ctypes.c_int, 1),
                           ("lincr", ctypes.c_int, 1), ("rout", ctypes.c_void_p, 1), ("roff", ctypes.c_int, 1),
                           ("rincr", ctypes.c_int, 1))
    return synth, sfid, write_float


def _fluidsynth_render(mid: mido.MidiFile, fs: Any, soundfont: Path, sample_rate: int,
                       tail_seconds: float) -> np.ndarray:
    synth, sfid, write_float = _new_synth(fs, soundfont, sample_rate)
    try:
        for ch in range(16):
            synth.program_select(ch, sfid, 128 if ch == 9 else 0, 0)
        events, end_s = _events_seconds(mid)
        # whole blocks of FluidSynth's 64 frames: the last one is not cut half-way
        total = -(-round((end_s + tail_seconds) * sample_rate) // 64) * 64
        out = np.zeros((total, 2), dtype=np.float32)  # (frames, channels), interleaved L R L R
        base = out.ctypes.data
        pos = 0

        def render_to(frame: int) -> None:
            nonlocal pos
            while pos < frame:
                n = min(frame - pos, 8192)
                # left samples at offsets 0, 2, 4 …, right at 1, 3, 5 … from frame ``pos``
                write_float(synth.synth, n, base + pos * 8, 0, 2, base + pos * 8, 1, 2)
                pos += n

        for t, msg in events:
            render_to(min(round(t * sample_rate), total))
            if msg.type == "note_on" and msg.velocity > 0:
                synth.noteon(msg.channel, msg.note, msg.velocity)
            elif msg.type in ("note_on", "note_off"):
                synth.noteoff(msg.channel, msg.note)
            elif msg.type == "program_change":
                synth.program_select(msg.channel, sfid, 128 if msg.channel == 9 else 0, msg.program)
            elif msg.type == "control_change":
                synth.cc(msg.channel, msg.control, msg.value)
            elif msg.type == "pitchwheel":
                synth.pitch_bend(msg.channel, msg.pitch)
        render_to(total)
        return out
    finally:
        synth.delete()


def _additive_render(mid: mido.MidiFile, sample_rate: int, tail_seconds: float) -> np.ndarray:
    """The plain fallback synth: additive harmonics per note, panned and scaled by CC10/CC7."""
    events, end_s = _events_seconds(mid)
    total = round((end_s + tail_seconds) * sample_rate)
    out = np.zeros((total, 2), dtype=np.float32)
    program, volume, pan = [0] * 16, [100] * 16, [64] * 16
    sounding: dict[tuple[int, int], tuple[float, int]] = {}
    notes: list[tuple[float, float, int, int, int]] = []  # (start_s, end_s, channel, pitch, velocity)
    for t, msg in events:
        if msg.type == "program_change":
            program[msg.channel] = msg.program
        elif msg.type == "control_change" and msg.control in (7, 10):
            (volume if msg.control == 7 else pan)[msg.channel] = msg.value
        elif msg.type == "note_on" and msg.velocity > 0:
            sounding[(msg.channel, msg.note)] = (t, msg.velocity)
        elif msg.type in ("note_on", "note_off") and (msg.channel, msg.note) in sounding:
            start, vel = sounding.pop((msg.channel, msg.note))
            notes.append((start, t, msg.channel, msg.note, vel))
    for (ch, note), (start, vel) in sounding.items():
        notes.append((start, end_s, ch, note, vel))
    release_s = 0.25
    for start, end, ch, pitch, vel in notes:
        if ch == 9:
            continue  # the plain synth has no drum kit
        f0 = 440.0 * 2 ** ((pitch - 69) / 12)
        n0 = int(start * sample_rate)
        n = min(int((end - start + release_s) * sample_rate), total - n0)
        if n <= 0:
            continue
        ts = np.arange(n, dtype=np.float32) / sample_rate
        prog = program[ch]
        plucked = prog < 8 or 24 <= prog < 40  # pianos, guitars, basses decay
        harmonics = 3 if 32 <= prog < 40 else 6
        tone = np.zeros(n, dtype=np.float32)
        for k in range(1, harmonics + 1):
            if f0 * k < sample_rate / 2:
                tone += np.sin(2 * np.pi * f0 * k * ts) / k ** (1.6 if plucked else 1.2)
        held = end - start
        env = np.minimum(ts / 0.01, 1.0)  # 10 ms attack
        env *= np.exp(-ts * (2.5 if plucked else 0.4))
        env *= np.where(ts < held, 1.0, np.exp(-(ts - held) / 0.06))  # release
        amp = 0.12 * (vel / 127) * (volume[ch] / 127) ** 2
        theta = (pan[ch] / 127) * np.pi / 2  # constant-power pan
        sig = (amp * env * tone).astype(np.float32)
        out[n0:n0 + n, 0] += sig * np.cos(theta)
        out[n0:n0 + n, 1] += sig * np.sin(theta)
    return out


def render_midifile(mid: mido.MidiFile, *, soundfont: str | Path | None = None,
                    sample_rate: int = DEFAULT_SAMPLE_RATE, tail_seconds: float = 3.0,
                    synth: str = "auto") -> np.ndarray:
    """Render a MIDI file to raw (un-normalised) stereo audio.

    Args:
        mid: the MIDI to play.
        soundfont: a ``.sf2``/``.sf3``; None for pretty_midi's TimGM6mb.sf2.
        sample_rate: Hz.
        tail_seconds: how long to keep rendering after the end for reverb and releases.
        synth: ``"auto"`` (FluidSynth, else the plain synth with a warning), ``"fluidsynth"`` or
            ``"additive"``.

    Returns:
        float32 ``(frames, 2)``.

    Raises:
        MelodyganError: missing soundfont, bad sample rate or synth name; ``"fluidsynth"`` asked
            for but not loadable.
    """
    if not 8000 <= sample_rate <= 192000:
        raise MelodyganError(f"sample rate {sample_rate} Hz outside 8000-192000")
    if synth not in ("auto", "fluidsynth", "additive"):
        raise MelodyganError(f"unknown synth {synth!r}; allowed: auto, fluidsynth, additive")
    sf = Path(soundfont) if soundfont is not None else default_soundfont()
    if not sf.is_file():
        raise MelodyganError(f"soundfont {sf} not found")
    fs = None if synth == "additive" else _load_fluidsynth()
    if fs is None:
        if synth == "fluidsynth":
            raise MelodyganError(FALLBACK_FIX.split(":")[0] + "; install libfluidsynth3 / fluid-synth")
        return _additive_render(mid, sample_rate, tail_seconds)
    return _fluidsynth_render(mid, fs, sf, sample_rate, tail_seconds)


def finish(audio: np.ndarray, music_end_frames: int, sample_rate: int, gain: float) -> np.ndarray:
    """Apply ``gain``, trim the tail once it is 60 dB below the peak (never before the music
    ends), and fade the last 20 ms out.

    Args:
        audio: ``(frames, 2)`` float32.
        music_end_frames: the last frame of the music proper (the final bar line).
        sample_rate: Hz.
        gain: linear factor.
    """
    peak = _peak(audio)
    tail = np.abs(audio[music_end_frames:]).max(axis=1) if music_end_frames < len(audio) else np.zeros(0)
    loud = np.flatnonzero(tail > peak * 1e-3)
    end = music_end_frames + (int(loud[-1]) + 1 if len(loud) else 0)
    end = min(end + sample_rate // 50, len(audio))
    out = audio[:end] * np.float32(gain)  # the one full-size copy
    fade = min(sample_rate // 50, len(out))
    if fade:
        out[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)[:, None]
    return out


def _peak(audio: np.ndarray) -> float:
    """Largest absolute sample (0.0 for no samples), without an ``abs`` copy of the whole signal."""
    return max(float(audio.max()), -float(audio.min())) if audio.size else 0.0


def normalising_gain(audio: np.ndarray, peak_dbfs: float) -> float:
    """Linear gain that puts the peak of ``audio`` at ``peak_dbfs`` (1.0 for silence)."""
    if peak_dbfs > MAX_PEAK_DBFS:
        raise MelodyganError(f"peak {peak_dbfs} dBFS above the allowed maximum {MAX_PEAK_DBFS} dBFS")
    peak = _peak(audio)
    return 10 ** (peak_dbfs / 20) / peak if peak > 0 else 1.0


def write_wav(audio: np.ndarray, path: str | Path, sample_rate: int = DEFAULT_SAMPLE_RATE, bit_depth: int = 16,
              force: bool = False) -> Path:
    """Write ``(frames, 2)`` float audio in [-1, 1] as a PCM WAV, atomically.

    Raises:
        MelodyganError: bad bit depth, or the file exists and ``force`` is False.
    """
    import soundfile

    if bit_depth not in BIT_DEPTHS:
        raise MelodyganError(f"bit depth {bit_depth} not supported; allowed: 16, 24")
    # integer samples made here (numpy is several times faster than libsndfile's float conversion)
    scale = 2.0**15 - 1 if bit_depth == 16 else (2.0**23 - 1) * 256  # 24-bit goes in the top bits of int32
    pcm = np.multiply(audio, scale, dtype=np.float64 if bit_depth == 24 else np.float32)  # one copy, then in place
    np.clip(pcm, -scale, scale, out=pcm)
    np.rint(pcm, out=pcm)
    data = pcm.astype(np.int16 if bit_depth == 16 else np.int32)
    with atomic_output(path, force=force) as tmp:
        soundfile.write(str(tmp), data, sample_rate, subtype=BIT_DEPTHS[bit_depth], format="WAV")
    return Path(path)


def midifile_of(source: Piece | mido.MidiFile | str | Path) -> mido.MidiFile:
    """The MIDI that renders: a Piece's DAW-ready file, or a MIDI file as read.

    Raises:
        MelodyganError: a missing or unreadable MIDI file.
    """
    if isinstance(source, mido.MidiFile):
        return source
    if isinstance(source, Piece):
        from melodygan.formats.midi import piece_to_midifile

        return piece_to_midifile(source)
    p = Path(source)
    try:
        return mido.MidiFile(str(p))
    except FileNotFoundError:
        raise MelodyganError(f"MIDI file {p} not found") from None
    except Exception as e:  # mido raises OSError, EOFError, KeyError, ValueError on corrupt files
        raise MelodyganError(f"{p} is not a readable MIDI file ({e})") from None


def _music_end_seconds(mid: mido.MidiFile) -> float:
    return _events_seconds(mid)[1]


def render_wav(source: Piece | mido.MidiFile | str | Path, path: str | Path, *, soundfont: str | Path | None = None,
               sample_rate: int = DEFAULT_SAMPLE_RATE, bit_depth: int = 16, peak_dbfs: float = -1.0,
               tail_seconds: float = 3.0, stems: bool = False, synth: str = "auto",
               force: bool = False) -> list[Path]:
    """Render a Piece or a MIDI file to a WAV (and optionally one WAV per track).

    Args:
        source: a Piece, a ``mido.MidiFile`` or a MIDI file path.
        path: the ``.wav`` to write; stems go beside it as ``<stem>-<track>.wav``.
        soundfont: ``.sf2``/``.sf3`` file; None for TimGM6mb.sf2.
        sample_rate: Hz (44100 default).
        bit_depth: 16 or 24.
        peak_dbfs: the mix's peak after normalisation (<= -0.1).
        tail_seconds: release tail rendered after the end of the music.
        stems: also write one WAV per track, at the mix's gain.
        synth: ``"auto"``, ``"fluidsynth"`` or ``"additive"`` (see :func:`render_midifile`).
        force: replace existing files.

    Returns:
        The files written, the mix first.

    Raises:
        MelodyganError: existing outputs without ``force`` (checked before anything is rendered),
            bad settings, unreadable MIDI or soundfont.
    """
    if bit_depth not in BIT_DEPTHS:
        raise MelodyganError(f"bit depth {bit_depth} not supported; allowed: 16, 24")
    mid = midifile_of(source)
    names = track_names(mid)
    stem_paths = [stem_path(path, name) for name in names] if stems else []
    for p in [Path(path), *stem_paths]:
        check_writable(p, force)
    music_end = round(_music_end_seconds(mid) * sample_rate)
    mix = render_midifile(mid, soundfont=soundfont, sample_rate=sample_rate, tail_seconds=tail_seconds, synth=synth)
    gain = normalising_gain(mix, peak_dbfs)
    written = [write_wav(finish(mix, music_end, sample_rate, gain), path, sample_rate, bit_depth, force)]
    limit = 10 ** (peak_dbfs / 20)
    for i, stem_file in enumerate(stem_paths, start=1):
        solo = mido.MidiFile(type=1, ticks_per_beat=mid.ticks_per_beat)
        solo.tracks = [_meta_only(mid.tracks[0]), mid.tracks[_track_indices(mid)[i - 1]]]
        audio = render_midifile(solo, soundfont=soundfont, sample_rate=sample_rate, tail_seconds=tail_seconds,
                                synth=synth)
        peak = _peak(audio) * gain
        stem_gain = gain if peak <= limit else limit / _peak(audio)
        written.append(write_wav(finish(audio, music_end, sample_rate, stem_gain), stem_file, sample_rate,
                                 bit_depth, force))
    return written


def _meta_only(track: mido.MidiTrack) -> mido.MidiTrack:
    """The meta events of a track (tempo, meter, …) with their timing, without its notes."""
    out, carry = mido.MidiTrack(), 0
    for msg in track:
        if msg.is_meta:
            out.append(msg.copy(time=msg.time + carry))
            carry = 0
        else:
            carry += msg.time
    return out


def _track_indices(mid: mido.MidiFile) -> list[int]:
    """Indices of the tracks that play notes (a type-0 file counts as one track)."""
    return [i for i, t in enumerate(mid.tracks) if any(m.type == "note_on" for m in t)]


def track_names(mid: mido.MidiFile) -> list[str]:
    """Names of the tracks that play notes (made unique: "Piano", "Piano 2"), as used for stems."""
    names: list[str] = []
    for i in _track_indices(mid):
        name = next((m.name for m in mid.tracks[i] if m.type == "track_name" and m.name.strip()), f"Track {i}")
        base, k = name.strip(), 2
        while name in names:
            name, k = f"{base} {k}", k + 1
        names.append(name)
    return names


def stem_path(wav_path: str | Path, track_name: str) -> Path:
    """Where the stem of a track goes: ``song.wav`` + ``"Lead vox"`` -> ``song-Lead_vox.wav``."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", track_name).strip("_") or "track"
    return output_path(wav_path, ".wav", tag=f"-{safe}")
