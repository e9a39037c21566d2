"""One entry point for a user's score: :func:`read_score` picks the reader by file extension.

==========================================  ==================================================
``.mid`` ``.midi``                          :func:`melodygan.formats.midi.midi_to_piece` (symusic)
``.xml`` ``.musicxml`` ``.mxl`` ``.krn``    :func:`melodygan.formats.notation.read_notation` (music21)
``.abc``                                    first tune, Nottingham chord spellings understood
                                            (:func:`melodygan.formats.abc.first_abc_tune`)
``.wav`` ``.flac`` ``.mp3`` ``.ogg``        :func:`melodygan.formats.transcribe.transcribe` (librosa pyin)
==========================================  ==================================================

Readers are imported inside the function: music21 and librosa are slow to import, and a command
that reads no score should not pay for them.
"""

from __future__ import annotations

from pathlib import Path

from melodygan.errors import MelodyganError
from melodygan.piece import Piece

MIDI_SUFFIXES = (".mid", ".midi")
NOTATION_SUFFIXES = (".xml", ".musicxml", ".mxl", ".krn")
ABC_SUFFIXES = (".abc",)
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg")
SCORE_SUFFIXES = MIDI_SUFFIXES + NOTATION_SUFFIXES + ABC_SUFFIXES + AUDIO_SUFFIXES


def read_score(path: str | Path, melody_track: str | int | None = None, *,
               tempo_bpm: float | None = None) -> Piece:
    """Read a score or a recording into a Piece, choosing the reader by extension (table above).

    Args:
        path: the file.
        melody_track: MIDI track / notation part holding the melody (name or index); default
            chosen by the reader (MIDI: by name, else the highest mostly-monophonic track;
            notation: the first part).
        tempo_bpm: for recordings only: the tempo to quantise with (default estimated).

    Raises:
        MelodyganError: missing file, unknown extension, or a file the reader cannot read (one
            line naming the file and the problem).
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if not p.exists():
        raise MelodyganError(f"{p}: no such file")
    if p.is_dir():
        raise MelodyganError(f"{p} is a folder; give one score file")
    if suffix not in SCORE_SUFFIXES:
        raise MelodyganError(f"{p}: unknown score type {suffix or '(no extension)'!r}; "
                             f"allowed: {' '.join(SCORE_SUFFIXES)}")
    if p.stat().st_size == 0:
        raise MelodyganError(f"{p}: the file is empty")
    if suffix in MIDI_SUFFIXES:
        from melodygan.formats.midi import midi_to_piece

        return midi_to_piece(p, melody_track=melody_track)
    if suffix in NOTATION_SUFFIXES:
        from melodygan.formats.notation import read_notation

        return read_notation(p, melody_track=melody_track)
    if suffix in ABC_SUFFIXES:
        from melodygan.formats.abc import first_abc_tune, read_abc_text

        return first_abc_tune(read_abc_text(p), source=str(p))
    from melodygan.formats.transcribe import transcribe

    return transcribe(p, tempo_bpm=tempo_bpm)
