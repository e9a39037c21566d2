"""Accompaniment from chord symbols: voiced "Chords" and "Bass" tracks in a named pattern.

:func:`arrange` turns a lead sheet (melody + chord symbols) into a playable arrangement:

* **Voicings.** Every chord is voiced with one note per chord tone in the register around middle C
  (E3-B4, pitches 52-71), in close or slightly open position (span at most a tenth). Among all
  such voicings the one nearest to the previous voicing wins (smallest total movement of the
  sorted voices: smooth voice leading), with a pull towards C4 so that a progression does not
  drift up or down, and a penalty for a top note above the lowest melody note over the chord (the
  accompaniment stays under the tune).
* **Patterns** (``style``), placed on the bar grid so that they follow the meter (simple or
  compound, pickup included):

  ==========  ================================================================================
  block       the whole chord on every beat
  sustained   the whole chord held, struck again at each bar line
  waltz       "oom-pah(-pah)": beat 1 left to the bass, the chord on the other beats (the
              off-beats in duple meters, the 2nd and 3rd eighths of each beat in 6/8, 9/8, 12/8)
  arpeggio    the chord broken up and down in eighths
  alberti     lowest, highest, middle, highest in eighths
  broken      lowest note on each beat, the rest of the chord on the off-beat(s)
  ==========  ================================================================================

  A chord that changes between pattern events is struck where it starts.
* **Bass** (``bass``): ``root`` (the root, or the slash bass, at each chord and bar line),
  ``root-fifth`` (root and fifth alternating on the strong beats), ``walking`` (one note per beat:
  root, chord tones, and a chromatic approach to the next chord's root) or ``none``. The bass sits
  in C1-D3 (28-50), each note the octave nearest to the previous one.
* **Dynamics.** Notes get velocities from their place in the bar (downbeat strongest, then the
  main beats, then off-beats); :func:`melodygan.piece.add_dynamics` does the same to a flat-velocity melody.

No randomness: the same piece gives the same arrangement.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable

from melodygan.chords import QUALITIES, Chord
from melodygan.errors import MelodyganError
from melodygan.notes import Note
from melodygan.piece import Piece, accented_velocity

STYLES = ("block", "sustained", "waltz", "arpeggio", "alberti", "broken")
BASS_STYLES = ("root", "root-fifth", "walking", "none")
CHORD_LOW, CHORD_HIGH, CHORD_CENTRE = 52, 71, 60  # E3 .. B4, around C4
BASS_LOW, BASS_HIGH, BASS_START = 28, 50, 40  # E1 .. D3, starting near E2
CHORD_VELOCITY, BASS_VELOCITY = 88, 92

# An event of a pattern: (onset in steps from the bar line, length in steps, which voicing notes)
# where the selector is "all", "upper" (all but the lowest) or an index into the sorted voicing.
Event = tuple[int, int, "str | int"]


# --- voicings -------------------------------------------------------------------------------
def chord_tones(chord: Chord) -> tuple[int, ...]:
    """Pitch classes to voice (slash bass left to the bass), root first."""
    assert chord.root is not None
    return tuple((chord.root + i) % 12 for i in QUALITIES[chord.quality])


def voicing_candidates(pcs: tuple[int, ...], low: int = CHORD_LOW, high: int = CHORD_HIGH) -> list[tuple[int, ...]]:
    """All voicings with one pitch per pitch class in ``low..high``, spanning at most 16 semitones."""
    options = [[p for p in range(low, high + 1) if p % 12 == pc] for pc in pcs]
    out = set()
    for combo in itertools.product(*options):
        v = tuple(sorted(combo))
        if v[-1] - v[0] <= 16 and len(set(v)) == len(v):
            out.add(v)
    return sorted(out)


def _movement(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """Voice-leading distance: total movement of sorted voices (each extra voice to its nearest)."""
    if len(a) == len(b):
        return float(sum(abs(x - y) for x, y in zip(a, b)))
    small, big = (a, b) if len(a) < len(b) else (b, a)
    return float(sum(min(abs(x - y) for y in small) for x in big))


def choose_voicing(pcs: tuple[int, ...], previous: tuple[int, ...] | None,
                   melody_floor: int | None = None) -> tuple[int, ...]:
    """The voicing of ``pcs`` nearest to ``previous`` (see the module docstring for the costs)."""
    def cost(v: tuple[int, ...]) -> float:
        c = 0.0 if previous is None else _movement(v, previous)
        c += 0.5 * abs(sum(v) / len(v) - CHORD_CENTRE)
        c += 0.2 * (v[-1] - v[0])  # prefer close position
        if melody_floor is not None and v[-1] >= melody_floor:
            c += 2.0 * (v[-1] - melody_floor + 1)  # a unison with the tune blurs it too
        return c

    return min(voicing_candidates(pcs), key=cost)


# --- patterns -------------------------------------------------------------------------------
def _pattern(style: str, piece: Piece) -> list[Event]:
    """One bar of a pattern as events (see :data:`Event`)."""
    bar, beat = piece.bar_steps, piece.beat_steps
    eighth = max(piece.steps_per_quarter // 2, 1)
    beats = range(0, bar, beat)
    compound = beat % 3 == 0 and beat // 3 == eighth
    if style == "block":
        return [(b, beat, "all") for b in beats]
    if style == "sustained":
        return [(0, bar, "all")]
    if style == "waltz":
        if compound:
            return [(b + k * eighth, eighth, "upper") for b in beats for k in (1, 2)]
        if len(beats) % 2 == 0:
            return [(b, beat, "upper") for i, b in enumerate(beats) if i % 2 == 1]
        return [(b, beat, "upper") for b in beats if b]
    if style in ("arpeggio", "alberti"):
        return [(t, eighth, k) for k, t in enumerate(range(0, bar, eighth))]
    if style == "broken":
        out: list[Event] = []
        for b in beats:
            out.append((b, eighth, 0))
            out.extend((t, eighth, "upper") for t in range(b + eighth, b + beat, eighth))
        return out
    raise MelodyganError(f"unknown accompaniment style {style!r}; allowed: {', '.join(STYLES)}")


def _select(style: str, voicing: tuple[int, ...], selector: str | int) -> list[int]:
    if selector == "all":
        return list(voicing)
    if selector == "upper":
        return list(voicing[1:])
    assert isinstance(selector, int)
    if style == "arpeggio":
        cycle = list(range(len(voicing))) + list(range(len(voicing) - 2, 0, -1))  # up and down
        return [voicing[cycle[selector % len(cycle)]]]
    if style == "alberti":
        low, mid, high = voicing[0], voicing[len(voicing) // 2], voicing[-1]
        return [(low, high, mid, high)[selector % 4]]
    return [voicing[selector]]


def _bar_starts(piece: Piece, start: int, end: int) -> list[int]:
    """Bar lines (on the piece's grid, pickup included) from the bar holding ``start`` to ``end``."""
    bar = piece.bar_steps
    first = piece.pickup_steps + ((start - piece.pickup_steps) // bar) * bar
    return list(range(first, end, bar))


def _chord_spans(piece: Piece) -> list[Chord]:
    end = piece.end_steps
    return [c for c in piece.chords if not c.is_no_chord and c.start_steps < end]


def chord_track(piece: Piece, style: str = "block") -> list[Note]:
    """Voiced chord notes for the piece's chord symbols in a pattern (see :data:`STYLES`)."""
    events = _pattern(style, piece)
    out: list[Note] = []
    previous: tuple[int, ...] | None = None
    end = piece.end_steps  # (a property that looks at every note: once, not per chord)
    melody = sorted(piece.melody)
    starts = [n.start_steps for n in melody]
    longest = max((n.duration_steps for n in melody), default=0)
    for chord in _chord_spans(piece):
        s, e = chord.start_steps, min(chord.end_steps, end)
        # the melody notes sounding in [s, e): they start before e, and no earlier than s - longest
        window = melody[bisect.bisect_left(starts, s - longest):bisect.bisect_left(starts, e)]
        under = [n.pitch for n in window if n.end_steps > s]
        voicing = choose_voicing(chord_tones(chord), previous, min(under) if under else None)
        previous = voicing
        onsets: list[tuple[int, int, str | int]] = []
        for bar_start in _bar_starts(piece, s, e):
            onsets.extend((bar_start + t, length, sel) for t, length, sel in events if s <= bar_start + t < e)
        on_beat = (s - piece.pickup_steps) % piece.beat_steps == 0
        if (not onsets or onsets[0][0] != s) and not (style == "waltz" and on_beat):
            # the chord arrives between pattern events: strike it where it starts (a waltz leaves
            # its beats without a chord event to the bass)
            nxt = onsets[0][0] if onsets else e
            onsets.insert(0, (s, nxt - s, "all"))
        for t, length, sel in onsets:
            stop = min(t + length, e)
            vel = accented_velocity(piece, t, CHORD_VELOCITY)
            out.extend(Note(t, stop - t, p, vel) for p in _select(style, voicing, sel))
    return sorted(out)


def _nearest(pc: int, previous: int) -> int:
    """The pitch of class ``pc`` in the bass range nearest to ``previous``, pulled a little towards
    E2 so that a long progression does not sink to the bottom of the range."""
    options = [p for p in range(BASS_LOW, BASS_HIGH + 1) if p % 12 == pc]
    return min(options, key=lambda p: (abs(p - previous) + 0.3 * abs(p - BASS_START), p))


def _strong_beats(piece: Piece) -> list[int]:
    bar, beat = piece.bar_steps, piece.beat_steps
    n = bar // beat
    if n % 2 == 0 and n > 2:
        return [0, bar // 2]
    return [b for b in range(0, bar, beat)] if n == 2 else [0]


def bass_track(piece: Piece, style: str = "root") -> list[Note]:
    """A bass line for the piece's chord symbols (see :data:`BASS_STYLES`)."""
    if style not in BASS_STYLES:
        raise MelodyganError(f"unknown bass style {style!r}; allowed: {', '.join(BASS_STYLES)}")
    if style == "none":
        return []
    chords = _chord_spans(piece)
    previous = BASS_START
    out: list[Note] = []
    end = piece.end_steps
    for i, chord in enumerate(chords):
        assert chord.root is not None
        s, e = chord.start_steps, min(chord.end_steps, end)
        bottom = chord.bass if chord.bass is not None else chord.root
        tones = chord_tones(chord)
        if style == "walking":
            beats = sorted({s} | {t for b in _bar_starts(piece, s, e)
                                  for t in range(b, b + piece.bar_steps, piece.beat_steps) if s < t < e})
            nxt = chords[i + 1] if i + 1 < len(chords) and chords[i + 1].start_steps == e else None
            line = [bottom] + [tones[k % len(tones)] for k in range(1, len(beats))]
            pitches = []
            for k, pc in enumerate(line):
                if nxt is not None and k == len(line) - 1 and k > 0:
                    assert nxt.root is not None
                    target = _nearest(nxt.bass if nxt.bass is not None else nxt.root, previous)
                    # approach the next root by a half step, from the side we are coming from
                    # unless that repeats the note before
                    sides = [target - 1, target + 1] if previous < target else [target + 1, target - 1]
                    p = next(q for q in sides if q != previous and BASS_LOW <= q <= BASS_HIGH)
                else:
                    p = _nearest(pc, previous)
                pitches.append(p)
                previous = p
            stops = [*beats[1:], e]
        else:
            strong = _strong_beats(piece)
            beats = sorted({s} | {b + t for b in _bar_starts(piece, s, e) for t in strong if s < b + t < e})
            fifth = (chord.root + 7) % 12 if 7 in QUALITIES[chord.quality] else tones[-1]
            pitches = []
            for k in range(len(beats)):
                pc = fifth if style == "root-fifth" and k % 2 == 1 else bottom
                previous = _nearest(pc, previous)
                pitches.append(previous)
            stops = [*beats[1:], e]
        out.extend(Note(t, stop - t, p, accented_velocity(piece, t, BASS_VELOCITY))
                   for t, stop, p in zip(beats, stops, pitches))
    return out


ARRANGERS: dict[str, Callable[[Piece, str], list[Note]]] = {"Chords": chord_track, "Bass": bass_track}


def arrange(piece: Piece, style: str = "block", bass: str = "root") -> Piece:
    """Add a voiced "Chords" track and a "Bass" track made from the piece's chord symbols.

    Args:
        piece: a lead sheet with chord symbols (``piece.chords``); no-chord spans stay silent.
        style: chord pattern, one of :data:`STYLES`.
        bass: bass pattern, one of :data:`BASS_STYLES` (``"none"`` leaves the bass out).

    Returns:
        The piece with voices "Chords" and "Bass" (replacing an earlier arrangement; when the
        piece has a "Bass" voice of its own, e.g. a chorale's, that one is kept and the new line
        is "Bass line"), the melody and chords unchanged, programs Acoustic Grand Piano and
        Acoustic Bass unless the piece set its own.

    Raises:
        MelodyganError: unknown style, or a piece without chord symbols.
    """
    if style not in STYLES:
        raise MelodyganError(f"unknown accompaniment style {style!r}; allowed: {', '.join(STYLES)}")
    if bass not in BASS_STYLES:
        raise MelodyganError(f"unknown bass style {bass!r}; allowed: {', '.join(BASS_STYLES)}")
    if not _chord_spans(piece):
        raise MelodyganError("the piece has no chord symbols to arrange; harmonize it first")
    # A "Bass" that came with the piece (a chorale's bass voice) is music, not an earlier
    # arrangement: keep it and call the new line "Bass line". An earlier arrangement (it has
    # "Chords") is replaced.
    bass_name = "Bass line" if "Bass" in piece.voices and "Chords" not in piece.voices else "Bass"
    voices = {k: v for k, v in piece.voices.items() if k not in ("Chords", bass_name)}
    voices["Chords"] = chord_track(piece, style)
    programs = dict(piece.programs)
    if bass != "none":
        voices[bass_name] = bass_track(piece, bass)
        if bass_name != "Bass":
            programs.setdefault(bass_name, 32)  # Acoustic Bass, like an arranged "Bass"
    return piece.replace(voices=voices, programs=programs, length_steps=piece.end_steps)
