"""MIDI files ⇄ Piece. With its reading half (:mod:`melodygan.formats.midi_tracks`) and the readers
it uses (:mod:`melodygan.formats.midi_reader`, :mod:`melodygan.formats.midi_arrays`), the only
modules that import pretty_midi, mido and symusic.

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

import io
import logging
import math
import os
import shutil
import struct
import uuid
import warnings
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from melodygan.errors import MelodyganError
from melodygan.files import atomic_output
from melodygan.formats.midi_bytes import _vlq, note_blocks
from melodygan.formats.midi_reader import clean_columns
from melodygan.formats.midi_tracks import (
    DRUM_CHANNEL,
    _meta_events_anywhere,
    _read_with_symusic,
    _unreadable,
    piece_with_pretty_midi,
)
from melodygan.formats.midi_tracks import MidiImportWarning as MidiImportWarning  # re-exported: the readers' warning
from melodygan.formats.midi_tracks import check_midi_bounds as check_midi_bounds  # re-exported
from melodygan.formats.midi_tracks import read_midi_bytes as read_midi_bytes  # re-exported
from melodygan.keys import Key
from melodygan.piece import DEFAULT_STEPS_PER_QUARTER, Piece

if TYPE_CHECKING:
    import mido
    import pretty_midi


logger = logging.getLogger(__name__)

TICKS_PER_BEAT = 480
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


# --- reading --------------------------------------------------------------------------------
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
