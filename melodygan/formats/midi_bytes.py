"""Standard MIDI Files at the byte level, for the fast reader (:mod:`melodygan.formats.midi_reader`).

* :func:`split_chunks` — the header and the ``MTrk`` chunks of a file;
* :func:`note_on_channels` — the channels a chunk may play notes on (those whose note-on status
  byte occurs in it anywhere: a superset, as a delta time's byte can look like one);
* :func:`wrap_chunk` — one chunk as a single-track file for symusic, with what symusic does not
  report made visible: a marker at the chunk's end tick (its end-of-track), then one or more
  rounds of note-offs for every pitch of those channels, one tick apart (they close the note-ons
  the file never closes), then one short note per such channel whose pitch is the channel number
  (it tells each symusic track its channel);
* :func:`plain_chunk` and :func:`joined_wrap` — the chunks of a file whose text and meta events
  all come first (walked in Python that far), wrapped together as one file with the same
  marker, closing round and tags, for one symusic parse of them all;
* :func:`walk` — a chunk's events in Python, split as mido splits them: track names, markers, and
  pretty_midi's own note pairing and instruments (``(channel, program)`` at the note-off, created
  at the first note-off that closes a note, named after the last track name before it). It is
  exact and slow, so the reader walks only as far as it needs to, or a whole chunk that symusic's
  notes cannot settle.

Times are absolute ticks.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

END_TEXT = "melodygan-chunk-end"
CLOSING_ROUNDS = 2


class Undecided(Exception):
    """The fast path cannot tell how pretty_midi would read this (the message says why)."""


def _vlq(n: int) -> bytes:
    """A MIDI variable-length quantity (the writer in :mod:`melodygan.formats.midi` uses it too)."""
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


# per channel: note-offs of all 128 pitches at one tick (running status), the first with delta 0
_CLOSE = tuple(bytes((0, 0x80 | ch, 0, 0)) + b"".join(bytes((0, pitch, 0)) for pitch in range(1, 128))
               for ch in range(16))
_MARKER = b"\xff\x06" + _vlq(len(END_TEXT)) + END_TEXT.encode()
ALL_CHANNELS = tuple(range(16))
_NOT_NOTE_ON = bytes(b for b in range(256) if not 0x90 <= b <= 0x9F)


def note_on_channels(data: bytes) -> tuple[int, ...]:
    """The channels whose note-on status byte occurs anywhere in ``data`` (a chunk): every channel
    that plays a note in it (running status repeats a status byte that occurred before), and a few
    more (a byte of a delta time or of a text can look like one)."""
    return tuple(sorted({b & 0x0F for b in data.translate(None, _NOT_NOTE_ON)}))


def tag_offset(rounds: int) -> int:
    """Ticks from a chunk's end to its channel tags in :func:`wrap_chunk` with ``rounds`` rounds."""
    return rounds + 1


