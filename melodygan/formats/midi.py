"""MIDI files ⇄ Piece: with :mod:`melodygan.formats.midi_reader`, the only module that imports
pretty_midi, mido and symusic.

Reading (:func:`midi_to_piece`) takes any Standard MIDI File:

* symusic parses it (:mod:`melodygan.formats.midi_reader`, which reads notes, names and meta
  events exactly as pretty_midi and mido do, at symusic's speed; the few files it cannot settle
  alike are read with pretty_midi);
* notes are taken in ticks and quantised to the step grid (16ths by
  default); notes moved by more than a tenth of a step, notes stretched to one step, and
  collisions (two notes of one pitch at one onset, or overlapping each other) are counted and
  reported in one :class:`MidiImportWarning`, never dropped silently;
* tempo, time signature and key come from the meta events (the first of each; later changes are
  reported; of several at one tick the last in file order counts, as a sequencer plays them);
  without a key signature the key is estimated (Krumhansl-Schmuckler);
* a pickup is detected when the file starts with a short bar of its own time signature (what
  notation programs and :func:`write_midi` write), e.g. ``1/4`` for one bar then ``4/4``;
* chord symbols come back from marker events (what :func:`write_midi` writes) when every marker
  parses as a chord symbol;
* the melody track is ``melody_track`` (a track name, or the file's track number counted from 0
  as mido counts them: in a type-1 file track 0 is the tempo track, so the first part is track 1),
  else the best-scoring track of :func:`melodygan.formats.tracks.choose_melody_track` (its name in
  several languages, GM program, monophony, register, note density, the share of notes in the
  key). A polyphonic melody track is reduced to its skyline; the notes under it stay as a voice
  ``"<name> accompaniment"``. All other pitched tracks are kept as voices under their track names;
  drum tracks (channel 10) are left out. The choice, with the track numbers and the reason, is
  logged on the ``melodygan.formats.midi`` logger at INFO level.

mido and pretty_midi are imported inside the functions that use them, so that importing this
module (e.g. from the ``generate`` command) costs nothing until a file is read or written.

Writing (:func:`write_midi`, :func:`piece_to_midifile`) produces DAW-ready files: type 1, 480
ticks per quarter, a conductor track (title, tempo, time signature, key signature, and at each
chord change the chord symbol twice: as a marker and as a text event) and one named track per
part, each on its own channel (channel 10, the GM drum channel, is never used), with the key
signature again (notation programs such as MuseScore take a part's key from its own track only),
a General MIDI program, volume and pan.
Note-offs come before note-ons at the same tick, overlapping notes of one pitch in one track are
cut where the next one starts (so none sticks), and every track's end-of-track event sits exactly
on the final bar line so that a clip loops in a DAW. ``midi_to_piece(write_midi(piece))`` gives
the piece back exactly (notes, velocities, chords, key, meter, tempo, pickup, length, names).
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import math
import os
import shutil
import struct
import types
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

import numpy as np

from melodygan.chords import Chord, parse_chord_symbol
from melodygan.errors import MelodyganError
from melodygan.files import atomic_output
from melodygan.formats.midi_bytes import _vlq, note_blocks
from melodygan.formats.midi_reader import OFF_GRID_TOLERANCE, clean_columns
from melodygan.formats.tracks import choose_melody_track
from melodygan.keys import Key, estimate_key
from melodygan.notes import Note, NoteColumns, is_monophonic, skyline
from melodygan.piece import ALLOWED_DENOMINATORS, DEFAULT_STEPS_PER_QUARTER, Piece, chords_from_changes

if TYPE_CHECKING:
    import mido
    import pretty_midi

    from melodygan.formats.midi_reader import Tracks

logger = logging.getLogger(__name__)
T = TypeVar("T")

TICKS_PER_BEAT = 480
DRUM_CHANNEL = 9  # channel 10 in 1-based numbering
PITCHED_CHANNELS = tuple(c for c in range(16) if c != DRUM_CHANNEL)

# General MIDI programs (0-based) for the parts melodygan writes; a Piece's own ``programs`` win.
DEFAULT_PROGRAMS: dict[str, int] = {
    "Melody": 40,  # Violin: the fiddle of folk tunes, a sustained lead apart from the piano chords
    "Chords": 0,  # Acoustic Grand Piano
    "Bass": 32,  # Acoustic Bass
    "Soprano": 52, "Alto": 52, "Tenor": 52,  # Choir Aahs for chorale voices
}
DEFAULT_PROGRAM = 0
# (volume CC7, pan CC10) per part: the melody on top in the middle, chords a little left and about
# 6 dB under it, bass in the middle (levels set by ear and RMS meter with TimGM6mb.sf2, whose piano
# is much quieter than its violin); chorale voices spread like a choir on a stage.
MIX: dict[str, tuple[int, int]] = {
    "Melody": (100, 64), "Chords": (120, 48), "Bass": (86, 64),
    "Soprano": (105, 52), "Alto": (95, 40), "Tenor": (95, 88),
}


class MidiImportWarning(UserWarning):
    """Something in a MIDI file did not fit the Piece exactly (off-grid notes, collisions, …)."""


@dataclass
class _Meta:
    """Meta events of a MIDI file, with absolute ticks."""

    tempos: list[tuple[int, int]]  # (tick, microseconds per quarter)
    time_signatures: list[tuple[int, int, int]]  # (tick, numerator, denominator)
    keys: list[tuple[int, str]]  # (tick, mido key name)
    markers: list[tuple[int, str]]
    title: str
    end_tick: int
    notes: int = 0  # note-ons with a velocity
    last_note_tick: int = 0  # the last note event (on or off)
    tracks: int = 0
    track_names: list[str] | None = None  # each track's first track name ("" for none)
    track_instruments: list[int] | None = None  # (channel, program) pairs with notes, per track


def _last_at_each_tick(events: list[tuple]) -> list[tuple]:
    """Events sorted by tick in file order (stable), keeping the last one at each tick: what a
    sequencer plays when a file holds several time signatures (or tempos, keys) at one tick."""
    ordered = sorted(events, key=lambda e: e[0])
    return [e for i, e in enumerate(ordered) if i + 1 == len(ordered) or ordered[i + 1][0] != e[0]]


# --- reading --------------------------------------------------------------------------------
def _read_meta(mid: mido.MidiFile) -> _Meta:
    tempos, sigs, keys, markers = [], [], [], []
    end_tick = notes = last_note_tick = 0
    title = ""
    names: list[str] = []
    instruments: list[int] = []
    for i, track in enumerate(mid.tracks):
        tick = 0
        has_notes = False
        name = None
        program = [0] * 16
        played: set[tuple[int, int]] = set()
        for msg in track:
            tick += msg.time
            if msg.type in ("note_on", "note_off"):
                last_note_tick = tick
                notes += msg.type == "note_on" and msg.velocity > 0
                if msg.type == "note_on" and msg.velocity > 0:
                    played.add((msg.channel, program[msg.channel]))
            elif msg.type == "program_change":
                program[msg.channel] = msg.program
            if msg.type == "track_name" and name is None:
                name = msg.name
            if msg.type == "set_tempo":
                tempos.append((tick, msg.tempo))
            elif msg.type == "time_signature":
                sigs.append((tick, msg.numerator, msg.denominator))
            elif msg.type == "key_signature":
                keys.append((tick, msg.key))
            elif msg.type == "marker":
                markers.append((tick, msg.text))
            elif msg.type == "track_name" and i == 0:
                title = _clean_name(msg.name)
            elif msg.type == "note_on":
                has_notes = True
        end_tick = max(end_tick, tick)
        if i == 0 and has_notes and mid.type == 1:
            title = ""  # track 0 is a part, its name is not a title
        names.append(name or "")
        instruments.append(len(played))
    # several events of a kind at one tick: the last in file order wins, not the smallest value
    return _Meta(_last_at_each_tick(tempos), _last_at_each_tick(sigs), _last_at_each_tick(keys),
                 sorted(markers, key=lambda m: m[0]), title, end_tick, notes, last_note_tick, len(mid.tracks),
                 names, instruments)


def _instrument_tracks(meta: _Meta, instruments: list[pretty_midi.Instrument]) -> list[int | None]:
    """The file track (0-based, as mido counts) of each pretty_midi instrument, in order.

    pretty_midi makes its instruments track by track, one per (channel, program) with notes, and
    names each after its track; the counts per track from :func:`_read_meta` place them. Where
    the counts disagree (a track of zero-length notes only, a program changed under held notes),
    an instrument is placed by its name when exactly one track with notes has it, else its
    number is unknown (None) rather than wrong."""
    counts, names = meta.track_instruments or [], meta.track_names or []
    numbers: list[int | None] = [t for t, c in enumerate(counts) for _ in range(c)]
    if len(numbers) == len(instruments) and all(inst.name == names[t] for inst, t in zip(instruments, numbers)
                                                if t is not None):
        return numbers
    out: list[int | None] = []
    for inst in instruments:
        tracks = [t for t, (n, c) in enumerate(zip(names, counts)) if c and n == inst.name]
        out.append(tracks[0] if len(tracks) == 1 else None)
    return out


def _seconds_at(tick: int, tempos: list[tuple[int, int]], ticks_per_beat: int) -> float:
    """Seconds from the start to ``tick`` under the tempo map (120 bpm before the first tempo)."""
    seconds, last, tempo = 0.0, 0, 500000
    for t, value in tempos:
        if t >= tick:
            break
        seconds += (t - last) * tempo / (ticks_per_beat * 1e6)
        last, tempo = t, value
    return seconds + (tick - last) * tempo / (ticks_per_beat * 1e6)


def check_midi_bounds(ticks_per_beat: int, meta: _Meta, source: object, tick: int | None = None) -> None:
    """Refuse a MIDI file over the :mod:`melodygan.limits` (tracks, notes, and the length in ticks,
    minutes and bars up to ``tick``, default the last note) from its parsed events, before
    pretty_midi or anything sized by the song runs."""
    from melodygan import limits

    tpb = max(int(ticks_per_beat), 1)
    tick = meta.last_note_tick if tick is None else tick
    limits.check(source, "track count", meta.tracks, "tracks")
    limits.check(source, "note count", meta.notes, "notes")
    limits.check(source, "last note at tick", tick, "midi_ticks")
    minutes = _seconds_at(tick, meta.tempos, tpb) / 60
    limits.check(source, "length", round(minutes, 1), "score_minutes", " minutes")
    num, den = (meta.time_signatures[0][1], meta.time_signatures[0][2]) if meta.time_signatures else (4, 4)
    bar_ticks = tpb * 4 * max(num, 1) / max(den, 1)
    limits.check(source, "length", round(tick / bar_ticks), "score_bars", " bars")


def _clip_after_notes(mid: mido.MidiFile, meta: _Meta) -> int:
    """When the file's end (a stray marker or end of track far past the music) is over a length
    limit but its notes are not, drop the events more than a bar after the last note (pretty_midi
    and the piece would be as long as that end); returns how many were dropped."""
    import mido

    try:
        check_midi_bounds(mid.ticks_per_beat, meta, "", meta.end_tick)
        return 0
    except MelodyganError:
        pass

    num, den = (meta.time_signatures[0][1], meta.time_signatures[0][2]) if meta.time_signatures else (4, 4)
    bar_ticks = round(mid.ticks_per_beat * 4 * max(num, 1) / max(den, 1))
    cutoff = -(-max(meta.last_note_tick, 1) // bar_ticks) * bar_ticks + bar_ticks
    if meta.end_tick <= cutoff:
        return 0
    dropped = 0
    for i, track in enumerate(mid.tracks):
        kept, tick, now = mido.MidiTrack(), 0, 0
        for msg in track:
            tick += msg.time
            if msg.type == "end_of_track":
                continue
            if tick > cutoff:
                dropped += 1
                continue
            kept.append(msg.copy(time=tick - now))
            now = tick
        kept.append(mido.MetaMessage("end_of_track", time=max(0, min(tick, cutoff) - now)))
        mid.tracks[i] = kept
    return dropped


def _clean_name(raw: str) -> str:
    """A track name as text: pretty_midi decodes names as Latin-1, so UTF-8 names (most DAWs)
    are re-decoded; NULs and surrounding blanks go."""
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):  # else not UTF-8: keep it as read
        raw = raw.encode("latin-1").decode("utf-8")
    return raw.replace("\x00", "").strip()


def _unique_name(name: str, taken: set[str]) -> str:
    out, k = name, 2
    while out in taken:
        out, k = f"{name} {k}", k + 1
    taken.add(out)
    return out


def _clean_track(notes: list[Note]) -> tuple[list[Note], int]:
    """Merge same-pitch collisions in one track: keep the longest of notes sharing an onset and cut
    a note where the next one of its pitch starts. Returns (notes, collisions)."""
    by_key: dict[tuple[int, int], Note] = {}
    collisions = 0
    for n in notes:
        k = (n.start_steps, n.pitch)
        if k in by_key:
            collisions += 1
            if n.duration_steps <= by_key[k].duration_steps:
                continue
        by_key[k] = n
    out: list[Note] = []
    last: dict[int, int] = {}  # pitch -> index in out
    for n in sorted(by_key.values()):
        j = last.get(n.pitch)
        if j is not None and out[j].end_steps > n.start_steps:
            prev = out[j]
            out[j] = Note(prev.start_steps, n.start_steps - prev.start_steps, prev.pitch, prev.velocity)
            collisions += 1
        last[n.pitch] = len(out)
        out.append(n)
    return sorted(out), collisions


def _pickup_and_meter(sigs: list[tuple[int, int, int]], ticks_per_step: float,
                      spq: int) -> tuple[int, tuple[int, int], int]:
    """(pickup_steps, main time signature, number of ignored later changes)."""
    if not sigs:
        return 0, (4, 4), 0
    first = sigs[0]
    if len(sigs) >= 2 and first[0] == 0:
        tick, num, den = sigs[1]
        first_bar = first[1] * spq * 4 / first[2]
        main_bar = num * spq * 4 / den
        steps = tick / ticks_per_step
        if abs(steps - first_bar) < 1e-6 and steps < main_bar and steps == int(steps):
            return int(steps), (num, den), len(sigs) - 2
    return 0, (first[1], first[2]), len(sigs) - 1


def _unreadable(p: Path, e: Exception) -> MelodyganError:
    reason = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
    return MelodyganError(f"{p} is not a readable MIDI file ({reason})")


@functools.cache
def _pretty_midi_takes_mido() -> bool:
    """Whether ``pretty_midi.PrettyMIDI`` accepts an already-parsed ``mido_object`` (0.2.11 on)."""
    import inspect

    import pretty_midi

    return "mido_object" in inspect.signature(pretty_midi.PrettyMIDI.__init__).parameters


def _allow_ticks() -> None:
    """Let pretty_midi take files up to the ``midi_ticks`` limit (its own cap is 10 million)."""
    import pretty_midi

    from melodygan import limits

    wanted = limits.current().midi_ticks or 2**62
    module = getattr(pretty_midi, "pretty_midi", None)
    if module is not None and getattr(module, "MAX_TICK", wanted) < wanted:
        module.MAX_TICK = wanted


@contextlib.contextmanager
def _meta_events_anywhere() -> Iterator[None]:
    """Silence pretty_midi's warning about key signatures (or tempos, meters) outside track 0.

    melodygan writes the key into every part (notation programs read it there), and the meta
    events are read with mido from all tracks; pretty_midi's notes come out at the right ticks
    either way, since they are turned back into ticks with pretty_midi's own tempo map."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Tempo, Key or Time signature change events", category=RuntimeWarning)
        yield


