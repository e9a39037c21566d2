"""ABC notation → Pieces (music21's parser), with the chord-symbol spellings of folk collections.

* Each text is parsed with music21 (an Opus; one :class:`Piece` per tune, in order). Title from
  ``T:``, meter from the first ``M:``, key from the first ``K:``.
* Melody notes land on the 16th grid (tied notes merged; triplets spread over their span, a
  note on a step of its own, see :mod:`melodygan.formats.notation`; grace notes dropped; both
  counted in one warning); the anacrusis is kept as ``pickup_steps``.
* Chord symbols are read from their *original* quoted text with
  :func:`melodygan.chords.parse_chord_symbol`, which knows the Nottingham Music Database's spelling
  (``Gd`` = G diminished, ``Ea`` = E augmented, ``Fa7`` = F augmented seventh, ``D/f+`` = D over F♯,
  ``Gm/bb`` = G minor over B♭). music21 alone misreads these (``D/f+`` becomes F–F♯–A♯–D) or
  drops them (``Gd``, ``Bm/f+``), so before parsing every quoted chord is rewritten to the
  standard spelling of the same chord, which music21 reads back unchanged. Quoted text that is
  not a chord (``" "``, remarks, ``^``/``_``/``<``/``>``/``@`` annotations) is left alone and
  does not start a chord. A chord lasts until the next symbol or the end of the tune.
* Repeats are **not** expanded: a tune is read as written (first and second endings one after
  the other).
* Bounds (:mod:`melodygan.limits`), checked on the text before music21 sees it: tunes per file,
  characters per line and per tune, note lengths (``C999`` is refused: music21 would spend minutes
  on it), meters (``M:``), unit lengths (``L:``) and tempos (``Q:1/4=0``) that music21 cannot use.
  A text is split into its tunes (at ``X:`` lines; the file header goes with each) and each tune is
  parsed on its own, under the ``parse_seconds`` time limit, so one bad tune costs only itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from melodygan import limits
from melodygan.chords import parse_chord_symbol
from melodygan.errors import MelodyganError, library_output
from melodygan.formats.notation import check_piece_length, score_to_piece
from melodygan.piece import Piece

_QUOTED = re.compile(r'"([^"\n]*)"')
_HEADER = re.compile(r"^[A-Za-z]:")
_ANNOTATION_PREFIXES = ("^", "_", "<", ">", "@")


def read_abc_text(path: str | Path) -> str:
    """The text of an ABC file: UTF-8, else Latin-1 (older collections); raises MelodyganError."""
    path = Path(path)
    try:
        limits.check(path, "file size", round(path.stat().st_size / 2**20, 2), "file_mb", " MB")
        raw = path.read_bytes()
    except OSError as e:
        raise MelodyganError(f"{path}: cannot read ({e.strerror})") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def normalize_chord_symbols(abc_text: str) -> str:
    """Rewrite every quoted chord symbol of an ABC body in the standard spelling (see module docstring).

    ``"Gd"`` → ``"Gdim"``, ``"D/f+"`` → ``"D/F#"``, ``"Gm/bb"`` → ``"Gm/Bb"``; header lines,
    comments and quoted text that is not a chord are kept as they are.
    """

    def fix(m: re.Match[str]) -> str:
        text = m.group(1)
        if not text.strip() or text.lstrip().startswith(_ANNOTATION_PREFIXES):
            return m.group(0)
        try:
            chord = parse_chord_symbol(text)
        except ValueError:
            # music21 builds a chord symbol from any quoted text; an extension past the 13th
            # ("A999") sends it into minutes of work, so such text is kept as an annotation
            if any(int(n) > 13 for n in re.findall(r"\d+", text)):
                return f'"^{text}"'
            return m.group(0)
        return f'"{chord.symbol()}"'

    lines = []
    for line in abc_text.splitlines():
        if _HEADER.match(line) or line.lstrip().startswith("%"):
            lines.append(line)
        else:
            lines.append(_QUOTED.sub(fix, line))
    return "\n".join(lines) + "\n"


_TUNE_START = re.compile(r"^X:", re.MULTILINE)
_FIELD = re.compile(r"^([A-Za-z]):(.*)$")
_INLINE_FIELD = re.compile(r"\[([A-Za-z]):([^\]\n]*)\]")
# the parts of a body line that are not notes: quoted text, !decorations!, +decorations+, comments
_NOT_NOTES = re.compile(r'"[^"\n]*"|![^!\n]*!|\+[^+\n]*\+|%.*$|\[[A-Za-z]:[^\]\n]*\]')
# a note, rest or chord end, then its length: C3, z/2, E3/4, ]2, Z8 (Z, X: whole bars of rest)
_LENGTH = re.compile(r"([A-Ga-gzxZX\]])[,']*(\d*)(/*)(\d*)")
_ANY_FIELD = re.compile(r"([MLQ]):([^\]\n|]*)")
_TUPLET = re.compile(r"\((\d+)(?::(\d*))?(?::(\d*))?")
_METER = re.compile(r"^\(?(\d+(?:\+\d+)*)\)?/(\d+)$")
_POWERS_OF_TWO = (1, 2, 4, 8, 16, 32, 64)


def split_tunes(abc_text: str) -> tuple[str, list[str]]:
    """``(file header, [tune text, ...])``: tunes start at ``X:`` lines; a text without any is one tune."""
    starts = [m.start() for m in _TUNE_START.finditer(abc_text)]
    if not starts:
        return "", [abc_text] if abc_text.strip() else []
    header = abc_text[:starts[0]]
    ends = [*starts[1:], len(abc_text)]
    return header, [abc_text[a:b] for a, b in zip(starts, ends)]


def _field_problem(field: str, value: str) -> str | None:
    """Why a meter, unit length or tempo field cannot be read (music21 would divide by zero or run
    for minutes on it), or None."""
    value = value.split("%")[0].strip()
    cap = limits.current().abc_note_length or 2**31
    if field == "M":
        if value in ("", "C", "C|", "none", "NONE"):
            return None
        m = _METER.match(value.replace(" ", ""))
        if not m or int(m.group(2)) not in _POWERS_OF_TWO or not 1 <= sum(int(x) for x in m.group(1).split("+")) <= 64:
            return f"meter M:{value[:40]} is not N/D with N 1..64 and D one of 1, 2, 4 ... 64 (or C, C|)"
    elif field == "L":
        m = re.fullmatch(r"(\d+)/(\d+)", value.replace(" ", ""))
        if value and (not m or not 1 <= int(m.group(1)) <= cap or int(m.group(2)) not in _POWERS_OF_TWO):
            return f"unit length L:{value[:40]} is not 1/D with D one of 1, 2, 4 ... 64"
    elif field == "Q":
        text = re.sub(r'"[^"]*"', " ", value)
        for a, b in re.findall(r"(\d+)/(\d+)", text):
            if not 1 <= int(a) <= cap or not 1 <= int(b) <= cap:
                return f"tempo Q:{value[:40]} has a beat length {a}/{b} outside 1..{cap}"
        bpm = re.findall(r"=\s*(\d+(?:\.\d*)?)", text) or re.findall(r"^\s*(\d+(?:\.\d*)?)\s*$", text)
        if any(not 1 <= float(x) <= 1000 for x in bpm):
            return f"tempo Q:{value[:40]} is not 1..1000 beats per minute"
    return None


def check_abc_tune(tune: str, source: object) -> str | None:
    """Why a tune's text is refused before parsing (a field music21 cannot use, a note length or
    a line over a limit), or None. A limit's reason names it and how to raise it."""
    lim = limits.current()
    limits.check(source, "tune length", len(tune), "abc_tune_chars", " characters")
    cap = lim.abc_note_length or 2**31
    max_line = 0
    units, unit_len, bar_units = 0.0, 1 / 8, 8.0  # note lengths in L units; L:1/8, 4/4
    for line in tune.splitlines():
        max_line = max(max_line, len(line))
        field = _FIELD.match(line)
        fields = [(field.group(1), field.group(2))] if field else _INLINE_FIELD.findall(line)
        # music21 also takes a meter, unit length or tempo field in the middle of a line
        fields += [(m.group(1), m.group(2)) for m in _ANY_FIELD.finditer(line) if m.start() > 0]
        for name, value in fields:
            problem = _field_problem(name.upper() if name in "mlq" else name, value)
            if problem:
                return problem
            if name == "L" and "/" in value:
                a, b = value.strip().split("%")[0].split("/")[:2]
                unit_len = int(a) / int(b)
            if name == "M":
                m = _METER.match(value.split("%")[0].replace(" ", ""))
                if m:
                    bar_units = sum(int(x) for x in m.group(1).split("+")) / int(m.group(2)) / unit_len
        if field or line.lstrip().startswith("%"):
            continue
        if line.split("%")[0].count('"') % 2:
            # a quoted chord or annotation ends on its line; music21 would read on into the next
            # lines and can spend minutes on what it finds there
            return f"unclosed quote in the line {line.strip()[:40]!r}"
        body = _NOT_NOTES.sub(" ", line)
        for what, num, slashes, den in _LENGTH.findall(body):
            if len(slashes) > 6 or (num and int(num) > (lim.score_bars or 2**31 if what in "ZX" else cap)) \
                    or (den and int(den) > cap):
                raise limits.over(source, f"note length {what}{num}{slashes}{den}", "abc_note_length")
            if what not in "ZX]":
                units += (int(num) if num else 1) / (int(den) if den else 2 ** len(slashes))
            elif what in "ZX":
                units += (int(num) if num else 1) * bar_units
        for groups in _TUPLET.findall(body):
            if any(g and not 1 <= int(g) <= cap for g in groups):
                return f"tuplet ({':'.join(groups).rstrip(':')} is beyond 1..{cap}"
    limits.check(source, "line length", max_line, "abc_line_chars", " characters")
    limits.check(source, "length", round(units / max(bar_units, 1e-9)), "score_bars", " bars")
    return None


