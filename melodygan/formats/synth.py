"""Synthesizers: a MIDI file played as consecutive blocks of float samples.

* FluidSynth through pyfluidsynth (``import fluidsynth`` happens on first use), writing
  32-bit float samples (so nothing clips inside the synth and 24-bit output is real), with reverb
  on and chorus off. Soundfont: TimGM6mb.sf2, the small GM soundfont that ships inside pretty_midi's
  package folder, unless ``soundfont=`` names another ``.sf2``/``.sf3``.
* Fallback: when the FluidSynth library cannot be loaded, a plain additive synth (harmonics with
  an attack/decay envelope, a duller timbre for basses, a decaying one for pianos and guitars)
  renders instead, after ONE :class:`SynthFallbackWarning` that names the fix (install the system
  library: Debian/Ubuntu ``libfluidsynth3``, macOS ``brew install fluid-synth``).
* Soundfont gaps: a program or drum kit the soundfont lacks is played with the nearest it has
  (kit or program 0), reported in one :class:`SoundfontWarning`, not in FluidSynth's own lines.

Blocks are ``(frames, 2)`` float32, :data:`BLOCK_FRAMES` frames at most, so that memory is bounded
by the block and not the song; :mod:`melodygan.formats.audio` turns them into WAV files.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import mido
import numpy as np

from melodygan.errors import MelodyganError

DEFAULT_SAMPLE_RATE = 44100
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


def events_seconds(mid: mido.MidiFile) -> tuple[list[tuple[float, mido.Message]], float]:
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


def end_seconds(mid: mido.MidiFile) -> float:
    """Where ``mid`` ends (its last end-of-track), in seconds under its tempo map: the second
    value of :func:`events_seconds`, without putting every event in order."""
    tempos: list[tuple[int, int]] = []
    end_tick = 0
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                tempos.append((tick, msg.tempo))
        end_tick = max(end_tick, tick)
    return seconds_at(end_tick, tempos, mid.ticks_per_beat)


def seconds_at(tick: float, tempos: list[tuple[int, int]], ticks_per_beat: int) -> float:
    """Seconds from the start to ``tick`` under the tempo changes ``(tick, microseconds per
    beat)`` (any order; 120 bpm before the first)."""
    seconds, last, tempo = 0.0, 0, 500000  # MIDI's default tempo: 120 bpm
    for at, value in sorted(tempos):
        if at >= tick:
            break
        seconds += (at - last) * tempo / (ticks_per_beat * 1e6)
        last, tempo = at, value
    return seconds + (tick - last) * tempo / (ticks_per_beat * 1e6)


_PLAYED = frozenset(("note_on", "note_off", "program_change", "control_change", "pitchwheel"))


def _new_synth(fs: Any, soundfont: Path, sample_rate: int, cores: int | None = None) -> tuple[Any, int, Any]:
    """A fresh FluidSynth synth with ``soundfont`` loaded: ``(synth, soundfont id, write_float)``.

    A new synth per render keeps renders independent (a reset synth still carries reverb state),
    so the same MIDI always gives the same samples; dynamic sample loading reads only the presets
    a piece uses, which makes loading TimGM6mb.sf2 about three times faster (~30 ms).
    """
    # Reverb on (the soundfont's dry samples sound boxed in without it); chorus off: it costs a
    # quarter of the render time and smears the piano. Voices are rendered on up to two cores
    # (synth.cpu-cores): the same samples, 1.6 times faster on two idle cores (docs/performance.md);
    # ``cores`` 1 where several synths play at once, one per core.
    with _CREATING:
        synth = fs.Synth(gain=0.6, samplerate=float(sample_rate),
                         **{"synth.chorus.active": 0, "synth.dynamic-sample-loading": 1,
                            "synth.cpu-cores": _SYNTH_CORES if cores is None else cores})
        sfid = synth.sfload(str(soundfont))
    if sfid < 0:
        _delete(synth)
        raise MelodyganError(f"FluidSynth could not load the soundfont {soundfont} (not an .sf2/.sf3 file?)")
    write_float = fs.cfunc("fluid_synth_write_float", ctypes.c_int, ("synth", ctypes.c_void_p, 1),
                           ("len", ctypes.c_int, 1), ("lout", ctypes.c_void_p, 1), ("loff", ctypes.c_int, 1),
                           ("lincr", ctypes.c_int, 1), ("rout", ctypes.c_void_p, 1), ("roff", ctypes.c_int, 1),
                           ("rincr", ctypes.c_int, 1))
    return synth, sfid, write_float


# One synth is made (or deleted) at a time: libfluidsynth builds its shared tables (the default
# modulators among them) while the first synth of the process is made, and a second synth made
# at that moment in another thread goes on before they are complete: FluidSynth warned "Modulator
# with source 1 none", and every WAV of that render came out different (the stems 12 dB off
# against the mix). Synths that play in several threads at once are safe.
_CREATING = threading.Lock()


def _delete(synth: Any) -> None:
    with _CREATING:
        synth.delete()


def _machine_cores() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores)


MACHINE_CORES = _machine_cores()  # cores this process may run on: synths playing at once (stems)
_SYNTH_CORES = min(MACHINE_CORES, 2)  # FluidSynth's voices of one synth
BLOCK_FRAMES = 1 << 16  # frames per rendered block (512 KiB of float32 stereo): memory is bounded by it


def _fluidsynth_blocks(mid: mido.MidiFile, fs: Any, soundfont: Path, sample_rate: int,
                       tail_seconds: float, cores: int | None = None) -> Iterator[np.ndarray]:
    """FluidSynth's rendering of ``mid`` as consecutive ``(frames, 2)`` float32 blocks."""
    synth, sfid, write_float = _new_synth(fs, soundfont, sample_rate, cores)
    presets = _Presets(fs, synth, sfid)
    play = _player(fs, synth, presets)
    try:
        for ch in range(16):
            presets.select(ch, 0)
        events, end_s = events_seconds(mid)
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
                play(events[k][1])
                k += 1
        presets.report(soundfont)
    finally:
        _delete(synth)


