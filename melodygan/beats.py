"""Beats: a melody cut into beat frames, with the chord label per beat — the harmonizer's view.

:class:`BeatSong` holds a monophonic melody on the step grid, cut into *beats* (``steps_per_beat``
steps each: a quarter in 2/4, 3/4, 4/4; a dotted quarter in 6/8, 9/8, 12/8; a half in 2/2, 3/2;
every annotated beat in POP909), a downbeat flag per beat and the chord-vocabulary label sounding
at each beat onset (0 = none). :func:`song_from_piece` makes one from a :class:`Piece`: the pickup
is padded in front to whole beats, so that its beats exist (and get chords) but are no downbeats.

Labels are *key-relative* for the model: :func:`relative_label` rotates a vocabulary label so that
root 0 is the reference tonic, :func:`absolute_label` rotates back (0 stays 0).

:func:`beat_features` is the model's input, ``(B, NUM_FEATURES)`` float32, pitch classes relative
to the reference tonic. Layout (offsets in this order, widths in :data:`FEATURE_LAYOUT`):

    dur_pc (12)        melody duration per pitch class inside the beat / beat length
    onset_pc (12)      pitch class sounding at the beat onset (one-hot; zeros = rest)
    attack_pc (12)     pitch classes of the notes attacked inside the beat
    bar_pc (12)        duration per pitch class in the whole bar, normalised to sum 1
    next_pc (12)       pitch class of the first note attacked after the beat (anticipation)
    beat_flags (3)     a note attacked on the onset; share of the beat that is rest; a note tied in
    beat_in_bar (6)    one-hot beat index in the bar (capped at 6)
    beats_per_bar (4)  2, 3, 4, other
    bar_mod (8)        bar index mod 8 (phrase position)
    bar_hi (2)         bar index mod 16 >= 8; bar index >= 16
    to_end (5)         last beat; last bar; second-last bar; third/fourth-last bar; position 0..1
    mode (1)           1 for a minor key
    genre (2)          one-hot :data:`GENRES`
    pitch (2)          (onset pitch - 66) / 12; interval from the previous note / 12 (clipped ±1.5)
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

import numpy as np

from melodygan.chords import NUM_CHORD_CLASSES, Chord, chord_from_index
from melodygan.keys import Key, estimate_key
from melodygan.notes import Note, is_monophonic, skyline
from melodygan.piece import Piece, chords_from_changes

GENRES = ("folk", "pop")
MAX_BEATS_IN_BAR = 6
FEATURE_LAYOUT: tuple[tuple[str, int], ...] = (
    ("dur_pc", 12), ("onset_pc", 12), ("attack_pc", 12), ("bar_pc", 12), ("next_pc", 12), ("beat_flags", 3),
    ("beat_in_bar", MAX_BEATS_IN_BAR), ("beats_per_bar", 4), ("bar_mod", 8), ("bar_hi", 2), ("to_end", 5),
    ("mode", 1), ("genre", len(GENRES)), ("pitch", 2),
)
NUM_FEATURES = sum(n for _, n in FEATURE_LAYOUT)
PC_BLOCKS = ("dur_pc", "onset_pc", "attack_pc", "bar_pc", "next_pc")  # what a transposition rotates


def feature_slice(name: str) -> slice:
    """Columns of one block of :data:`FEATURE_LAYOUT`."""
    start = 0
    for block, width in FEATURE_LAYOUT:
        if block == name:
            return slice(start, start + width)
        start += width
    raise KeyError(name)


@dataclass
class BeatSong:
    """A melody cut into beats, with the chord label at each beat onset.

    Attributes:
        notes: monophonic melody; step 0 is the start of beat 0.
        steps_per_beat: grid steps per beat.
        downbeat: bool ``(B,)``, True on the first beat of every bar.
        chords: int64 ``(B,)`` absolute vocabulary labels (0 = no chord).
        key: the key written in the source.
        genre: one of :data:`GENRES`.
        offset_steps: steps added in front of the piece (pickup padding): beat-song step
            ``s`` is piece step ``s - offset_steps``.
    """

    notes: list[Note]
    steps_per_beat: int
    downbeat: np.ndarray
    chords: np.ndarray
    key: Key
    genre: str = "folk"
    offset_steps: int = 0
    title: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def num_beats(self) -> int:
        return len(self.downbeat)

    def bar_index(self) -> np.ndarray:
        """Bar number of every beat (pickup beats count as bar 0)."""
        return np.maximum(np.cumsum(self.downbeat) - 1, 0)


def song_from_piece(piece: Piece, genre: str = "folk", bars: int | None = None) -> BeatSong:
    """A Piece → BeatSong: the pickup padded to whole beats, then bars 1..``bars`` (all when None).

    Human chords are read at each beat onset. The melody is made monophonic (skyline) first.
    """
    if genre not in GENRES:
        raise ValueError(f"genre {genre!r}; allowed: {', '.join(GENRES)}")
    bs, bar = piece.beat_steps, piece.bar_steps
    pickup_beats = -(-piece.pickup_steps // bs)
    offset = pickup_beats * bs - piece.pickup_steps
    melody = piece.melody if is_monophonic(piece.melody) else skyline(piece.melody)
    body_bars = piece.num_bars if bars is None else bars
    end_piece = min(piece.end_steps, piece.pickup_steps + body_bars * bar)
    notes = [replace(n.shifted(offset), duration_steps=min(n.duration_steps, end_piece - n.start_steps))
             for n in melody if n.start_steps < end_piece]
    content = max([n.end_steps for n in notes] + [offset + min(c.end_steps, end_piece) for c in piece.chords] + [0])
    num_beats = -(-content // bs)
    # whole bars only after the pickup
    body = max(0, num_beats - pickup_beats)
    num_beats = pickup_beats + -(-body * bs // bar) * bar // bs
    onsets = np.arange(num_beats) * bs - offset  # piece steps
    downbeat = (np.arange(num_beats) >= pickup_beats) & ((onsets - piece.pickup_steps) % bar == 0)
    labels = np.zeros(num_beats, dtype=np.int64)
    for c in piece.chords:
        if c.is_no_chord:
            continue
        first = max(0, -(-(c.start_steps + offset) // bs))
        last = min(num_beats, -(-(c.end_steps + offset) // bs))
        labels[first:last] = c.index
    return BeatSong(notes, bs, downbeat, labels, piece.key, genre, offset, piece.title)


def chords_of(song: BeatSong, labels: np.ndarray, end_steps: int) -> list[Chord]:
    """Absolute per-beat labels → chords on the piece's grid (runs merged, pickup padding removed)."""
    changes: list[tuple[int, Chord]] = []
    previous = -1
    for b, label in enumerate(labels.tolist()):
        if label != previous and label > 0:
            changes.append((max(0, b * song.steps_per_beat - song.offset_steps), chord_from_index(int(label))))
        previous = label
    merged: dict[int, Chord] = {}
    for step, chord in changes:
        merged[step] = chord  # a pickup shorter than a beat: the later chord wins at step 0
    return chords_from_changes(sorted(merged.items()), end_steps)