def midi_to_piece(path: str | Path, melody_track: str | int | None = None,
                  steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER) -> Piece:
    """Read a MIDI file into a Piece on the step grid.

    symusic parses the file (:mod:`melodygan.formats.midi_reader`) and the Piece is assembled
    from note arrays (:mod:`melodygan.formats.midi_arrays`); the few files whose reading symusic
    cannot settle the way pretty_midi does (see there) are read with pretty_midi and assembled
    note by note. Both give the same Piece and the same :class:`MidiImportWarning`.

    Args:
        path: a ``.mid``/``.midi`` file (type 0 or 1).
        melody_track: the melody's track name or index among the pitched tracks with notes (file
            order); None chooses one (see the module docstring) and logs the choice.
        steps_per_quarter: grid resolution (4 = 16ths).

    Returns:
        A Piece whose melody is the chosen track (skyline if polyphonic) and whose voices are the
        other pitched tracks by name; ``programs`` holds each track's GM program.

    Raises:
        MelodyganError: missing, corrupt, empty or drum-only files; a bad ``melody_track``.
    """
    p = Path(path)
    data = read_midi_bytes(p)
    read = _read_with_symusic(data, p, steps_per_quarter)
    if read is None:
        return piece_with_pretty_midi(data, p, melody_track, steps_per_quarter)
    from melodygan.formats.midi_arrays import assemble_arrays

    got = assemble_arrays([(read, p)], melody_track, steps_per_quarter)[0]
    if isinstance(got, Exception):
        raise got
    return got.to_piece()


