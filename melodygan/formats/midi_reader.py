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
    wrap_chunk,
)
from melodygan.formats.note_pairing import pair_like_pretty_midi
from melodygan.notes import NoteColumns, stable_order

logger = logging.getLogger(__name__)
OFF_GRID_TOLERANCE = 0.1  # fraction of a step a note may sit off the grid before it is counted
# mido's key names by (sharps, minor): what the pretty_midi path hands to Key.parse
_MAJOR = ("Cb", "Gb", "Db", "Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#")
_MINOR = ("Abm", "Ebm", "Bbm", "Fm", "Cm", "Gm", "Dm", "Am", "Em", "Bm", "F#m", "C#m", "G#m", "D#m", "A#m")
SMALL_CHUNK_BYTES = 96  # a chunk this short is walked in Python: cheaper than a symusic parse


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


def _notes_on_grid(raws: list[Raw], ticks_per_step: float) -> tuple[list[NoteColumns], int, int, int]:
    """Quantise and clean the notes of many instruments as the pretty_midi path does, vectorised:
    all of them at once, each on its own.

    Returns:
        ``(notes of each instrument in Note order, off_grid, stretched, collisions)``.
    """
    if not raws:
        return [], 0, 0, 0
    s = np.concatenate([r.start for r in raws])
    e = np.concatenate([r.end for r in raws])
    group = np.repeat(np.arange(len(raws)), [len(r.start) for r in raws])  # (N,) instrument of each note
    on, off = s / ticks_per_step, e / ticks_per_step
    start, stop = np.round(on), np.round(off)  # half to even, like Python's round
    off_grid = int(((np.abs(on - start) > OFF_GRID_TOLERANCE) | (np.abs(off - stop) > OFF_GRID_TOLERANCE)).sum())
    start, stop = start.astype(np.int64), stop.astype(np.int64)
    short = stop <= start
    stop[short] = start[short] + 1
    pitch = np.concatenate([r.pitch for r in raws])
    vel = np.clip(np.concatenate([r.velocity for r in raws]), 1, 127)
    st, du, pi, ve, gr, collisions = clean_columns(start, stop - start, pitch, vel, group)
    bounds = np.searchsorted(gr, np.arange(len(raws) + 1))  # (G + 1,) each instrument's rows
    cols = [NoteColumns(st[a:b], du[a:b], pi[a:b], ve[a:b]) for a, b in pairwise(bounds.tolist())]
    return cols, off_grid, int(short.sum()), collisions


