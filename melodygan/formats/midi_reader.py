"""The fast MIDI reader: symusic parses the events, numpy pairs and quantises the notes.

:func:`read_tracks` gives the same instruments, names, programs, meta events and loss counts as
the pretty_midi reader in :mod:`melodygan.formats.midi` (which assembles the Piece from either),
at symusic's speed, with every instrument's notes as :class:`~melodygan.notes.NoteColumns` (no
``Note`` objects: the corpus path keeps them as arrays). What makes the two agree:

* **One symusic parse per track chunk** (:func:`melodygan.formats.midi_bytes.wrap_chunk`), so that
  every instrument is known by its chunk, as pretty_midi's ``(program, channel, track)``
  instruments are, and the chunk's end tick, its never-closed notes and each track's channel
  come back too. The closing note-offs and channel tags go only to the channels whose note-on
  status byte occurs in the chunk (:func:`~melodygan.formats.midi_bytes.note_on_channels`), one
  round of them, and two where the chunk holds a never-closed note. A chunk of a few bytes (a
  conductor track) is walked in Python instead: cheaper than a parse.
* **Note pairing as pretty_midi does it** (:mod:`melodygan.formats.note_pairing`): symusic pairs
  a note-off with the oldest open note-on of its pitch; pretty_midi closes every open note of the
  pitch at the first note-off at a later tick than their start, and drops a note whose note-off
  comes at its own tick. Where the two differ (same-pitch notes that overlap, zero-length or
  never-closed notes) pretty_midi's pairing is rebuilt from the note-on and note-off ticks. A
  chunk whose reading still depends on what symusic does not report (the order of note events
  within one tick after overlapping notes, a channel that changes program while it plays) is
  walked event by event in Python instead (:func:`melodygan.formats.midi_bytes.walk`): exact,
  and slower.
* **Text from the bytes.** Track names, the title (the last name in the first chunk) and markers
  (chord symbols) are read by the same walker, as far as the chunk holds any, and decoded as
  Latin-1 as mido does (symusic drops bytes that are not UTF-8, and empty markers).
* **The same arithmetic.** Quantisation, collision merging and the loss counts run on numpy arrays,
  all instruments of a file at once, with the rules of the pretty_midi path (``round`` half to
  even, a tenth of a step off the grid, the longest of the notes sharing an onset and pitch, the
  first of equals in pretty_midi's order, a note cut where the next one of its pitch starts).

:func:`read_tracks` returns None where the pretty_midi path must read the file: a header or chunk
table out of the ordinary (SMPTE time, type 2, a chunk without its end-of-track), a zero tempo,
events the walker would split otherwise than mido, and a file whose end lies far past its notes
(the pretty_midi path clips those). The reason is logged at DEBUG level.
"""

from __future__ import annotations

import functools
import logging
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np

from melodygan.formats.midi_bytes import (
    END_TEXT,
    Undecided,
    Walk,
    joined_wrap,
    note_on_channels,
    plain_chunk,
    split_chunks,
    tag_offset,
    walk,
)
from melodygan.formats.midi_chunks import Chunk, Raw, pretty_midi_order, read_chunk, walk_chunk
from melodygan.formats.note_pairing import pair_like_pretty_midi
from melodygan.notes import NoteColumns, stable_order

logger = logging.getLogger(__name__)
OFF_GRID_TOLERANCE = 0.1  # fraction of a step a note may sit off the grid before it is counted
# mido's key names by (sharps, minor): what the pretty_midi path hands to Key.parse
_MAJOR = ("Cb", "Gb", "Db", "Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#")
_MINOR = ("Abm", "Ebm", "Bbm", "Fm", "Cm", "Gm", "Dm", "Am", "Em", "Bm", "F#m", "C#m", "G#m", "D#m", "A#m")
SMALL_CHUNK_BYTES = 96  # a chunk this short is walked in Python: cheaper than a symusic parse
NOTELESS_CHUNK_BYTES = 8192  # a chunk without a note-on this long (a tempo map) is walked too