def piece_with_pretty_midi(data: bytes, p: Path, melody_track: str | int | None, steps_per_quarter: int) -> Piece:
    """The reference reader: pretty_midi's notes of a file's bytes, the Piece assembled note by note
    (for the files the symusic reader leaves to it).

    Raises:
        MelodyganError: see :func:`midi_to_piece`.
    """
    return _assemble(_read_with_pretty_midi(data, p, steps_per_quarter), p, melody_track, steps_per_quarter)


def read_midi_bytes(p: Path) -> bytes:
    """A MIDI file's bytes, within the size limit.

    Raises:
        MelodyganError: no such file, or one over :mod:`melodygan.limits`.
    """
    from melodygan import limits

    if not p.is_file():
        raise MelodyganError(f"MIDI file {p} not found")
    limits.check(p, "file size", round(p.stat().st_size / 2**20, 2), "midi_mb", " MB")
    return p.read_bytes()


@dataclass
class _Read(Generic[T]):
    """A MIDI file's tracks on the grid, before the melody is chosen (what both readers give):
    each track's notes as Notes (the pretty_midi reader) or as columns (the symusic reader)."""

    meta: _Meta
    ticks_per_beat: int
    tracks: dict[str, T]
    programs: dict[str, int]
    numbers: dict[str, int | None]  # each track's number in the file (as mido counts), where known
    drums: int
    off_grid: int
    stretched: int
    collisions: int
    problems: list[str]


def _read_with_symusic(data: bytes, p: Path, steps_per_quarter: int) -> _Read[NoteColumns] | None:
    """The fast reader (:func:`melodygan.formats.midi_reader.read_tracks`), or None to use pretty_midi.

    Raises:
        MelodyganError: a file over :mod:`melodygan.limits`.
    """
    got = read_many_with_symusic([(data, p)], steps_per_quarter)[0]
    if isinstance(got, MelodyganError):
        raise got
    return got


