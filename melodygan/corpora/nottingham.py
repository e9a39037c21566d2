"""The Nottingham Music Database (cleaned ABC, 1,034 folk tunes with chord symbols) → Pieces.

Parsing follows the evaluation guide's conventions:

* Each ``.abc`` file is parsed with music21 (an Opus; one :class:`Piece` per tune, in file
  order). Title from ``T:``, meter from the first ``M:``, key from the first ``K:``.
* Melody notes land on the 16th grid (triplets rounded to the nearest 16th, tied notes merged);
  the anacrusis is kept as ``pickup_steps``.
* Chord symbols are read from their *original* quoted text with
  :func:`melodygan.chords.parse_chord_symbol`, which knows this collection's spelling (``Gd`` =
  G diminished, ``Ea`` = E augmented, ``Fa7`` = F augmented seventh, ``D/f+`` = D over F♯,
  ``Gm/bb`` = G minor over B♭). music21 alone misreads these (``D/f+`` becomes F–F♯–A♯–D) or
  drops them (``Gd``, ``Bm/f+``), so before parsing every quoted chord is rewritten to the
  standard spelling of the same chord, which music21 reads back unchanged. Quoted text that is
  not a chord (``" "``, remarks, ``^``/``_``/``<``/``>``/``@`` annotations) is left alone and
  does not start a chord. A chord lasts until the next symbol or the end of the tune.
* Repeats are **not** expanded: a tune is read as written (first and second endings one after
  the other). Expanding would duplicate bars and weight repeated strains twice in the data;
  the reference numbers in the evaluation guide are computed on the tunes as written.

Parsing all 14 files takes one to two minutes (music21 is slow); :mod:`melodygan.corpora.preprocess`
caches the result.
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


def parse_abc_tunes(abc_text: str, source: str = "<abc>") -> list[Piece]:
    """All tunes of an ABC text, in order (the Nottingham conventions above).

    Raises:
        MelodyganError: music21 cannot parse the text at all (names ``source``).
    """
    from music21 import converter, stream

    try:
        parsed = converter.parseData(normalize_chord_symbols(abc_text), format="abc")
    except Exception as e:  # music21 raises many exception types for bad input
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise MelodyganError(f"{source}: not readable ABC ({msg[:120]})") from None
    scores = list(parsed.scores) if isinstance(parsed, stream.Opus) else [parsed]
    pieces = []
    for i, score in enumerate(scores):
        md = score.metadata
        title = str(md.title) if md is not None and md.title else f"{Path(source).stem} #{i + 1}"
        try:
            pieces.append(score_to_piece(score, title=title))
        except (ValueError, MelodyganError) as e:  # e.g. a meter the grid cannot hold
            raise MelodyganError(f"{source}: tune {i + 1} ({title}): {e}") from None
    return pieces


def nottingham_files(path_or_dir: str | Path) -> list[Path]:
    """The ``.abc`` files of a directory (sorted by name), or the one file given.

    Raises:
        MelodyganError: the path does not exist or holds no ``.abc`` file.
    """
    path = Path(path_or_dir)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise MelodyganError(
            f"{path}: no such file or directory; pass the folder of the Nottingham Music Database's .abc "
            "files (see data/nottingham/README.md)")
    files = sorted(path.glob("*.abc"))
    if not files:
        raise MelodyganError(f"{path}: no .abc files in this folder")
    return files


def read_nottingham(path_or_dir: str | Path) -> list[Piece]:
    """Read the Nottingham Music Database (a folder of ``.abc`` files, or one file) into Pieces.

    Files are read in name order, tunes in file order; one Piece per tune (melody + chord symbols).

    Raises:
        MelodyganError: the path is missing or a file is not readable ABC.
    """
    pieces: list[Piece] = []
    for f in nottingham_files(path_or_dir):
        pieces.extend(parse_abc_tunes(read_abc_text(f), source=str(f)))
    return pieces
