"""Tokens: the lead-sheet vocabulary of the autoregressive model, and Piece ⇄ token converters.

The vocabulary is a table of offsets (the one place it is written down; ``describe()`` prints it):

    ======================  ==========  =====  ===============================================
    block                   offset      size   meaning
    ======================  ==========  =====  ===============================================
    PAD BOS EOS             0 1 2       3      padding, start, end of piece
    BAR                     3           1      a new bar starts (bars are counted, not numbered)
    HARM                    4           1      "the chords of this bar follow" (harmonize order)
    TASK_LEADSHEET          5           1      task: chords and melody interleaved in time
    TASK_HARMONIZE          6           1      task: each bar's melody first, then its chords
    KEY                     7           24     ``7 + 2 * tonic + (mode == minor)``
    METER                   31          12     index into :data:`METERS`
    POS                     43          48     onset inside the bar, in 16th steps (0..47)
    CHORD                   91          169    chord-vocabulary index (:mod:`melodygan.chords`)
    PITCH                   260         128    MIDI pitch of a melody note
    DUR                     388         48     melody note length in steps, 1..48
    GENRE                   436         2      ``folk``, ``pop``: the style of the corpus
    PLACE                   438         45     where a bar stands: its place in an 8-bar phrase
                                               (0..7, or 8 = the pickup) × bars left to the end
                                               (1, 2, 3, 4, 5 or more): ``438 + 5 * place + left - 1``
    FORM                    483         9      how the bar's melody relates to an earlier bar:
                                               ``NEW``, ``REPEAT`` of the bar 1, 2, 4 or 8 bars
                                               back (same notes), ``RHYTHM`` of that bar (same
                                               onsets and lengths, other pitches)
    START                   492         1      the sequence begins at the piece's first bar
    ======================  ==========  =====  ===============================================

    VOCAB_SIZE = 493

A piece is ``BOS TASK KEY METER GENRE`` (the conditioning prefix), ``START``, one block per bar
and ``EOS``; a window that begins later in the piece has no ``START`` (:func:`join`), so the model
knows an opening from a continuation (tunes open on the tonic, middles need not). Every bar opens
``BAR PLACE FORM``: the place tells the model where it is in the phrase and how far the end is (so
it can cadence at the end), the form is the plan of the tune's repetitions, learned from the data
(:func:`bar_form`). A sampler that meets
``REPEAT``/``RHYTHM`` copies the earlier bar's notes or rhythm into the bar it writes. Tempo is not
tokenized: it travels with the Piece as metadata.

* Lead-sheet order (generation): ``BAR`` then events sorted by onset. An onset is one ``POS``
  token followed by an optional ``CHORD`` (a chord starting there) and an optional ``PITCH DUR``
  (a melody note starting there), the chord first: a musician reads the chord before the note.
* Harmonize order (melody → chords): ``BAR``, the bar's melody as ``POS PITCH DUR`` triples,
  ``HARM``, then the bar's chords as ``POS CHORD`` pairs. A decoder-only model thus sees a bar's
  melody before it chooses that bar's chords; harmonizing is sampling with the melody forced.

The chord sounding at the start of every bar is restated at ``POS 0`` (so any window of bars is
self-contained and a bar's chords are always in view); consecutive equal chords merge again on
decoding. Rests are the gaps between notes. Notes longer than 48 steps are cut to 48 (counted in
:class:`EncodeStats`); a pickup is padded to a whole bar of rests in front. Time is the Piece's
16th grid (``steps_per_quarter == 4``).

Example, 4/4 in C major, a folk tune of two bars, bar 1 = C chord with quarter notes E F, bar 2 =
G7 at beat 3 over a half note D: ``BOS TASK_LEADSHEET KEY(C) METER(4/4) GENRE(folk) START BAR
PLACE(0,2) FORM(NEW) POS0 CHORD(C) PITCH64 DUR4 POS4 PITCH65 DUR4 BAR PLACE(1,1) FORM(NEW) POS0
CHORD(C) PITCH62 DUR8 POS8 CHORD(G7) EOS``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from melodygan.chords import NUM_CHORD_CLASSES, Chord, chord_from_index
from melodygan.errors import MelodyganError
from melodygan.keys import Key
from melodygan.notes import Note, skyline
from melodygan.piece import DEFAULT_STEPS_PER_QUARTER, Piece, chords_from_changes

PAD, BOS, EOS, BAR, HARM, TASK_LEADSHEET, TASK_HARMONIZE = range(7)
SPECIAL_NAMES = ("PAD", "BOS", "EOS", "BAR", "HARM", "TASK_LEADSHEET", "TASK_HARMONIZE")
TASKS = {"leadsheet": TASK_LEADSHEET, "harmonize": TASK_HARMONIZE}
METERS: tuple[tuple[int, int], ...] = (
    (4, 4), (3, 4), (2, 4), (6, 8), (9, 8), (12, 8), (2, 2), (3, 2), (3, 8), (6, 4), (5, 4), (7, 8),
)
MAX_POSITIONS = 48
MAX_DURATION = 48
GENRES = ("folk", "pop")
PHRASE_BARS = 8  # PLACE counts bars in phrases of 8
PICKUP_PLACE = PHRASE_BARS  # the place of a pickup bar
MAX_LEFT = 5  # PLACE's "bars left" saturates at 5 (5 or more)
FORM_LAGS = (1, 2, 4, 8)  # bars back a FORM may point to
FORM_NAMES = ("NEW", *(f"REPEAT-{k}" for k in FORM_LAGS), *(f"RHYTHM-{k}" for k in FORM_LAGS))
PREFIX_LENGTH = 5
_FORM_PREFERENCE = (4, 8, 2, 1)  # a bar equal to several earlier ones points to the phrase lag first

KEY_OFFSET = 7
METER_OFFSET = KEY_OFFSET + 24
POS_OFFSET = METER_OFFSET + len(METERS)
CHORD_OFFSET = POS_OFFSET + MAX_POSITIONS
PITCH_OFFSET = CHORD_OFFSET + NUM_CHORD_CLASSES
DUR_OFFSET = PITCH_OFFSET + 128
GENRE_OFFSET = DUR_OFFSET + MAX_DURATION
PLACE_OFFSET = GENRE_OFFSET + len(GENRES)
FORM_OFFSET = PLACE_OFFSET + (PHRASE_BARS + 1) * MAX_LEFT
START = FORM_OFFSET + len(FORM_NAMES)
VOCAB_SIZE = START + 1
FORM_NEW = FORM_OFFSET

BLOCKS: tuple[tuple[str, int, int], ...] = (
    ("special", 0, len(SPECIAL_NAMES)),
    ("key", KEY_OFFSET, 24),
    ("meter", METER_OFFSET, len(METERS)),
    ("pos", POS_OFFSET, MAX_POSITIONS),
    ("chord", CHORD_OFFSET, NUM_CHORD_CLASSES),
    ("pitch", PITCH_OFFSET, 128),
    ("dur", DUR_OFFSET, MAX_DURATION),
    ("genre", GENRE_OFFSET, len(GENRES)),
    ("place", PLACE_OFFSET, (PHRASE_BARS + 1) * MAX_LEFT),
    ("form", FORM_OFFSET, len(FORM_NAMES)),
    ("start", START, 1),
)


def key_token(key: Key) -> int:
    return KEY_OFFSET + 2 * key.tonic + (key.mode == "minor")


def meter_token(time_signature: tuple[int, int]) -> int:
    """Token of a meter.

    Raises:
        MelodyganError: the meter is not one of :data:`METERS`.
    """
    ts = tuple(time_signature)
    if ts not in METERS:
        allowed = ", ".join(f"{n}/{d}" for n, d in METERS)
        raise MelodyganError(f"meter {ts[0]}/{ts[1]} is not supported; allowed: {allowed}")
    return METER_OFFSET + METERS.index(ts)  # type: ignore[arg-type]


def pos_token(pos: int) -> int:
    return POS_OFFSET + pos


def chord_token(index: int) -> int:
    return CHORD_OFFSET + index


def pitch_token(pitch: int) -> int:
    return PITCH_OFFSET + pitch


def dur_token(steps: int) -> int:
    return DUR_OFFSET + min(max(steps, 1), MAX_DURATION) - 1


def genre_token(genre: str) -> int:
    """Token of a genre.

    Raises:
        MelodyganError: not one of :data:`GENRES`.
    """
    if genre not in GENRES:
        raise MelodyganError(f"unknown genre {genre!r}; allowed: {', '.join(GENRES)}")
    return GENRE_OFFSET + GENRES.index(genre)


def place_token(bar: int, num_bars: int, pickup: bool) -> int:
    """``PLACE`` of bar ``bar`` (0-based, the pickup bar included) of a piece of ``num_bars`` bars."""
    place = PICKUP_PLACE if pickup and bar == 0 else (bar - int(pickup)) % PHRASE_BARS
    left = min(max(num_bars - bar, 1), MAX_LEFT)
    return PLACE_OFFSET + MAX_LEFT * place + left - 1


def form_token(kind_: str, lag: int = 0) -> int:
    """``FORM`` token: ``form_token("new")``, ``form_token("repeat", 4)``, ``form_token("rhythm", 2)``."""
    if kind_ == "new":
        return FORM_NEW
    base = 1 if kind_ == "repeat" else 1 + len(FORM_LAGS)
    return FORM_OFFSET + base + FORM_LAGS.index(lag)


def form_of(token: int) -> tuple[str, int]:
    """``("new", 0)``, ``("repeat", lag)`` or ``("rhythm", lag)`` of a ``FORM`` token."""
    i = token - FORM_OFFSET
    if i == 0:
        return "new", 0
    return ("repeat" if i <= len(FORM_LAGS) else "rhythm"), FORM_LAGS[(i - 1) % len(FORM_LAGS)]


def bar_form(events: list[list[tuple[int, int, int]]], bar: int) -> int:
    """The ``FORM`` token of bar ``bar`` given every bar's melody events ``(pos, pitch, duration)``.

    A bar with notes that equals the bar 4, 8, 2 or 1 bars back (in that order of preference: the
    phrase lags first) is a ``REPEAT`` of it; one with the same onsets and lengths a ``RHYTHM`` of
    it; anything else ``NEW``.
    """
    mine = events[bar]
    if not mine:
        return FORM_NEW
    for k in _FORM_PREFERENCE:
        if bar - k >= 0 and events[bar - k] == mine:
            return form_token("repeat", k)
    rhythm = [(p, d) for p, _, d in mine]
    for k in _FORM_PREFERENCE:
        if bar - k >= 0 and [(p, d) for p, _, d in events[bar - k]] == rhythm:
            return form_token("rhythm", k)
    return FORM_NEW


def kind(token: int) -> str:
    """Block name of a token: ``'special'``, ``'key'``, ``'meter'``, ``'pos'``, ``'chord'``, ``'pitch'``,
    ``'dur'``, ``'genre'``, ``'place'``, ``'form'``, ``'start'``."""
    for name, offset, size in BLOCKS:
        if offset <= token < offset + size:
            return name
    raise ValueError(f"token {token} outside the vocabulary 0..{VOCAB_SIZE - 1}")


def token_name(token: int) -> str:
    """Readable name of a token, e.g. ``'PITCH64'``, ``'CHORD(G7)'``, ``'KEY(Em)'``."""
    k = kind(token)
    if k == "special":
        return SPECIAL_NAMES[token]
    if k == "key":
        t, minor = divmod(token - KEY_OFFSET, 2)
        return f"KEY({Key(t, 'minor' if minor else 'major').name})"
    if k == "meter":
        n, d = METERS[token - METER_OFFSET]
        return f"METER({n}/{d})"
    if k == "pos":
        return f"POS{token - POS_OFFSET}"
    if k == "chord":
        return f"CHORD({chord_from_index(token - CHORD_OFFSET).symbol()})"
    if k == "pitch":
        return f"PITCH{token - PITCH_OFFSET}"
    if k == "genre":
        return f"GENRE({GENRES[token - GENRE_OFFSET]})"
    if k == "place":
        place, left = divmod(token - PLACE_OFFSET, MAX_LEFT)
        return f"PLACE({'pickup' if place == PICKUP_PLACE else place},{left + 1})"
    if k == "form":
        return f"FORM({FORM_NAMES[token - FORM_OFFSET]})"
    if k == "start":
        return "START"
    return f"DUR{token - DUR_OFFSET + 1}"


def describe() -> str:
    """The vocabulary table as text (what ``melodygan tokens`` prints)."""
    lines = [f"{'block':<8} {'offset':>6} {'size':>5}  first .. last", "-" * 60]
    for name, offset, size in BLOCKS:
        lines.append(f"{name:<8} {offset:>6} {size:>5}  {token_name(offset)} .. {token_name(offset + size - 1)}")
    lines.append(f"VOCAB_SIZE = {VOCAB_SIZE}")
    return "\n".join(lines)


@dataclass
class EncodeStats:
    """What encoding had to change: notes cut to :data:`MAX_DURATION`, overlapping notes shortened."""

    durations_cut: int = 0
    overlaps_cut: int = 0
    dropped: list[str] = field(default_factory=list)


def bar_layout(piece: Piece) -> tuple[int, int]:
    """``(offset_steps, num_bars)``: steps added in front so that bars start at multiples of bar_steps.

    Raises:
        MelodyganError: the piece is not on the 16th grid or its meter has no token.
    """
    if piece.steps_per_quarter != DEFAULT_STEPS_PER_QUARTER:
        raise MelodyganError(f"pieces must be on a grid of {DEFAULT_STEPS_PER_QUARTER} steps per quarter, "
                             f"got {piece.steps_per_quarter}")
    meter_token(piece.time_signature)
    if piece.bar_steps > MAX_POSITIONS:
        raise MelodyganError(f"bars of {piece.bar_steps} steps are longer than the {MAX_POSITIONS} positions allowed")
    offset = (piece.bar_steps - piece.pickup_steps) % piece.bar_steps
    num_bars = -(-(piece.end_steps + offset) // piece.bar_steps)
    return offset, num_bars


def monophonic_melody(notes: list[Note], stats: EncodeStats | None = None) -> list[Note]:
    """The notes as one line: the highest note of each onset, cut where the next onset starts
    (:func:`melodygan.notes.skyline` keeping every onset); notes cut are counted in ``stats``."""
    out = skyline(notes, keep_every_onset=True)
    if stats is not None:
        stats.overlaps_cut += len(set(notes) - set(out))
    return out


def melody_events(notes: list[Note], bar_start: int, bar_steps: int) -> list[tuple[int, int, int]]:
    """``(pos, pitch, duration)`` of the notes starting inside one bar, by onset."""
    return [(n.start_steps - bar_start, n.pitch, min(n.duration_steps, MAX_DURATION))
            for n in notes if bar_start <= n.start_steps < bar_start + bar_steps]


def chord_events(chords: list[Chord], bar_start: int, bar_steps: int) -> list[tuple[int, int]]:
    """``(pos, chord index)`` of one bar: the chord sounding at the bar line (restated at 0), then changes."""
    out: list[tuple[int, int]] = []
    for c in chords:
        if c.end_steps <= bar_start or c.start_steps >= bar_start + bar_steps:
            continue
        pos = max(c.start_steps - bar_start, 0)
        if out and out[-1][1] == c.index:
            continue  # a repeat of the same chord inside the bar adds nothing
        out.append((pos, c.index))
    return out


def bar_events(tokens: list[int]) -> list[tuple[int, int, int]]:
    """``(pos, pitch, duration)`` of the melody notes in one bar's tokens (either order)."""
    out: list[tuple[int, int, int]] = []
    pos, pitch = 0, None
    for t in tokens:
        k = kind(t)
        if k == "pos":
            pos, pitch = t - POS_OFFSET, None
        elif k == "pitch":
            pitch = t - PITCH_OFFSET
        elif k == "dur" and pitch is not None:
            out.append((pos, pitch, t - DUR_OFFSET + 1))
            pitch = None
    return out