def read_many_with_symusic(files: list[tuple[bytes, Path]],
                           steps_per_quarter: int) -> list[_Read[NoteColumns] | MelodyganError | None]:
    """:func:`_read_with_symusic` of many files (:func:`melodygan.formats.midi_reader.read_tracks_many`):
    each file's tracks, None where pretty_midi must read it, or the error that refuses it."""
    from melodygan.formats.midi_reader import read_tracks_many

    out: list[_Read[NoteColumns] | MelodyganError | None] = []
    for got, (_, p) in zip(read_tracks_many([d for d, _ in files], steps_per_quarter), files):
        try:
            out.append(None if got is None else _tracks_read(got, p))
        except MelodyganError as e:
            out.append(e)
    return out


def _tracks_read(got: Tracks, p: Path) -> _Read[NoteColumns] | None:
    """The symusic reader's instruments as named tracks; None where pretty_midi must read the file.

    Raises:
        MelodyganError: a file over :mod:`melodygan.limits`.
    """
    # as _read_meta: of several events of a kind at one tick the last in file order counts
    meta = _Meta(_last_at_each_tick(got.tempos), _last_at_each_tick(got.time_signatures),
                 _last_at_each_tick(got.keys), sorted(got.markers, key=lambda m: m[0]), _clean_name(got.title),
                 got.end_tick, got.notes, got.last_note_tick, got.tracks, got.track_names, got.track_instruments)
    check_midi_bounds(got.ticks_per_beat, meta, p)
    try:
        check_midi_bounds(got.ticks_per_beat, meta, "", meta.end_tick)
    except MelodyganError:
        return None  # the file's end is far past its notes: the pretty_midi path clips it
    tracks: dict[str, NoteColumns] = {}
    programs: dict[str, int] = {}
    numbers: dict[str, int | None] = {}
    taken: set[str] = set()
    drums = 0
    named = [types.SimpleNamespace(name=inst.name.decode("latin-1")) for inst in got.instruments]
    for inst, number in zip(got.instruments, _instrument_tracks(meta, named)):  # type: ignore[arg-type]
        if inst.channel == DRUM_CHANNEL:
            drums += inst.count
            continue
        base = _clean_name(inst.name.decode("latin-1")) or _program_name(inst.program)
        name = _unique_name(base, taken)
        tracks[name] = inst.notes
        programs[name] = inst.program
        numbers[name] = number
    return _Read(meta, got.ticks_per_beat, tracks, programs, numbers, drums, got.off_grid, got.stretched,
                 got.collisions, list(got.problems))


def _program_name(program: int) -> str:
    import pretty_midi

    return str(pretty_midi.program_to_instrument_name(program))


def _read_with_pretty_midi(data: bytes, p: Path, steps_per_quarter: int) -> _Read[list[Note]]:
    """The reference reader: mido for the meta events, pretty_midi for the notes, quantised in Python."""
    import mido
    import pretty_midi

    try:
        mid = mido.MidiFile(file=io.BytesIO(data))
    except Exception as e:  # mido raises OSError, EOFError, KeyError, ValueError, IndexError
        raise _unreadable(p, e) from None
    meta = _read_meta(mid)  # before pretty_midi, which turns the delta times into absolute ticks
    check_midi_bounds(mid.ticks_per_beat, meta, p)
    clipped = _clip_after_notes(mid, meta)
    if clipped:
        meta = _read_meta(mid)
    _allow_ticks()
    try:
        # one parse: pretty_midi builds its notes from the MidiFile read above where it can
        with _meta_events_anywhere():
            pm = (pretty_midi.PrettyMIDI(mido_object=mid) if _pretty_midi_takes_mido()
                  else pretty_midi.PrettyMIDI(io.BytesIO(data)))
    except Exception as e:  # e.g. ValueError for a corrupt tick range or a file without tracks
        raise _unreadable(p, e) from None
    ticks_per_step = mid.ticks_per_beat / steps_per_quarter
    problems: list[str] = [f"{clipped} events more than a bar after the last note dropped"] if clipped else []
    off_grid = stretched = collisions = 0
    tracks: dict[str, list[Note]] = {}
    programs: dict[str, int] = {}
    numbers: dict[str, int | None] = {}
    taken: set[str] = set()
    drums = 0
    for inst, number in zip(pm.instruments, _instrument_tracks(meta, pm.instruments)):
        if inst.is_drum:
            drums += len(inst.notes)
            continue
        notes: list[Note] = []
        for n in inst.notes:
            on, off = pm.time_to_tick(n.start) / ticks_per_step, pm.time_to_tick(n.end) / ticks_per_step
            start, end = round(on), round(off)
            if abs(on - start) > OFF_GRID_TOLERANCE or abs(off - end) > OFF_GRID_TOLERANCE:
                off_grid += 1
            if end <= start:
                end, stretched = start + 1, stretched + 1
            notes.append(Note(start, end - start, n.pitch, max(1, min(127, n.velocity))))
        if not notes:
            continue
        notes, c = _clean_track(notes)
        collisions += c
        base = _clean_name(inst.name) or pretty_midi.program_to_instrument_name(inst.program)
        name = _unique_name(base, taken)
        tracks[name] = notes
        programs[name] = int(inst.program)
        numbers[name] = number
    return _Read(meta, mid.ticks_per_beat, tracks, programs, numbers, drums, off_grid, stretched, collisions,
                 problems)


def _assemble(read: _Read[list[Note]], p: Path, melody_track: str | int | None, steps_per_quarter: int) -> Piece:
    """The Piece from a file's tracks and meta events: meter, pickup, key, melody, tempo, chords,
    length, and one warning with everything that did not fit (the reference for
    :func:`melodygan.formats.midi_arrays.assemble_arrays`, which does the same on arrays)."""
    meta, tracks, programs, numbers = read.meta, read.tracks, read.programs, read.numbers
    problems = list(read.problems)
    pickup, time_signature = meter_of(read, steps_per_quarter, problems)
    loss_report(read, p, steps_per_quarter, problems)

    all_notes = [n for v in tracks.values() for n in v]
    estimated = not meta.keys
    key = Key.parse(meta.keys[0][1]) if meta.keys else estimate_key(all_notes)[0]
    bar_steps = steps_per_quarter * 4 * time_signature[0] // time_signature[1]
    chosen, reason = choose_melody_track(tracks, melody_track, programs=programs, numbers=numbers, key=key,
                                         bar_steps=bar_steps, steps_per_quarter=steps_per_quarter,
                                         file_tracks=meta.tracks)
    melody = tracks.pop(chosen)
    voices = dict(tracks)
    if not is_monophonic(melody):
        melody, voices, problem = _split_melody(chosen, melody, voices)
        problems.append(problem)
    log_choice(p, reason, voices, numbers)
    tempo_bpm = tempo_of(meta, problems)
    if estimated:
        logger.info("%s: no key signature, estimated %s", p.name, key.name)
    content_end = max(n.start_steps + n.duration_steps for n in all_notes)
    length, changes = length_and_chords(read, steps_per_quarter, content_end)
    if problems:
        warnings.warn(f"{p.name}: " + "; ".join(problems), MidiImportWarning, stacklevel=3)
    return Piece(melody=melody, chords=changes, voices=voices, key=key, time_signature=time_signature,
                 tempo_bpm=tempo_bpm, steps_per_quarter=steps_per_quarter, pickup_steps=pickup,
                 length_steps=length, title=meta.title, melody_name=chosen, programs=programs)


