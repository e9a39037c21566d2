"""ABC tunes read natively: the ABC subset of folk collections, giving the Pieces music21 gives.

:func:`read_tune` turns one tune's text into the :class:`Piece` that music21's ABC parser plus
:func:`melodygan.formats.notation.score_to_piece` make of it (:mod:`melodygan.formats.abc` tries it
first), about eighty times faster and without importing music21. It follows music21's reading of
the text step for step: the same tokens (:mod:`melodygan.formats.abc_tokens`), durations, measures,
re-barring of overfull bars and tie merging. Where music21 reads a construct its own way and the
native reader cannot follow it exactly, the tune is left to music21 (below), so that the Piece does
not depend on the reader; the one exception is a note letter before ``::`` (``G2B::``), which music21
reads as a field ``B:``, losing the note and the rest of the line, and which is read here as the note
it is (docs/formats.md). Covered:

* fields ``X T M L Q K P`` and any other header line (``%`` comments, ``%%`` directives);
  ``M:`` ``N/D``, ``C``, ``C|``, ``none``; ``L:1/D``; ``Q:N`` and ``Q:a/b=N``; ``K:`` a tonic with an
  optional mode (``Am``, ``Ador``, ``Gmix`` …); ``K:``, ``M:`` and ``L:`` changes inside the tune;
* notes with accidentals (``^ ^^ _ __ =``; an accidental holds for its note only, as music21 reads
  a file without an ``%abc-2`` version line), octave marks, lengths (``2``, ``/``, ``//``, ``/4``,
  ``3/2``, ``3/``), rests ``z``, broken rhythm ``> >> >>> < << <<<``, ties ``-``, chords ``[ceg]2``;
* bar lines and repeats ``| || |] [| |: :| :: [1 [2 |1 |2 :|1 :|2`` (a tune is read as written:
  repeats are not expanded), line continuation ``\\``, slurs ``( )``, ``~`` and ``!…!`` decorations;
* tuplets ``(2 (3 (4 (6 (8`` and ``(p:q:r`` with ``q`` given, pickups (a short first bar);
* quoted chord symbols that :func:`melodygan.chords.parse_chord_symbol` reads (the collection's
  spellings included; the first symbol before a note counts, as in music21) and empty quotes.

Left to music21 (:class:`NotCovered`, with the construct named): voices ``V:``, inline fields
``[K:…]`` (music21 ignores them), grace notes ``{…}``, other decorations and letters (``H T u v
.``, ``x`` and ``Z`` rests, which music21 drops), a field in the middle of a line (``A:`` after a note
reads as a field in music21), quoted text that is not a chord (annotations, remarks), a
``%abc-2`` version line (music21 then carries accidentals through the bar), ``(5 (7 (9``
without ``q``, ties into rests or chords, zero-length notes, a bar longer than its meter by other
than a whole bar (music21 makes up a meter for the rest, and loses it when none fits), a meter or
key outside the first measure only, and anything else unusual.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from melodygan.chords import Chord, parse_chord_symbol
from melodygan.formats.abc_tokens import (
    CHORD,
    META,
    NOTES,
    TICKS,
    NotCovered,
    Spelled,
    Token,
    duration_ticks,
    measure_tokens,
    midi,
    piece_key,
    process,
    spell,
    tokenize,
)
from melodygan.keys import Key
from melodygan.notes import Note, skyline
from melodygan.piece import ALLOWED_DENOMINATORS, DEFAULT_STEPS_PER_QUARTER, Piece, chords_from_changes

__all__ = ["NotCovered", "read_tune"]


@dataclass(eq=False, slots=True)
class _Element:
    """A note, chord or rest on the time line (music21's notesAndRests), in ticks."""

    start: int
    ticks: int
    spelled: list[Spelled]  # per pitch; empty for a rest
    tie: str | None
    chord: bool
    exact: bool  # no tuplet: a duration music21 can re-bar around
    symbol: str | None = None
    gone: bool = False

    @property
    def rest(self) -> bool:
        return not self.spelled


def _steps(ticks: int, steps_per_quarter: int) -> int:
    """ticks → steps, rounded half to even as Python's ``round`` does on music21's offsets."""
    q, r = divmod(ticks * steps_per_quarter, TICKS)
    return q + 1 if 2 * r > TICKS or (2 * r == TICKS and q % 2) else q


@lru_cache(maxsize=1024)
def _chord_symbol(text: str) -> Chord | None:
    """A quoted chord symbol as the music21 path reads it; None for empty quotes."""
    if not text.strip():
        return None  # music21 makes an empty chord symbol of it, which adds no chord
    try:
        return parse_chord_symbol(text)
    except ValueError:
        raise NotCovered(f"quoted text {text[:20]!r} that is not a chord symbol") from None


# music21's title articles (all its languages): "Short Grass, The" becomes "The Short Grass"
_ARTICLES = frozenset(["al-", "the", "a", "an", "der", "die", "das", "des", "dem", "den", "ein", "eine", "einer",
                       "einem", "einen", "de", "het", "'t", "een", "el", "la", "los", "las", "un", "una", "unos",
                       "unas", "o", "os", "as", "um", "uma", "uns", "umas", "le", "les", "l'", "une", "du", "de la",
                       "il", "lo", "i", "gli", "un'", "uno", "del", "dello", "della", "dei", "degli", "delle"])


def _title(text: str) -> str:
    """A ``T:`` field as music21's metadata gives it back: a trailing ", The" moves to the front."""
    if "," not in text:
        return text
    *rest, last = text.split(",")
    trailing = last.strip()
    return f"{trailing} {','.join(rest)}" if trailing.lower() in _ARTICLES else text


def _split(e: _Element, at: int) -> _Element:
    """Cut ``e`` at ``at`` (music21's splitAtQuarterLength, ties added to notes); returns the right part."""
    if not e.exact:
        raise NotCovered("a tuplet across an overfull bar line")
    left_tie, right_tie = e.tie, e.tie
    if e.spelled:
        left_tie, right_tie = {None: ("start", "stop"), "start": ("start", "continue"),
                               "stop": ("continue", "stop"), "continue": ("continue", "continue")}[e.tie]
    right = _Element(at, e.start + e.ticks - at, e.spelled, right_tie, e.chord, e.exact)
    e.ticks, e.tie = at - e.start, left_tie
    return right


def _rebar(tokens: list[Token], measures: list[list[int]], elements: list[_Element],
           element_of: dict[int, _Element]) -> list[_Element]:
    """music21's reBar: a bar longer than its meter is cut once at the bar length; the elements after."""
    meter: tuple[int, int] | None = None
    cut: dict[int, _Element] = {}  # id of an element cut in two → its right part
    for handler in measures:
        own = [tokens[k].value for k in handler if tokens[k].kind == META and tokens[k].text[0] == "M"]
        own_meters = [v for v in own if v is not None]
        if own_meters:
            meter = own_meters[-1]  # type: ignore[assignment]
        if meter is None:
            break  # music21 stops re-barring at a measure with no meter in force
        members = [element_of[k] for k in handler if k in element_of]
        bar = meter[0] * 4 * TICKS // meter[1]
        length = sum(e.ticks for e in members)
        if length > bar:
            if length - bar != bar:
                # music21 gives the rest of the bar a meter of its own (bestTimeSignature), and
                # loses it when none fits (a 5/8 note alone, tuplets): left to music21
                raise NotCovered("a bar longer than its meter by other than a bar")
            at = members[0].start + bar
            across = next((e for e in members if e.start < at < e.start + e.ticks), None)
            if across is not None:
                cut[id(across)] = _split(across, at)
    if not cut:
        return elements
    out: list[_Element] = []
    for e in elements:
        out.append(e)
        if id(e) in cut:
            out.append(cut[id(e)])
    return out


def _strip_ties(elements: list[_Element]) -> None:
    """music21's stripTies(matchByPitch=True): tied notes become one (the first, lengthened)."""
    connected: list[int] = []

    def end_match(i: int) -> bool:
        n, last = elements[i], elements[i - 1] if i else None
        if not n.chord and n.tie == "stop":
            return True
        if last is None or not connected or connected[-1] != i - 1:  # (indices go in rising)
            return False
        if not last.chord and not n.chord and n.spelled and last.spelled:
            return last.spelled == n.spelled  # music21's Pitch ==: C#5 is not Db5, =C not C
        if n.chord or n.rest:  # chords (and rests, which have no pitches) against the last element
            return len(last.spelled) == len(n.spelled) and all(
                p[0] == q[0] and midi(p) == midi(q) for p, q in zip(last.spelled, n.spelled))
        return False

    for i, n in enumerate(elements):
        match: bool | None = None
        if n.tie == "start":
            if not connected or connected[-1] != i - 1:
                connected = [i]
            else:
                connected.append(i)
            match = False
        elif n.tie == "continue":
            if not connected or end_match(i):
                connected.append(i)
            else:
                connected = [i]
            match = False
        if match is None:
            match = end_match(i)
        if match:
            connected.append(i)
            if len(connected) < 2:
                connected = []
                continue
            first = elements[connected[0]]
            for q in connected[1:]:
                first.ticks += elements[q].ticks
                elements[q].gone = True
            first.tie = None
            connected = []


def read_tune(text: str, title: str, steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER) -> Piece:
    """One ABC tune (a file header's fields may come first) → the Piece music21's path makes of it.

    Args:
        text: the tune's text, from its ``X:`` line (or the file header) to the next tune.
        title: the title when the tune has no non-empty ``T:``.
        steps_per_quarter: grid resolution.

    Raises:
        NotCovered: the tune uses ABC this reader leaves to music21 (see the module docstring).
    """
    if "%abc-" in text:
        raise NotCovered("an ABC version line (music21 reads accidentals by its version)")
    tokens = tokenize("\n".join(text.splitlines()) + "\n")
    fields = process(tokens)
    elements: list[_Element] = []
    element_of: dict[int, _Element] = {}
    now = 0
    for k, tok in enumerate(tokens):
        if tok.kind in NOTES:
            ticks = duration_ticks(tok)
            spelled = [] if tok.rest else [spell(a, letter, tail, tok.key) for a, letter, tail in tok.parts]
            e = _Element(now, ticks, spelled, tok.tie, tok.kind == CHORD, tok.tuplet is None, tok.symbol)
            elements.append(e)
            element_of[k] = e
            now += ticks
    total = now
    measures = measure_tokens(tokens)

    def last_field(ids: list[int], tag: str) -> object:
        values = [tokens[k].value for k in ids if tokens[k].kind == META and tokens[k].text[0] == tag]
        values = [v for v in values if v is not None]
        return values[-1] if values else None

    if measures is not None:
        with_notes = [h for h in measures if any(k in element_of for k in h)]
        without = [k for h in measures if not any(k in element_of for k in h) for k in h]
        if any(tokens[k].kind == META and tokens[k].text[0] in "MK" for k in without):
            raise NotCovered("a meter or key outside any measure")
        first = with_notes[0]
        meter = last_field(first, "M")
        key_value = last_field(first, "K")
        if (meter is None and fields.meters) or (key_value is None and fields.keys):
            raise NotCovered("no meter or key in the first measure")
    else:
        with_notes = []
        meters = [t.value for t in tokens if t.kind == META and t.text[0] == "M" and t.value is not None]
        meters = [m for m in meters if m[1] in ALLOWED_DENOMINATORS]  # type: ignore[index]
        meter = meters[0] if meters else None
        key_value = next((t.value for t in tokens if t.kind == META and t.text[0] == "K"), None)
    time_signature: tuple[int, int] = meter if meter is not None else (4, 4)  # type: ignore[assignment]
    if time_signature[1] not in ALLOWED_DENOMINATORS:
        raise NotCovered(f"meter {time_signature[0]}/{time_signature[1]}")
    pickup = 0
    if with_notes:
        if meter is not None:
            first_ticks = sum(element_of[k].ticks for k in with_notes[0] if k in element_of)
            if first_ticks * time_signature[1] < time_signature[0] * 4 * TICKS:  # a short first bar
                pickup = _steps(first_ticks, steps_per_quarter)
                if not 0 < pickup < steps_per_quarter * 4 * time_signature[0] // time_signature[1]:
                    pickup = 0
        elements = _rebar(tokens, with_notes, elements, element_of)
    _strip_ties(elements)

    notes: list[Note] = []
    changes: list[tuple[int, Chord]] = []
    for e in elements:
        start = _steps(e.start, steps_per_quarter)
        if e.symbol is not None:
            chord = _chord_symbol(e.symbol)
            if chord is not None:
                changes.append((start, chord))
        if e.gone or not e.spelled:
            continue
        stop = max(_steps(e.start + e.ticks, steps_per_quarter), start + 1)
        for p in e.spelled:
            pitch = midi(p)
            if 0 <= pitch <= 127:
                notes.append(Note(start, stop - start, pitch, 90))
    melody = skyline(sorted(notes))
    end = max([n.end_steps for n in melody] + [_steps(total, steps_per_quarter), 1])
    chords = [c for c in chords_from_changes(changes, end) if not c.is_no_chord]
    try:
        return Piece(melody=melody, chords=chords, key=piece_key(key_value) if key_value else Key(),  # type: ignore[arg-type]
                     time_signature=time_signature, tempo_bpm=fields.tempo_bpm or 120.0,
                     steps_per_quarter=steps_per_quarter, pickup_steps=pickup, length_steps=end,
                     title=_title(fields.title) if fields.title else title)
    except ValueError as e:  # music21's path words the problem
        raise NotCovered(str(e)) from None