@dataclass
class Instrument:
    """One instrument as pretty_midi makes it.

    Attributes:
        chunk: index of the track chunk.
        channel: MIDI channel (0-15; 9 is drums).
        program: GM program.
        name: track-name bytes, as pretty_midi names it.
        notes: on the step grid, cleaned, in Note order (empty for drums, which are only counted).
        count: notes pretty_midi reads (before cleaning).
    """

    chunk: int
    channel: int
    program: int
    name: bytes
    notes: NoteColumns
    count: int


@dataclass
class Tracks:
    """A MIDI file read by :func:`read_tracks`: meta events (absolute ticks; names and texts as
    Latin-1) and pretty_midi's instruments in its order, with the loss counts of their notes."""

    ticks_per_beat: int
    tempos: list[tuple[int, int]]  # (tick, microseconds per quarter), in file order
    time_signatures: list[tuple[int, int, int]]  # (tick, numerator, denominator), in file order
    keys: list[tuple[int, str]]  # (tick, mido key name), in file order
    markers: list[tuple[int, str]]  # in file order
    title: str
    end_tick: int
    notes: int  # note-ons with a velocity
    last_note_tick: int
    tracks: int
    instruments: list[Instrument]
    off_grid: int = 0
    stretched: int = 0
    collisions: int = 0
    problems: list[str] = field(default_factory=list)
    # in ticks, for readers that want pretty_midi's seconds: each instrument's notes before the
    # grid, and the first chunk's tempo events (what pretty_midi's tempo map is made of)
    raw: list[Raw] = field(default_factory=list)
    first_tempos: list[tuple[int, int]] = field(default_factory=list)
    # per chunk: its first track name (Latin-1, "" for none) and how many (channel, program) pairs
    # play notes in it (the program at the note-on), as the pretty_midi path counts them
    track_names: list[str] = field(default_factory=list)
    track_instruments: list[int] = field(default_factory=list)