def meter_of(read: _Read[T], steps_per_quarter: int, problems: list[str]) -> tuple[int, tuple[int, int]]:
    """``(pickup_steps, time signature)`` of a read file; what did not fit goes to ``problems``."""
    ticks_per_step = read.ticks_per_beat / steps_per_quarter
    pickup, time_signature, ts_changes = _pickup_and_meter(read.meta.time_signatures, ticks_per_step,
                                                           steps_per_quarter)
    num, den = time_signature
    if den not in ALLOWED_DENOMINATORS or (steps_per_quarter * 4 * num) % den:
        problems.append(f"time signature {num}/{den} does not fit the grid, using 4/4")
        time_signature, pickup = (4, 4), 0
    if ts_changes:
        problems.append(f"{ts_changes} later time-signature change(s) ignored")
    return pickup, time_signature


def loss_report(read: _Read[T], p: Path, steps_per_quarter: int, problems: list[str]) -> None:
    """What reading lost, to ``problems``.

    Raises:
        MelodyganError: a file without pitched notes.
    """
    if not read.tracks:
        what = "only drums" if read.drums else "no notes"
        raise MelodyganError(f"{p} has {what}; a melody needs a pitched track")
    if read.drums:
        problems.append(f"{read.drums} drum notes left out")
    if read.off_grid:
        problems.append(f"{read.off_grid} notes off the {steps_per_quarter}-per-quarter grid moved to it")
    if read.stretched:
        problems.append(f"{read.stretched} notes shorter than a step lengthened to one step")
    if read.collisions:
        problems.append(f"{read.collisions} same-pitch collisions merged")


def log_choice(p: Path, reason: str, voices: Mapping[str, object], numbers: Mapping[str, int | None]) -> None:
    """Log which track is the melody, and the other tracks by number."""
    if not logger.isEnabledFor(logging.INFO):
        return

    def label(name: str) -> str:
        number = numbers.get(name)
        return f"{number} {name!r}" if number is not None else repr(name)

    names = [label(v) for v in voices]
    others = ", ".join(names[:8]) + (f", … ({len(names) - 8} more)" if len(names) > 8 else "")
    logger.info("%s: melody = %s; other tracks: %s", p.name, reason, others or "none")


def tempo_of(meta: _Meta, problems: list[str]) -> float:
    """The first tempo (bpm), clamped to 10-400; changes and clamping go to ``problems``."""
    tempo_bpm = 120.0
    if meta.tempos:
        tempo_bpm = round(60 * 1e6 / meta.tempos[0][1] * 4 / 4.0, 2)  # mido.tempo2bpm, without importing mido
        if len({t for _, t in meta.tempos}) > 1:
            problems.append(f"{len(meta.tempos) - 1} tempo change(s) ignored, using {tempo_bpm:g} bpm")
    if not 10 <= tempo_bpm <= 400:
        problems.append(f"tempo {tempo_bpm:g} bpm clamped to 10-400")
        tempo_bpm = min(max(tempo_bpm, 10.0), 400.0)
    return tempo_bpm


def length_and_chords(read: _Read[T], steps_per_quarter: int, content_end: int) -> tuple[int | None, list[Chord]]:
    """The file's own length (its last end-of-track) when it lies on the grid and after the notes
    (a bar line for files melodygan writes, or e.g. the short last bar that completes a pickup),
    else None; and the chords of its markers when every marker is a chord symbol."""
    meta = read.meta
    ticks_per_step = read.ticks_per_beat / steps_per_quarter
    end_steps = meta.end_tick / ticks_per_step
    length = int(end_steps) if end_steps == int(end_steps) and end_steps >= content_end else None
    chords: list[Chord] = []
    if meta.markers:
        try:
            changes = [(round(t / ticks_per_step), parse_chord_symbol(text)) for t, text in meta.markers]
        except ValueError:
            changes = []  # markers that are not all chord symbols are section names, not chords
        if changes:
            chord_end = length if length is not None else max(content_end, max(s for s, _ in changes) + 1)
            chords = chords_from_changes(changes, chord_end)
    return length, chords


def _split_melody(name: str, notes: list[Note], voices: dict[str, list[Note]]
                  ) -> tuple[list[Note], dict[str, list[Note]], str]:
    """A polyphonic melody track → its top line (skyline), the notes under it as a voice
    ``"<name> accompaniment"`` in front of the others, and the report: how many notes were set
    aside, or, when none were (overlapping legato notes), how many were shortened."""
    line = skyline(notes)
    kept = {(n.start_steps, n.pitch) for n in line}
    rest = [n for n in notes if (n.start_steps, n.pitch) not in kept]
    original = {(n.start_steps, n.pitch): n.duration_steps for n in notes}
    shortened = sum(original[(n.start_steps, n.pitch)] != n.duration_steps for n in line)
    cut = f"{shortened} shortened to end where the next begins" if shortened else ""
    if not rest:
        return line, voices, f"melody track {name!r} has overlapping notes: {cut}"
    part = _unique_name(f"{name} accompaniment", set(voices) | {name})
    problem = (f"melody track {name!r} is polyphonic: kept its top line ({len(line)} of {len(notes)} notes"
               f"{', ' + cut if cut else ''}), the other {len(rest)} as {part!r}")
    return line, {part: rest, **voices}, problem