def _tune_title(tune: str, fallback: str) -> str:
    m = re.search(r"^T:(.*)$", tune, re.MULTILINE)
    return m.group(1).strip() if m and m.group(1).strip() else fallback


def iter_abc_tunes(abc_text: str, source: str = "<abc>") -> Iterator[Piece | str]:
    """Every tune of an ABC text, in order, parsed one at a time: its Piece, or a one-line reason.

    Raises:
        MelodyganError: the text holds no tune, or more tunes than the ``abc_tunes`` limit.
    """
    header, tunes = split_tunes(abc_text)
    if not tunes:
        raise MelodyganError(f"{source}: no tunes in the file")
    limits.check(source, "tune count", len(tunes), "abc_tunes")
    header = "\n".join(line for line in header.splitlines() if _FIELD.match(line))
    if header:
        problem = check_abc_tune(header, source)
        if problem:
            raise MelodyganError(f"{source}: file header: {problem}")
    for i, tune in enumerate(tunes):
        title = _tune_title(tune, f"{Path(source).stem} #{i + 1}")
        try:
            yield _parse_tune(header + "\n" + tune if header else tune, title, source)
        except MelodyganError as e:
            yield f"tune {i + 1} ({title}): {str(e).removeprefix(f'{source}: ')}"


def _parse_tune(text: str, title: str, source: str) -> Piece:
    """One tune's text → Piece, after the checks; every failure becomes a MelodyganError."""
    problem = check_abc_tune(text, source)
    if problem:
        raise MelodyganError(problem)
    from music21 import converter, stream  # a second or two, only for a tune that passed the checks
    try:
        with limits.time_limit(source, "reading the tune"), library_output("music21"):
            parsed = converter.parseData(normalize_chord_symbols(text), format="abc")
            if isinstance(parsed, stream.Opus):
                if not parsed.scores:
                    raise MelodyganError("no notes")
                parsed = parsed.scores[0]
            md = parsed.metadata
            if md is not None and md.title:
                title = str(md.title)
            piece = score_to_piece(parsed, title=title, source=f"{Path(source).name}: {title}")
        check_piece_length(piece, source)
        return piece
    except MelodyganError:
        raise
    except Exception as e:  # music21 raises many exception types for bad input
        raise MelodyganError(f"{type(e).__name__}: {_first_line(e)}") from None


