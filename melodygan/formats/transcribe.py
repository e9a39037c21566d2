"""Transcription: a recording of one melody (hummed, sung, whistled or played) → monophonic Piece.

Method:
    1. Load the audio as mono at 22,050 Hz (librosa; WAV, FLAC, OGG, MP3 where the system can decode it).
    2. Track the pitch with probabilistic YIN (``librosa.pyin``, 65 Hz–2.1 kHz, hop 256 samples ≈ 11.6 ms).
    3. Segment notes: runs of voiced frames whose pitch, rounded to the nearest semitone after a
       5-frame median filter, stays the same; a detected onset (``librosa.onset.onset_detect``)
       inside a run starts a new note when the level dips just before it (a re-attack), so a
       repeated pitch stays two notes while vibrato does not split a held one; a note after silence
       starts at the onset just before it. Notes shorter than ``min_note_seconds`` are dropped
       (glitches between notes).
    4. Tempo: the one given, else librosa's beat tracker (clamped to 50–200 bpm; 120 when it
       finds no beat). Times are shifted so the first note starts at step 0, then quantised to the
       grid (16ths by default); two notes on one step keep the longer one, and a one-step gap
       before the next note is closed (articulation, not a rest).
    5. Key: Krumhansl-Schmuckler estimate of the notes. No chords (that is harmonization's job).

Errors (one line, :class:`MelodyganError`): an unreadable file, silence, or audio without a
pitched sound (noise, speech with no sustained pitch).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from melodygan import limits
from melodygan.errors import MelodyganError, library_output
from melodygan.keys import estimate_key
from melodygan.notes import Note
from melodygan.piece import Piece

SAMPLE_RATE = 22050
HOP_LENGTH = 256
FRAME_LENGTH = 2048
HALF_WINDOW_FRAMES = FRAME_LENGTH // 2 // HOP_LENGTH
MIN_VOICED_PROBABILITY = 0.1
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg")


REATTACK_DIP = 0.7  # an onset splits a held pitch only where the level first dips below this share


def _reattacks(onset_frames: list[int], rms: np.ndarray | None) -> list[int]:
    """The onsets that follow a dip in level (a re-attacked note), not a vibrato's flux inside one."""
    if rms is None:
        return onset_frames
    keep = []
    for o in onset_frames:
        before = rms[max(0, o - 3):o + 1]
        after = rms[o:o + 5]
        if len(before) and len(after) and float(before.min()) < REATTACK_DIP * float(after.max()):
            keep.append(o)
    return keep


def _segments(midi: np.ndarray, voiced: np.ndarray, onset_frames: list[int],
              min_frames: int, rms: np.ndarray | None = None) -> list[tuple[int, int, int]]:
    """``(start_frame, end_frame, pitch)`` notes from the frame pitches (step 3 of the module docstring).

    A run of one rounded pitch over voiced frames is a note. An onset inside a run splits it when
    both halves last ``min_frames`` and the level (``rms``, per frame) dips before it (a re-attacked
    note, not the spectral flux of vibrato or a swell inside one held note); an onset up to ``min_frames * 2`` frames
    before a note that follows silence moves its start there (pYIN's window needs a few frames of
    tone before it calls a frame voiced). Runs shorter than ``min_frames`` are dropped.
    """
    runs: list[tuple[int, int, int]] = []
    start, pitch = -1, -1
    for t in range(len(midi) + 1):
        p = int(midi[t]) if t < len(midi) and voiced[t] else -1
        if start >= 0 and p != pitch:
            runs.append((start, t, pitch))
            start = -1
        if p >= 0 and start < 0:
            start, pitch = t, p
    onsets = sorted(onset_frames)
    out: list[tuple[int, int, int]] = []
    starts = {a for a, _, _ in runs}
    for a, b, p in runs:
        if b - a < min_frames:
            continue
        if b not in starts:  # silence follows: the voicing outlasts the sound by half a window
            b = max(a + min_frames, b - HALF_WINDOW_FRAMES)
        prev_end = out[-1][1] if out else 0
        early = [o for o in onsets if max(prev_end, a - 2 * min_frames) <= o < a]
        if early and (not out or out[-1][1] < a):
            a = early[0]
        # pYIN's centred window keeps a note voiced for half a window after its sound ends, so the
        # part after a cut must be that much longer to be a note rather than a release.
        cuts = [o for o in _reattacks(onsets, rms) if a + min_frames <= o <= b - min_frames - HALF_WINDOW_FRAMES]
        for c in cuts:
            if c - a >= min_frames:
                out.append((a, c, p))
                a = c
        out.append((a, b, p))
    return out


def _duration(path: Path) -> float | None:
    """The recording's length in seconds from its header (soundfile), None when unknown."""
    import soundfile

    try:
        info = soundfile.info(str(path))
    except Exception:  # not a format libsndfile reads: audioread decodes it, bounded by duration=
        return None
    return float(info.frames) / info.samplerate if info.samplerate else None


