"""A MIDI file's meta events and named tracks, read by either reader, and the Piece assembled note by
note: the reading half of :mod:`melodygan.formats.midi` (see there for what reading does).

* the pretty_midi reader (:func:`piece_with_pretty_midi`: mido for the meta events, pretty_midi for
  the notes, quantised in Python and assembled note by note), the reference kept for the files the
  symusic reader leaves to it;
* the symusic reader's instruments as named tracks (:func:`read_many_with_symusic`, on
  :func:`melodygan.formats.midi_reader.read_tracks_many`), for the assembly on arrays in
  :mod:`melodygan.formats.midi_arrays`;
* what both assemblies share: meter and pickup (:func:`meter_of`), the loss report
  (:func:`loss_report`), tempo (:func:`tempo_of`), length and marker chords
  (:func:`length_and_chords`), the logged choice (:func:`log_choice`).

mido and pretty_midi are imported inside the functions that use them.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import types
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

from melodygan.chords import Chord, parse_chord_symbol
from melodygan.errors import MelodyganError
from melodygan.formats.midi_reader import OFF_GRID_TOLERANCE
from melodygan.formats.tracks import choose_melody_track
from melodygan.keys import Key, estimate_key
from melodygan.notes import Note, NoteColumns, is_monophonic, skyline
from melodygan.piece import ALLOWED_DENOMINATORS, Piece, chords_from_changes

if TYPE_CHECKING:
    import mido
    import pretty_midi

    from melodygan.formats.midi_reader import Tracks

logger = logging.getLogger("melodygan.formats.midi")  # the reader's choices are logged as midi_to_piece's
T = TypeVar("T")
DRUM_CHANNEL = 9  # channel 10 in 1-based numbering


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
