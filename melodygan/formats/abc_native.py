"""ABC tunes read natively: the ABC subset of folk collections, giving the Pieces music21 gives.

:func:`read_tune` turns one tune's text into the :class:`Piece` that music21's ABC parser plus
:func:`melodygan.formats.notation.score_to_piece` make of it (:mod:`melodygan.formats.abc` tries it
first), in about a hundredth of the time and without importing music21. It follows music21's
reading of the text step for step: the same tokens, durations, measures, re-barring of overfull
bars and tie merging; where music21's reading is not what the text means (the places listed
below), the tune is not read here but left to music21, so a Piece never depends on which reader made
it. Covered:

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
without ``q``, ties into rests or chords, zero-length notes, and anything else unusual.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from melodygan.chords import Chord, parse_chord_symbol
from melodygan.keys import Key
from melodygan.notes import Note, skyline
from melodygan.piece import ALLOWED_DENOMINATORS, DEFAULT_STEPS_PER_QUARTER, Piece, chords_from_changes

# Durations are integer ticks: a quarter note is TICKS ticks, enough for a 1/64 unit length
# divided by 64, broken rhythm's 1/8 and tuplets of 3, 5, 7 and 9 to stay exact.
TICKS = 2**13 * 3**2 * 5 * 7


class NotCovered(Exception):
    """The tune uses ABC that :func:`read_tune` leaves to music21; the message names it."""


# token kinds, in the order music21's tokenizer tries them
META, BAR, TUPLET, BROKEN, SLUR, PAREN, TIE, NOTE, CHORD = range(9)
_NOTES = (NOTE, CHORD)

_SCAN = re.compile(r"""
    (?P<space>[ \t\n\r\f\v\\]+)
  | (?P<comment>%[^\n]*)
  | (?P<meta>[A-Zw]:(?=[^|])[^\n]*)
  | (?P<bar>:\|1|:\|2|\|\]|\|\||\[\||\[1|\[2|\|1|\|2|:\||\|:|::|\||:)
  | (?P<tuplet>\(\d(?::\d?(?::\d?)?)?)
  | (?P<broken>[<>]+)
  | (?P<deco>![^!\n]{0,18}!)
  | (?P<slur>\((?!\d))
  | (?P<paren>\))
  | (?P<tie>-)
  | (?P<quote>"[^"]*")
  | (?P<chord>\[[^\]\n]*\][\d/]*)
  | (?P<note>~*[\^=_]*[A-Ga-gz][\d,/']*)
""", re.VERBOSE)
_NOTE = re.compile(r"~*([\^=_]*)([A-Ga-gz])([\d,/']*)")
_INNER = re.compile(r"\s*(?:(-)|([\^=_]*)([A-Ga-g])([\d,/']*))")
_LENGTH = re.compile(r"(\d*)(/*)(\d*)")
_SPLIT_BARS = {"::": (":|", "|:"), "|1": ("|", "[1"), "|2": ("|", "[2"), ":|1": (":|", "[1"),
               ":|2": (":|", "[2")}
_REGULAR_BARS = ("|", "[1", "[2")
_BROKEN = {">": (3, 2, 1, 2), "<": (1, 2, 3, 2), ">>": (7, 4, 1, 4), "<<": (1, 4, 7, 4),
           ">>>": (15, 8, 1, 8), "<<<": (1, 8, 15, 8)}  # (left num, den, right num, den)
_TUPLET_NORMAL = {1: 1, 2: 3, 3: 2, 4: 3, 6: 2, 8: 3}
_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ALTER = {"": 0, "^": 1, "^^": 2, "_": -1, "__": -2, "=": 0}
_SHARP_ORDER = "FCGDAEB"
_KEY_NAMES = sorted(("c", "g", "d", "a", "e", "b", "f#", "g#", "a#", "f", "bb", "eb", "d#", "ab", "e#",
                     "db", "c#", "gb", "cb"), key=len, reverse=True)
_MODES = (("dor", "dorian", -2), ("phr", "phrygian", -4), ("lyd", "lydian", 1), ("mix", "mixolydian", -1),
          ("maj", "major", 0), ("ion", "ionian", 0), ("aeo", "aeolian", -3), ("m", "minor", -3))
_KEY_MODE = {"major": "major", "ionian": "major", "mixolydian": "major", "lydian": "major",
             "minor": "minor", "aeolian": "minor", "dorian": "minor", "phrygian": "minor"}
_FRACTION = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


_Spelled = tuple[str, int, int, bool]


@dataclass(eq=False)
class _Tok:
    kind: int
    text: str
    symbol: str | None = None  # NOTE/CHORD: the first quoted text before it
    parts: list[tuple[str, str, str]] = field(default_factory=list)  # NOTE/CHORD: (accidentals, letter, tail)
    outer: str = ""  # CHORD: the length after the bracket
    value: object = None  # META: M → meter or None, K → (sharps, mode)
    unit: int = 0  # NOTE/CHORD: the unit length in effect, in ticks
    key: dict[str, int] = field(default_factory=dict)  # NOTE/CHORD: the key's alterations in effect
    tie: str | None = None
    broken: tuple[int, int] | None = None  # duration factor of a broken-rhythm marker
    tuplet: tuple[int, int] | None = None  # (actual, normal)

    @property
    def rest(self) -> bool:
        return self.kind == NOTE and self.parts[0][1] == "z"


@dataclass(eq=False)
class _Element:
    """A note, chord or rest on the time line (music21's notesAndRests), in ticks."""

    start: int
    ticks: int
    spelled: list[_Spelled]  # per pitch; empty for a rest
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


def _field_data(text: str) -> str:
    return text.split("%")[0][2:].strip()


def _meter(data: str) -> tuple[int, int] | None:
    """An ``M:`` field as music21 reads it; None for ``none``."""
    if data.lower() == "none":
        return None
    if data in ("C", "C|"):
        return (4, 4) if data == "C" else (2, 2)
    m = _FRACTION.fullmatch(data)
    if not m or not 1 <= int(m.group(1)) <= 64 or int(m.group(2)) not in (1, 2, 4, 8, 16, 32, 64):
        raise NotCovered(f"meter M:{data[:20]}")
    return int(m.group(1)), int(m.group(2))


def _key_signature(data: str) -> tuple[int, str]:
    """A ``K:`` field → (sharps, mode), as music21 reads it."""
    low = data.lower()
    tonic = next((t for t in _KEY_NAMES if low.startswith(t)), None)
    rest = low[len(tonic):].strip() if tonic else ""
    if tonic is None or (rest and not rest.isalpha()):
        raise NotCovered(f"key K:{data[:20]}")  # clefs, explicit accidentals, highland pipes ...
    fifths = "fcgdaeb".index(tonic[0]) - 1 + 7 * {"": 0, "#": 1, "b": -1}[tonic[1:]]
    mode, alter = "major", 0
    if rest:
        found = next(((name, a) for prefix, name, a in _MODES if rest.startswith(prefix)), None)
        if found is None:
            raise NotCovered(f"key mode K:{data[:20]}")
        mode, alter = found
    sharps = fifths + alter
    if not -7 <= sharps <= 7:
        raise NotCovered(f"key K:{data[:20]} beyond seven sharps or flats")
    return sharps, mode


def _key_alterations(sharps: int) -> dict[str, int]:
    if sharps >= 0:
        return {s: 1 for s in _SHARP_ORDER[:sharps]}
    return {s: -1 for s in _SHARP_ORDER[::-1][:-sharps]}


def _tempo(data: str) -> float:
    """A ``Q:`` field in quarter notes per minute (``Q:120``, ``Q:3/8=60``)."""
    m = re.fullmatch(r"(?:(\d+)/(\d+)=)?(\d+(?:\.\d*)?)", data)
    if not m or (m.group(2) and int(m.group(2)) == 0):
        raise NotCovered(f"tempo Q:{data[:20]}")
    bpm = float(m.group(3))
    return bpm * int(m.group(1)) * 4 / int(m.group(2)) if m.group(1) else bpm


@lru_cache(maxsize=4096)
def _length(text: str, unit: int) -> int:
    """A note's length (``2``, ``3/2``, ``/``, ``//``, ``/4``, ``3/``) times ``unit``, in ticks."""
    num = "".join(c for c in text if c.isdigit() or c == "/")
    m = _LENGTH.fullmatch(num)
    if m is None:
        raise NotCovered(f"note length {text!r}")
    n, slashes, d = m.groups()
    if not slashes:
        value = unit * int(n) if n else unit
    elif not n and not d:
        value = unit >> len(slashes) if len(slashes) <= 3 and unit % (1 << len(slashes)) == 0 else -1
    elif len(slashes) != 1:
        value = -1  # '//4', '3//': music21 reads these its own way
    else:
        num_, den = (int(n) if n else 1), (int(d) if d else 2)
        value = unit * num_ // den if den and unit * num_ % den == 0 else -1
    if value <= 0:
        raise NotCovered(f"note length {text!r}")
    return value


@lru_cache(maxsize=1024)
def _chord_symbol(text: str) -> Chord | None:
    """A quoted chord symbol as the music21 path reads it; None for empty quotes."""
    if not text.strip():
        return None  # music21 makes an empty chord symbol of it, which adds no chord
    try:
        return parse_chord_symbol(text)
    except ValueError:
        raise NotCovered(f"quoted text {text[:20]!r} that is not a chord symbol") from None


def _spell(accidentals: str, letter: str, tail: str, key: dict[str, int]) -> _Spelled:
    """(letter, alteration, octave, written natural): music21 tells ``=c`` from ``c`` in ties."""
    if accidentals not in _ALTER:
        raise NotCovered(f"accidental {accidentals!r}")
    octave = (5 if letter.islower() else 4) - tail.count(",") + tail.count("'")
    step = letter.upper()
    return step, _ALTER[accidentals] if accidentals else key.get(step, 0), octave, accidentals == "="


def _midi(spelled: _Spelled) -> int:
    step, alter, octave, _ = spelled
    return 12 * (octave + 1) + _LETTER_PC[step] + alter


def _tokenize(text: str) -> list[_Tok]:
    """music21's ABCHandler.tokenize, for the covered subset."""
    tokens: list[_Tok] = []
    symbols: list[str] = []  # quoted text waiting for the next note or chord
    pos, end = 0, len(text)
    while pos < end:
        m = _SCAN.match(text, pos)
        if m is None:
            raise NotCovered(repr(text[pos:pos + 12].split("\n")[0]))
        kind = m.lastgroup or ""
        s = m.group()
        pos = m.end()
        if kind in ("space", "comment"):
            continue
        if kind == "meta":
            line_start = text.rfind("\n", 0, m.start()) + 1
            if text[line_start:m.start()].strip():
                if s[0] in "ABCDEFG" and s.startswith("::", 1):
                    # 'B::' is the note B and a double repeat; music21 reads a field 'B:' there and
                    # loses the note and the rest of the line (see docs/formats.md)
                    tokens.append(_Tok(NOTE, s[0], symbol=symbols[0] if symbols else None, parts=[("", s[0], "")]))
                    symbols = []
                    pos = m.start() + 1
                    continue
                raise NotCovered(f"a field in the middle of a line ({s[:12]!r})")
            if s[0] in "Vw":
                raise NotCovered("voices (V:)" if s[0] == "V" else "lyrics (w:)")
            tokens.append(_Tok(META, s))
        elif kind == "bar":
            tokens.extend(_Tok(BAR, b) for b in _SPLIT_BARS.get(s, (s,)))
        elif kind == "broken":
            if s not in _BROKEN:
                raise NotCovered(f"broken rhythm {s!r}")
            tokens.append(_Tok(BROKEN, s))
        elif kind == "deco":
            if s.startswith(("!crescendo", "!diminuendo")):
                raise NotCovered(f"decoration {s}")
        elif kind == "quote":
            symbols.append(s[1:-1])
        elif kind == "note":
            nm = _NOTE.fullmatch(s)
            assert nm is not None
            if nm.group(2) == "z" and nm.group(1):
                raise NotCovered(f"rest {s!r}")
            tokens.append(_Tok(NOTE, s, symbol=symbols[0] if symbols else None,
                               parts=[(nm.group(1), nm.group(2), nm.group(3))]))
            symbols = []
        elif kind == "chord":
            inner, _, outer = s[1:].partition("]")
            tok = _Tok(CHORD, s, symbol=symbols[0] if symbols else None, outer=outer)
            symbols = []
            at = 0
            while inner[at:].strip():
                im = _INNER.match(inner, at)
                if im is None or im.end() == at:
                    raise NotCovered(f"chord {s!r}")
                at = im.end()
                if not im.group(1):  # a tie inside a chord: music21 does not read it
                    tok.parts.append((im.group(2), im.group(3), im.group(4)))
            if not tok.parts:
                raise NotCovered(f"chord {s!r} without notes")
            tokens.append(tok)
        else:
            tokens.append(_Tok({"tuplet": TUPLET, "slur": SLUR, "paren": PAREN, "tie": TIE}[kind], s))
    return tokens


@dataclass
class _Fields:
    """What the fields say: the first title, the first usable tempo, whether there are meters and keys."""

    title: str | None = None
    tempo_bpm: float | None = None
    meters: int = 0
    keys: int = 0


def _process(tokens: list[_Tok]) -> _Fields:
    """music21's ABCHandler.tokenProcess: fields in effect, broken rhythm, tuplets and ties."""
    fields = _Fields()
    unit: int | None = None
    key: dict[str, int] = {}
    meter: tuple[int, int] | None = None
    tuplet: list[int] | None = None  # [actual, normal, notes left]
    tie_pending = False
    last: _Tok | None = None
    for i, tok in enumerate(tokens):
        kind = tok.kind
        if kind == META:
            tag, data = tok.text[0], _field_data(tok.text)
            if tag == "M":
                meter = _meter(data)
                tok.value = meter
                fields.meters += 1
            if tag == "L" or (tag == "M" and unit is None):
                if tag == "M":
                    unit = TICKS // 2 if meter is None or meter[0] / meter[1] >= 0.75 else TICKS // 4
                else:
                    fm = _FRACTION.fullmatch(data)
                    if not fm or int(fm.group(2)) == 0 or (int(fm.group(1)) * 4 * TICKS) % int(fm.group(2)):
                        raise NotCovered(f"unit length L:{data[:20]}")
                    unit = int(fm.group(1)) * 4 * TICKS // int(fm.group(2))
            elif tag == "K":
                sharps, mode = _key_signature(data)
                tok.value = (sharps, mode)
                key = _key_alterations(sharps)
                fields.keys += 1
            if tag == "X" and not data.isdigit():
                raise NotCovered(f"reference number X:{data[:20]}")
            elif tag == "T" and fields.title is None:
                fields.title = data
            elif tag == "Q":
                bpm = _tempo(data)
                if fields.tempo_bpm is None and 10 <= bpm <= 400:
                    fields.tempo_bpm = bpm
        elif kind == BROKEN:
            before = tokens[i - 1] if i else None
            after = tokens[i + 1] if i + 1 < len(tokens) else None
            if before is not None and after is not None and before.kind in _NOTES and after.kind in _NOTES:
                ln, ld, rn, rd = _BROKEN[tok.text]
                before.broken, after.broken = (ln, ld), (rn, rd)
        elif kind == TUPLET:
            spec = tok.text[1:].split(":")
            actual = int(spec[0])
            normal = int(spec[1]) if len(spec) > 1 and spec[1] else _TUPLET_NORMAL.get(actual)
            count = int(spec[2]) if len(spec) > 2 and spec[2] else actual
            if not normal or not actual or not count:
                raise NotCovered(f"tuplet {tok.text!r}")  # (5 (7 (9: their ratio depends on the meter
            tuplet = [actual, normal, count]
        elif kind == TIE:
            if last is not None:
                if last.kind != NOTE or last.rest:
                    raise NotCovered("a tie after a rest or chord")
                last.tie = "continue" if last.tie == "stop" else "start"
            tie_pending = True
        elif kind in _NOTES:
            if unit is None:
                raise NotCovered("notes before any unit length or meter")
            tok.unit, tok.key = unit, key
            if tie_pending:
                if kind != NOTE or tok.rest:
                    raise NotCovered("a tie into a rest or chord")
                tok.tie = "stop"
                tie_pending = False
            if tuplet is not None:
                if tuplet[2] == 0:
                    tuplet = None
                else:
                    tuplet[2] -= 1
                    tok.tuplet = (tuplet[0], tuplet[1])
            last = tok
    return fields


def _ticks(tok: _Tok) -> int:
    """A note's or chord's duration (music21's ABCNote/ABCChord.parse, then the tuplet)."""
    if tok.kind == NOTE:
        ticks = _length(tok.parts[0][2], tok.unit)
    else:  # the outer length times the first note's
        ticks = _length(tok.outer, TICKS) * _length(tok.parts[0][2], tok.unit)
        ticks = ticks // TICKS if ticks % TICKS == 0 else -1
    num, den = 1, 1
    if tok.broken:
        num, den = tok.broken
    if tok.tuplet:
        num, den = num * tok.tuplet[1], den * tok.tuplet[0]
    if ticks <= 0 or (ticks * num) % den:
        raise NotCovered(f"the duration of {tok.text!r}")
    return ticks * num // den


def _measures(tokens: list[_Tok]) -> list[list[int]] | None:
    """music21's splitByMeasure + mergeLeadingMetaData: the token indices of each handler, or None
    when the tune is not read in measures (fewer than two plain bar lines or one measure)."""
    n = len(tokens)
    if sum(1 for t in tokens if t.kind == BAR and t.text in _REGULAR_BARS) < 2:
        return None
    bars = [i for i, t in enumerate(tokens)
            if t.kind == BAR or (t.kind == META and i + 1 < n and tokens[i + 1].kind in _NOTES)]
    pairs = [(0, bars[0])]
    i = bars[0]
    for j in bars[1:]:
        if j != i + 1:  # two bar tokens in a row (':|' '[2') bound no measure
            pairs.append((i, j))
        i = j
    if i != n - 1:
        pairs.append((i, n - 1))
    handlers: list[list[int]] = []
    for x, y in pairs:
        lo = x + 1 if tokens[x].kind == BAR or (x != 0 and tokens[x].kind == META) else x
        ty = tokens[y]
        hi = y if ty.kind == META or (ty.kind in _NOTES and y == n - 1) else y - 1
        if hi >= lo:
            handlers.append(list(range(lo, hi + 1)))
    has_notes = [any(tokens[k].kind in _NOTES for k in h) for h in handlers]
    if sum(has_notes) <= 1:
        return None
    merged: list[list[int]] = []
    k = 0
    while k < len(handlers):
        if not has_notes[k] and k != len(handlers) - 1:
            merged.append(handlers[k] + handlers[k + 1])
            k += 2
        else:
            merged.append(handlers[k])
            k += 1
    return merged


def _split(elements: list[_Element], at: int) -> None:
    """Cut the element sounding across ``at`` in two (music21's splitAtQuarterLength, ties added)."""
    for idx, e in enumerate(elements):
        if e.start < at < e.start + e.ticks:
            if not e.exact:
                raise NotCovered("a tuplet across an overfull bar line")
            left_tie, right_tie = e.tie, e.tie
            if e.spelled:
                left_tie, right_tie = {None: ("start", "stop"), "start": ("start", "continue"),
                                       "stop": ("continue", "stop"), "continue": ("continue", "continue")}[e.tie]
            right = _Element(at, e.start + e.ticks - at, e.spelled, right_tie, e.chord, e.exact)
            e.ticks, e.tie = at - e.start, left_tie
            elements.insert(idx + 1, right)
            return


def _rebar(tokens: list[_Tok], measures: list[list[int]], elements: list[_Element],
           element_of: dict[int, _Element]) -> None:
    """music21's reBar: a bar longer than its meter is cut once at the bar length."""
    meter: tuple[int, int] | None = None
    for handler in measures:
        own = [tokens[k].value for k in handler if tokens[k].kind == META and tokens[k].text[0] == "M"]
        own_meters = [v for v in own if v is not None]
        if own_meters:
            meter = own_meters[-1]  # type: ignore[assignment]
        if meter is None:
            return  # music21 stops re-barring at a measure with no meter in force
        members = [element_of[k] for k in handler if k in element_of]
        bar = meter[0] * 4 * TICKS // meter[1]
        length = sum(e.ticks for e in members)
        if length > bar:
            if length - bar != bar:
                # music21 gives the rest of the bar a meter of its own (bestTimeSignature), and
                # loses it when none fits (a 5/8 note alone, tuplets): left to music21
                raise NotCovered("a bar longer than its meter by other than a bar")
            _split(elements, members[0].start + bar)


def _strip_ties(elements: list[_Element]) -> None:
    """music21's stripTies(matchByPitch=True): tied notes become one (the first, lengthened)."""
    connected: list[int] = []

    def end_match(i: int) -> bool:
        n, last = elements[i], elements[i - 1] if i else None
        if not n.chord and n.tie == "stop":
            return True
        if last is None or i - 1 not in connected:
            return False
        if not last.chord and not n.chord and n.spelled and last.spelled:
            return last.spelled == n.spelled  # music21's Pitch ==: C#5 is not Db5, =C not C
        if n.chord or n.rest:  # chords (and rests, which have no pitches) against the last element
            return len(last.spelled) == len(n.spelled) and all(
                p[0] == q[0] and _midi(p) == _midi(q) for p, q in zip(last.spelled, n.spelled))
        return False

    for i, n in enumerate(elements):
        match: bool | None = None
        if n.tie == "start":
            if i == 0 or i - 1 not in connected:
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


def _piece_key(value: tuple[int, str]) -> Key:
    sharps, mode = value
    alter = next(a for _, name, a in _MODES if name == mode) if mode != "major" else 0
    return Key(((sharps - alter) * 7) % 12, _KEY_MODE.get(mode, "major"))


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
    tokens = _tokenize("\n".join(text.splitlines()) + "\n")
    fields = _process(tokens)
    elements: list[_Element] = []
    element_of: dict[int, _Element] = {}
    now = 0
    for k, tok in enumerate(tokens):
        if tok.kind in _NOTES:
            ticks = _ticks(tok)
            spelled = [] if tok.rest else [_spell(a, letter, tail, tok.key) for a, letter, tail in tok.parts]
            e = _Element(now, ticks, spelled, tok.tie, tok.kind == CHORD, tok.tuplet is None, tok.symbol)
            elements.append(e)
            element_of[k] = e
            now += ticks
    total = now
    measures = _measures(tokens)

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
        _rebar(tokens, with_notes, elements, element_of)
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
            pitch = _midi(p)
            if 0 <= pitch <= 127:
                notes.append(Note(start, stop - start, pitch, 90))
    melody = skyline(sorted(notes))
    end = max([n.end_steps for n in melody] + [_steps(total, steps_per_quarter), 1])
    chords = [c for c in chords_from_changes(changes, end) if not c.is_no_chord]
    try:
        return Piece(melody=melody, chords=chords, key=_piece_key(key_value) if key_value else Key(),  # type: ignore[arg-type]
                     time_signature=time_signature, tempo_bpm=fields.tempo_bpm or 120.0,
                     steps_per_quarter=steps_per_quarter, pickup_steps=pickup, length_steps=end,
                     title=fields.title or title)
    except ValueError as e:  # music21's path words the problem
        raise NotCovered(str(e)) from None
