"""POP909 (Wang et al., ISMIR 2020): pop songs with the sung melody, human chords and beats → Pieces.

Per song folder ``NNN/`` (see ``data/pop909/README.md``):

* **Grid from the beat annotations** (``beat_midi.txt``: time s, half-bar flag, downbeat flag), not
  from the MIDI file, whose time signature is unreliable. Every annotated beat is a quarter note of
  4 steps; a time in seconds maps to a fractional beat by linear interpolation between beat times
  (extrapolated past the ends with the neighbouring beat's length) and rounds to the 16th grid.
* **Meter** = the most common number of beats between downbeats (``(n, 4)``); a song where fewer
  than 90% of its bars have that length is skipped with the reason. **Tempo** = 60 / the median
  beat length. Bars before the first downbeat that holds melody are cut; a melody note before it
  makes a pickup.
* **Melody** = the ``MELODY`` track (skyline where notes overlap). The track is the sung line
  played on a piano, mostly detached (40% of its notes last a 16th); a singer holds a note to the
  next one, so a note is held to the next onset when the silence after it is shorter than a beat
  (:data:`LEGATO_GAP_STEPS`). The ``BRIDGE`` and ``PIANO`` tracks are not read: the corpus is for
  lead sheets.
* **Chords** from ``chord_midi.txt`` (Harte labels with times) through
  :func:`melodygan.chords.parse_harte`; labels the vocabulary holds only approximately (9ths,
  7sus4, …) are counted in :class:`Pop909Stats`. A chord starts at its beat-rounded onset.
* **Key** = the ``key_audio.txt`` entry that covers the most time (songs that modulate are counted).

POP909 has no official split: song ids ending in 0 are test, in 1 valid, the rest train (about
80/10/10), the same for every use (:func:`split_of`).

:func:`read_song_arrays` reads a song into rows (:class:`~melodygan.piece_arrays.PieceArrays`, the
preprocessing path: no Note object per note); :func:`read_song` is the Piece of those rows.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from melodygan.chords import Chord, parse_harte
from melodygan.errors import MelodyganError
from melodygan.keys import Key
from melodygan.notes import Note, NoteColumns, is_monophonic_columns, skyline_columns
from melodygan.piece import Piece, chords_from_changes
from melodygan.piece_arrays import PieceArrays, chord_rows

STEPS_PER_BEAT = 4
MIN_REGULAR_BARS = 0.9  # share of bars that must have the song's meter
LEGATO_GAP_STEPS = 4  # a silence shorter than this (a beat) between two melody notes is filled


def legato(notes: list[Note], gap_steps: int = LEGATO_GAP_STEPS) -> list[Note]:
    """Monophonic notes, each held to the next onset when the silence after it is shorter than ``gap_steps``."""
    out = []
    for n, nxt in zip(notes, [*notes[1:], None]):
        if nxt is not None and 0 < nxt.start_steps - n.end_steps < gap_steps:
            n = Note(n.start_steps, nxt.start_steps - n.start_steps, n.pitch, n.velocity)
        out.append(n)
    return out


@dataclass
class Pop909Stats:
    """What reading lost: chord labels by mapping (``exact``/``approx``/``none``), songs that change key."""

    chords: Counter = field(default_factory=Counter)
    key_changes: int = 0


def split_of(song_id: str) -> str:
    """``test`` for ids ending in 0, ``valid`` for 1, else ``train``."""
    last = int(song_id) % 10
    return "test" if last == 0 else "valid" if last == 1 else "train"


def song_folders(root: str | Path) -> list[Path]:
    """The song folders (``001``…``909``) under ``root``, sorted.

    Raises:
        MelodyganError: no such folder or no song folders in it.
    """
    path = Path(root)
    if not path.is_dir():
        raise MelodyganError(f"{path}: no such folder; pass the POP909 folder of song folders NNN/ "
                             "(see data/pop909/README.md)")
    folders = sorted(p for p in path.iterdir() if p.is_dir() and p.name.isdigit())
    if not folders:
        raise MelodyganError(f"{path}: no POP909 song folders (NNN/) here")
    return folders


def _rows(path: Path) -> list[list[str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise MelodyganError(f"{path}: cannot read ({e.strerror})") from None
    return [line.split() for line in text.splitlines() if line.strip()]


def _to_beats(seconds: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Fractional beat index of each time: interpolated between beats, extrapolated at the ends."""
    seconds = np.asarray(seconds, dtype=np.float64)
    beats = np.interp(seconds, times, np.arange(len(times), dtype=np.float64))
    first, last = times[1] - times[0], times[-1] - times[-2]
    beats = np.where(seconds < times[0], (seconds - times[0]) / first, beats)
    return np.where(seconds > times[-1], len(times) - 1 + (seconds - times[-1]) / last, beats)


def _key(rows: list[list[str]], stats: Pop909Stats | None) -> Key:
    covered: dict[str, float] = {}
    for row in rows:
        covered[row[2]] = covered.get(row[2], 0.0) + float(row[1]) - float(row[0])
    if not covered:
        return Key(0, "major")
    if stats is not None and len(covered) > 1:
        stats.key_changes += 1
    tonic, _, mode = max(covered, key=lambda k: covered[k]).partition(":")
    chord, _ = parse_harte(f"{tonic}:maj")
    assert chord.root is not None
    return Key(chord.root, "minor" if mode.startswith("min") else "major")