class _Presets:
    """Program changes checked against the soundfont: a program (or drum kit) it lacks is played
    with the nearest one it has (the kit or program 0 of the same bank, else program 0), and the
    gaps that notes actually used are reported in ONE warning in melodygan's words, instead of
    FluidSynth's own "no preset" line on every program change."""

    def __init__(self, fs: Any, synth: Any, sfid: int) -> None:
        self.synth, self.sfid = synth, sfid
        # without this entry point pyfluidsynth cannot look presets up: trust the soundfont then
        self.can_check = getattr(fs, "fluid_synth_get_sfont_by_id", None) is not None
        self.missing: dict[int, tuple[int, int]] = {}  # channel -> (bank, program) asked for, absent
        self.used: dict[tuple[int, int], tuple[int, int]] = {}  # (bank, program) absent -> used instead
        self.reported: set[tuple[int, int]] = set()  # absent ones that notes were played with

    def _has(self, bank: int, program: int) -> bool:
        return not self.can_check or self.synth.sfpreset_name(self.sfid, bank, program) is not None

    def select(self, channel: int, program: int) -> None:
        bank = 128 if channel == 9 else 0
        self.missing.pop(channel, None)
        if not self._has(bank, program):
            wanted = (bank, program)
            found = next((bp for bp in ((bank, 0), (0, program), (0, 0)) if self._has(*bp)), None)
            if found is None:
                return  # the soundfont has nothing to play there: FluidSynth keeps what it had
            self.missing[channel] = wanted
            self.used.setdefault(wanted, found)
            bank, program = found
        self.synth.program_select(channel, self.sfid, bank, program)

    def note(self, channel: int) -> None:
        """A note starts on ``channel``: its program's gap (if any) is worth reporting."""
        if channel in self.missing:
            self.reported.add(self.missing[channel])

    def report(self, soundfont: Path) -> None:
        gaps = sorted(self.reported)
        if not gaps:
            return

        def name(bank: int, program: int) -> str:
            return f"drum kit {program}" if bank == 128 else f"GM program {program}"

        said = ", ".join(f"{name(*g)} (played with {name(*self.used[g])})" for g in gaps)
        warnings.warn(f"soundfont {soundfont.name} has no preset for {said}", SoundfontWarning, stacklevel=2)


class SoundfontWarning(UserWarning):
    """The soundfont lacks a program or drum kit the music asks for; a stand-in played it."""


def _player(fs: Any, synth: Any, presets: _Presets) -> Callable[[mido.Message], None]:
    """The function that plays one channel message on ``synth``: libfluidsynth's own calls, not
    pyfluidsynth's wrappers (whose argument checks mido has already made), a few ms per song."""
    ptr = synth.synth
    noteon, noteoff = fs.fluid_synth_noteon, fs.fluid_synth_noteoff
    cc, bend = fs.fluid_synth_cc, fs.fluid_synth_pitch_bend

    def play(msg: mido.Message) -> None:
        kind = msg.type
        if kind == "note_on" and msg.velocity > 0:
            presets.note(msg.channel)
            noteon(ptr, msg.channel, msg.note, msg.velocity)
        elif kind in ("note_on", "note_off"):
            noteoff(ptr, msg.channel, msg.note)
        elif kind == "program_change":
            presets.select(msg.channel, msg.program)
        elif kind == "control_change":
            cc(ptr, msg.channel, msg.control, msg.value)
        elif kind == "pitchwheel":
            bend(ptr, msg.channel, msg.pitch + 8192)  # mido: -8192..8191, MIDI: 0..16383

    return play


def _additive_blocks(mid: mido.MidiFile, sample_rate: int, tail_seconds: float) -> Iterator[np.ndarray]:
    """The plain fallback synth: additive harmonics per note, panned and scaled by CC10/CC7, as
    consecutive ``(frames, 2)`` float32 blocks (each note adds its part inside each block)."""
    events, end_s = events_seconds(mid)
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
                  synth: str = "auto", cores: int | None = None) -> Iterator[np.ndarray]:
    """Render a MIDI file to raw (un-normalised) stereo audio, ``BLOCK_FRAMES`` frames at a time.

    Args:
        mid: the MIDI to play.
        soundfont: a ``.sf2``/``.sf3``; None for pretty_midi's TimGM6mb.sf2.
        sample_rate: Hz.
        tail_seconds: how long to keep rendering after the end for reverb and releases.
        synth: ``"auto"`` (FluidSynth, else the plain synth with a warning), ``"fluidsynth"`` or
            ``"additive"``.
        cores: threads FluidSynth renders the voices on (None: up to two, as the machine has);
            the samples are the same on any number.

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
    return _fluidsynth_blocks(mid, fs, sf, sample_rate, tail_seconds, cores)