def abc_tunes(abc_text: str, source: str = "<abc>") -> list[Piece | str]:
    """Every tune of an ABC text, in order: its Piece, or a one-line reason it could not be read.

    One bad tune (a meter the grid cannot hold, a music21 error, a bound) does not lose the others.

    Raises:
        MelodyganError: the text holds no tune or too many (names ``source``).
    """
    return list(iter_abc_tunes(abc_text, source))


def first_abc_tune(abc_text: str, source: str = "<abc>") -> Piece:
    """The first tune with notes of an ABC text (later tunes are not parsed).

    Raises:
        MelodyganError: no tune with notes, or a tune before it cannot be read.
    """
    for tune in iter_abc_tunes(abc_text, source):
        if isinstance(tune, str):
            raise MelodyganError(f"{source}: {tune}")
        if tune.melody:
            return tune
    raise MelodyganError(f"{source}: the ABC file holds no tune with notes")


def parse_abc_tunes(abc_text: str, source: str = "<abc>") -> list[Piece]:
    """All tunes of an ABC text, in order (the conventions above).

    Raises:
        MelodyganError: the text is not readable ABC, or one of its tunes is not (names ``source``).
    """
    pieces = []
    for tune in abc_tunes(abc_text, source):
        if isinstance(tune, str):
            raise MelodyganError(f"{source}: {tune}")
        pieces.append(tune)
    return pieces


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:200]
