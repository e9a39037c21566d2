"""The fast MIDI reader: symusic parses the events, numpy pairs and quantises the notes.

:func:`read_tracks` gives the same instruments, names, programs, meta events and loss counts as
the pretty_midi reader in :mod:`melodygan.formats.midi` (which assembles the Piece from either),
at symusic's speed. What makes the two agree:

* **One symusic parse per track chunk** (:func:`melodygan.formats.midi_bytes.wrap_chunk`), so that
  every instrument is known by its chunk, as pretty_midi's ``(program, channel, track)``
  instruments are, and the chunk's end tick, its never-closed notes and each track's channel
  come back too.
* **Note pairing as pretty_midi does it.** symusic pairs a note-off with the oldest open note-on
  of its pitch (first in, first out); pretty_midi closes every open note of the pitch at the
  first note-off at a later tick than their start, and drops a note whose note-off comes at its
  own tick. Where the two can differ (same-pitch notes that overlap, zero-length or never-closed
  notes) pretty_midi's pairing is replayed from the note-on and note-off ticks
  (:func:`_replay_pretty_midi`); elsewhere they are the same notes. A chunk whose reading still
  depends on what symusic does not report (the order of note events within one tick after
  overlapping notes, a channel that changes program while it plays) is walked event by event in
  Python instead (:func:`melodygan.formats.midi_bytes.walk`): exact, and slower.
* **Text from the bytes.** Track names, the title (the last name in the first chunk) and markers
  (chord symbols) are read by the same walker, as far as the chunk holds any, and decoded as
  Latin-1 as mido does (symusic drops bytes that are not UTF-8, and empty markers).
* **The same arithmetic.** Quantisation, collision merging and the loss counts run on numpy arrays
  per instrument with the rules of the pretty_midi path (``round`` half to even, a tenth of a
  step off the grid, the longest of the notes sharing an onset and pitch, the first of equals in
  pretty_midi's order, a note cut where the next one of its pitch starts).

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

from melodygan.formats.midi_bytes import END_TEXT, TAG_OFFSET, Undecided, Walk, split_chunks, walk, wrap_chunk
from melodygan.notes import Note, notes_from_arrays

logger = logging.getLogger(__name__)
OFF_GRID_TOLERANCE = 0.1  # fraction of a step a note may sit off the grid before it is counted
# mido's key names by (sharps, minor): what the pretty_midi path hands to Key.parse
_MAJOR = ("Cb", "Gb", "Db", "Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#")
_MINOR = ("Abm", "Ebm", "Bbm", "Fm", "Cm", "Gm", "Dm", "Am", "Em", "Bm", "F#m", "C#m", "G#m", "D#m", "A#m")


@dataclass
class Instrument:
    """One instrument as pretty_midi makes it.

    Attributes:
        chunk: index of the track chunk.
        channel: MIDI channel (0-15; 9 is drums).
        program: GM program.
        name: track-name bytes, as pretty_midi names it.
        notes: on the step grid, cleaned and sorted (empty for drums, which are only counted).
        count: notes pretty_midi reads (before cleaning).
    """

    chunk: int
    channel: int
    program: int
    name: bytes
    notes: list[Note]
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


def _replay_pretty_midi(start: np.ndarray, end: np.ndarray, vel: np.ndarray,
                        end_tick: int) -> tuple[list[int], list[int], list[int]]:
    """pretty_midi's pairing of one channel and pitch, from symusic's first-in-first-out notes.

    Every note-on is a note start; every note-off that closed something is a note end at or before
    ``end_tick`` (ends after it are the wrapper's closing note-offs). pretty_midi closes every open
    note at a note-off at a later tick than its start, drops notes whose note-off is at their own
    tick, and keeps a note started at the tick of a note-off that closed earlier notes.

    Returns:
        ``(starts, ends, velocities)`` in the order pretty_midi appends them.

    Raises:
        Undecided: where the same-tick order of note-ons and note-offs, which symusic does not
            report, decides what pretty_midi reads.
    """
    order = np.lexsort((end, start))  # file order of the note-ons (symusic closes the oldest first)
    s, e, v = start[order].tolist(), end[order].tolist(), vel[order].tolist()
    offs: dict[int, int] = {}
    for x in e:
        if x <= end_tick:
            offs[x] = offs.get(x, 0) + 1
    ons: dict[int, list[int]] = {}
    for i, x in enumerate(s):
        ons.setdefault(x, []).append(i)
    opened: list[int] = []
    out_s: list[int] = []
    out_e: list[int] = []
    out_v: list[int] = []
    for t in sorted(set(ons) | set(offs)):
        here, m = ons.get(t, []), offs.get(t, 0)
        if m == 0:
            opened += here
            continue
        if not here or (m == 1 and opened):
            for i in opened:  # the first note-off at t closes every earlier note
                out_s.append(s[i])
                out_e.append(t)
                out_v.append(v[i])
            opened = list(here)
            continue
        fifo_open = any(s[i] < t <= e[i] for i in range(len(s)))
        if opened or fifo_open:
            raise Undecided("same-tick note-ons and note-offs after overlapping notes")
        zero = sum(1 for i in here if e[i] == t)
        if zero == 0:
            opened = list(here)  # every note-off came before the note-ons: nothing to close
        elif len(here) == 1 and m == 1:
            opened = []  # note-on then note-off at one tick: pretty_midi drops the note
        else:
            raise Undecided("several same-tick note-ons and note-offs")
    return out_s, out_e, out_v


def _pair(start: np.ndarray, end: np.ndarray, pitch: np.ndarray, vel: np.ndarray,
          end_tick: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """pretty_midi's notes of one instrument from symusic's, in pretty_midi's order (by note-off)."""
    order = np.lexsort((end, start, pitch))
    s, e, p = start[order], end[order], pitch[order]
    same = p[1:] == p[:-1]
    bad_pairs = same & (e[:-1] > s[1:])
    bad = (e == s) | (e > end_tick)
    bad[:-1] |= bad_pairs
    bad[1:] |= bad_pairs
    if bad.any():
        v = vel[order]
        keep = ~np.isin(p, np.unique(p[bad]))
        parts_s, parts_e, parts_p, parts_v = [s[keep]], [e[keep]], [p[keep]], [v[keep]]
        for q in np.unique(p[bad]).tolist():
            sel = p == q
            rs, re_, rv = _replay_pretty_midi(s[sel], e[sel], v[sel], end_tick)
            parts_s.append(np.asarray(rs, dtype=np.int64))
            parts_e.append(np.asarray(re_, dtype=np.int64))
            parts_p.append(np.full(len(rs), q, dtype=np.int64))
            parts_v.append(np.asarray(rv, dtype=np.int64))
        s, e, p, v = (np.concatenate(x) for x in (parts_s, parts_e, parts_p, parts_v))
    else:
        v = vel[order]
    # pretty_midi appends notes as note-offs close them, the earlier start first; the stable sort
    # keeps symusic's file order among notes of one start
    order = np.lexsort((s, e))
    return s[order], e[order], p[order], v[order]


def _notes_on_grid(s: np.ndarray, e: np.ndarray, p: np.ndarray, v: np.ndarray,
                   ticks_per_step: float) -> tuple[list[Note], int, int, int]:
    """Quantise and clean one instrument's notes as the pretty_midi path does, vectorised.

    Returns:
        ``(notes sorted, off_grid, stretched, collisions)``.
    """
    on, off = s / ticks_per_step, e / ticks_per_step
    start, stop = np.round(on), np.round(off)  # half to even, like Python's round
    off_grid = int(((np.abs(on - start) > OFF_GRID_TOLERANCE) | (np.abs(off - stop) > OFF_GRID_TOLERANCE)).sum())
    start, stop = start.astype(np.int64), stop.astype(np.int64)
    short = stop <= start
    stop[short] = start[short] + 1
    dur = stop - start
    st, du, pi, ve, _, collisions = clean_columns(start, dur, p, np.clip(v, 1, 127), np.zeros(len(start), np.int64))
    return notes_from_arrays(st, du, pi, ve), off_grid, int(short.sum()), collisions


def clean_columns(start: np.ndarray, dur: np.ndarray, pitch: np.ndarray, vel: np.ndarray,
                  group: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """:func:`melodygan.formats.midi._clean_track` on note columns in the list's order, per track
    (``group`` gives each note's track): the longest of the notes sharing an onset and pitch (the
    first of equals), each note cut where the next one of its pitch starts.

    Returns:
        ``(start, duration, pitch, velocity, group, collisions)``, sorted by track, then as Notes sort.
    """
    n = len(start)
    gr = group
    order = np.lexsort((np.arange(n), -dur, pitch, start, gr))
    st, du, pi, ve, gr = start[order], dur[order], pitch[order], vel[order], gr[order]
    first = np.ones(len(st), dtype=bool)
    first[1:] = (st[1:] != st[:-1]) | (pi[1:] != pi[:-1]) | (gr[1:] != gr[:-1])
    st, du, pi, ve, gr = st[first], du[first], pi[first], ve[first], gr[first]
    collisions = n - len(st)
    order = np.lexsort((st, pi, gr))
    st, du, pi, ve, gr = st[order], du[order], pi[order], ve[order], gr[order]
    cut = np.zeros(len(st), dtype=bool)
    cut[:-1] = (pi[1:] == pi[:-1]) & (gr[1:] == gr[:-1]) & (st[:-1] + du[:-1] > st[1:])
    du[:-1][cut[:-1]] = st[1:][cut[:-1]] - st[:-1][cut[:-1]]
    collisions += int(cut.sum())
    order = np.lexsort((ve, pi, du, st, gr))  # Note order: start, duration, pitch, velocity
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
    import symusic

    if not _pairs_first_in_first_out():
        logger.debug("read with pretty_midi: this symusic does not pair notes first in, first out")
        return None
    split = split_chunks(data)
    if split is None:
        logger.debug("read with pretty_midi: not a plain header and chunk table")
        return None
    fmt, tpq, chunks = split
    ticks_per_step = tpq / steps_per_quarter
    out = Tracks(tpq, [], [], [], [], "", 0, 0, 0, len(chunks), [])
    bad_keys = 0
    try:
        for ci, chunk in enumerate(chunks):
            try:
                score: Any = symusic.Score.from_midi(wrap_chunk(chunk, tpq))  # symusic's stub types a bare Score
            except Exception as e:  # symusic refuses the chunk: pretty_midi says why, in its own words
                raise Undecided(f"symusic: {e}") from None
            ends = [int(m.time) for m in score.markers if m.text == END_TEXT]
            if len(ends) != 1:
                raise Undecided("the end marker did not come back")
            chunk_end = ends[0]
            out.end_tick = max(out.end_tick, chunk_end)
            tempos = [(int(t.time), int(t.mspq)) for t in score.tempos]
            sigs = [(int(t.time), int(t.numerator), int(t.denominator)) for t in score.time_signatures]
            keys = [(int(k.time), int(k.key), int(k.tonality)) for k in score.key_signatures]
            raws, count, w = _chunk_instruments(score, chunk, chunk_end, out)
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
            out.track_names.append(w.names[0].decode("latin-1") if w is not None and w.names else "")
            out.track_instruments.append(count)
            has_notes = count > 0 or (w is not None and w.has_note_on)
            if w is not None:
                out.markers += [(t, text.decode("latin-1")) for t, text in w.markers]
                if ci == 0:
                    out.title = w.names[-1].decode("latin-1") if w.names else ""
            if ci == 0 and fmt == 1 and has_notes:
                out.title = ""  # track 0 is a part, its name is not a title
            for raw in raws:
                out.instruments.append(_on_grid(ci, raw, ticks_per_step, out))
            out.raw += raws
    except Undecided as e:
        logger.debug("read with pretty_midi: %s", e)
        return None
    if bad_keys:
        out.problems.append(f"{bad_keys} key signature(s) outside the 15 keys ignored")
    return out


def _chunk_instruments(score: Any, chunk: bytes, chunk_end: int,
                       out: Tracks) -> tuple[list[Raw], int, Walk | None]:
    """One chunk's instruments in pretty_midi's order, from symusic's tracks where they settle it,
    else from walking the chunk; how many (channel, program) pairs play notes in it; the walk
    made, if any. Adds the chunk's note-ons and last note tick to ``out``."""
    raws: list[Raw] = []
    count = notes = last = 0
    try:
        tag_time = chunk_end + TAG_OFFSET
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
            s, e, p, v = _pair(start, end, pitch, vel, chunk_end)
            if len(s):
                raws.append(Raw(channel, int(track.program), b"", s, e, p, v, int(e.min())))
        w = _needed_walk(chunk, raws)
        out.notes += notes
        out.last_note_tick = max(out.last_note_tick, last)
        return _pretty_midi_order(raws, w), count, w
    except Undecided as e:
        logger.debug("walking a chunk: %s", e)
    w = walk(chunk, notes=True)
    raws = []
    for (channel, program), events in w.notes.items():
        cols = np.asarray(events, dtype=np.int64).reshape(-1, 4)  # (N, 4): start, end, pitch, velocity
        raws.append(Raw(channel, program, w.created[(channel, program)], cols[:, 0], cols[:, 1], cols[:, 2],
                        cols[:, 3]))
    out.notes += w.note_ons
    out.last_note_tick = max(out.last_note_tick, w.last_note_tick)
    return raws, len(w.played), w


def _on_grid(chunk: int, raw: Raw, ticks_per_step: float, out: Tracks) -> Instrument:
    if raw.channel == 9:
        return Instrument(chunk, raw.channel, raw.program, raw.name, [], len(raw.start))
    notes, off_grid, stretched, collisions = _notes_on_grid(raw.start, raw.end, raw.pitch, raw.velocity,
                                                            ticks_per_step)
    out.off_grid += off_grid
    out.stretched += stretched
    out.collisions += collisions
    return Instrument(chunk, raw.channel, raw.program, raw.name, notes, len(raw.start))


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