def prefix_tokens(task: str, key: Key, time_signature: tuple[int, int], genre: str = "folk") -> list[int]:
    """``BOS TASK KEY METER GENRE``.

    Raises:
        MelodyganError: unknown task, meter or genre.
    """
    if task not in TASKS:
        raise MelodyganError(f"unknown task {task!r}; allowed: {', '.join(TASKS)}")
    return [BOS, TASKS[task], key_token(key), meter_token(time_signature), genre_token(genre)]


def bar_tokens(task: str, melody: list[tuple[int, int, int]], chords: list[tuple[int, int]],
               head: tuple[int, int] | None = None) -> list[int]:
    """Tokens of one bar (``BAR``, then ``head`` = its ``PLACE FORM`` tokens when given) in the task's order."""
    out = [BAR, *(head or ())]
    if task == "harmonize":
        for pos, pitch, dur in melody:
            out += [pos_token(pos), pitch_token(pitch), dur_token(dur)]
        out.append(HARM)
        for pos, index in chords:
            out += [pos_token(pos), chord_token(index)]
        return out
    chord_at = dict(chords)
    note_at = {pos: (pitch, dur) for pos, pitch, dur in melody}
    for pos in sorted(set(chord_at) | set(note_at)):
        out.append(pos_token(pos))
        if pos in chord_at:
            out.append(chord_token(chord_at[pos]))
        if pos in note_at:
            pitch, dur = note_at[pos]
            out += [pitch_token(pitch), dur_token(dur)]
    return out


