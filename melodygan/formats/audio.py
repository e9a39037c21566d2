"""Audio: render MIDI (or a Piece) to WAV with FluidSynth and a General MIDI soundfont.

Rendering goes through the same type-1 MIDI that :func:`melodygan.formats.midi.write_midi` writes, so
what a user hears is what their DAW gets (programs, channel volumes and pans included). Any MIDI
file renders too, drums and tempo changes included. The synthesizers (FluidSynth with a General
MIDI soundfont, the additive fallback) are in :mod:`melodygan.formats.synth`; this module makes
WAV files of what they play:

* Output: stereo ``(frames, 2)`` float32, 44.1 kHz unless asked, brought to an integrated
  loudness of ``loudness_lufs`` (-18 LUFS by default, ITU-R BS.1770, pyloudnorm's meter:
  :mod:`melodygan.formats.loudness`) with the sample peak never above ``peak_dbfs`` (-1 dBFS;
  where the target needs more, the gain stops there and a :class:`LoudnessWarning` says so), or
  peak-normalised to ``peak_dbfs`` with ``loudness_lufs=None``. Length: the music plus its
  release tail (up to ``tail_seconds``, trimmed once it falls 60 dB below the peak, then a 20 ms
  fade), or with ``loop=True`` exactly the loop (the end rounded up to a bar line, in frames)
  with the tail folded back onto its start, so that it repeats seamlessly.
  WAV files are 16- or 24-bit PCM, written atomically with the standard library's :mod:`wave`
  (the bytes libsndfile writes), the loudness measured while the mix renders.
* Stems: one WAV per track (the conductor track plus that track), scaled by the full mix's gain so
  that the stems add up to the mix, each exactly as long as the mix; each rendered by a synth of
  its own, at the same time as the mix and the other stems where there are cores for them.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import mido
import numpy as np

from melodygan import limits, progress
from melodygan.errors import MelodyganError
from melodygan.files import atomic_output, check_writable, fs_error, output_path
from melodygan.formats.loudness import DEFAULT_LOUDNESS_LUFS, LoudnessMeter, check_loudness
from melodygan.formats.synth import (  # noqa: F401 (the synth's public names, also importable from here)
    BLOCK_FRAMES,
    DEFAULT_SAMPLE_RATE,
    FALLBACK_FIX,
    SoundfontWarning,
    SynthFallbackWarning,
    default_soundfont,
    end_seconds,
    events_seconds,
    render_blocks,
    render_midifile,
    seconds_at,
)
from melodygan.piece import Piece

BIT_DEPTHS = {16: "PCM_16", 24: "PCM_24"}
MAX_PEAK_DBFS = -0.1
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
    if bit_depth not in BIT_DEPTHS:
        raise MelodyganError(f"bit depth {bit_depth} not supported; allowed: 16, 24")
    with atomic_output(path, force=force) as tmp, _WavWriter(tmp, sample_rate, bit_depth, len(audio)) as f:
        f.write(np.array(audio, dtype=np.float32))
    return Path(path)


class _WavWriter:
    """A stereo PCM WAV (16 or 24 bit) of a known number of frames, written block by block.

    The file is the canonical 44-byte RIFF header then the samples, byte for byte what libsndfile
    (soundfile) writes for ``subtype="PCM_16"``/``"PCM_24"``; made with the standard library's
    :mod:`wave`, which saves importing soundfile on the path of every WAV rendered.
    """

    def __init__(self, path: Path, sample_rate: int, bit_depth: int, frames: int) -> None:
        import wave

        if 36 + frames * 2 * (bit_depth // 8) > 0xFFFFFFFF:
            raise MelodyganError(f"{path.name.split('.tmp-')[0]}: {frames / sample_rate / 60:.0f} minutes of "
                                 f"{bit_depth}-bit stereo do not fit in a WAV file (4 GiB at most)")
        self.bit_depth = bit_depth
        self.file = wave.open(str(path), "wb")  # noqa: SIM115 (closed by __exit__)
        self.file.setnchannels(2)
        self.file.setsampwidth(bit_depth // 8)
        self.file.setframerate(sample_rate)
        self.file.setnframes(frames)  # the header is right the first time: no seek back

    def write(self, block: np.ndarray) -> None:
        """Add ``(frames, 2)`` float32 samples in [-1, 1] (clipped); ``block`` is overwritten."""
        pcm = _pcm(block, self.bit_depth)
        if self.bit_depth == 24:  # the top three bytes of each little-endian int32, as libsndfile takes them
            pcm = pcm.reshape(-1, 1).view(np.uint8)[:, 1:]
        self.file.writeframesraw(np.ascontiguousarray(pcm).data)

    def __enter__(self) -> _WavWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()


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


def loop_end_seconds(mid: mido.MidiFile) -> float:
    """Where a loop of ``mid`` ends, in seconds: the file's end (its last end-of-track) moved up
    to the next bar line of its time-signature map (bars counted from each time signature; 4/4
    before the first), under its tempo map. A file melodygan writes already ends on a bar line."""
    sigs: list[tuple[int, int, int, int]] = []  # (tick, order in the file, numerator, denominator)
    tempos: list[tuple[int, int]] = []
    end = 0
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "time_signature":
                sigs.append((tick, len(sigs), msg.numerator, msg.denominator))
            elif msg.type == "set_tempo":
                tempos.append((tick, msg.tempo))
        end = max(end, tick)
    anchor, num, den = 0, 4, 4
    for tick, _, n, d in sorted(sigs):  # at one tick, the last in the file wins
        if tick >= end:
            break
        anchor, num, den = tick, n, d
    bar = mid.ticks_per_beat * 4 * num / den
    bars = max(0, -(-round((end - anchor) * 1e6 / bar) // 1_000_000))  # whole bars, rounding noise aside
    return seconds_at(anchor + bars * bar, tempos, mid.ticks_per_beat)


class _Spool:
    """Rendered blocks kept on disk (a temporary file beside the output), with the peak and each
    block's largest sample, so that the normalised WAV is written without the song in memory.

    ``meter`` (if given) measures the first ``metered`` frames as they are rendered: frames
    before the end's fade-out are the WAV's frames unchanged, so they need not be read back for
    the loudness (:meth:`measure` goes on from there)."""

    def __init__(self, blocks: Iterator[np.ndarray], folder: Path, meter: LoudnessMeter | None = None,
                 metered: int = 0, capture: bool = True) -> None:
        from melodygan.errors import library_output

        self.file: IO[bytes] = tempfile.TemporaryFile(dir=folder, prefix=".render-")  # noqa: SIM115 (closed by close())
        self.maxima: list[float] = []
        self.frames = 0
        self.meter = meter
        self.metered = 0  # frames fed to the meter so far
        self.metered_peak = 0.0  # their peak
        try:
            # FluidSynth's own stderr lines (if any remain) as one warning; the caller captures them
            # instead when several renders run at once (the capture is for the whole process)
            with library_output("FluidSynth") if capture else contextlib.nullcontext():
                for block in blocks:
                    block = np.ascontiguousarray(block, dtype=np.float32)
                    self.file.write(block.data.cast("B"))
                    self.maxima.append(_peak(block))
                    if meter is not None and self.metered < metered:
                        part = block[:metered - self.metered]
                        meter.feed(part)
                        self.metered += len(part)
                        self.metered_peak = max(self.metered_peak, self.maxima[-1] if len(part) == len(block)
                                                else _peak(part))
                    self.frames += len(block)
        except OSError as e:  # a full disk while rendering
            self.file.close()
            shown = folder.parent if folder.name.startswith(".staging-") else folder
            raise MelodyganError(f"cannot write the audio being rendered in {shown}: "
                                 f"{fs_error(shown, e).args[0].split(': ', 1)[-1]}") from None
        self.peak = max(self.maxima, default=0.0)

    def read(self, start: int, stop: int) -> np.ndarray:
        """Frames ``[start, stop)``; silence past the rendered end."""
        out = np.empty((max(stop - start, 0), 2), dtype=np.float32)
        n = max(0, min(stop, self.frames) - start)
        if n:
            self.file.seek(start * 8)
            self.file.readinto(out[:n].data.cast("B"))  # type: ignore[attr-defined]
        out[n:] = 0.0
        return out

    def end_frame(self, music_end: int, sample_rate: int) -> int:
        """Where the tail is cut: once it is 60 dB under the peak (never before the music ends), plus 20 ms."""
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
        return min(end + sample_rate // 50, max(self.frames, music_end))

    def output(self, end: int, loop_frames: int, sample_rate: int, start: int = 0) -> Iterator[np.ndarray]:
        """The WAV's frames before any gain, in blocks: ``[0, end)`` with the last 20 ms faded out
        (from frame ``start`` on); or, for a loop of ``loop_frames``, everything rendered folded
        onto the loop (frame ``i`` is the sum of frames ``i``, ``i + loop_frames``, ``i + 2 *
        loop_frames`` …), so the release tail of the last bar sounds over the first and the loop
        repeats seamlessly."""
        if loop_frames:
            for b0 in range(0, loop_frames, BLOCK_FRAMES):
                b1 = min(b0 + BLOCK_FRAMES, loop_frames)
                block = self.read(b0, b1)
                for k in range(1, -(-self.frames // loop_frames)):
                    block += self.read(b0 + k * loop_frames, b1 + k * loop_frames)
                yield block
            return
        fade = min(sample_rate // 50, end)
        ramp = np.linspace(1.0, 0.0, fade, dtype=np.float32)[:, None]
        for b0 in range(start, end, BLOCK_FRAMES):
            b1 = min(b0 + BLOCK_FRAMES, end)
            block = self.read(b0, b1)
            if b1 > end - fade:  # the fade-out's part in this block
                a = max(b0, end - fade)
                block[a - b0:] *= ramp[a - (end - fade):b1 - (end - fade)]
            yield block

    def measure(self, end: int, loop_frames: int, sample_rate: int,
                loudness: bool) -> tuple[float, LoudnessMeter | None]:
        """Sample peak (linear) of :meth:`output` and, if ``loudness``, the loudness meter fed with it
        (the frames measured while rendering are not read again)."""
        if loop_frames or (loudness and self.meter is None):
            meter, start, peak = (LoudnessMeter(sample_rate) if loudness else None), 0, 0.0
        elif loudness:
            meter, start, peak = self.meter, self.metered, self.metered_peak
        else:  # the peak alone: blocks wholly before the fade-out are not read again
            fade = min(sample_rate // 50, end)
            whole = (end - fade) // BLOCK_FRAMES
            meter, start, peak = None, whole * BLOCK_FRAMES, max(self.maxima[:whole], default=0.0)
        for block in self.output(end, loop_frames, sample_rate, start):
            peak = max(peak, _peak(block))
            if meter is not None:
                meter.feed(block)
        return peak, meter

    def write_wav(self, path: Path, gain: float, end: int, loop_frames: int, sample_rate: int, bit_depth: int,
                  force: bool) -> Path:
        """The PCM WAV of :meth:`output` times ``gain``, atomically."""
        frames = loop_frames or end
        with atomic_output(path, force=force) as tmp, _WavWriter(tmp, sample_rate, bit_depth, frames) as f:
            for block in self.output(end, loop_frames, sample_rate):
                block *= np.float32(gain)
                f.write(block)
        return path

    def close(self) -> None:
        self.file.close()


def _pcm(audio: np.ndarray, bit_depth: int) -> np.ndarray:
    """Float32 samples in [-1, 1] as 16-bit or (top-aligned) 24-bit integers, clipped; 16-bit
    overwrites ``audio`` on the way."""
    # integer samples made here (numpy is several times faster than libsndfile's float conversion)
    if bit_depth == 16:
        scale = 2.0**15 - 1
        pcm = np.multiply(audio, np.float32(scale), out=audio)  # in place: the same float32 products
    else:
        scale = (2.0**23 - 1) * 256  # 24-bit goes in the top bits of int32
        pcm = np.multiply(audio, scale, dtype=np.float64)
    np.clip(pcm, -scale, scale, out=pcm)
    np.rint(pcm, out=pcm)
    return pcm.astype(np.int16 if bit_depth == 16 else np.int32)


class LoudnessWarning(UserWarning):
    """A WAV could not reach the asked loudness without clipping; it was written quieter."""


def render_wav(source: Piece | mido.MidiFile | str | Path, path: str | Path, *, soundfont: str | Path | None = None,
               sample_rate: int = DEFAULT_SAMPLE_RATE, bit_depth: int = 16, peak_dbfs: float = -1.0,
               loudness_lufs: float | None = DEFAULT_LOUDNESS_LUFS, loop: bool = False,
               tail_seconds: float = 3.0, stems: bool = False, synth: str = "auto",
               force: bool = False) -> list[Path]:
    """Render a Piece or a MIDI file to a WAV (and optionally one WAV per track).

    Audio is rendered in blocks of :data:`BLOCK_FRAMES` frames into a temporary file beside the
    output, then measured and written block by block: memory stays bounded by the block, not
    the song (disk use is 8 bytes per frame while rendering). The song's length is bounded by
    the ``score_minutes`` limit (:mod:`melodygan.limits`).

    Length: without ``loop``, the music plus its release tail (cut once it falls 60 dB under the
    peak, then faded over 20 ms); with ``loop``, exactly the loop (:func:`loop_end_seconds` times
    the sample rate, rounded to a frame) with the tail folded back onto the start, no fade. Stems
    always have the mix's length.

    Level: the mix is brought to ``loudness_lufs`` (integrated loudness, ITU-R BS.1770, see
    :mod:`melodygan.formats.loudness`) with its sample peak at most ``peak_dbfs``; where the
    target would need a higher peak the gain stops at ``peak_dbfs`` and a :class:`LoudnessWarning`
    says what was reached. ``loudness_lufs=None`` puts the peak at ``peak_dbfs`` instead.

    Args:
        source: a Piece, a ``mido.MidiFile`` or a MIDI file path.
        path: the ``.wav`` to write; stems go beside it as ``<stem>-<track>.wav``.
        soundfont: ``.sf2``/``.sf3`` file; None for TimGM6mb.sf2.
        sample_rate: Hz (44100 default).
        bit_depth: 16 or 24.
        peak_dbfs: the ceiling of the mix's sample peak (<= -0.1), or its level with ``loudness_lufs=None``.
        loudness_lufs: target integrated loudness of the mix, -60..-5 LUFS; None: peak-normalise.
        loop: make the WAV and the stems exactly one loop long, the tail folded onto the start.
        tail_seconds: release tail rendered after the end of the music.
        stems: also write one WAV per track, at the mix's gain (so that they add up to the mix).
        synth: ``"auto"``, ``"fluidsynth"`` or ``"additive"`` (see :func:`render_midifile`).
        force: replace existing files.

    Returns:
        The files written, the mix first.

    Raises:
        MelodyganError: existing outputs without ``force`` (checked before anything is rendered),
            bad settings, unreadable MIDI or soundfont, a song over the length limit.
    """
    from melodygan.files import make_folder
    from melodygan.formats.loudness import loudness_gain

    if bit_depth not in BIT_DEPTHS:
        raise MelodyganError(f"bit depth {bit_depth} not supported; allowed: 16, 24")
    if peak_dbfs > MAX_PEAK_DBFS:
        raise MelodyganError(f"peak {peak_dbfs} dBFS above the allowed maximum {MAX_PEAK_DBFS} dBFS")
    check_loudness(loudness_lufs)
    mid = midifile_of(source)
    names = track_names(mid)
    stem_paths = [stem_path(path, name) for name in names] if stems else []
    for p in [Path(path), *stem_paths]:
        check_writable(p, force)
    end_s = end_seconds(mid)
    loop_s = loop_end_seconds(mid) if loop else 0.0
    limits.check(path if not isinstance(source, (str, Path)) else source, "length to render",
                 round((max(end_s, loop_s) + tail_seconds) / 60, 1), "score_minutes", " minutes")
    loop_frames = round(loop_s * sample_rate)
    if loop and loop_frames == 0:
        raise MelodyganError(f"{Path(path).name}: the music is empty, there is no loop to render")
    music_end = round(end_s * sample_rate)
    folder = make_folder(Path(path).parent)

    solos = []
    for i in _track_indices(mid)[:len(stem_paths)]:
        solo = mido.MidiFile(type=1, ticks_per_beat=mid.ticks_per_beat)
        solo.tracks = [_meta_only(mid.tracks[0]), mid.tracks[i]]
        solos.append(solo)
    # Without a loop, the frames up to 20 ms before the music's end are the WAV's frames as they
    # are rendered (the tail is cut and faded only after it): measured on the way.
    streamed = LoudnessMeter(sample_rate) if loudness_lufs is not None and not loop else None
    progress.detail(Path(path).name)
    spools = _render_all([mid, *solos], folder, streamed, max(0, music_end - sample_rate // 50),
                         soundfont=soundfont, sample_rate=sample_rate, tail_seconds=tail_seconds, synth=synth)
    try:
        mix = spools[0]
        end = loop_frames or mix.end_frame(music_end, sample_rate)
        peak, meter = mix.measure(end, loop_frames, sample_rate, loudness_lufs is not None)
        if loudness_lufs is None or meter is None:
            gain = 10 ** (peak_dbfs / 20) / peak if peak > 0 else 1.0
        else:
            level = loudness_gain(meter, peak, loudness_lufs, peak_dbfs)
            gain = level.gain
            if level.limited:
                warnings.warn(f"{Path(path).name}: {loudness_lufs:g} LUFS would put the peak at "
                              f"{level.peak_dbfs + loudness_lufs - level.lufs:+.1f} dBFS; written at "
                              f"{level.lufs:.1f} LUFS with the peak at {peak_dbfs:g} dBFS instead of clipping",
                              LoudnessWarning, stacklevel=2)
        written = [mix.write_wav(Path(path), gain, end, loop_frames, sample_rate, bit_depth, force)]
        limit = 10 ** (peak_dbfs / 20)
        for stem_file, audio in zip(stem_paths, spools[1:]):
            progress.detail(stem_file.name)
            stem_peak, _ = audio.measure(end, loop_frames, sample_rate, False)
            stem_gain = gain if stem_peak * gain <= limit else limit / stem_peak
            written.append(audio.write_wav(stem_file, stem_gain, end, loop_frames, sample_rate, bit_depth, force))
    finally:
        for spool in spools:
            spool.close()
    return written


def _render_all(mids: list[mido.MidiFile], folder: Path, meter: LoudnessMeter | None, metered: int,
                **settings: Any) -> list[_Spool]:
    """Render the mix (``mids[0]``, measured by ``meter`` on the way) and the stems into spools.

    Each renders in a synth of its own (a stem is its own synth's output, as it always was); with
    stems and more than one core they render at the same time, one synth per core (FluidSynth's
    calls release the interpreter lock), the mix first since it takes longest. The files are the
    same byte for byte either way."""
    from melodygan.errors import library_output
    from melodygan.formats.synth import MACHINE_CORES

    def render(k: int, cores: int | None = None, capture: bool = True) -> _Spool:
        return _Spool(render_blocks(mids[k], cores=cores, **settings), folder, meter if k == 0 else None,
                      metered if k == 0 else 0, capture)

    threads = min(len(mids), MACHINE_CORES)
    if threads < 2:
        spools: list[_Spool] = []
        try:
            for k in range(len(mids)):
                spools.append(render(k))
        except BaseException:
            for spool in spools:
                spool.close()
            raise
        return spools
    from concurrent.futures import ThreadPoolExecutor

    with library_output("FluidSynth"), ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(render, k, 1, False) for k in range(len(mids))]
        done, failed = [], None
        for future in futures:
            try:
                done.append(future.result())
            except BaseException as e:  # the first failure is raised, once every render has stopped
                failed = failed or e
    if failed is not None:
        for spool in done:
            spool.close()
        raise failed
    return done


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
