"""pretty_midi's note pairing, from the notes symusic pairs, for the fast MIDI reader.

symusic pairs a note-off with the oldest open note-on of its channel and pitch (first in, first
out); pretty_midi closes *every* open note of the pitch at the first note-off at a later tick than
their start, and drops a note whose note-off comes at its own tick. Where a pitch's notes do not
overlap, have a length and are all closed, the two give the same notes. Elsewhere
:func:`pair_like_pretty_midi` rebuilds pretty_midi's notes from symusic's:

* **overlapping notes** of a pitch, all closed, none of zero length, vectorised: every note-on
  ends at the first note-off of its pitch at a later tick (the note-offs are symusic's note
  ends). What symusic does not report, the order of a note-on and a note-off within one tick,
  decides nothing there as long as a tick with both has exactly one note-off and a note still
  open before it (pretty_midi then closes the earlier notes and keeps the new one, in either
  order); a pitch with another such tick is replayed note by note;
* **zero-length and never-closed notes** (a note-off at the note's own tick; a note ending past
  the chunk's end tick, closed by the reader's closing note-offs), and the pitches the rule above
  leaves open, are replayed note-on by note-off (:func:`replay_pretty_midi`), which says
  :class:`~melodygan.formats.midi_bytes.Undecided` where the same-tick order decides.

Each pitch's notes come back in pretty_midi's order (by note-off, then note-on, then file order),
which decides which of two notes that land on one grid cell is kept.
"""

from __future__ import annotations

import numpy as np

from melodygan.formats.midi_bytes import Undecided
from melodygan.notes import stable_order

_SPAN = 1 << 40  # ticks of one pitch's block in the joined (pitch, tick) keys (more than any file holds)