def bar_heads(events: list[list[tuple[int, int, int]]], pickup: bool) -> list[tuple[int, int]]:
    """``(PLACE, FORM)`` tokens of every bar, from the bars' melody events."""
    n = len(events)
    return [(place_token(b, n, pickup), bar_form(events, b)) for b in range(n)]


def encode_bars(piece: Piece, task: str = "leadsheet", stats: EncodeStats | None = None,
                genre: str = "folk") -> tuple[list[int], list[list[int]]]:
    """A piece as its prefix and a list of per-bar token lists (each starting with ``BAR PLACE FORM``).

    Args:
        piece: on the 16th grid, in one of :data:`METERS`; the melody is made monophonic.
        task: ``'leadsheet'`` or ``'harmonize'`` (the interleaving order).
        stats: filled with what had to change.
        genre: one of :data:`GENRES`.
    """
    offset, num_bars = bar_layout(piece)
    stats = stats if stats is not None else EncodeStats()
    melody = [n.shifted(offset) for n in monophonic_melody(piece.melody, stats)]
    stats.durations_cut += sum(n.duration_steps > MAX_DURATION for n in melody)
    chords = [c.with_time(c.start_steps + offset, c.duration_steps) for c in piece.chords if not c.is_no_chord]
    bs = piece.bar_steps
    events = [melody_events(melody, b * bs, bs) for b in range(num_bars)]
    heads = bar_heads(events, offset > 0)
    bars = [bar_tokens(task, events[b], chord_events(chords, b * bs, bs), heads[b]) for b in range(num_bars)]
    return prefix_tokens(task, piece.key, piece.time_signature, genre), bars


