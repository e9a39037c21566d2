"""MIDI files → :class:`~melodygan.piece_arrays.PieceArrays`, many at a time, without Note objects.

The corpus path of the MIDI reader. :func:`midi_to_arrays` gives the rows of the Piece that
:func:`melodygan.formats.midi.midi_to_piece` gives (which is built from them) and the same
:class:`~melodygan.formats.midi.MidiImportWarning`; :func:`midi_to_arrays_many` reads many files
so, with each step over the notes taken for all of them at once (numpy's cost per call, not per
note, is most of the time of one song's arrays):

1. symusic parses every file and the notes are paired and quantised as pretty_midi's would be
   (:func:`melodygan.formats.midi_reader.read_tracks_many`);
2. meter, pickup and the loss report per file (:func:`melodygan.formats.midi.meter_of`,
   :func:`~melodygan.formats.midi.loss_report`); the key from the key signature, else estimated
   from the notes of all tracks (:func:`melodygan.keys.estimate_keys`);
3. the facts of every track of every file (:func:`melodygan.formats.tracks.track_facts_many`)
   and, per file, the melody track they choose (:func:`~melodygan.formats.tracks.choose_melody_track`);
4. the skyline of every polyphonic melody (:func:`melodygan.notes.skyline_columns`), the notes
   under it kept as ``"<name> accompaniment"``;
5. tempo, length, chords from markers, the warning, and the rows.

Files the symusic reader leaves to pretty_midi are read as Pieces by that reader and turned into
rows (:meth:`~melodygan.piece_arrays.PieceArrays.from_piece`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from melodygan.errors import MelodyganError
from melodygan.formats.midi_tracks import (
    MidiImportWarning,
    _Read,
    _unique_name,
    length_and_chords,
    log_choice,
    logger,
    loss_report,
    meter_of,
    piece_with_pretty_midi,
    read_many_with_symusic,
    read_midi_bytes,
    tempo_of,
)
from melodygan.formats.tracks import TrackFacts, choose_melody_track, track_facts_many
from melodygan.keys import Key, estimate_keys
from melodygan.notes import NoteColumns, skyline_columns
from melodygan.piece import DEFAULT_STEPS_PER_QUARTER
from melodygan.piece_arrays import PieceArrays, chord_rows


def midi_to_arrays(path: str | Path, melody_track: str | int | None = None,
                   steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER) -> PieceArrays:
    """The rows of :func:`melodygan.formats.midi.midi_to_piece` (same arguments, warning, errors).

    Raises:
        MelodyganError: missing, corrupt, empty or drum-only files; a bad ``melody_track``.
    """
    got = _many([path], melody_track, steps_per_quarter)[0]
    if isinstance(got, Exception):
        raise got
    return got


def midi_to_arrays_many(paths: Sequence[str | Path],
                        steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER) -> list[PieceArrays | Exception]:
    """:func:`midi_to_arrays` of many files, each with its melody chosen: per file its rows, or the
    error that refuses it (a :class:`~melodygan.errors.MelodyganError` for a bad file)."""
    return _many(paths, None, steps_per_quarter)


def _many(paths: Sequence[str | Path], melody_track: str | int | None,
          steps_per_quarter: int) -> list[PieceArrays | Exception]:
    out: list[PieceArrays | Exception | None] = [None] * len(paths)
    files: list[tuple[int, bytes, Path]] = []
    for i, path in enumerate(paths):
        p = Path(path)
        try:
            files.append((i, read_midi_bytes(p), p))
        except Exception as e:  # a file that cannot be read is refused alone
            out[i] = e
    fast: list[tuple[int, _Read[NoteColumns], Path]] = []
    for (i, data, p), read in zip(files, read_many_with_symusic([(d, p) for _, d, p in files], steps_per_quarter)):
        if read is None:
            try:
                out[i] = PieceArrays.from_piece(piece_with_pretty_midi(data, p, melody_track, steps_per_quarter))
            except Exception as e:
                out[i] = e
        elif isinstance(read, MelodyganError):
            out[i] = read
        else:
            fast.append((i, read, p))
    for (i, _, _), got in zip(fast, assemble_arrays([(r, p) for _, r, p in fast], melody_track, steps_per_quarter)):
        out[i] = got
    return [x if x is not None else MelodyganError("not read") for x in out]


@dataclass
class _File:
    """One file during the assembly."""

    read: _Read[NoteColumns]
    path: Path
    problems: list[str]
    pickup: int
    time_signature: tuple[int, int]
    key: Key | None  # None until estimated
    bar_steps: int
    first: int = 0  # its first track in the joined table
    chosen: int = 0  # the melody's track among its own
    reason: str = ""


def assemble_arrays(reads: Sequence[tuple[_Read[NoteColumns], Path]], melody_track: str | int | None,
                    steps_per_quarter: int) -> list[PieceArrays | Exception]:
    """The rows of many read files (see the module docstring): per file its rows, or the error
    (no pitched notes, a bad ``melody_track``)."""
    out: list[PieceArrays | Exception | None] = [None] * len(reads)
    files: list[tuple[int, _File]] = []
    for i, (read, p) in enumerate(reads):
        try:
            problems = list(read.problems)
            pickup, time_signature = meter_of(read, steps_per_quarter, problems)
            loss_report(read, p, steps_per_quarter, problems)
        except Exception as e:
            out[i] = e
            continue
        key = Key.parse(read.meta.keys[0][1]) if read.meta.keys else None
        bar_steps = steps_per_quarter * 4 * time_signature[0] // time_signature[1]
        files.append((i, _File(read, p, problems, pickup, time_signature, key, bar_steps)))
    if not files:
        return [x if x is not None else MelodyganError("not read") for x in out]
    # every track of every file in one table, by file and track
    tracks = [cols for _, f in files for cols in f.read.tracks.values()]
    sizes = [len(c) for c in tracks]
    table = NoteColumns(*(np.concatenate([getattr(c, a) for c in tracks]) for a in
                          ("start_steps", "duration_steps", "pitch", "velocity")))
    group = np.repeat(np.arange(len(tracks)), sizes)  # (N,) track of each note
    per_file = [len(f.read.tracks) for _, f in files]
    file_of = np.repeat(np.arange(len(files)), per_file)  # (G,) file of each track
    first = 0
    for (_, f), n in zip(files, per_file):
        f.first, first = first, first + n
    _estimate_keys([f for _, f in files], table, file_of[group])
    scales = np.zeros((len(files), 12), dtype=bool)
    for k, (_, f) in enumerate(files):
        assert f.key is not None
        scales[k, list(f.key.scale_extended)] = True
    bars = np.asarray([f.bar_steps for _, f in files])[file_of]
    facts = track_facts_many(table, group, bars, scales[file_of])
    poly = []
    for i, f in files:
        names = list(f.read.tracks)
        mine = facts[f.first:f.first + len(names)]
        try:
            chosen, f.reason = choose_melody_track(dict(zip(names, mine)), melody_track, programs=f.read.programs,
                                                   numbers=f.read.numbers, key=f.key, bar_steps=f.bar_steps,
                                                   steps_per_quarter=steps_per_quarter,
                                                   file_tracks=f.read.meta.tracks)
        except Exception as e:
            out[i] = e
            continue
        f.chosen = names.index(chosen)
        if mine[f.chosen].clashes:
            poly.append(f.first + f.chosen)
    lines = _skylines(table, group, poly)
    bounds = np.searchsorted(group, np.arange(len(tracks) + 1)).tolist()
    for i, f in files:
        if out[i] is None:
            try:
                out[i] = _finish(f, table, bounds, lines.get(f.first + f.chosen), facts, steps_per_quarter)
            except Exception as e:
                out[i] = e
    return [x if x is not None else MelodyganError("not read") for x in out]


def _estimate_keys(files: list[_File], table: NoteColumns, file_of_note: np.ndarray) -> None:
    """The Krumhansl-Schmuckler key of the files without a key signature, from all their notes."""
    need = [k for k, f in enumerate(files) if f.key is None]
    if not need:
        return
    cells = np.bincount(file_of_note * 12 + table.pitch % 12, weights=table.duration_steps,
                        minlength=12 * len(files)).reshape(-1, 12)  # (F, 12) steps per pitch class
    for k, key in zip(need, estimate_keys(cells[need])):
        files[k].key = key
        logger.info("%s: no key signature, estimated %s", files[k].path.name, key.name)


def _skylines(table: NoteColumns, group: np.ndarray, tracks: list[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """The skyline of each of these tracks: per track ``(kept rows of the table, their durations)``."""
    if not tracks:
        return {}
    rows = np.flatnonzero(np.isin(group, tracks))  # by track, each in Note order
    line, dur = skyline_columns(table.take(rows), group[rows])
    kept = rows[line]
    bounds = np.searchsorted(group[kept], np.asarray([*sorted(tracks), group.max() + 1]))
    return {t: (kept[a:b], dur[a:b]) for t, a, b in zip(sorted(tracks), bounds[:-1], bounds[1:])}


def _finish(f: _File, table: NoteColumns, bounds: list[int], line: tuple[np.ndarray, np.ndarray] | None,
            facts: list[TrackFacts], steps_per_quarter: int) -> PieceArrays:
    """The rows of one file, its melody chosen: voices, tempo, length, chords and the warning."""
    names = list(f.read.tracks)
    chosen = names[f.chosen]
    lo, hi = bounds[f.first + f.chosen], bounds[f.first + f.chosen + 1]
    parts: list[tuple[np.ndarray, np.ndarray | None]] = []  # (rows of the table, durations where changed)
    voices = [n for n in names if n != chosen]
    voice_rows = [np.arange(bounds[f.first + names.index(n)], bounds[f.first + names.index(n) + 1]) for n in voices]
    if line is None:
        parts.append((np.arange(lo, hi), None))
    else:
        kept, dur = line
        rest = np.setdiff1d(np.arange(lo, hi), kept, assume_unique=True)  # the notes under the line, in order
        shortened = int((dur != table.duration_steps[kept]).sum())
        cut = f"{shortened} shortened to end where the next begins" if shortened else ""
        parts.append((kept, dur))
        if len(rest):
            part = _unique_name(f"{chosen} accompaniment", set(voices) | {chosen})
            f.problems.append(f"melody track {chosen!r} is polyphonic: kept its top line ({len(kept)} of {hi - lo} "
                              f"notes{', ' + cut if cut else ''}), the other {len(rest)} as {part!r}")
            voices.insert(0, part)
            voice_rows.insert(0, rest)
        else:
            f.problems.append(f"melody track {chosen!r} has overlapping notes: {cut}")
    parts += [(rows, None) for rows in voice_rows]
    log_choice(f.path, f.reason, dict.fromkeys(voices), f.read.numbers)
    tempo_bpm = tempo_of(f.read.meta, f.problems)
    content_end = max(facts[f.first + k].end_steps for k in range(len(names)))
    length, chords = length_and_chords(f.read, steps_per_quarter, content_end)
    if f.problems:
        warnings.warn(f"{f.path.name}: " + "; ".join(f.problems), MidiImportWarning, stacklevel=4)
    rows = np.concatenate([r for r, _ in parts])
    track = np.repeat(np.arange(len(parts)), [len(r) for r, _ in parts])
    dur = np.concatenate([table.duration_steps[r] if d is None else d for r, d in parts])
    notes = np.stack([track, table.start_steps[rows], dur, table.pitch[rows], table.velocity[rows]], axis=1)
    assert f.key is not None
    return PieceArrays(notes, [chosen, *voices], chord_rows(chords), f.key, f.time_signature, tempo_bpm,
                       steps_per_quarter, f.pickup, length, f.read.meta.title, dict(f.read.programs))


__all__ = ["assemble_arrays", "midi_to_arrays", "midi_to_arrays_many"]