# --- writing --------------------------------------------------------------------------------
def _pickup_signature(pickup_steps: int, steps_per_quarter: int) -> tuple[int, int]:
    """Time signature of a pickup bar, e.g. 4 steps at 4 per quarter -> (1, 4)."""
    common = math.gcd(pickup_steps, 4 * steps_per_quarter)  # any grid: 480 steps at 480 per quarter too
    num, den = pickup_steps // common, 4 * steps_per_quarter // common
    if den & (den - 1):
        raise MelodyganError(f"a pickup of {pickup_steps} steps cannot be written with {steps_per_quarter} "
                             "steps per quarter (needs a power of two)")
    return num, den



def _encode_events(events: list[tuple[int, int, bytes]]) -> tuple[bytes, int]:
    """Absolute-tick events ``(tick, order, raw bytes)`` → their bytes in an ``MTrk`` chunk (with
    running status, byte for byte what mido writes for the same messages) and the last tick."""
    out = bytearray()
    now, running = 0, -1
    for tick, _, raw in sorted(events, key=lambda e: (e[0], e[1])):
        out += _vlq(tick - now)
        now = tick
        status = raw[0]
        if status == 0xFF:
            out += raw
            running = -1
        elif status == running:
            out += raw[1:]
        else:
            out += raw
            running = status if status < 0xF0 else -1
    return bytes(out), now


def _chunk(body: bytes, last_tick: int, end_tick: int) -> bytes:
    """An ``MTrk`` chunk of event bytes, ending (end-of-track) at ``end_tick``."""
    body += _vlq(end_tick - last_tick) + b"\xff\x2f\x00"
    return b"MTrk" + struct.pack(">I", len(body)) + body


# mido's key names → (sharps, minor), as mido's key_signature message encodes them
_KEY_SIGNATURES: dict[str, tuple[int, int]] = {
    **{name: (i - 7, 0) for i, name in enumerate(("Cb", "Gb", "Db", "Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B",
                                                  "F#", "C#"))},
    **{name: (i - 7, 1) for i, name in enumerate(("Abm", "Ebm", "Bbm", "Fm", "Cm", "Gm", "Dm", "Am", "Em", "Bm", "F#m",
                                                  "C#m", "G#m", "D#m", "A#m"))},
}


def _key_signature(key: Key) -> bytes:
    sharps, minor = _KEY_SIGNATURES[key.name]
    return _meta(0x59, bytes((sharps & 0xFF, minor)))


def _meta(kind: int, data: bytes) -> bytes:
    """A meta event: ``FF kind length data`` (the length as a variable-length quantity)."""
    return bytes((0xFF, kind)) + _vlq(len(data)) + data


def _text(text: str) -> bytes:
    return text.encode("latin-1")  # mido's text encoding (a name outside Latin-1 raises, as in mido)


def _tempo_bytes(bpm: float) -> bytes:
    tempo = round(60 * 1e6 / bpm * 4 / 4.0)  # mido.bpm2tempo
    if not 0 <= tempo <= 0xFFFFFF:
        raise ValueError(f"tempo {bpm} bpm does not fit a MIDI file")
    return bytes((tempo >> 16, tempo >> 8 & 0xFF, tempo & 0xFF))


def _time_signature(num: int, den: int) -> bytes:
    if den < 1 or den & (den - 1) or not 0 <= num <= 255:
        raise ValueError(f"time signature {num}/{den} cannot be written to a MIDI file")
    return _meta(0x58, bytes((num, den.bit_length() - 1, 24, 8)))  # mido's clocks per click and 32nds per beat


def part_program(piece: Piece, name: str) -> int:
    """General MIDI program of a part: the Piece's own, else the default for its name.

    In a chorale (melody named "Soprano") every voice, the bass included, sings with the choir.
    """
    if name in piece.programs:
        return piece.programs[name]
    if piece.melody_name == "Soprano" and name in ("Soprano", "Alto", "Tenor", "Bass"):
        return DEFAULT_PROGRAMS["Soprano"]
    return DEFAULT_PROGRAMS.get(name, DEFAULT_PROGRAM)


def piece_to_midifile(piece: Piece) -> mido.MidiFile:
    """The DAW-ready type-1 MIDI file of a Piece as a ``mido.MidiFile`` (parsed from :func:`piece_to_midi_bytes`)."""
    import mido

    return mido.MidiFile(file=io.BytesIO(piece_to_midi_bytes(piece)))


def piece_to_midi_bytes(piece: Piece) -> bytes:
    """Build the DAW-ready type-1 MIDI file of a Piece (see the module docstring), as bytes.

    Every event is encoded here directly, byte for byte what mido writes for the same messages
    (mido validates every message: five times slower for a whole clip).

    Notes past ``piece.end_steps`` are cut at the end (notes starting there are dropped, with a
    :class:`MidiImportWarning`), so the file is exactly ``piece.num_bars`` bars long.

    Raises:
        MelodyganError: when the grid does not divide 480 ticks per quarter.
    """
    return pieces_to_midi_bytes([piece])[0]