def clean_columns(start: np.ndarray, dur: np.ndarray, pitch: np.ndarray, vel: np.ndarray,
                  group: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """:func:`melodygan.formats.midi._clean_track` on note columns in the list's order, per track
    (``group``, non-negative, gives each note's track): the longest of the notes sharing an onset
    and pitch (the first of equals), each note cut where the next one of its pitch starts.

    Returns:
        ``(start, duration, pitch, velocity, group, collisions)``, sorted by track, then as Notes sort.
    """
    st, du, pi, ve, gr, per_group = clean_by_group(start, dur, pitch, vel, group)
    return st, du, pi, ve, gr, int(per_group.sum())


def clean_by_group(start: np.ndarray, dur: np.ndarray, pitch: np.ndarray, vel: np.ndarray,
                   group: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`clean_columns` with the collisions counted per track: ``(G,)`` int64 last, ``G`` =
    the largest track number + 1."""
    n = len(start)
    if n == 0:
        return start, dur, pitch, vel, group, np.zeros(0, dtype=np.int64)
    groups = int(group.max()) + 1
    before = np.bincount(group, minlength=groups)
    gbits = int(group.max()).bit_length()
    # by track, pitch and onset (the list's order among equals: pitch by pitch, a reader's notes
    # are in that order already)
    order = stable_order((group, gbits), (pitch, 7), start)
    st, du, pi, ve, gr = start[order], dur[order], pitch[order], vel[order], group[order]
    head = np.ones(n, dtype=bool)  # (N,) the first note of each (track, pitch, onset)
    head[1:] = (st[1:] != st[:-1]) | (pi[1:] != pi[:-1]) | (gr[1:] != gr[:-1])
    if not head.all():
        # of the notes sharing an onset and pitch the longest, the first of equals
        run = np.cumsum(head) - 1  # (N,) which (track, pitch, onset) each note is
        longest = np.maximum.reduceat(du, np.flatnonzero(head))  # (R,)
        best = np.flatnonzero(du == longest[run])
        first = best[np.concatenate([[True], run[best][1:] != run[best][:-1]])]  # (R,)
        st, du, pi, ve, gr = st[first], du[first], pi[first], ve[first], gr[first]
    collisions = before - np.bincount(gr, minlength=groups) if len(st) < n else np.zeros(groups, dtype=np.int64)
    cut = np.zeros(len(st), dtype=bool)
    cut[:-1] = (pi[1:] == pi[:-1]) & (gr[1:] == gr[:-1]) & (st[:-1] + du[:-1] > st[1:])
    if cut.any():
        du[:-1][cut[:-1]] = st[1:][cut[:-1]] - st[:-1][cut[:-1]]
        collisions = collisions + np.bincount(gr[cut], minlength=groups)
    order = stable_order((gr, gbits), st, du, (pi, 7), (ve, 7))  # Note order: start, duration, pitch, velocity
    return st[order], du[order], pi[order], ve[order], gr[order], collisions


def _key_name(sharps: int, minor: int) -> str | None:
    if not -7 <= sharps <= 7 or minor not in (0, 1):
        return None
    return (_MINOR if minor else _MAJOR)[sharps + 7]


@functools.cache
def _pairs_first_in_first_out() -> bool:
    """Whether the installed symusic pairs a note-off with the oldest open note-on of its pitch, as
    the replay of pretty_midi's pairing assumes (checked once per process on a four-event file)."""
    import symusic

    chunk = bytes((0, 0x90, 60, 90, 10, 0x90, 60, 90, 10, 0x80, 60, 0, 10, 0x80, 60, 0, 0, 0xFF, 0x2F, 0))
    score: Any = symusic.Score.from_midi(b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480) + b"MTrk"
                                         + struct.pack(">I", len(chunk)) + chunk)
    return [(n.time, n.end) for t in score.tracks for n in t.notes] == [(0, 20), (10, 30)]


def read_tracks(data: bytes, steps_per_quarter: int) -> Tracks | None:
    """Read a MIDI file's bytes into pretty_midi's instruments on the step grid (see the module
    docstring), or None where the pretty_midi reader must (symusic refusing the file included:
    pretty_midi then says why, in its own words).
    """
    return read_tracks_many([data], steps_per_quarter)[0]


def read_tracks_many(datas: Sequence[bytes], steps_per_quarter: int, grid: bool = True) -> list[Tracks | None]:
    """:func:`read_tracks` of many files, the same results: each file parsed on its own, then the
    notes of all of them paired in one pass and put on the grid in another (numpy's cost per call,
    not per note, is most of the time of one song's arrays). ``grid=False`` leaves the notes in
    ticks only (``raw``; the instruments' notes empty)."""
    if not _pairs_first_in_first_out():
        logger.debug("read with pretty_midi: this symusic does not pair notes first in, first out")
        return [None] * len(datas)
    files = [_parse(data) for data in datas]
    _pair_joined([f for f in files if f is not None and f.joined])
    out = [_tracks(f) if f is not None else None for f in files]
    if grid:
        _grid([t for t in out if t is not None], steps_per_quarter)
    return out


@dataclass
class _Joined:
    """A plain chunk read in the file's joined parse, its notes not paired yet."""

    index: int  # its place among the file's chunks
    head: Walk  # the walk through its names and meta events
    end_tick: int
    found: list[tuple[int, int, dict[str, np.ndarray]]]  # (channel, program, symusic's notes and the tag)
    raws: list[Raw | None] = field(default_factory=list)


@dataclass
class _File:
    """A file between its parse and the pairing of its joined chunks' notes."""

    fmt: int
    tpq: int
    chunks: list[bytes]
    parts: list[Chunk | None]  # every chunk; None for a joined one until its notes are paired
    joined: list[_Joined]


def _parse(data: bytes) -> _File | None:
    """A file's chunks: the short ones walked, the plain ones (:func:`plain_chunk`) parsed by
    symusic together, the others one by one (and so a plain one that the joined parse cannot
    settle); None where the pretty_midi path must read it."""
    split = split_chunks(data)
    if split is None:
        logger.debug("read with pretty_midi: not a plain header and chunk table")
        return None
    fmt, tpq, chunks = split
    try:
        parts: list[Chunk | None] = [None] * len(chunks)
        plain: list[tuple[int, Walk]] = []
        for ci, chunk in enumerate(chunks):
            if len(chunk) <= SMALL_CHUNK_BYTES or (len(chunk) <= NOTELESS_CHUNK_BYTES and not note_on_channels(chunk)):
                parts[ci] = walk_chunk(chunk)
                continue
            head = None if ci == 0 else plain_chunk(chunk)  # the first chunk's text and notes decide the title
            if head is None:
                parts[ci] = read_chunk(chunk, tpq)
            else:
                plain.append((ci, head))
        joined: list[_Joined] = []
        for first in range(0, len(plain), _JOINED_CHUNKS):
            group = plain[first:first + _JOINED_CHUNKS]
            got = _read_joined([chunks[ci] for ci, _ in group], tpq)
            for (ci, head), found in zip(group, got):
                if found is None:
                    parts[ci] = read_chunk(chunks[ci], tpq)
                else:
                    joined.append(_Joined(ci, head, *found))
    except Undecided as e:
        logger.debug("read with pretty_midi: %s", e)
        return None
    return _File(fmt, tpq, chunks, parts, joined)


_JOINED_CHUNKS = 126  # chunks per joined parse: their number goes in a tag's velocity


_Found = tuple[int, int, dict[str, np.ndarray]]  # (channel, program, symusic's notes and the tag)


def _read_joined(chunks: list[bytes], tpq: int) -> list[tuple[int, list[_Found]] | None]:
    """Plain chunks parsed by symusic together (:func:`~melodygan.formats.midi_bytes.joined_wrap`):
    per chunk its end tick and its instruments ``(channel, program, notes and tag)`` in symusic's
    order; None for a chunk that must be read alone (a note never closed), and all None where a
    track comes back without its tag (a program changed while its channel played).

    Raises:
        Undecided: symusic refuses the chunks.
    """
    import symusic

    try:
        score: Any = symusic.Score.from_midi(joined_wrap(chunks, tpq))  # symusic's stub types a bare Score
    except Exception as e:  # symusic refuses a chunk: pretty_midi says why, in its own words
        raise Undecided(f"symusic: {e}") from None
    ends = [-1] * len(chunks)
    prefix = END_TEXT + ":"
    for m in score.markers:
        if m.text.startswith(prefix):
            ends[int(m.text[len(prefix):])] = int(m.time)
    if min(ends) < 0:
        raise Undecided("an end marker did not come back")
    found: list[list[tuple[int, int, dict[str, np.ndarray]]]] = [[] for _ in chunks]
    alone = [False] * len(chunks)
    for track in score.tracks:
        if track.note_num() == 1:
            tag = track.notes[0]
            k = tag.velocity - 1
            if 0 <= k < len(chunks) and tag.time == ends[k] + tag_offset(1) and tag.duration == 1:
                continue  # a channel with no notes but the tag
        cols = track.notes.numpy()
        time, dur = cols["time"], cols["duration"]
        k = int(cols["velocity"][-1]) - 1  # the tag: the last note to start (the chunk's notes start before its end)
        if not 0 <= k < len(chunks) or int(time[-1]) != ends[k] + tag_offset(1) or int(dur[-1]) != 1:
            return [None] * len(chunks)  # notes under a program their channel left: which chunk's, unknown
        if int((time[:-1] + dur[:-1]).max()) > ends[k]:
            alone[k] = True  # a note never closed: read with two closing rounds
        found[k].append((int(cols["pitch"][-1]), int(track.program), cols))
    return [None if single else (end, tracks) for end, tracks, single in zip(ends, found, alone)]


def _pair_joined(files: list[_File]) -> None:
    """pretty_midi's notes of the joined chunks' instruments, of all files in one pass, and the
    chunks they make (:class:`Chunk`); a chunk whose notes that pass cannot decide is read alone,
    and a file whose chunk cannot be gets no ``parts`` (the pretty_midi path reads it)."""
    todo = [(f, j, inst) for f in files for j in f.joined for inst in j.found]
    undecided: set[int] = set()
    try:
        raws = _pair_instruments([(j.end_tick, inst) for _, j, inst in todo], undecided)
    except Undecided:  # ticks past what the joined keys hold: each chunk alone
        raws = [None] * len(todo)
        undecided = set(range(len(todo)))
    raws = [_UNDECIDED if i in undecided else r for i, r in enumerate(raws)]
    for (_, j, _), raw in zip(todo, raws):
        j.raws.append(raw)
    for f in files:
        try:
            for j in f.joined:
                f.parts[j.index] = _joined_chunk(f, j)
        except Undecided as e:
            logger.debug("read with pretty_midi: %s", e)
            f.parts = []


_UNDECIDED = Raw(-1, -1, b"", *(np.zeros(0, dtype=np.int64),) * 4)  # a stand-in: its chunk is read alone


def _joined_chunk(f: _File, j: _Joined) -> Chunk:
    """A joined chunk with its instruments in pretty_midi's order (by first note-off) and names
    (from the walk through its head), or the chunk read alone where that order is a tie (the
    walker settles it) or its pairing undecided.

    Raises:
        Undecided: reading it alone is.
    """
    raws = [r for r in j.raws if r is not None]
    if any(r is _UNDECIDED for r in raws) or len({r.first_close for r in raws}) < len(raws):
        return read_chunk(f.chunks[j.index], f.tpq)
    raws = pretty_midi_order(raws, j.head)
    notes = sum(len(cols["time"]) - 1 for *_, cols in j.found)
    last = max((int((cols["time"][:-1] + cols["duration"][:-1]).max()) for *_, cols in j.found), default=0)
    w = j.head
    return Chunk(j.end_tick, w.tempos, w.time_signatures, w.keys, raws, len(j.found), notes, last, w, w.names,
                 w.markers, bool(j.found) or w.has_note_on)


def _pair_instruments(found: list[tuple[int, _Found]], undecided: set[int]) -> list[Raw | None]:
    """pretty_midi's notes of instruments symusic read (``(chunk end, (channel, program, notes and
    tag))``), all at once (:func:`~melodygan.formats.note_pairing.pair_like_pretty_midi`). None
    for an instrument whose notes pretty_midi drops all (zero-length ones); the instruments whose
    pairing symusic's notes cannot decide are added to ``undecided``.

    Raises:
        Undecided: ticks too large for the joined keys.
    """
    if not found:
        return []
    cols = [inst[2] for _, inst in found]
    sizes = [len(c["time"]) - 1 for c in cols]
    inst = np.repeat(np.arange(len(found)), sizes)  # (N,) instrument of each note
    s = np.concatenate([c["time"][:-1] for c in cols]).astype(np.int64)
    e = s + np.concatenate([c["duration"][:-1] for c in cols])
    p = np.concatenate([c["pitch"][:-1] for c in cols]).astype(np.int64)
    v = np.concatenate([c["velocity"][:-1] for c in cols]).astype(np.int64)
    end_tick = np.repeat(np.asarray([end for end, _ in found], dtype=np.int64), sizes)
    s, e, p, v, inst = pair_like_pretty_midi(s, e, p, v, end_tick, inst, undecided)
    bounds = np.searchsorted(inst, np.arange(len(found) + 1)).tolist()
    filled = [lo for lo, hi in pairwise(bounds) if hi > lo]
    first = iter(np.minimum.reduceat(e, filled).tolist() if filled else [])  # each one's first note-off
    out: list[Raw | None] = []
    for (_, (channel, program, _)), lo, hi in zip(found, bounds[:-1], bounds[1:]):
        out.append(Raw(channel, program, b"", s[lo:hi], e[lo:hi], p[lo:hi], v[lo:hi], next(first)) if hi > lo
                   else None)
    return out


def _tracks(f: _File) -> Tracks | None:
    """The file's meta events, names and instruments (before the grid), or None for pretty_midi."""
    if not f.parts:
        return None
    out = Tracks(f.tpq, [], [], [], [], "", 0, 0, 0, len(f.chunks), [])
    bad_keys = 0
    try:
        for ci, (chunk, c) in enumerate(zip(f.chunks, f.parts)):
            assert c is not None
            out.end_tick = max(out.end_tick, c.end_tick)
            out.notes += c.notes
            out.last_note_tick = max(out.last_note_tick, c.last_note_tick)
            tempos, sigs, keys, w = c.tempos, c.time_signatures, c.keys, c.walk
            if any(len({e[0] for e in events}) < len(events) for events in (tempos, sigs, keys)):
                # several of a kind at one tick: the last in file order counts, and symusic keeps
                # only their times: the chunk's own order
                if w is None or not w.complete:
                    w = walk(chunk, len(chunk))
                tempos, sigs, keys = w.tempos, w.time_signatures, w.keys
            if any(mspq <= 0 for _, mspq in tempos):
                raise Undecided("a zero tempo")  # pretty_midi refuses it, with its own message
            out.tempos += tempos
            out.time_signatures += sigs
            for tick, sharps, minor in keys:
                key = _key_name(sharps, minor)
                if key is None:
                    bad_keys += 1
                else:
                    out.keys.append((tick, key))
            if ci == 0:
                out.first_tempos = tempos[:]
            out.track_names.append(c.names[0].decode("latin-1") if c.names else "")
            out.track_instruments.append(c.count)
            out.markers += [(t, text.decode("latin-1")) for t, text in c.markers]
            if ci == 0:
                out.title = c.names[-1].decode("latin-1") if c.names else ""
                if f.fmt == 1 and (c.count > 0 or c.has_note_on):
                    out.title = ""  # track 0 is a part, its name is not a title
            out.raw += c.raws
            out.instruments += [Instrument(ci, r.channel, r.program, r.name, NoteColumns(), len(r.start))
                                for r in c.raws]
    except Undecided as e:
        logger.debug("read with pretty_midi: %s", e)
        return None
    if bad_keys:
        out.problems.append(f"{bad_keys} key signature(s) outside the 15 keys ignored")
    return out


def _grid(files: list[Tracks], steps_per_quarter: int) -> None:
    """Quantise and clean the pitched instruments' notes of many files as the pretty_midi path
    does, vectorised: all at once, each instrument on its own; the loss counts per file."""
    pitched = [(fi, inst, raw) for fi, t in enumerate(files) for inst, raw in zip(t.instruments, t.raw)
               if raw.channel != 9]  # drum notes are only counted
    if not pitched:
        return
    sizes = [len(raw.start) for *_, raw in pitched]
    group = np.repeat(np.arange(len(pitched)), sizes)  # (N,) instrument of each note
    file_of = np.repeat(np.asarray([fi for fi, *_ in pitched]), sizes)  # (N,) file of each note
    tps = np.asarray([t.ticks_per_beat / steps_per_quarter for t in files])[file_of]  # (N,) ticks per step
    on = np.concatenate([raw.start for *_, raw in pitched]) / tps
    off = np.concatenate([raw.end for *_, raw in pitched]) / tps
    start, stop = np.round(on), np.round(off)  # half to even, like Python's round
    off_grid = (np.abs(on - start) > OFF_GRID_TOLERANCE) | (np.abs(off - stop) > OFF_GRID_TOLERANCE)
    start, stop = start.astype(np.int64), stop.astype(np.int64)
    short = stop <= start
    stop = np.maximum(stop, start + 1)
    pitch = np.concatenate([raw.pitch for *_, raw in pitched])
    vel = np.clip(np.concatenate([raw.velocity for *_, raw in pitched]), 1, 127)
    st, du, pi, ve, gr, collisions = clean_by_group(start, stop - start, pitch, vel, group)
    bounds = np.searchsorted(gr, np.arange(len(pitched) + 1)).tolist()
    for (_, inst, _), a, b in zip(pitched, bounds[:-1], bounds[1:]):
        inst.notes = NoteColumns(st[a:b], du[a:b], pi[a:b], ve[a:b])
    per_file = [np.bincount(file_of, x, minlength=len(files)).astype(np.int64).tolist() for x in (off_grid, short)]
    per_file.append(np.bincount(np.asarray([fi for fi, *_ in pitched]), collisions,
                                minlength=len(files)).astype(np.int64).tolist())
    for t, a, s_, c in zip(files, *per_file):
        t.off_grid, t.stretched, t.collisions = a, s_, c
