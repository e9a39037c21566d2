"""Readers and writers: every file format melodygan reads or writes.

MIDI (``midi``), notation — MusicXML / ABC / kern — (``notation``, ``abc``, ``musicxml``),
recordings (``transcribe``), audio rendering (``audio``), pictures (``plot``), and the two
entry points users call: ``read_score`` (``readers``) and ``export_piece`` (``export``).

This is the only folder that imports the format libraries (pretty_midi, mido, music21, librosa,
fluidsynth, soundfile, matplotlib); everything else sees :class:`melodygan.piece.Piece`.
"""
