"""ABC text → tokens, as music21's ABC tokenizer makes them, for the native reader.

:func:`tokenize` splits a tune into fields, bar lines, tuplets, broken-rhythm markers, slurs, ties,
notes and chords in music21's order of trial (quoted chord symbols go with the next note or
chord, comments and ``!…!`` decorations make no token); :func:`process` gives each note the unit
length, key and tuplet in force and its broken-rhythm factor and ties, as music21's tokenProcess
does, and reads the fields; :func:`duration_ticks` is a note's length; :func:`measure_tokens`
groups the tokens into music21's measures. Anything outside the covered subset raises
:class:`NotCovered` (see :mod:`melodygan.formats.abc_native`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from melodygan.keys import Key

# Durations are integer ticks: a quarter note is TICKS ticks, enough for a 1/64 unit length
# divided by 64, broken rhythm's 1/8 and tuplets of 3, 5, 7 and 9 to stay exact.
TICKS = 2**13 * 3**2 * 5 * 7


class NotCovered(Exception):
    """The tune uses ABC that the native reader leaves to music21; the message names it."""


# token kinds, in the order music21's tokenizer tries them
META, BAR, TUPLET, BROKEN, SLUR, PAREN, TIE, NOTE, CHORD = range(9)
NOTES = (NOTE, CHORD)

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
  | (?P<note>~*(?P<accidentals>[\^=_]*)(?P<letter>[A-Ga-gz])(?P<tail>[\d,/']*))
""", re.VERBOSE)
_SIMPLE = {"tuplet": TUPLET, "slur": SLUR, "paren": PAREN, "tie": TIE}
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


Spelled = tuple[str, int, int, bool]  # (letter, alteration, octave, written natural)


@dataclass(eq=False, slots=True)
class Token:
    """One token; the note fields are filled by :func:`process`."""

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
    """A ``Q:`` field in quarter notes per minute (``Q:120``, ``Q:3/8=60``), computed as music21 does
    (``Q:1/4=104`` is 104.00000000000001 there)."""
    m = re.fullmatch(r"(?:(\d+)/(\d+)=)?(\d+(?:\.\d*)?)", data)
    if not m or (m.group(2) and int(m.group(2)) not in (1, 2, 4, 8, 16, 32, 64)) or not float(m.group(3)):
        raise NotCovered(f"tempo Q:{data[:20]}")
    referent = float(m.group(1)) / float(m.group(2)) * 4 if m.group(1) else 1.0  # in quarter notes
    return float(60 / ((60 / float(m.group(3))) / referent))


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


def spell(accidentals: str, letter: str, tail: str, key: dict[str, int]) -> Spelled:
    """(letter, alteration, octave, written natural): music21 tells ``=c`` from ``c`` in ties."""
    if accidentals not in _ALTER:
        raise NotCovered(f"accidental {accidentals!r}")
    octave = (5 if letter.islower() else 4) - tail.count(",") + tail.count("'")
    step = letter.upper()
    return step, _ALTER[accidentals] if accidentals else key.get(step, 0), octave, accidentals == "="


def midi(spelled: Spelled) -> int:
    """The MIDI number of a spelled pitch (``B#4`` is 72, as in music21)."""
    step, alter, octave, _ = spelled
    return 12 * (octave + 1) + _LETTER_PC[step] + alter


def tokenize(text: str) -> list[Token]:
    """music21's ABCHandler.tokenize, for the covered subset."""
    tokens: list[Token] = []
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
                    tokens.append(Token(NOTE, s[0], symbol=symbols[0] if symbols else None, parts=[("", s[0], "")]))
                    symbols = []
                    pos = m.start() + 1
                    continue
                raise NotCovered(f"a field in the middle of a line ({s[:12]!r})")
            if s[0] in "Vw":
                raise NotCovered("voices (V:)" if s[0] == "V" else "lyrics (w:)")
            tokens.append(Token(META, s))
        elif kind == "bar":
            tokens.extend(Token(BAR, b) for b in _SPLIT_BARS.get(s, (s,)))
        elif kind == "broken":
            if s not in _BROKEN:
                raise NotCovered(f"broken rhythm {s!r}")
            tokens.append(Token(BROKEN, s))
        elif kind == "deco":
            if s.startswith(("!crescendo", "!diminuendo")):
                raise NotCovered(f"decoration {s}")
        elif kind == "quote":
            symbols.append(s[1:-1])
        elif kind == "note":
            accidentals, letter, tail = m.group("accidentals", "letter", "tail")
            if letter == "z" and accidentals:
                raise NotCovered(f"rest {s!r}")
            tokens.append(Token(NOTE, s, symbols[0] if symbols else None, [(accidentals, letter, tail)]))
            if symbols:
                symbols = []
        elif kind == "chord":
            inner, _, outer = s[1:].partition("]")
            tok = Token(CHORD, s, symbol=symbols[0] if symbols else None, outer=outer)
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
            tokens.append(Token(_SIMPLE[kind], s))
    return tokens


@dataclass
class Fields:
    """What the fields say: the first title, the first usable tempo, whether there are meters and keys."""

    title: str | None = None
    tempo_bpm: float | None = None
    meters: int = 0
    keys: int = 0


def process(tokens: list[Token]) -> Fields:
    """music21's ABCHandler.tokenProcess: fields in effect, broken rhythm, tuplets and ties."""
    fields = Fields()
    unit: int | None = None
    key: dict[str, int] = {}
    meter: tuple[int, int] | None = None
    tuplet: list[int] | None = None  # [actual, normal, notes left]
    tie_pending = False
    last: Token | None = None
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
            if tag == "X" and not (data.isascii() and data.isdigit()):  # music21 reads it with int()
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
            if before is not None and after is not None and before.kind in NOTES and after.kind in NOTES:
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
        elif kind in NOTES:
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


def duration_ticks(tok: Token) -> int:
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


def measure_tokens(tokens: list[Token]) -> list[list[int]] | None:
    """music21's splitByMeasure + mergeLeadingMetaData: the token indices of each handler, or None
    when the tune is not read in measures (fewer than two plain bar lines or one measure)."""
    n = len(tokens)
    if sum(1 for t in tokens if t.kind == BAR and t.text in _REGULAR_BARS) < 2:
        return None
    bars = [i for i, t in enumerate(tokens)
            if t.kind == BAR or (t.kind == META and i + 1 < n and tokens[i + 1].kind in NOTES)]
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
        hi = y if ty.kind == META or (ty.kind in NOTES and y == n - 1) else y - 1
        if hi >= lo:
            handlers.append(list(range(lo, hi + 1)))
    has_notes = [any(tokens[k].kind in NOTES for k in h) for h in handlers]
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


def piece_key(value: tuple[int, str]) -> Key:
    """A ``K:`` field's (sharps, mode) as the music21 path's Key: the tonic, dorian and phrygian as
    minor, lydian and mixolydian as major."""
    sharps, mode = value
    alter = next(a for _, name, a in _MODES if name == mode) if mode != "major" else 0
    return Key(((sharps - alter) * 7) % 12, _KEY_MODE.get(mode, "major"))