def transcribe(path: str | Path, *, tempo_bpm: float | None = None, time_signature: tuple[int, int] = (4, 4),
               steps_per_quarter: int = 4, min_note_seconds: float = 0.06) -> Piece:
    """Transcribe a monophonic recording into a Piece (method in the module docstring).

    Args:
        path: audio file.
        tempo_bpm: the performance's tempo in quarter notes per minute; None estimates it.
        time_signature: meter of the result.
        steps_per_quarter: grid resolution.
        min_note_seconds: shorter notes are dropped.

    Raises:
        MelodyganError: unreadable file, silence, no pitched sound, or a tempo outside 10-400.
    """
    import librosa
    import scipy.ndimage

    path = Path(path)
    if not path.is_file():
        raise MelodyganError(f"{path}: no such file")
    if tempo_bpm is not None and not 10 <= tempo_bpm <= 400:
        raise MelodyganError(f"tempo {tempo_bpm} bpm outside 10-400")
    max_minutes = limits.current().audio_minutes
    try:
        with library_output("audio decoder"):
            seconds = _duration(path)
            if seconds is not None:
                limits.check(path, "length", round(seconds / 60, 2), "audio_minutes", " minutes")
            # never decode more than the limit (and a little), whatever the header said
            y, sr = librosa.load(str(path), sr=SAMPLE_RATE, mono=True,
                                 duration=max_minutes * 60 + 1 if max_minutes else None)
    except MelodyganError:
        raise
    except Exception as e:  # soundfile/audioread raise many types for undecodable input
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise MelodyganError(f"{path}: not a readable audio file ({msg[:120]})") from None
    limits.check(path, "length", round(len(y) / sr / 60, 2), "audio_minutes", " minutes")
    if len(y) < sr // 10 or float(np.max(np.abs(y), initial=0.0)) < 1e-3:
        raise MelodyganError(f"{path}: the recording is silent or shorter than 0.1 s; nothing to transcribe")
    f0, voiced, voiced_prob = librosa.pyin(y, fmin=65.0, fmax=2100.0, sr=sr, frame_length=FRAME_LENGTH,
                             hop_length=HOP_LENGTH)
    # pYIN's Viterbi path calls a few frames of noise "voiced" at a probability near 0; a sung or
    # played note sits well above 0.5 on most frames.
    voiced = voiced & np.isfinite(f0) & (voiced_prob >= MIN_VOICED_PROBABILITY)
    if voiced.sum() * HOP_LENGTH / sr < min_note_seconds:
        raise MelodyganError(f"{path}: no pitched sound found (unvoiced audio); record a hummed, sung or "
                             "played melody")
    midi = np.zeros(len(f0))
    midi[voiced] = librosa.hz_to_midi(f0[voiced])
    midi = np.rint(scipy.ndimage.median_filter(midi, size=5, mode="nearest"))
    voiced = voiced & (midi > 0)
    onsets = librosa.onset.onset_detect(y=y, sr=sr, hop_length=HOP_LENGTH, units="frames").tolist()
    frame_seconds = HOP_LENGTH / sr
    min_frames = max(1, round(min_note_seconds / frame_seconds))
    rms = librosa.feature.rms(y=y, frame_length=FRAME_LENGTH // 4, hop_length=HOP_LENGTH)[0]
    segments = _segments(midi, voiced, onsets, min_frames, rms)
    if not segments:
        raise MelodyganError(f"{path}: no note lasts {min_note_seconds} s or more; nothing to transcribe")
    if tempo_bpm is None:
        tempo, _ = librosa.beat.beat_track(y=y, sr=sr, hop_length=HOP_LENGTH)
        value = float(np.atleast_1d(tempo)[0]) if np.size(tempo) else 0.0
        tempo_bpm = float(np.clip(value, 50.0, 200.0)) if value > 0 else 120.0
    seconds_per_step = 60.0 / tempo_bpm / steps_per_quarter
    t0 = segments[0][0] * frame_seconds
    by_start: dict[int, Note] = {}
    for a, b, pitch in segments:
        start = round((a * frame_seconds - t0) / seconds_per_step)
        end = max(round((b * frame_seconds - t0) / seconds_per_step), start + 1)
        note = Note(start, end - start, int(np.clip(pitch, 0, 127)))
        if start not in by_start or note.duration_steps > by_start[start].duration_steps:
            by_start[start] = note
    notes = sorted(by_start.values())
    melody = []
    for i, n in enumerate(notes):
        if i + 1 < len(notes):
            gap = notes[i + 1].start_steps - n.end_steps
            # Overlaps are cut; a gap of one step is articulation (the breath or the release
            # before the next attack), not a written rest, so the note is held up to the next one.
            if gap < 0 or gap == 1:
                n = Note(n.start_steps, notes[i + 1].start_steps - n.start_steps, n.pitch, n.velocity)
        melody.append(n)
    key, _ = estimate_key(melody)
    return Piece(melody=melody, key=key, time_signature=time_signature, tempo_bpm=round(tempo_bpm, 2),
                 steps_per_quarter=steps_per_quarter, title=path.stem)