def clean_columns(start: np.ndarray, dur: np.ndarray, pitch: np.ndarray, vel: np.ndarray,
                  group: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """:func:`melodygan.formats.midi._clean_track` on note columns in the list's order, per track
    (``group``, non-negative, gives each note's track): the longest of the notes sharing an onset
    and pitch (the first of equals), each note cut where the next one of its pitch starts.

    Returns:
        ``(start, duration, pitch, velocity, group, collisions)``, sorted by track, then as Notes sort.
    """
    n = len(start)
    if n == 0:
        return start, dur, pitch, vel, group, 0
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
    collisions = n - len(st)
    cut = np.zeros(len(st), dtype=bool)
    cut[:-1] = (pi[1:] == pi[:-1]) & (gr[1:] == gr[:-1]) & (st[:-1] + du[:-1] > st[1:])
    du[:-1][cut[:-1]] = st[1:][cut[:-1]] - st[:-1][cut[:-1]]
    collisions += int(cut.sum())
    order = stable_order((gr, gbits), st, du, (pi, 7), (ve, 7))  # Note order: start, duration, pitch, velocity
    return st[order], du[order], pi[order], ve[order], gr[order], collisions


@dataclass
class Raw:
    """One instrument's notes in ticks, in pretty_midi's order, before the grid."""

    channel: int
    program: int
    name: bytes
    start: np.ndarray
    end: np.ndarray
    pitch: np.ndarray
    velocity: np.ndarray
    first_close: int = 0


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
    if not _pairs_first_in_first_out():
        logger.debug("read with pretty_midi: this symusic does not pair notes first in, first out")
        return None
    split = split_chunks(data)
    if split is None:
        logger.debug("read with pretty_midi: not a plain header and chunk table")
        return None
    fmt, tpq, chunks = split
    out = Tracks(tpq, [], [], [], [], "", 0, 0, 0, len(chunks), [])
    bad_keys = 0
    chunk_of: list[int] = []
    try:
        parts = _read_chunks(chunks, tpq)
        for ci, (chunk, c) in enumerate(zip(chunks, parts)):
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
                if fmt == 1 and (c.count > 0 or c.has_note_on):
                    out.title = ""  # track 0 is a part, its name is not a title
            out.raw += c.raws
            chunk_of += [ci] * len(c.raws)
    except Undecided as e:
        logger.debug("read with pretty_midi: %s", e)
        return None
    if bad_keys:
        out.problems.append(f"{bad_keys} key signature(s) outside the 15 keys ignored")
    pitched = [r for r in out.raw if r.channel != 9]  # drum notes are only counted
    cols, out.off_grid, out.stretched, out.collisions = _notes_on_grid(pitched, tpq / steps_per_quarter)
    on_grid = iter(cols)
    for ci, raw in zip(chunk_of, out.raw):
        notes = NoteColumns() if raw.channel == 9 else next(on_grid)
        out.instruments.append(Instrument(ci, raw.channel, raw.program, raw.name, notes, len(raw.start)))
    return out


@dataclass
class _Chunk:
    """What one track chunk holds (meta events as :class:`Tracks` keeps them, keys as in the file)."""

    end_tick: int
    tempos: list[tuple[int, int]]
    time_signatures: list[tuple[int, int, int]]
    keys: list[tuple[int, int, int]]  # (tick, sharps, minor)
    raws: list[Raw]  # its instruments in pretty_midi's order
    count: int  # (channel, program) pairs that play notes in it
    notes: int  # note-ons with a velocity
    last_note_tick: int
    walk: Walk | None  # the walk made, if any
    names: list[bytes] = field(default_factory=list)  # its track names, in order
    markers: list[tuple[int, bytes]] = field(default_factory=list)
    has_note_on: bool = False  # a note-on of any velocity (as far as a walk went)

    @classmethod
    def from_walk(cls, w: Walk, raws: list[Raw], count: int, notes: int, last: int, end_tick: int,
                  tempos: list[tuple[int, int]], sigs: list[tuple[int, int, int]],
                  keys: list[tuple[int, int, int]]) -> _Chunk:
        return cls(end_tick, tempos, sigs, keys, raws, count, notes, last, w, w.names, w.markers, w.has_note_on)


def _read_chunks(chunks: list[bytes], tpq: int) -> list[_Chunk]:
    """Every chunk of a file: the short ones walked, the plain ones (:func:`plain_chunk`) parsed by
    symusic together, the others one by one (and a plain one whose notes that parse cannot settle).

    Raises:
        Undecided: symusic refuses a chunk, or the walker one of its events.
    """
    parts: list[_Chunk | None] = [None] * len(chunks)
    plain: list[tuple[int, tuple[bytes] | tuple[()]]] = []
    for ci, chunk in enumerate(chunks):
        if len(chunk) <= SMALL_CHUNK_BYTES:
            w = walk(chunk, notes=True)
            parts[ci] = _Chunk.from_walk(w, _walked(w), len(w.played), w.note_ons, w.last_note_tick, w.end_tick,
                                         w.tempos, w.time_signatures, w.keys)
            continue
        name = plain_chunk(chunk) if ci > 0 else None  # the first chunk's text and notes decide the title
        if name is None:
            parts[ci] = _read_chunk(chunk, tpq)
        else:
            plain.append((ci, name))
    for first in range(0, len(plain), _JOINED_CHUNKS):
        group = plain[first:first + _JOINED_CHUNKS]
        got = _read_joined([chunks[ci] for ci, _ in group], [name for _, name in group], tpq)
        for (ci, _), c in zip(group, got):
            parts[ci] = c if c is not None else _read_chunk(chunks[ci], tpq)
    return [p for p in parts if p is not None]


_JOINED_CHUNKS = 126  # chunks per joined parse: their number goes in a tag's velocity


def _read_joined(chunks: list[bytes], names: list[tuple[bytes] | tuple[()]], tpq: int) -> list[_Chunk | None]:
    """Plain chunks read by one symusic parse (:func:`~melodygan.formats.midi_bytes.joined_wrap`),
    each with its instruments in pretty_midi's order; None for a chunk that must be read alone (a
    note never closed, a tie between its instruments' first note-offs), and all None where a track
    comes back without its tag (a program changed while its channel played).

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
    found: list[tuple[int, int, int, dict[str, np.ndarray]]] = []  # (chunk, channel, program, notes and tag)
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
            continue
        found.append((k, int(cols["pitch"][-1]), int(track.program), cols))
    found = [f for f in found if not alone[f[0]]]
    raws = _pair_all(found, ends)
    by_chunk: list[list[Raw]] = [[] for _ in chunks]
    counts, notes, last = [0] * len(chunks), [0] * len(chunks), [0] * len(chunks)
    for (k, _, _, cols), raw in zip(found, raws):
        counts[k] += 1
        notes[k] += len(cols["time"]) - 1
        last[k] = max(last[k], int((cols["time"][:-1] + cols["duration"][:-1]).max()))
        if raw is not None:
            by_chunk[k].append(raw)
    out: list[_Chunk | None] = []
    for k, name in enumerate(names):
        raws_k = by_chunk[k]
        if alone[k] or len({r.first_close for r in raws_k}) < len(raws_k):
            out.append(None)  # a note never closed; or instruments created at one tick, ordered by the walker
            continue
        for raw in raws_k:
            raw.name = name[0] if name else b""
        raws_k.sort(key=lambda r: r.first_close)
        out.append(_Chunk(ends[k], [], [], [], raws_k, counts[k], notes[k], last[k], None, list(name), [],
                          counts[k] > 0))
    return out


def _pair_all(found: list[tuple[int, int, int, dict[str, np.ndarray]]], ends: list[int]) -> list[Raw | None]:
    """pretty_midi's notes of every instrument symusic read (its notes and, last, its tag), all at
    once (:func:`~melodygan.formats.note_pairing.pair_like_pretty_midi`). None for an instrument
    whose notes pretty_midi drops all (zero-length ones)."""
    if not found:
        return []
    sizes = [len(cols["time"]) - 1 for *_, cols in found]
    inst = np.repeat(np.arange(len(found)), sizes)  # (N,) instrument of each note
    s = np.concatenate([cols["time"][:-1] for *_, cols in found]).astype(np.int64)
    e = s + np.concatenate([cols["duration"][:-1] for *_, cols in found])
    p = np.concatenate([cols["pitch"][:-1] for *_, cols in found]).astype(np.int64)
    v = np.concatenate([cols["velocity"][:-1] for *_, cols in found]).astype(np.int64)
    end_tick = np.asarray([ends[k] for k, *_ in found])[inst]
    s, e, p, v, inst = pair_like_pretty_midi(s, e, p, v, end_tick, inst)
    bounds = np.searchsorted(inst, np.arange(len(found) + 1)).tolist()
    filled = [lo for lo, hi in pairwise(bounds) if hi > lo]
    first = iter(np.minimum.reduceat(e, filled).tolist() if filled else [])  # each one's first note-off
    out: list[Raw | None] = []
    for (_, channel, program, _), lo, hi in zip(found, bounds[:-1], bounds[1:]):
        out.append(Raw(channel, program, b"", s[lo:hi], e[lo:hi], p[lo:hi], v[lo:hi], next(first)) if hi > lo
                   else None)
    return out


def _read_chunk(chunk: bytes, tpq: int) -> _Chunk:
    """One chunk parsed by symusic alone, with one round of closing note-offs and a tag for each
    channel that may play in it (two rounds when a note is never closed).

    Raises:
        Undecided: symusic refuses the chunk, or the walker one of its events.
    """
    import symusic

    channels = note_on_channels(chunk)
    for rounds in (1, 2):
        try:
            score: Any = symusic.Score.from_midi(wrap_chunk(chunk, tpq, channels, rounds))  # symusic's stub: bare
        except Exception as e:  # symusic refuses the chunk: pretty_midi says why, in its own words
            raise Undecided(f"symusic: {e}") from None
        ends = [int(m.time) for m in score.markers if m.text == END_TEXT]
        if len(ends) != 1:
            raise Undecided("the end marker did not come back")
        chunk_end = ends[0]
        got = _chunk_instruments(score, chunk, chunk_end, rounds)
        if got is not None:
            break
    else:  # pragma: no cover - two rounds always settle it or walk
        raise Undecided("never-closed notes")
    raws, count, notes, last, w = got
    tempos = [(int(t.time), int(t.mspq)) for t in score.tempos]
    sigs = [(int(t.time), int(t.numerator), int(t.denominator)) for t in score.time_signatures]
    keys = [(int(k.time), int(k.key), int(k.tonality)) for k in score.key_signatures]
    if w is None:
        return _Chunk(chunk_end, tempos, sigs, keys, raws, count, notes, last, None)
    return _Chunk.from_walk(w, raws, count, notes, last, chunk_end, tempos, sigs, keys)


def _walked(w: Walk) -> list[Raw]:
    """The instruments of a chunk walked with ``notes=True``, in creation order."""
    raws = []
    for (channel, program), events in w.notes.items():
        cols = np.asarray(events, dtype=np.int64).reshape(-1, 4)  # (N, 4): start, end, pitch, velocity
        raws.append(Raw(channel, program, w.created[(channel, program)], cols[:, 0], cols[:, 1], cols[:, 2],
                        cols[:, 3]))
    return raws


def _chunk_instruments(score: Any, chunk: bytes, chunk_end: int,
                       rounds: int) -> tuple[list[Raw], int, int, int, Walk | None] | None:
    """One chunk's instruments in pretty_midi's order, from symusic's tracks where they settle it,
    else from walking the chunk; how many (channel, program) pairs play notes in it, its note-ons
    and last note tick; the walk made, if any. None when a note is never closed and one round of
    closing note-offs cannot tell how many are."""
    raws: list[Raw] = []
    count = notes = last = 0
    try:
        tag_time = chunk_end + tag_offset(rounds)
        for track in score.tracks:
            if track.note_num() == 1 and track.notes[0].time == tag_time:
                continue  # a channel with no notes but the wrapper's tag
            cols = track.notes.numpy()
            start = cols["time"].astype(np.int64)
            end = start + cols["duration"].astype(np.int64)
            pitch = cols["pitch"].astype(np.int64)
            vel = cols["velocity"].astype(np.int64)
            tag = start == tag_time
            tags = int(tag.sum())
            real = ~tag
            if tags != 1:
                if len(start):
                    raise Undecided("a program change while a channel plays")  # notes under a program it left
                continue
            if rounds == 1 and (end[real] > chunk_end).any():
                return None  # a note never closed: two rounds say whether there are more of its pitch
            if (end[real] > chunk_end + 1).any():
                raise Undecided("two or more never-closed notes of one pitch")
            channel = int(pitch[tag][0])
            start, end, pitch, vel = start[real], end[real], pitch[real], vel[real]
            if not len(start):
                continue
            count += 1
            notes += len(start)
            closed = end[end <= chunk_end]
            last = max(last, int(start.max()), int(closed.max()) if len(closed) else 0)
            s, e, p, v, _ = pair_like_pretty_midi(start, end, pitch, vel, chunk_end)
            if len(s):
                raws.append(Raw(channel, int(track.program), b"", s, e, p, v, int(e.min())))
        w = _needed_walk(chunk, raws)
        return _pretty_midi_order(raws, w), count, notes, last, w
    except Undecided as e:
        logger.debug("walking a chunk: %s", e)
    w = walk(chunk, notes=True)
    return _walked(w), len(w.played), w.note_ons, w.last_note_tick, w


def _needed_walk(chunk: bytes, raws: list[Raw]) -> Walk | None:
    """Walk the chunk as far as its names, markers and the order of instruments whose first
    note-offs share a tick need; None when nothing does."""
    until_pos = max(chunk.rfind(b"\xff\x03"), len(chunk) if b"\xff\x06" in chunk else -1)
    firsts = sorted(r.first_close for r in raws)
    ties = [a for a, b in pairwise(firsts) if a == b]
    until_tick = max(ties) if ties else -1
    if until_pos < 0 and until_tick < 0:
        return None
    return walk(chunk, until_pos, until_tick)


def _pretty_midi_order(raws: list[Raw], w: Walk | None) -> list[Raw]:
    """A chunk's instruments in the order pretty_midi creates them (by first closing note-off,
    ties in the walker's order), each with the track name it had then."""
    final = w.names[-1] if w is not None and w.names else b""
    created = list(w.created) if w is not None else []
    rank = {}
    for raw in raws:
        key = (raw.channel, raw.program)
        if w is not None and key in w.created:
            raw.name = w.created[key]
        else:
            # created after the walk stopped, past every name event
            raw.name = final
            if any(o.first_close == raw.first_close for o in raws if o is not raw):
                raise Undecided("instruments created at one tick, past the walk")
        rank[key] = created.index(key) if key in created else len(created)
    return sorted(raws, key=lambda r: (r.first_close, rank[(r.channel, r.program)]))