def join(prefix: list[int], bars: list[list[int]], first_bar: int) -> list[int]:
    """The prefix, ``START`` when the bars begin at the piece's bar 0, and the bars' tokens."""
    return prefix + ([START] if first_bar == 0 else []) + [t for bar in bars for t in bar]


def encode(piece: Piece, task: str = "leadsheet", genre: str = "folk") -> list[int]:
    """A whole piece as tokens: prefix, ``START``, bars, ``EOS``."""
    prefix, bars = encode_bars(piece, task, genre=genre)
    return [*join(prefix, bars, 0), EOS]


def decode(tokens: list[int], tempo_bpm: float = 120.0, title: str = "") -> Piece:
    """Tokens (either order) back to a Piece with melody and chord symbols.

    Tolerant: an incomplete event at the end is dropped; a note still sounding when the next one
    starts is cut there; everything ends with the last bar. The prefix gives key and meter
    (C major, 4/4 when missing).
    """
    key, ts = Key(0, "major"), (4, 4)
    for t in tokens[:PREFIX_LENGTH]:
        if kind(t) == "key":
            tonic, minor = divmod(t - KEY_OFFSET, 2)
            key = Key(tonic, "minor" if minor else "major")
        elif kind(t) == "meter":
            ts = METERS[t - METER_OFFSET]
    bar_steps = DEFAULT_STEPS_PER_QUARTER * 4 * ts[0] // ts[1]
    bar = -1
    pos = 0
    pitch: int | None = None
    notes: list[Note] = []
    changes: list[tuple[int, Chord]] = []
    for t in tokens:
        k = kind(t)
        if t == EOS:
            break
        if t == BAR:
            bar, pos, pitch = bar + 1, 0, None
        elif bar < 0:
            continue
        elif k == "pos":
            pos, pitch = t - POS_OFFSET, None
        elif k == "chord":
            changes.append((bar * bar_steps + pos, chord_from_index(t - CHORD_OFFSET)))
        elif k == "pitch":
            pitch = t - PITCH_OFFSET
        elif k == "dur" and pitch is not None:
            notes.append(Note(bar * bar_steps + pos, t - DUR_OFFSET + 1, pitch))
            pitch = None
    end = max(bar + 1, 1) * bar_steps
    notes = monophonic_melody([n for n in notes if n.start_steps < end])
    notes = [n if n.end_steps <= end else Note(n.start_steps, end - n.start_steps, n.pitch, n.velocity) for n in notes]
    chords = chords_from_changes([(s, c) for s, c in changes if s < end and not c.is_no_chord], end)
    return Piece(melody=notes, chords=chords, key=key, time_signature=ts, tempo_bpm=tempo_bpm,
                 length_steps=end, title=title)
