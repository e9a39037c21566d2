"""ABC notation → Pieces (music21's parser), with the chord-symbol spellings of folk collections.

* Each text is parsed with music21 (an Opus; one :class:`Piece` per tune, in order). Title from
  ``T:``, meter from the first ``M:``, key from the first ``K:``.
* Melody notes land on the 16th grid (triplets rounded to the nearest 16th, tied notes merged);
  the anacrusis is kept as ``pickup_steps``.
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
"""

from __future__ import annotations

import re
from pathlib import Path

from melodygan.chords import parse_chord_symbol
from melodygan.errors import MelodyganError
from melodygan.formats.notation import score_to_piece
from melodygan.piece import Piece

_QUOTED = re.compile(r'"([^"\n]*)"')
_HEADER = re.compile(r"^[A-Za-z]:")
_ANNOTATION_PREFIXES = ("^", "_", "<", ">", "@")


def read_abc_text(path: str | Path) -> str:
    """The text of an ABC file: UTF-8, else Latin-1 (older collections); raises MelodyganError."""
    path = Path(path)
    try:
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
            return m.group(0)
        return f'"{chord.symbol()}"'

    lines = []
    for line in abc_text.splitlines():
        if _HEADER.match(line) or line.lstrip().startswith("%"):
            lines.append(line)
        else:
            lines.append(_QUOTED.sub(fix, line))
    return "\n".join(lines) + "\n"


def abc_tunes(abc_text: str, source: str = "<abc>") -> list[Piece | str]:
    """Every tune of an ABC text, in order: its Piece, or a one-line reason it could not be read.

    One bad tune (a meter the grid cannot hold, a music21 error) does not lose the others.

    Raises:
        MelodyganError: music21 cannot parse the text at all, or it holds no tune (names ``source``).
    """
    from music21 import converter, stream

    try:
        parsed = converter.parseData(normalize_chord_symbols(abc_text), format="abc")
    except Exception as e:  # music21 raises many exception types for bad input
        raise MelodyganError(f"{source}: not readable ABC ({_first_line(e)})") from None
    scores = list(parsed.scores) if isinstance(parsed, stream.Opus) else [parsed]
    if not scores:
        raise MelodyganError(f"{source}: no tunes in the file")
    tunes: list[Piece | str] = []
    for i, score in enumerate(scores):
        md = score.metadata
        title = str(md.title) if md is not None and md.title else f"{Path(source).stem} #{i + 1}"
        try:
            tunes.append(score_to_piece(score, title=title))
        except (ValueError, MelodyganError) as e:  # e.g. a meter the grid cannot hold
            tunes.append(f"tune {i + 1} ({title}): {e}")
        except Exception as e:  # a music21 failure on one tune
            tunes.append(f"tune {i + 1} ({title}): {type(e).__name__}: {_first_line(e)}")
    return tunes


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