def pieces_to_midi_bytes(pieces: list[Piece]) -> list[bytes]:
    """:func:`piece_to_midi_bytes` of many pieces, the note events of all of them cleaned, sorted
    and encoded together in one pass of array operations (no per-note Python work)."""
    heads: list[tuple[bytes, int, int]] = []  # per track: header bytes, last header tick, end tick
    markers: dict[tuple[object, Key], tuple[bytes, bytes]] = {}  # chord marker and text events, shared in a batch
    track_heads: dict[tuple[str, int, int, int, int, Key], tuple[bytes, int]] = {}  # name, ch, program, mix, key
    conductor_rest: dict[tuple[object, ...], tuple[bytes, int]] = {}
    conductors: list[bytes] = []
    columns: list[tuple[int, int, int, int]] = []
    track_of: list[int] = []
    channel: list[int] = []
    tick_scale: list[int] = []
    end_of: list[int] = []
    piece_of: list[int] = []
    for index, piece in enumerate(pieces):
        spq = piece.steps_per_quarter
        if TICKS_PER_BEAT % spq:
            raise MelodyganError(f"steps_per_quarter {spq} must divide {TICKS_PER_BEAT}")
        tps = TICKS_PER_BEAT // spq
        end_steps = piece.end_steps
        # the conductor less its title, the same for the many pieces of a batch that share their
        # tempo, key, meter and chords (the title comes first, at tick 0, and resets running status)
        setting = (piece.tempo_bpm, piece.key, piece.time_signature, piece.pickup_steps, spq, end_steps,
                   tuple((c.start_steps, c.root, c.quality, c.bass) for c in piece.chords))
        if setting not in conductor_rest:
            conductor_rest[setting] = _encode_events(_conductor_events(piece, tps, end_steps, markers))
        rest, last = conductor_rest[setting]
        title = b"\x00" + _meta(0x03, _text(piece.title or "melodygan"))
        conductors.append(_chunk(title + rest, last, end_steps * tps))
        for i, (name, notes) in enumerate(piece.tracks().items()):
            ch = PITCHED_CHANNELS[i % len(PITCHED_CHANNELS)]
            volume, pan = MIX.get(name, (100, [64, 40, 88, 52, 76][i % 5]))
            setup = (name, ch, part_program(piece, name), volume, pan, piece.key)
            if setup not in track_heads:
                track_heads[setup] = _encode_events([
                    (0, 0, _meta(0x03, _text(name))),
                    # the key again in every part: MuseScore (and other notation programs) read a
                    # part's key only from its own track and ignore the conductor's
                    (0, 0, _key_signature(piece.key)),
                    (0, 1, bytes((0xC0 | ch, setup[2]))),
                    (0, 2, bytes((0xB0 | ch, 7, volume))),
                    (0, 3, bytes((0xB0 | ch, 10, pan))),
                ])
            heads.append((*track_heads[setup], end_steps * tps))
            g = len(channel)
            channel.append(ch)
            tick_scale.append(tps)
            end_of.append(end_steps)
            piece_of.append(index)
            columns += [(n.start_steps, n.duration_steps, n.pitch, n.velocity) for n in notes]
            track_of += [g] * len(notes)
    groups = len(channel)
    cols = np.asarray(columns, dtype=np.int64).reshape(-1, 4)  # (N, 4): start, duration, pitch, velocity
    group = np.asarray(track_of, dtype=np.int64)
    start, dur, pitch, vel, group, _ = clean_columns(cols[:, 0], cols[:, 1], cols[:, 2], cols[:, 3], group)
    end_steps_of = np.asarray(end_of, dtype=np.int64)[group]
    inside = start < end_steps_of
    stop = np.minimum(start + dur, end_steps_of)
    cut = np.bincount(np.asarray(piece_of, dtype=np.int64)[group], weights=~inside | (stop < start + dur),
                      minlength=len(pieces))
    start, stop, pitch, vel, group = start[inside], stop[inside], pitch[inside], vel[inside], group[inside]
    # each note's on then off; per track sorted by tick with note-offs first at one tick (no stuck
    # notes), then in that order: a stable sort on (track, tick, 5 for on / 4 for off)
    k = len(start)
    scale = np.asarray(tick_scale, dtype=np.int64)[group]
    tick = np.empty(2 * k, dtype=np.int64)  # (2K,) on, off, on, off, ...
    tick[0::2], tick[1::2] = start * scale, stop * scale
    kind = np.tile(np.array([5, 4]), k)
    group2 = np.repeat(group, 2)
    order = np.lexsort((np.arange(2 * k), kind, tick, group2))
    status = np.where(kind == 5, 0x90, 0x80) | np.asarray(channel, dtype=np.int64)[group2]
    data2 = np.empty(2 * k, dtype=np.int64)
    data2[0::2], data2[1::2] = vel, 0
    try:
        blocks, last_tick = note_blocks(group2[order], tick[order], status[order], np.repeat(pitch, 2)[order],
                                        data2[order], groups)
    except ValueError as e:
        raise MelodyganError(str(e)) from None
    tracks: list[list[bytes]] = [[c] for c in conductors]
    for g, ((head, last, end_tick), block) in enumerate(zip(heads, blocks)):
        tracks[piece_of[g]].append(_chunk(head + block, int(last_tick[g]) if block else last, end_tick))
    for piece, n in zip(pieces, cut.tolist()):
        if n:
            warnings.warn(f"{int(n)} notes ran past the end of the piece (bar {piece.num_bars}) and were cut",
                          MidiImportWarning, stacklevel=3)
    return [b"MThd" + struct.pack(">IHHH", 6, 1, len(t), TICKS_PER_BEAT) + b"".join(t) for t in tracks]



def _conductor_events(piece: Piece, tps: int, end_steps: int,
                      markers: dict[tuple[object, Key], tuple[bytes, bytes]]) -> list[tuple[int, int, bytes]]:
    """Tempo, key, time signature(s) and one marker per chord change (the title goes before them)."""
    events: list[tuple[int, int, bytes]] = [
        (0, 1, _meta(0x51, _tempo_bytes(piece.tempo_bpm))),
        (0, 3, _key_signature(piece.key)),
    ]
    num, den = piece.time_signature
    if piece.pickup_steps:
        pnum, pden = _pickup_signature(piece.pickup_steps, piece.steps_per_quarter)
        events.append((0, 2, _time_signature(pnum, pden)))
        events.append((piece.pickup_steps * tps, 2, _time_signature(num, den)))
    else:
        events.append((0, 2, _time_signature(num, den)))
    for c in piece.chords:
        if c.start_steps < end_steps:
            spelled = (c.root, c.quality, c.bass), piece.key
            if spelled not in markers:
                symbol = _text(c.symbol(key=piece.key))
                # the symbol as a marker, and again as a text event: the chord lane of parsers and
                # DAWs that skip markers (pretty_midi's ``text_events``, event lists)
                markers[spelled] = (_meta(0x06, symbol), _meta(0x01, symbol))
            marker, text = markers[spelled]
            events.append((c.start_steps * tps, 4, marker))
            events.append((c.start_steps * tps, 5, text))
    return events


def piece_to_midi(piece: Piece) -> pretty_midi.PrettyMIDI:
    """The Piece as a ``pretty_midi.PrettyMIDI`` (parsed from the bytes :func:`write_midi` writes)."""
    import pretty_midi

    data = piece_to_midi_bytes(piece)
    with _meta_events_anywhere():
        return pretty_midi.PrettyMIDI(io.BytesIO(data))


def write_midi(piece: Piece, path: str | Path, force: bool = False) -> Path:
    """Write a Piece as a DAW-ready MIDI file, atomically.

    Args:
        piece: what to write.
        path: the ``.mid`` file.
        force: replace an existing file.

    Returns:
        The path written.

    Raises:
        MelodyganError: when the file exists and ``force`` is False.
    """
    data = piece_to_midi_bytes(piece)
    with atomic_output(path, force=force) as tmp:
        Path(tmp).write_bytes(data)
    return Path(path)


