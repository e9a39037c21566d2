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
import os
import re
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import mido
import numpy as np

from melodygan.errors import MelodyganError
from melodygan.files import atomic_output, check_writable, fs_error, output_path
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
    # quarter of the render time and smears the piano. Voices are rendered on up to two cores
    # (synth.cpu-cores): the same samples, 1.6 times faster on two idle cores (docs/performance.md).
    synth = fs.Synth(gain=0.6, samplerate=float(sample_rate),
                     **{"synth.chorus.active": 0, "synth.dynamic-sample-loading": 1, "synth.cpu-cores": _SYNTH_CORES})
    sfid = synth.sfload(str(soundfont))
    if sfid < 0:
        synth.delete()
        raise MelodyganError(f"FluidSynth could not load the soundfont {soundfont} (not an .sf2/.sf3 file?)")
    write_float = fs.cfunc("fluid_synth_write_float", ctypes.c_int, ("synth", ctypes.c_void_p, 1),
                           ("len", ctypes.c_int, 1), ("lout", ctypes.c_void_p, 1), ("loff", ctypes.c_int, 1),
                           ("lincr", ctypes.c_int, 1), ("rout", ctypes.c_void_p, 1), ("roff", ctypes.c_int, 1),
                           ("rincr", ctypes.c_int, 1))
    return synth, sfid, write_float


def _synth_cores() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 2))


_SYNTH_CORES = _synth_cores()
BLOCK_FRAMES = 1 << 16  # frames per rendered block (512 KiB of float32 stereo): memory is bounded by it