def read_song(folder: str | Path, stats: Pop909Stats | None = None) -> Piece:
    """One POP909 song folder → a lead-sheet Piece (see the module docstring).

    Raises:
        MelodyganError: a file missing or unreadable, no melody, too few beats, or an irregular meter.
    """
    return read_song_arrays(folder, stats).to_piece()


def read_song_arrays(folder: str | Path, stats: Pop909Stats | None = None) -> PieceArrays:
    """The rows of :func:`read_song` (see the module docstring), read as columns.

    Raises:
        MelodyganError: a file missing or unreadable, no melody, too few beats, or an irregular meter.
    """
    from melodygan.formats.midi import track_seconds_columns

    folder = Path(folder)
    song = folder.name
    beats = np.array([[float(x) for x in row[:3]] for row in _rows(folder / "beat_midi.txt")])
    if len(beats) < 8:
        raise MelodyganError(f"{song}: {len(beats)} annotated beats; too few to read")
    times, downbeats = beats[:, 0], np.flatnonzero(beats[:, 2] > 0.5)
    spans = np.diff(downbeats)
    if len(spans) == 0:
        raise MelodyganError(f"{song}: no bars in beat_midi.txt")
    per_bar = int(np.bincount(spans).argmax())
    regular = float(np.mean(spans == per_bar))
    if regular < MIN_REGULAR_BARS:
        raise MelodyganError(f"{song}: irregular bars ({regular:.0%} have {per_bar} beats)")
    start_s, end_s, pitch, vel = track_seconds_columns(folder / f"{song}.mid", "MELODY")
    if not len(start_s):
        raise MelodyganError(f"{song}: the MELODY track has no notes")
    onsets = np.rint(_to_beats(start_s, times) * STEPS_PER_BEAT).astype(np.int64)
    ends = np.rint(_to_beats(end_s, times) * STEPS_PER_BEAT).astype(np.int64)
    # (a note starting before the first annotated beat has no place on the grid: left out)
    keep = onsets >= 0
    if not keep.any():
        raise MelodyganError(f"{song}: no melody notes after the first annotated beat")
    s = onsets[keep]
    notes = NoteColumns(s, np.maximum(ends[keep], s + 1) - s, pitch[keep], np.clip(vel[keep], 1, 127)).sorted()
    if not is_monophonic_columns(notes):
        line, dur = skyline_columns(notes)
        notes = NoteColumns(notes.start_steps[line], dur, notes.pitch[line], notes.velocity[line])
    notes = legato_columns(notes)
    # Start at the last downbeat at or before the first note; a note before every downbeat is a pickup.
    first = int(notes.start_steps[0])
    first_beat = first / STEPS_PER_BEAT
    before = downbeats[downbeats <= first_beat]
    bar0 = int(before.max()) if len(before) else int(downbeats[0])
    origin = bar0 * STEPS_PER_BEAT
    pickup = max(0, origin - first)
    shift = pickup - origin  # the piece's step 0 is the first note's bar (or the pickup's start)
    changes: list[tuple[int, Chord]] = []
    for row in _rows(folder / "chord_midi.txt"):
        chord, exact = parse_harte(row[2])
        if stats is not None:
            stats.chords["none" if chord.is_no_chord else "exact" if exact else "approx"] += 1
        step = round(float(_to_beats(np.array([float(row[0])]), times)[0]) * STEPS_PER_BEAT) + shift
        if chord.is_no_chord:
            continue
        changes.append((max(step, 0), chord))
    end = int(notes.end_steps.max()) + shift
    bar_steps = per_bar * STEPS_PER_BEAT
    end = pickup + -(-(end - pickup) // bar_steps) * bar_steps  # to the bar line after the last note
    changes = [(s, c) for s, c in changes if s < end]
    # keep only the last chord starting on each step (annotations can stack at one rounded onset)
    by_step = {s: c for s, c in changes}
    chords = chords_from_changes(sorted(by_step.items()), end)
    tempo = 60.0 / float(np.median(np.diff(times)))
    rows = np.stack([np.zeros(len(notes), dtype=np.int64), notes.start_steps + shift, notes.duration_steps,
                     notes.pitch, notes.velocity], axis=1)
    return PieceArrays(rows, ["Melody"], chord_rows(chords), _key(_rows(folder / "key_audio.txt"), stats),
                       (per_bar, 4), round(tempo, 2), pickup_steps=pickup, length_steps=end, title=f"POP909 {song}")


def legato_columns(notes: NoteColumns, gap_steps: int = LEGATO_GAP_STEPS) -> NoteColumns:
    """:func:`legato` of monophonic notes as columns."""
    st, du = notes.start_steps, notes.duration_steps.copy()
    gap = st[1:] - (st[:-1] + du[:-1])
    fill = (gap > 0) & (gap < gap_steps)
    du[:-1][fill] = st[1:][fill] - st[:-1][fill]
    return NoteColumns(st, du, notes.pitch, notes.velocity)