def replay_pretty_midi(start: np.ndarray, end: np.ndarray, vel: np.ndarray,
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


def _close_overlaps(s: np.ndarray, e: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The vectorised rule of the module docstring on notes sorted by (pitch key, start, end),
    every one closed and none of zero length (``p``: the pitch, or instrument × 128 + pitch).

    Returns:
        ``(ends, settled)``: pretty_midi's end of each note, and per note whether its pitch is
        settled by the rule (the others need the replay).
    """
    ons = p * _SPAN + s  # (N,) sorted: joined (pitch, tick) keys
    offs = np.sort(p * _SPAN + e)  # (N,) symusic's note ends are the pitch's note-offs
    first = np.searchsorted(offs, ons, side="right")  # the first note-off after each note-on
    ends = offs[first] - p * _SPAN  # exists: the note's own note-off comes later
    # ticks with a note-on and a note-off of the pitch: exactly one note-off there, and a note
    # started since the note-off before it (or at its tick), still open when it comes
    at = np.minimum(np.searchsorted(ons, offs), len(ons) - 1)
    both = ons[at] == offs
    if not both.any():
        return ends, np.ones(len(s), dtype=bool)
    ticks = offs[both]  # (B,) joined keys, with repeats where several note-offs share the tick
    left = np.searchsorted(offs, ticks, side="left")
    count = np.searchsorted(offs, ticks, side="right") - left
    prev = np.where(left > 0, offs[np.maximum(left - 1, 0)], -1)  # the note-off before the tick, if any
    prev = np.where(prev // _SPAN == ticks // _SPAN, prev, ticks - ticks % _SPAN)  # else the pitch's first tick
    opened = np.searchsorted(ons, ticks, side="left") - np.searchsorted(ons, prev, side="left")
    unsettled = np.zeros(int(p.max()) + 1, dtype=bool)
    unsettled[ticks[(count != 1) | (opened <= 0)] // _SPAN] = True
    return ends, ~unsettled[p]


def pair_like_pretty_midi(start: np.ndarray, end: np.ndarray, pitch: np.ndarray, vel: np.ndarray,
                          end_tick: int | np.ndarray, group: np.ndarray | None = None,
                          undecided: set[int] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                                                      np.ndarray]:
    """pretty_midi's notes of one instrument, or of many at once, from symusic's.

    Args:
        start, end, pitch, vel: ``(N,)`` int64 symusic's notes of one channel and program, ticks,
            each instrument's in symusic's order (by start).
        end_tick: the chunk's end (or ``(N,)`` per note: its chunk's); notes ending after it were
            closed by the reader's closing note-offs (pretty_midi never closes them).
        group: ``(N,)`` the instrument of each note, 0 ..; None for one instrument.
        undecided: where given, the instruments whose pairing cannot be decided are added to it
            (their notes left out) instead of raising.

    Returns:
        ``(start, end, pitch, velocity, group)`` int64 in ticks, by instrument and pitch, each
        pitch's notes in the order pretty_midi appends them (by note-off, then note-on, then file
        order); the order among pitches is pretty_midi's no more (nothing after the pairing
        depends on it). Notes pretty_midi drops (zero-length ones) are left out.

    Raises:
        Undecided: see :func:`replay_pretty_midi` (without ``undecided``); ticks past 2**40.
    """
    g = np.zeros(len(start), dtype=np.int64) if group is None else group
    key = g * 128 + pitch  # (N,) one block per instrument and pitch
    top = int(key.max()) if len(key) else 0
    limit = np.broadcast_to(np.asarray(end_tick, dtype=np.int64), start.shape)  # (N,) each note's chunk end
    if len(start) and (int(limit.max()) >= _SPAN or top >= 1 << 22):
        raise Undecided("a chunk too long for the joined keys")
    if len(start) > 1 and ((start[1:] < start[:-1]) & (g[1:] == g[:-1])).any():
        order = stable_order(g, start)
        start, end, pitch, vel = start[order], end[order], pitch[order], vel[order]
        key, limit = key[order], limit[order]
    order = np.argsort(key.astype(np.uint16) if top < 1 << 16 else key, kind="stable")  # radix for small keys
    s, e, p, v, k, limit = start[order], end[order], pitch[order], vel[order], key[order], limit[order]
    bad_pairs = (k[1:] == k[:-1]) & (e[:-1] > s[1:])  # a note still sounding when the next of its pitch starts
    odd_note = (e == s) | (e > limit)  # zero-length or never closed
    if not bad_pairs.any() and not odd_note.any():
        return s, e, p, v, k >> 7  # each pitch's notes one after another: the order of their note-offs
    bad = odd_note.copy()
    bad[:-1] |= bad_pairs
    bad[1:] |= bad_pairs
    table = np.zeros(top + 1, dtype=bool)
    table[k[bad]] = True
    bad_key = table[k]  # every note of a pitch with a bad pair
    table[:] = False
    table[k[odd_note]] = True
    odd = table[k]  # the pitches with zero-length or never-closed notes
    keep = ~bad_key
    fast = np.flatnonzero(bad_key & ~odd)
    fast = fast[stable_order(k[fast], s[fast], e[fast])]  # ties: symusic's order, the note-ons' order
    ends, settled = _close_overlaps(s[fast], e[fast], k[fast])
    fixed, e_fixed = fast[settled], ends[settled]
    by = stable_order(k[fixed], e_fixed)  # the replay's order: by note-off, then note-on
    parts = [(s[keep], e[keep], p[keep], v[keep], k[keep]),
             (s[fixed][by], e_fixed[by], p[fixed][by], v[fixed][by], k[fixed][by])]
    slow = odd.copy()
    slow[fast[~settled]] = True
    for q in np.unique(k[slow]).tolist():
        sel = k == q
        try:
            rs, re_, rv = replay_pretty_midi(s[sel], e[sel], v[sel], int(limit[sel][0]))
        except Undecided:
            if undecided is None:
                raise
            undecided.add(q >> 7)
            continue
        n = len(rs)
        parts.append((np.asarray(rs, dtype=np.int64), np.asarray(re_, dtype=np.int64),
                      np.full(n, q & 127, dtype=np.int64), np.asarray(rv, dtype=np.int64),
                      np.full(n, q, dtype=np.int64)))
    s, e, p, v, k = (np.concatenate(x) for x in zip(*parts))
    order = np.argsort(k, kind="stable")  # instrument and pitch blocks again, each pitch's order kept
    return s[order], e[order], p[order], v[order], k[order] >> 7