def _fluidsynth_blocks(mid: mido.MidiFile, fs: Any, soundfont: Path, sample_rate: int,
                       tail_seconds: float) -> Iterator[np.ndarray]:
    """FluidSynth's rendering of ``mid`` as consecutive ``(frames, 2)`` float32 blocks."""
    synth, sfid, write_float = _new_synth(fs, soundfont, sample_rate)
    try:
        for ch in range(16):
            synth.program_select(ch, sfid, 128 if ch == 9 else 0, 0)
        events, end_s = _events_seconds(mid)
        # whole blocks of FluidSynth's 64 frames: the last one is not cut half-way
        total = -(-round((end_s + tail_seconds) * sample_rate) // 64) * 64
        buf = np.zeros((BLOCK_FRAMES, 2), dtype=np.float32)  # (frames, channels), interleaved L R L R
        base = buf.ctypes.data
        pos = fill = 0
        k = 0
        while pos < total:
            # the next event due (or the end): render up to it, a block at most, then play it
            due = min(round(events[k][0] * sample_rate), total) if k < len(events) else total
            while pos < due and fill < BLOCK_FRAMES:
                n = min(due - pos, BLOCK_FRAMES - fill, 8192)
                # left samples at offsets 0, 2, 4 …, right at 1, 3, 5 … from frame ``fill``
                write_float(synth.synth, n, base + fill * 8, 0, 2, base + fill * 8, 1, 2)
                pos += n
                fill += n
            if fill == BLOCK_FRAMES or (pos == total and fill):
                yield buf[:fill].copy()
                fill = 0
                continue
            if pos >= due and k < len(events):
                _play(synth, sfid, events[k][1])
                k += 1
    finally:
        synth.delete()


def _play(synth: Any, sfid: int, msg: mido.Message) -> None:
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


def _additive_blocks(mid: mido.MidiFile, sample_rate: int, tail_seconds: float) -> Iterator[np.ndarray]:
    """The plain fallback synth: additive harmonics per note, panned and scaled by CC10/CC7, as
    consecutive ``(frames, 2)`` float32 blocks (each note adds its part inside each block)."""
    events, end_s = _events_seconds(mid)
    total = round((end_s + tail_seconds) * sample_rate)
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
    spans = []  # (first frame, frames, end_s - start_s, channel, pitch, velocity), by first frame
    for start, end, ch, pitch, vel in notes:
        n0 = int(start * sample_rate)
        n = min(int((end - start + release_s) * sample_rate), total - n0)
        if ch != 9 and n > 0:  # the plain synth has no drum kit
            spans.append((n0, n, end - start, ch, pitch, vel))
    spans.sort()
    nxt = 0
    active: list[tuple[int, int, float, int, int, int]] = []
    for b0 in range(0, total, BLOCK_FRAMES):
        b1 = min(b0 + BLOCK_FRAMES, total)
        out = np.zeros((b1 - b0, 2), dtype=np.float32)
        while nxt < len(spans) and spans[nxt][0] < b1:
            active.append(spans[nxt])
            nxt += 1
        active = [a for a in active if a[0] + a[1] > b0]
        for n0, n, held, ch, pitch, vel in active:
            i0, i1 = max(b0, n0) - n0, min(b1, n0 + n) - n0
            f0 = 440.0 * 2 ** ((pitch - 69) / 12)
            ts = np.arange(i0, i1, dtype=np.float32) / sample_rate
            prog = program[ch]
            plucked = prog < 8 or 24 <= prog < 40  # pianos, guitars, basses decay
            harmonics = 3 if 32 <= prog < 40 else 6
            tone = np.zeros(i1 - i0, dtype=np.float32)
            for k in range(1, harmonics + 1):
                if f0 * k < sample_rate / 2:
                    tone += np.sin(2 * np.pi * f0 * k * ts) / k ** (1.6 if plucked else 1.2)
            env = np.minimum(ts / 0.01, 1.0)  # 10 ms attack
            env *= np.exp(-ts * (2.5 if plucked else 0.4))
            env *= np.where(ts < held, 1.0, np.exp(-np.maximum(ts - held, 0) / 0.06))  # release
            amp = 0.12 * (vel / 127) * (volume[ch] / 127) ** 2
            theta = (pan[ch] / 127) * np.pi / 2  # constant-power pan
            sig = (amp * env * tone).astype(np.float32)
            a, b = n0 + i0 - b0, n0 + i1 - b0
            out[a:b, 0] += sig * np.cos(theta)
            out[a:b, 1] += sig * np.sin(theta)
        yield out


def render_midifile(mid: mido.MidiFile, *, soundfont: str | Path | None = None,
                    sample_rate: int = DEFAULT_SAMPLE_RATE, tail_seconds: float = 3.0,
                    synth: str = "auto") -> np.ndarray:
    """Render a MIDI file to raw (un-normalised) stereo audio, the whole song in memory (WAV files
    are rendered block by block instead: :func:`render_wav`). Arguments as :func:`render_blocks`."""
    blocks = list(render_blocks(mid, soundfont=soundfont, sample_rate=sample_rate, tail_seconds=tail_seconds,
                                synth=synth))
    return np.concatenate(blocks) if blocks else np.zeros((0, 2), dtype=np.float32)


def render_blocks(mid: mido.MidiFile, *, soundfont: str | Path | None = None,
                  sample_rate: int = DEFAULT_SAMPLE_RATE, tail_seconds: float = 3.0,
                  synth: str = "auto") -> Iterator[np.ndarray]:
    """Render a MIDI file to raw (un-normalised) stereo audio, ``BLOCK_FRAMES`` frames at a time.

    Args:
        mid: the MIDI to play.
        soundfont: a ``.sf2``/``.sf3``; None for pretty_midi's TimGM6mb.sf2.
        sample_rate: Hz.
        tail_seconds: how long to keep rendering after the end for reverb and releases.
        synth: ``"auto"`` (FluidSynth, else the plain synth with a warning), ``"fluidsynth"`` or
            ``"additive"``.

    Yields:
        float32 ``(frames, 2)`` blocks, in order.

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
        return _additive_blocks(mid, sample_rate, tail_seconds)
    return _fluidsynth_blocks(mid, fs, sf, sample_rate, tail_seconds)


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
    data = _pcm(audio, bit_depth)
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


class _Spool:
    """Rendered blocks kept on disk (a temporary file beside the output), with the peak and each
    block's largest sample, so that the normalised WAV is written without the song in memory."""

    def __init__(self, blocks: Iterator[np.ndarray], folder: Path) -> None:
        from melodygan.errors import library_output

        self.file: IO[bytes] = tempfile.TemporaryFile(dir=folder, prefix=".render-")  # noqa: SIM115 (closed by close())
        self.maxima: list[float] = []
        self.frames = 0
        try:
            with library_output("FluidSynth"):  # its own stderr lines (a missing preset …) as one warning
                for block in blocks:
                    self.file.write(np.ascontiguousarray(block, dtype=np.float32).tobytes())
                    self.maxima.append(_peak(block))
                    self.frames += len(block)
        except OSError as e:  # a full disk while rendering
            self.file.close()
            shown = folder.parent if folder.name.startswith(".staging-") else folder
            raise MelodyganError(f"cannot write the audio being rendered in {shown}: "
                                 f"{fs_error(shown, e).args[0].split(': ', 1)[-1]}") from None
        self.peak = max(self.maxima, default=0.0)

    def read(self, start: int, stop: int) -> np.ndarray:
        self.file.seek(start * 8)
        return np.frombuffer(self.file.read((stop - start) * 8), dtype=np.float32).reshape(-1, 2)

    def end_frame(self, music_end: int, sample_rate: int) -> int:
        """Where :func:`finish` cuts: the tail is kept while it is within 60 dB of the peak."""
        threshold = self.peak * 1e-3
        last = None  # the last loud frame at or after the music's end
        for i in reversed(range(len(self.maxima))):
            b0, b1 = i * BLOCK_FRAMES, min((i + 1) * BLOCK_FRAMES, self.frames)
            if b1 <= music_end:
                break
            if self.maxima[i] <= threshold:
                continue
            lo = max(b0, music_end)
            loud = np.flatnonzero(np.abs(self.read(lo, b1)).max(axis=1) > threshold)
            if len(loud):
                last = lo + int(loud[-1])
                break
        end = last + 1 if last is not None else music_end
        return min(end + sample_rate // 50, self.frames)

    def write_wav(self, path: Path, gain: float, end: int, sample_rate: int, bit_depth: int, force: bool) -> Path:
        """The PCM WAV of frames ``[0, end)`` times ``gain``, the last 20 ms faded, atomically."""
        import soundfile

        fade = min(sample_rate // 50, end)
        ramp = np.linspace(1.0, 0.0, fade, dtype=np.float32)[:, None]
        with atomic_output(path, force=force) as tmp, \
                soundfile.SoundFile(str(tmp), "w", sample_rate, 2, subtype=BIT_DEPTHS[bit_depth], format="WAV") as f:
            for b0 in range(0, end, BLOCK_FRAMES):
                b1 = min(b0 + BLOCK_FRAMES, end)
                block = self.read(b0, b1) * np.float32(gain)
                if b1 > end - fade:  # the fade-out's part in this block
                    a = max(b0, end - fade)
                    block[a - b0:] *= ramp[a - (end - fade):b1 - (end - fade)]
                f.write(_pcm(block, bit_depth))
        return path

    def close(self) -> None:
        self.file.close()


def _pcm(audio: np.ndarray, bit_depth: int) -> np.ndarray:
    """Float samples in [-1, 1] as 16-bit or (top-aligned) 24-bit integers, clipped."""
    # integer samples made here (numpy is several times faster than libsndfile's float conversion)
    scale = 2.0**15 - 1 if bit_depth == 16 else (2.0**23 - 1) * 256  # 24-bit goes in the top bits of int32
    pcm = np.multiply(audio, scale, dtype=np.float64 if bit_depth == 24 else np.float32)  # one copy, then in place
    np.clip(pcm, -scale, scale, out=pcm)
    np.rint(pcm, out=pcm)
    return pcm.astype(np.int16 if bit_depth == 16 else np.int32)


def render_wav(source: Piece | mido.MidiFile | str | Path, path: str | Path, *, soundfont: str | Path | None = None,
               sample_rate: int = DEFAULT_SAMPLE_RATE, bit_depth: int = 16, peak_dbfs: float = -1.0,
               tail_seconds: float = 3.0, stems: bool = False, synth: str = "auto",
               force: bool = False) -> list[Path]:
    """Render a Piece or a MIDI file to a WAV (and optionally one WAV per track).

    Audio is rendered in blocks of :data:`BLOCK_FRAMES` frames into a temporary file beside the
    output, then normalised and written block by block: memory stays bounded by the block, not
    the song (disk use is 8 bytes per frame while rendering). The song's length is bounded by
    the ``score_minutes`` limit (:mod:`melodygan.limits`).

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
            bad settings, unreadable MIDI or soundfont, a song over the length limit.
    """
    from melodygan import limits
    from melodygan.files import make_folder

    if bit_depth not in BIT_DEPTHS:
        raise MelodyganError(f"bit depth {bit_depth} not supported; allowed: 16, 24")
    if peak_dbfs > MAX_PEAK_DBFS:
        raise MelodyganError(f"peak {peak_dbfs} dBFS above the allowed maximum {MAX_PEAK_DBFS} dBFS")
    mid = midifile_of(source)
    names = track_names(mid)
    stem_paths = [stem_path(path, name) for name in names] if stems else []
    for p in [Path(path), *stem_paths]:
        check_writable(p, force)
    end_s = _music_end_seconds(mid)
    limits.check(path if not isinstance(source, (str, Path)) else source, "length to render",
                 round((end_s + tail_seconds) / 60, 1), "score_minutes", " minutes")
    music_end = round(end_s * sample_rate)
    folder = make_folder(Path(path).parent)

    def render(m: mido.MidiFile) -> _Spool:
        return _Spool(render_blocks(m, soundfont=soundfont, sample_rate=sample_rate, tail_seconds=tail_seconds,
                                    synth=synth), folder)

    mix = render(mid)
    try:
        gain = 10 ** (peak_dbfs / 20) / mix.peak if mix.peak > 0 else 1.0
        written = [mix.write_wav(Path(path), gain, mix.end_frame(music_end, sample_rate), sample_rate, bit_depth,
                                 force)]
    finally:
        mix.close()
    limit = 10 ** (peak_dbfs / 20)
    for i, stem_file in enumerate(stem_paths, start=1):
        solo = mido.MidiFile(type=1, ticks_per_beat=mid.ticks_per_beat)
        solo.tracks = [_meta_only(mid.tracks[0]), mid.tracks[_track_indices(mid)[i - 1]]]
        audio = render(solo)
        try:
            stem_gain = gain if audio.peak * gain <= limit else limit / audio.peak
            written.append(audio.write_wav(stem_file, stem_gain, audio.end_frame(music_end, sample_rate),
                                           sample_rate, bit_depth, force))
        finally:
            audio.close()
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
