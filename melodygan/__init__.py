"""melodygan: generate music and harmonize melodies, on PyTorch, offline, with weights in the box."""

from melodygan.chords import Chord, parse_chord_symbol
from melodygan.errors import MelodyganError
from melodygan.keys import Key, estimate_key
from melodygan.notes import Note
from melodygan.piece import Piece

__version__ = "0.1.0"

__all__ = [
    "Chord",
    "Key",
    "MelodyganError",
    "Note",
    "Piece",
    "__version__",
    "estimate_key",
    "parse_chord_symbol",
]