# --- genre ----------------------------------------------------------------------------------------
GENRE_FEATURES = ("off_beat", "off_eighth", "syncopated", "rest_share", "log_beats_per_note", "compound",
                  "repeated_pitch", "leap_share")


def genre_features(piece: Piece) -> np.ndarray:
    """Interpretable rhythm and contour features of a melody for telling folk from pop, ``(8,)``
    float64 in the order of :data:`GENRE_FEATURES`: shares of onsets off the beat and off the
    eighth grid, of notes that start off the beat and hold through the next one, of rest within
    the melody's span, log mean note length in beats, a compound-meter flag, and the shares of
    repeated pitches and of leaps of a fourth or more."""
    notes = piece.melody if is_monophonic(piece.melody) else skyline(piece.melody)
    if not notes:
        return np.zeros(len(GENRE_FEATURES))
    beat = piece.beat_steps
    eighth = max(piece.steps_per_quarter // 2, 1)
    pos = np.array([n.start_steps - piece.pickup_steps for n in notes])
    ends = np.array([n.end_steps - piece.pickup_steps for n in notes])
    off_beat = pos % beat != 0
    span = max(int(ends.max() - pos.min()), 1)
    sounding = sum(n.duration_steps for n in notes)
    intervals = np.abs(np.diff([n.pitch for n in notes])) if len(notes) > 1 else np.zeros(1)
    return np.array([
        off_beat.mean(),
        (pos % eighth != 0).mean(),
        (off_beat & (ends > (pos // beat + 1) * beat)).mean(),
        max(0.0, 1.0 - sounding / span),
        np.log(np.mean([n.duration_steps for n in notes]) / beat),
        float(piece.time_signature[1] == 8 and piece.time_signature[0] % 3 == 0),
        float(np.mean(intervals == 0)),
        float(np.mean(intervals >= 5)),
    ])


# --- keys and labels --------------------------------------------------------------------------------
def scale_fit(notes: list[Note], key: Key) -> float:
    """Share of the melody's duration on the key's (extended) scale."""
    total = sum(n.duration_steps for n in notes) or 1
    return sum(n.duration_steps for n in notes if n.pitch % 12 in key.scale_extended) / total


KEY_OVERRULE_FIT = 0.1  # share of the melody's duration the estimate must explain better to overrule


def choose_key(notes: list[Note], written: Key | None) -> Key:
    """The key to harmonize in: the written key is evidence, the notes' Krumhansl-Schmuckler
    estimate overrules it only when they clearly contradict it.

    * No written key: the estimate.
    * The estimate has the written key's signature (the same key, or its relative major or
      minor: D minor for a tune written in F): the written key. A minor key's scale with its
      raised 6th and 7th covers every note of its relative major and more, so scale coverage
      cannot tell them apart; the composer's signature does. The one exception is a major key
      whose melody ends on its relative minor's tonic and leans on that minor's leading tone (at
      least 3% of the duration: G# in a tune written in C): a minor tune in a file whose key
      signature was left at a default C major.
    * Otherwise the estimate only when its scale covers at least :data:`KEY_OVERRULE_FIT` (10
      points) more of the melody's duration than the written key's (an F tune written without
      a key signature, i.e. "C", has B-flats the C scale misses).
    """
    estimated = estimate_key(notes)[0]
    if written is None:
        return estimated
    if estimated.sharps == written.sharps:
        if written.mode == "major" and estimated.mode == "minor" and notes:
            total = sum(n.duration_steps for n in notes) or 1
            leading = sum(n.duration_steps for n in notes if n.pitch % 12 == (estimated.tonic + 11) % 12) / total
            last = max(notes, key=lambda n: n.start_steps)
            if last.pitch % 12 == estimated.tonic and leading >= 0.03:
                return estimated
        return written
    return estimated if scale_fit(notes, estimated) >= scale_fit(notes, written) + KEY_OVERRULE_FIT else written


def relative_label(label: np.ndarray | int, tonic: int) -> np.ndarray:
    """Absolute vocabulary label(s) → relative to ``tonic`` (root 0 = tonic); 0 stays 0."""
    lab = np.asarray(label)
    quality, root = np.divmod(np.maximum(lab - 1, 0), 12)
    return np.where(lab == 0, 0, 1 + 12 * quality + (root - tonic) % 12)


def absolute_label(label: np.ndarray | int, tonic: int) -> np.ndarray:
    """Inverse of :func:`relative_label`."""
    return relative_label(label, (-tonic) % 12)


def label_root(label: np.ndarray) -> np.ndarray:
    """Root pitch class of labels (-1 for no chord)."""
    lab = np.asarray(label)
    return np.where(lab == 0, -1, (lab - 1) % 12)


def rotate(x: np.ndarray, y: np.ndarray, semitones: int) -> tuple[np.ndarray, np.ndarray]:
    """Transpose encoded features ``(B, F)`` and relative labels ``(B,)`` by ``semitones``."""
    x = x.copy()
    for name in PC_BLOCKS:
        s = feature_slice(name)
        x[:, s] = np.roll(x[:, s], semitones, axis=1)
    p = feature_slice("pitch").start
    x[:, p] = np.where(x[:, p] != 0, x[:, p] + semitones / 12.0, 0.0)
    return x, relative_label(y, (-semitones) % 12).astype(np.int64)


# --- features ---------------------------------------------------------------------------------------
def beat_features(song: BeatSong, tonic: int, minor: bool) -> np.ndarray:
    """Input features ``(B, NUM_FEATURES)`` float32, pitch classes relative to ``tonic`` (see the module docstring)."""
    num, bs = song.num_beats, song.steps_per_beat
    x = np.zeros((num, NUM_FEATURES), dtype=np.float32)
    off = {name: feature_slice(name).start for name, _ in FEATURE_LAYOUT}
    total = num * bs
    pc_roll = np.full(total, -1, dtype=np.int64)  # (T,) pitch class per step, -1 = rest
    pitch_roll = np.zeros(total, dtype=np.float32)  # (T,)
    attacks: list[tuple[int, int]] = []
    for n in song.notes:
        s, e = n.start_steps, min(n.end_steps, total)
        if s >= total:
            continue
        pc = (n.pitch - tonic) % 12
        pc_roll[s:e] = pc
        pitch_roll[s:e] = n.pitch
        attacks.append((s, pc))
    attacks.sort()
    beat_of = np.arange(total) // bs
    sounding = pc_roll >= 0
    dur = slice(off["dur_pc"], off["dur_pc"] + 12)
    np.add.at(x[:, dur], (beat_of[sounding], pc_roll[sounding]), 1.0 / bs)
    onset = pc_roll[::bs]  # (B,)
    has = onset >= 0
    x[np.flatnonzero(has), off["onset_pc"] + onset[has]] = 1.0
    for s, pc in attacks:
        x[s // bs, off["attack_pc"] + pc] = 1.0
        if s % bs == 0:
            x[s // bs, off["beat_flags"]] = 1.0
    x[:, off["beat_flags"] + 1] = 1.0 - x[:, dur].sum(1)
    x[:, off["beat_flags"] + 2] = has & (x[:, off["beat_flags"]] == 0)
    attack_steps = np.array([a[0] for a in attacks], dtype=np.int64)
    nxt = np.searchsorted(attack_steps, (np.arange(num) + 1) * bs)
    for b in np.flatnonzero(nxt < len(attacks)):
        x[b, off["next_pc"] + attacks[nxt[b]][1]] = 1.0
    bar = song.bar_index()
    num_bars = int(bar.max()) + 1 if num else 0
    bar_hist = np.zeros((num_bars, 12), dtype=np.float32)
    np.add.at(bar_hist, bar, x[:, dur])
    bar_hist /= np.maximum(bar_hist.sum(1, keepdims=True), 1e-6)
    x[:, off["bar_pc"]:off["bar_pc"] + 12] = bar_hist[bar]
    beat_in_bar = np.zeros(num, dtype=np.int64)
    beats_in_bar = np.zeros(num, dtype=np.int64)
    starts = [int(i) for i in np.flatnonzero(song.downbeat)]
    bounds = ([0] if not starts or starts[0] > 0 else []) + starts + [num]
    for lo, hi in itertools.pairwise(bounds):
        beat_in_bar[lo:hi] = np.arange(hi - lo)
        beats_in_bar[lo:hi] = hi - lo
    rows = np.arange(num)
    x[rows, off["beat_in_bar"] + np.minimum(beat_in_bar, MAX_BEATS_IN_BAR - 1)] = 1.0
    x[rows, off["beats_per_bar"] + np.select([beats_in_bar == 2, beats_in_bar == 3, beats_in_bar == 4],
                                             [0, 1, 2], 3)] = 1.0
    x[rows, off["bar_mod"] + bar % 8] = 1.0
    x[:, off["bar_hi"]] = (bar % 16) >= 8
    x[:, off["bar_hi"] + 1] = bar >= 16
    from_end = num_bars - 1 - bar
    t = off["to_end"]
    if num:
        x[num - 1, t] = 1.0
    x[:, t + 1] = from_end == 0
    x[:, t + 2] = from_end == 1
    x[:, t + 3] = (from_end == 2) | (from_end == 3)
    x[:, t + 4] = rows / max(num - 1, 1)
    x[:, off["mode"]] = float(minor)
    x[:, off["genre"] + GENRES.index(song.genre)] = 1.0
    on_pitch = pitch_roll[::bs]  # (B,)
    x[:, off["pitch"]] = np.where(has, (on_pitch - 66.0) / 12.0, 0.0)
    interval = np.zeros(num, dtype=np.float32)
    for b in np.flatnonzero(has):
        k = b * bs  # walk back over the onset note itself to the note sounding before it
        while k > 0 and pitch_roll[k - 1] == on_pitch[b] and pc_roll[k - 1] >= 0:
            k -= 1
        if k > 0 and pc_roll[k - 1] >= 0:
            interval[b] = (on_pitch[b] - pitch_roll[k - 1]) / 12.0
    x[:, off["pitch"] + 1] = np.clip(interval, -1.5, 1.5)
    return x


NUM_LABELS = NUM_CHORD_CLASSES
