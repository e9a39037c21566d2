"""melodygan: generate music and harmonize melodies, on PyTorch, offline, with weights in the box.

The core types import at once; the readers and writers (``read_score``, ``midi_to_piece``,
``write_midi``, ``export_piece``, ``load_pieces``) load on first use, so ``import melodygan`` stays
cheap. Generation and harmonization live in their modules (their names are also module names):
``from melodygan.engines.generate import generate``, ``from melodygan.engines.harmonize import harmonize``.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from melodygan.chords import Chord, parse_chord_symbol
from melodygan.errors import MelodyganError
from melodygan.keys import Key, estimate_key
from melodygan.notes import Note
from melodygan.piece import Piece

__version__ = "0.1.0"

# public name -> module that defines it (imported lazily by __getattr__)
_LAZY = {
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
    "estimate_key",
    "export_piece",
    "load_pieces",
    "midi_to_piece",
    "parse_chord_symbol",
    "read_score",
    "write_midi",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'melodygan' has no attribute {name!r}")
