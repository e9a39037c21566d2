"""One track chunk read on its own, for the fast MIDI reader (:mod:`melodygan.formats.midi_reader`):
parsed by symusic in its own wrapper (:func:`read_chunk`), or walked in Python (:func:`walk_chunk`,
for a short chunk or one whose notes symusic's cannot settle), with its instruments in
pretty_midi's order and names.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np

from melodygan.formats.midi_bytes import END_TEXT, Undecided, Walk, note_on_channels, tag_offset, walk, wrap_chunk
from melodygan.formats.note_pairing import pair_like_pretty_midi

logger = logging.getLogger("melodygan.formats.midi_reader")


@dataclass
class Raw:
    """One instrument's notes in ticks, before the grid: by pitch, or in pretty_midi's order (each
    pitch's notes in pretty_midi's order either way)."""

    channel: int
    program: int
    name: bytes
    start: np.ndarray
    end: np.ndarray
    pitch: np.ndarray
    velocity: np.ndarray
    first_close: int = 0


@dataclass
class Chunk:
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
                  keys: list[tuple[int, int, int]]) -> Chunk:
        return cls(end_tick, tempos, sigs, keys, raws, count, notes, last, w, w.names, w.markers, w.has_note_on)


def read_chunk(chunk: bytes, tpq: int) -> Chunk:
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
        return Chunk(chunk_end, tempos, sigs, keys, raws, count, notes, last, None)
    return Chunk.from_walk(w, raws, count, notes, last, chunk_end, tempos, sigs, keys)


def walk_chunk(chunk: bytes) -> Chunk:
    """A chunk walked event by event (exact; for short chunks, cheaper than a parse).

    Raises:
        Undecided: an event the walker would split otherwise than mido.
    """
    w = walk(chunk, notes=True)
    return Chunk.from_walk(w, _walked(w), len(w.played), w.note_ons, w.last_note_tick, w.end_tick, w.tempos,
                           w.time_signatures, w.keys)


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
        return pretty_midi_order(raws, w), count, notes, last, w
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


def pretty_midi_order(raws: list[Raw], w: Walk | None) -> list[Raw]:
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