def split_chunks(data: bytes) -> tuple[int, int, list[bytes]] | None:
    """``(format, ticks per quarter, MTrk chunk bodies)`` of a Standard MIDI File, or None when the
    header or chunk table is anything but plain (SMPTE time, type 2, missing chunks, truncation,
    a chunk without exactly one end-of-track at its end)."""
    if len(data) < 14 or data[:4] != b"MThd":
        return None
    (size,) = struct.unpack(">I", data[4:8])
    if size < 6:
        return None
    fmt, ntracks, division = struct.unpack(">HHH", data[8:14])
    if fmt > 1 or division & 0x8000 or division == 0 or ntracks == 0:
        return None
    pos, chunks = 8 + size, []
    for _ in range(ntracks):
        if pos + 8 > len(data) or data[pos:pos + 4] != b"MTrk":
            return None
        (length,) = struct.unpack(">I", data[pos + 4:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        # mido reads on past an end-of-track inside a chunk; symusic stops there
        if len(body) != length or not body.endswith(b"\xff\x2f\x00") or body.count(b"\xff\x2f\x00") != 1:
            return None
        chunks.append(body)
        pos += 8 + length
    return fmt, division, chunks


def wrap_chunk(chunk: bytes, division: int, channels: tuple[int, ...] = ALL_CHANNELS,
               rounds: int = CLOSING_ROUNDS) -> bytes:
    """A chunk (ending in end-of-track) as a single-track file with the marker, ``rounds`` closing
    rounds and the tags of ``channels`` (see the module docstring) before its end; the tags start
    :func:`tag_offset` ticks after the chunk's end."""
    closing = b"".join(_CLOSE[ch] for ch in channels)
    tags_on = b"".join(bytes((0, 0x90 | ch, ch, 1)) for ch in channels)
    tags_off = b"".join(bytes((0, 0x80 | ch, ch, 0)) for ch in channels)
    # each block's first event one tick after the previous block
    blocks = [closing] * rounds + [tags_on, tags_off] if channels else []
    body = chunk[:-3] + _MARKER + b"".join(b"\x01" + block[1:] for block in blocks) + b"\x00\xff\x2f\x00"
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, division) + b"MTrk" + struct.pack(">I", len(body)) + body


_META_KINDS = frozenset((0x03, 0x06, 0x51, 0x58, 0x59))  # track name, marker, tempo, meter, key
PLAIN_HEAD_BYTES = 256  # how far into a chunk its names and meta events may lie for the joined parse


def plain_chunk(chunk: bytes) -> Walk | None:
    """For a chunk whose names, markers, tempo, meter and key events all lie in its first
    :data:`PLAIN_HEAD_BYTES` bytes (what a sequencer or melodygan writes before the notes): the
    walk as far as the last of them, which holds them all; None for any other chunk (or where a
    byte of a delta time or of a note looks like such an event further on).

    Raises:
        Undecided: an event the walker would split otherwise than mido.
    """
    last = -1
    pos = chunk.find(b"\xff")
    while 0 <= pos < len(chunk) - 3:  # meta events start with 0xFF, other bytes seldom; the end-of-track last
        if chunk[pos + 1] in _META_KINDS:
            if pos > PLAIN_HEAD_BYTES:
                return None
            last = pos
        pos = chunk.find(b"\xff", pos + 1)
    return walk(chunk, until_pos=last) if last >= 0 else Walk()


def joined_wrap(chunks: list[bytes], division: int) -> bytes:
    """Plain chunks (:func:`plain_chunk`) as one type-1 file for symusic: each as :func:`wrap_chunk`
    with one closing round, its end marker's text ending in ``:k`` and its channel tags of
    velocity ``k + 1`` (``k`` = its place in ``chunks``, under 127), so that every symusic track
    tells its chunk and channel."""
    out = [b"MThd", struct.pack(">IHHH", 6, 1, len(chunks), division)]
    for k, chunk in enumerate(chunks):
        channels = note_on_channels(chunk)
        text = f"{END_TEXT}:{k}".encode()
        body = [chunk[:-3], b"\xff\x06", _vlq(len(text)), text]
        if channels:
            closing = b"".join(_CLOSE[ch] for ch in channels)
            tags_on = b"".join(bytes((0, 0x90 | ch, ch, k + 1)) for ch in channels)
            tags_off = b"".join(bytes((0, 0x80 | ch, ch, 0)) for ch in channels)
            body += [b"\x01", closing[1:], b"\x01", tags_on[1:], b"\x01", tags_off[1:]]
        body.append(b"\x00\xff\x2f\x00")
        joined = b"".join(body)
        out += [b"MTrk", struct.pack(">I", len(joined)), joined]
    return b"".join(out)


@dataclass
class Walk:
    """What :func:`walk` saw in one chunk.

    Attributes:
        names: every track-name payload, in order.
        markers: ``(tick, payload)`` of every marker.
        tempos, time_signatures, keys: those meta events in file order (``(tick, microseconds per
            quarter)``, ``(tick, numerator, denominator)``, ``(tick, sharps, minor)``).
        played: ``(channel, program)`` of every note-on with a velocity (the program at the note-on).
        note_ons: how many such note-ons; last_note_tick: the tick of the last note event.
        created: ``(channel, program)`` of each instrument pretty_midi creates, in creation order,
            with the track name it gets.
        notes: with ``notes=True``, each instrument's notes ``(start, end, pitch, velocity)`` in the
            order pretty_midi appends them.
        has_note_on: a note-on (of any velocity) was seen.
        complete: the walk reached the chunk's end; end_tick: the tick of its end-of-track then.
    """

    names: list[bytes] = field(default_factory=list)
    markers: list[tuple[int, bytes]] = field(default_factory=list)
    tempos: list[tuple[int, int]] = field(default_factory=list)
    time_signatures: list[tuple[int, int, int]] = field(default_factory=list)
    keys: list[tuple[int, int, int]] = field(default_factory=list)  # (tick, sharps, minor) as in the file
    played: set[tuple[int, int]] = field(default_factory=set)  # (channel, program) of note-ons
    note_ons: int = 0
    last_note_tick: int = 0
    created: dict[tuple[int, int], bytes] = field(default_factory=dict)
    notes: dict[tuple[int, int], list[tuple[int, int, int, int]]] = field(default_factory=dict)
    has_note_on: bool = False
    complete: bool = False
    end_tick: int = 0


def walk(chunk: bytes, until_pos: int = -1, until_tick: int = -1, notes: bool = False) -> Walk:
    """Walk a chunk's events until both past byte ``until_pos`` and past ``until_tick`` (or its
    end; ``notes=True`` walks it all and keeps the notes): see :class:`Walk`.

    Raises:
        Undecided: an event mido would read otherwise, or refuse.
    """
    w = Walk()
    pos, n, tick, status = 0, len(chunk), 0, -1
    program = [0] * 16
    opens: dict[tuple[int, int], list[tuple[int, int]]] = {}  # (channel, pitch) -> [(start, velocity)]
    name = b""
    if notes:
        until_pos = n
    try:
        while pos < n:
            if pos > until_pos and tick > until_tick:
                return w
            b = chunk[pos]
            pos += 1
            delta = b & 0x7F
            while b >= 0x80:
                b = chunk[pos]
                pos += 1
                delta = (delta << 7) | (b & 0x7F)
            tick += delta
            b = chunk[pos]
            if b == 0xFF:
                kind = chunk[pos + 1]
                length, pos = _read_vlq(chunk, pos + 2)
                payload = chunk[pos:pos + length]
                pos += length
                if kind == 0x03:
                    name = payload
                    w.names.append(payload)
                elif kind == 0x06:
                    w.markers.append((tick, payload))
                elif kind == 0x51:
                    if len(payload) < 3:
                        raise Undecided("a short tempo event")
                    w.tempos.append((tick, payload[0] << 16 | payload[1] << 8 | payload[2]))
                elif kind == 0x58:
                    if len(payload) < 4:
                        raise Undecided("a short time signature")
                    w.time_signatures.append((tick, payload[0], 2 ** payload[1]))
                elif kind == 0x59:
                    if len(payload) < 2:
                        raise Undecided("a short key signature")
                    w.keys.append((tick, payload[0] - 256 if payload[0] > 127 else payload[0], payload[1]))
                elif kind == 0x2F:
                    w.end_tick = tick
                    break
                continue  # mido: meta messages do not set running status
            if b >= 0x80:
                status = b
                pos += 1
                if status in (0xF0, 0xF7):
                    length, pos = _read_vlq(chunk, pos)
                    pos += length
                    continue
                d1 = chunk[pos]
            elif status < 0 or status >= 0xF0:
                raise Undecided("running status without a channel status")
            else:
                d1 = b  # running status: b is the first data byte
            if status >= 0xF0:
                raise Undecided(f"system message 0x{status:X} in a file")
            pos += 1
            hi, ch = status & 0xF0, status & 0x0F
            if d1 > 127:
                raise Undecided("data byte over 127")
            if hi == 0xC0 or hi == 0xD0:
                if hi == 0xC0:
                    program[ch] = d1
                continue
            d2 = chunk[pos]
            pos += 1
            if d2 > 127:
                raise Undecided("data byte over 127")
            if hi == 0x90 and d2:
                w.has_note_on = True
                w.note_ons += 1
                w.last_note_tick = tick
                w.played.add((ch, program[ch]))
                opens.setdefault((ch, d1), []).append((tick, d2))
            elif hi == 0x80 or hi == 0x90:
                w.last_note_tick = tick
                if hi == 0x90:
                    w.has_note_on = True
                started = opens.get((ch, d1))
                if started is None:
                    continue
                closing = [s for s in started if s[0] != tick]
                keep = [s for s in started if s[0] == tick]
                if closing:
                    inst = (ch, program[ch])
                    if inst not in w.created:
                        w.created[inst] = name
                    if notes:
                        w.notes.setdefault(inst, []).extend((s, tick, d1, v) for s, v in closing)
                if closing and keep:
                    opens[(ch, d1)] = keep
                else:
                    del opens[(ch, d1)]  # pretty_midi drops notes closed at their own tick
    except IndexError:
        raise Undecided("a chunk ends inside an event") from None
    w.complete = True
    return w


def _read_vlq(chunk: bytes, pos: int) -> tuple[int, int]:
    value = 0
    while True:
        b = chunk[pos]
        pos += 1
        value = (value << 7) | (b & 0x7F)
        if b < 0x80:
            return value, pos


def note_blocks(group: np.ndarray, tick: np.ndarray, status: np.ndarray, data1: np.ndarray, data2: np.ndarray,
                groups: int) -> tuple[list[bytes], np.ndarray]:
    """Encode the note events of many tracks at once, as mido writes them.

    Args:
        group: ``(E,)`` track of each event, 0 .. ``groups - 1``; events sorted by track, then in
            their order in the track.
        tick: ``(E,)`` absolute ticks; each track's first delta is from tick 0.
        status, data1, data2: ``(E,)`` the three bytes of each event; a track's first event
            always carries its status (what precedes it in the track is another kind of event),
            later ones only when it changes (running status).
        groups: number of tracks.

    Returns:
        ``(block per track, last tick per track)``; an empty track gives ``b""`` and tick 0.

    Raises:
        ValueError: a delta of 2**28 ticks or more (the longest a MIDI file can say).
    """
    starts = np.ones(len(tick), dtype=bool)  # (E,) first event of its track
    starts[1:] = group[1:] != group[:-1]
    delta = np.where(starts, tick, tick - np.concatenate([[0], tick[:-1]]))  # (E,)
    if len(delta) and int(delta.max()) >= 1 << 28:
        raise ValueError("a gap between note events too long for a MIDI file")
    need_status = starts | (status != np.concatenate([[-1], status[:-1]]))
    # the delta as a variable-length quantity: 1-4 groups of 7 bits, the high bit on all but the last
    bits = np.stack([(delta >> 21) & 0x7F, (delta >> 14) & 0x7F, (delta >> 7) & 0x7F, delta & 0x7F], axis=1)
    bits[:, :3] |= 0x80
    used = 1 + (delta >= 1 << 7).astype(np.int64) + (delta >= 1 << 14) + (delta >= 1 << 21)  # (E,)
    cells = np.concatenate([bits, status[:, None], data1[:, None], data2[:, None]], axis=1)  # (E, 7)
    keep = np.ones(cells.shape, dtype=bool)
    keep[:, :4] = np.arange(4)[None, :] >= (4 - used)[:, None]
    keep[:, 4] = need_status
    data = cells[keep].astype(np.uint8).tobytes()
    row_end = np.concatenate([[0], np.cumsum(keep.sum(axis=1))])  # (E + 1,) byte offsets
    counts = np.bincount(group, minlength=groups)  # (G,) events per track
    bounds = np.concatenate([[0], np.cumsum(counts)])  # (G + 1,) first event of each track
    begin, end = row_end[bounds[:-1]], row_end[bounds[1:]]
    last_tick = np.where(counts > 0, np.concatenate([tick, [0]])[np.maximum(bounds[1:] - 1, 0)], 0)
    return [data[a:b] for a, b in zip(begin.tolist(), end.tolist())], last_tick
