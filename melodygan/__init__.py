"""melodygan: generate music and harmonize melodies, on PyTorch, offline, with weights in the box.

The jobs — ``generate``, ``harmonize``, ``arrange``, ``infill``, ``vary``, ``humanize`` — and the
readers and writers (``read_score``, ``export_piece``, ``midi_to_piece``, ``write_midi``,
``load_pieces``) are functions here, loaded on first use so that ``import melodygan`` stays cheap
(no torch, no format libraries); the core types (``Note``, ``Chord``, ``Key``, ``Piece``) import at once::

    import melodygan
    clip = melodygan.generate(num=1)[0]
    sheet = melodygan.harmonize("tune.mid")
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from melodygan.chords import Chord, parse_chord_symbol
from melodygan.errors import MelodyganError
from melodygan.keys import Key, estimate_key
from melodygan.notes import Note
from melodygan.piece import Piece

__version__ = "0.1.0"

# public name -> module that defines it (imported lazily by __getattr__)
_LAZY = {
    "generate": "melodygan.engines.generate",
    "harmonize": "melodygan.engines.harmonize",
    "arrange": "melodygan.engines.arrange",
    "infill": "melodygan.engines.infill",
    "vary": "melodygan.engines.infill",
    "humanize": "melodygan.performance",
    "read_score": "melodygan.formats.readers",
    "midi_to_piece": "melodygan.formats.midi",
    "write_midi": "melodygan.formats.midi",
    "export_piece": "melodygan.formats.export",
    "load_pieces": "melodygan.corpora.preprocess",
}

__all__ = [
    "Chord",
    "Key",
    "MelodyganError",
    "Note",
    "Piece",
    "__version__",
    "arrange",
    "estimate_key",
    "export_piece",
    "generate",
    "harmonize",
    "humanize",
    "infill",
    "load_pieces",
    "midi_to_piece",
    "parse_chord_symbol",
    "read_score",
    "vary",
    "write_midi",
]


if TYPE_CHECKING:  # what the lazy names are, for type checkers and editors
    from melodygan.corpora.preprocess import load_pieces
    from melodygan.engines.arrange import arrange
    from melodygan.engines.generate import generate
    from melodygan.engines.harmonize import harmonize
    from melodygan.engines.infill import infill, vary
    from melodygan.formats.export import export_piece
    from melodygan.formats.midi import midi_to_piece, write_midi
    from melodygan.formats.readers import read_score
    from melodygan.performance import humanize


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'melodygan' has no attribute {name!r}")