def write_midi_batch(pieces: list[Piece], paths: list[str | Path], force: bool = False) -> list[Path]:
    """Write many Pieces as MIDI files, all-or-nothing: every file is encoded first (an error
    writes nothing), then all are written into one staging folder and moved into place together
    (:func:`melodygan.files.staged_outputs`), with no temporary file per piece.

    Args:
        pieces: what to write.
        paths: one ``.mid`` per piece, all in one folder.
        force: replace existing files.

    Returns:
        The paths written.

    Raises:
        MelodyganError: paths in several folders, a repeated name, or an existing file without ``force``.
    """
    from melodygan.files import fs_error, make_folder, staged_outputs

    out = [Path(p) for p in paths]
    if len(out) != len(pieces):
        raise MelodyganError(f"{len(pieces)} pieces for {len(out)} paths")
    if not out:
        return []
    folders = {p.parent for p in out}
    if len(folders) > 1:
        raise MelodyganError(f"a MIDI batch goes into one folder, got {len(folders)}")
    names = [p.name for p in out]
    if len(set(names)) != len(names):
        raise MelodyganError("a MIDI batch names one file twice")
    encoded = pieces_to_midi_bytes(pieces)
    folder = out[0].parent
    if not folder.exists():
        # a new folder: written in full beside it, then renamed into place in one step
        parent = make_folder(folder.parent)
        stage = parent / f".{folder.name}.staging-{uuid.uuid4().hex[:8]}"
        try:
            stage.mkdir()
            _write_files(stage, names, encoded)
            os.rename(stage, folder)
        except OSError as e:
            shutil.rmtree(stage, ignore_errors=True)
            raise fs_error(folder, e) from None
        return out
    with staged_outputs(folder, names, force=force) as stage:
        try:
            _write_files(stage, names, encoded)
        except OSError as e:
            raise fs_error(folder, e) from None
    return out


def _write_files(folder: Path, names: list[str], contents: list[bytes]) -> None:
    mode = 0o666  # less the umask, as for any new file
    for name, data in zip(names, contents):
        fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)


def track_notes_seconds(path: str | Path, track_name: str) -> list[tuple[float, float, int, int]]:
    """The notes of one named track in seconds, unquantised: ``(start_s, end_s, pitch, velocity)``
    sorted by start. For corpora whose grid comes from beat annotations, not from the MIDI ticks.

    The notes and seconds are pretty_midi's (its note pairing, and its tempo map: the tempo events
    of the first track), read by the symusic reader where it can (the same floats), else by
    pretty_midi.

    Raises:
        MelodyganError: the file is unreadable or has no track of that name (case-insensitive).
    """
    cols = track_seconds_columns(path, track_name)
    return list(zip(cols[0].tolist(), cols[1].tolist(), cols[2].tolist(), cols[3].tolist()))


def track_seconds_columns(path: str | Path,
                          track_name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`track_notes_seconds` as columns: ``(start_s, end_s)`` float64 and ``(pitch,
    velocity)`` int64, ``(N,)`` each, in the same order.

    Raises:
        MelodyganError: the file is unreadable or has no track of that name (case-insensitive).
    """
    from melodygan.formats.midi_reader import read_tracks_many

    p = Path(path)
    wanted = track_name.strip().upper()
    try:
        got = read_tracks_many([p.read_bytes()], DEFAULT_STEPS_PER_QUARTER, grid=False)[0]
    except OSError:
        got = None
    # tempo events of one tick in file order decide pretty_midi's map; symusic keeps only their times
    if got is not None and len({t for t, _ in got.first_tempos}) == len(got.first_tempos):
        names = [raw.name.decode("latin-1") for raw in got.raw]
        for raw, name in zip(got.raw, names):
            if name.strip().upper() == wanted:
                seconds = _pretty_midi_seconds(got.first_tempos, got.ticks_per_beat)
                start, end = seconds(raw.start).astype(np.float64), seconds(raw.end).astype(np.float64)
                order = np.lexsort((raw.velocity, raw.pitch, end, start))  # as tuples sort
                return start[order], end[order], raw.pitch[order].astype(np.int64), raw.velocity[order].astype(np.int64)
        shown = ", ".join(repr(n) for n in names) or "none"
        raise MelodyganError(f"{p}: no track named {track_name!r} (tracks: {shown})")
    rows = _track_notes_seconds_pretty_midi(p, track_name)
    return (np.asarray([r[0] for r in rows], dtype=np.float64), np.asarray([r[1] for r in rows], dtype=np.float64),
            np.asarray([r[2] for r in rows], dtype=np.int64), np.asarray([r[3] for r in rows], dtype=np.int64))


def _pretty_midi_seconds(tempos: list[tuple[int, int]], resolution: int) -> Callable[[np.ndarray], np.ndarray]:
    """pretty_midi's tick → seconds map (``PrettyMIDI._update_tick_to_time``) from its tick scales:
    120 bpm until the first tempo, a tempo at tick 0 replacing it, repeated tempos dropped."""
    scales = [(0, 60.0 / (120.0 * resolution))]
    for tick, tempo in tempos:
        scale = 60.0 / ((6e7 / tempo) * resolution)
        if tick == 0:
            scales = [(0, scale)]
        elif scale != scales[-1][1]:
            scales.append((tick, scale))
    starts = np.array([t for t, _ in scales], dtype=np.int64)
    origin = [0.0]
    for (t0, sc), (t1, _) in pairwise(scales):
        origin.append(origin[-1] + sc * (t1 - t0))  # the time at each segment's first tick

    def seconds(ticks: np.ndarray) -> np.ndarray:
        k = np.searchsorted(starts, ticks, side="right") - 1
        return np.asarray(origin)[k] + np.asarray([sc for _, sc in scales])[k] * (ticks - starts[k])

    return seconds


def _track_notes_seconds_pretty_midi(p: Path, track_name: str) -> list[tuple[float, float, int, int]]:
    import pretty_midi

    try:
        pm = pretty_midi.PrettyMIDI(str(p))
    except Exception as e:  # pretty_midi/mido raise many types for corrupt files
        raise _unreadable(p, e) from None
    wanted = track_name.strip().upper()
    for inst in pm.instruments:
        if inst.name.strip().upper() == wanted:
            return sorted((float(n.start), float(n.end), int(n.pitch), int(n.velocity)) for n in inst.notes)
    names = ", ".join(repr(i.name) for i in pm.instruments) or "none"
    raise MelodyganError(f"{p}: no track named {track_name!r} (tracks: {names})")
