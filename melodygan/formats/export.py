"""Export a Piece (or render a MIDI file) to every format at once: MIDI, WAV, MusicXML, PNG.

Outputs sit beside the MIDI file with the same stem (``song.mid`` → ``song.wav``,
``song.musicxml``, ``song.png``, ``song-sheet.png``, stems ``song-Melody.wav`` …) or in ``out_dir``.
All output paths are checked before anything is written, so an existing file (without
``force``) stops the whole export with nothing written; each file is written atomically.
"""

from __future__ import annotations

from pathlib import Path

from melodygan.errors import MelodyganError
from melodygan.files import check_writable, output_path
from melodygan.piece import Piece, add_dynamics


def _plan(midi_path: Path, *, wav: bool, png: bool, musicxml: bool, sheet_png: bool, stems: bool,
          out_dir: str | Path | None, track_names: list[str]) -> dict[str, Path]:
    """Every output path, by kind (``"wav"``, ``"stem:<track>"``, ``"musicxml"``, ``"sheet_png"``, ``"png"``)."""
    from melodygan.formats.audio import stem_path

    plan: dict[str, Path] = {}
    if wav:
        plan["wav"] = output_path(midi_path, ".wav", out_dir)
        if stems:
            for name in track_names:
                plan[f"stem:{name}"] = stem_path(plan["wav"], name)
    if musicxml or sheet_png:
        plan["musicxml"] = output_path(midi_path, ".musicxml", out_dir)
    if sheet_png:
        plan["sheet_png"] = output_path(midi_path, ".png", out_dir, tag="-sheet")
    if png:
        plan["png"] = output_path(midi_path, ".png", out_dir)
    return plan


def _write_extras(piece: Piece, audio_source: object, plan: dict[str, Path], *, soundfont: str | Path | None,
                  stems: bool, sample_rate: int, bit_depth: int, layout: str, force: bool) -> list[Path]:
    written: list[Path] = []
    if "wav" in plan:
        from melodygan.formats.audio import render_wav

        written += render_wav(audio_source, plan["wav"], soundfont=soundfont, stems=stems,  # type: ignore[arg-type]
                              sample_rate=sample_rate, bit_depth=bit_depth, force=force)
    if "musicxml" in plan:
        from melodygan.formats.musicxml import write_musicxml

        written.append(write_musicxml(piece, plan["musicxml"], layout=layout, force=force))
    if "sheet_png" in plan:
        from melodygan.formats.musicxml import write_sheet_png

        written.append(write_sheet_png(plan["musicxml"], plan["sheet_png"], force=force))
    if "png" in plan:
        from melodygan.formats.plot import plot_piano_roll

        written.append(plot_piano_roll(piece, plan["png"], force=force))
    return written


def export_piece(piece: Piece, midi_path: str | Path, *, wav: bool = False, png: bool = False,
                 musicxml: bool = False, soundfont: str | Path | None = None, stems: bool = False,
                 force: bool = False, sheet_png: bool = False, dynamics: bool = True,
                 sample_rate: int = 44100, bit_depth: int = 16, layout: str = "auto") -> list[Path]:
    """Write a Piece as a DAW-ready MIDI file plus any of WAV, MusicXML, piano-roll PNG, sheet PNG.

    Args:
        piece: the music (arrange it first for chord and bass tracks: :func:`melodygan.engines.arrange.arrange`).
        midi_path: the ``.mid`` to write; the other files go beside it with the same stem.
        wav: render ``<stem>.wav`` with FluidSynth (see :mod:`melodygan.formats.audio`).
        png: draw the piano roll ``<stem>.png``.
        musicxml: write ``<stem>.musicxml`` (lead sheet or score, see :mod:`melodygan.formats.musicxml`).
        soundfont: ``.sf2``/``.sf3`` for the WAV; None for TimGM6mb.sf2.
        stems: with ``wav``, also one ``<stem>-<track>.wav`` per track.
        force: replace existing files.
        sheet_png: engrave ``<stem>-sheet.png`` with MuseScore 3 (writes the MusicXML too).
        dynamics: accent flat-velocity tracks by their place in the bar
            (:func:`melodygan.piece.add_dynamics`) before writing.
        sample_rate: WAV sample rate in Hz.
        bit_depth: WAV bits, 16 or 24.
        layout: MusicXML layout, ``"auto"``, ``"lead-sheet"`` or ``"score"``.

    Returns:
        The files written, the MIDI first.

    Raises:
        MelodyganError: an existing output without ``force`` (nothing is written then), MuseScore
            missing for ``sheet_png``, bad settings.
    """
    from melodygan.formats.midi import write_midi

    midi_path = Path(midi_path)
    if dynamics:
        piece = add_dynamics(piece)
    from melodygan.formats.audio import midifile_of, track_names

    names = track_names(midifile_of(piece)) if wav and stems else []
    plan = _plan(midi_path, wav=wav, png=png, musicxml=musicxml, sheet_png=sheet_png, stems=stems,
                 out_dir=None, track_names=names)
    _preflight([midi_path, *plan.values()], force, sheet_png)
    written = [write_midi(piece, midi_path, force=force)]
    return written + _write_extras(piece, piece, plan, soundfont=soundfont, stems=stems, sample_rate=sample_rate,
                                   bit_depth=bit_depth, layout=layout, force=force)


def render_file(midi_path: str | Path, *, wav: bool = False, png: bool = False, musicxml: bool = False,
                sheet_png: bool = False, soundfont: str | Path | None = None, stems: bool = False,
                out_dir: str | Path | None = None, force: bool = False, melody_track: str | int | None = None,
                sample_rate: int = 44100, bit_depth: int = 16, layout: str = "auto") -> list[Path]:
    """Render an existing MIDI file to WAV / MusicXML / PNG (the ``melodygan render`` command).

    The WAV plays the MIDI file itself (drums, tempo changes and all); the MusicXML and the piano
    roll come from the file read as a Piece (:func:`melodygan.formats.midi.midi_to_piece`, which picks
    the melody track or takes ``melody_track``).

    Args:
        midi_path: the input ``.mid``.
        wav, png, musicxml, sheet_png, soundfont, stems, sample_rate, bit_depth, layout, force: as in
            :func:`export_piece`.
        out_dir: folder for the outputs; None for beside the input.
        melody_track: track name or index of the melody for the MusicXML and PNG.

    Returns:
        The files written.

    Raises:
        MelodyganError: unreadable input, nothing asked for, an existing output without ``force``.
    """
    from melodygan.formats.midi import midi_to_piece

    src = Path(midi_path)
    if not (wav or png or musicxml or sheet_png):
        raise MelodyganError("nothing to render; ask for --wav, --png, --musicxml and/or --sheet-png")
    piece = midi_to_piece(src, melody_track=melody_track)
    from melodygan.formats.audio import midifile_of, track_names

    names = track_names(midifile_of(src)) if wav and stems else []
    plan = _plan(src, wav=wav, png=png, musicxml=musicxml, sheet_png=sheet_png, stems=stems,
                 out_dir=out_dir, track_names=names)
    if src.resolve() in {p.resolve() for p in plan.values()}:
        raise MelodyganError(f"an output would replace the input {src}; pick another --out folder")
    _preflight(list(plan.values()), force, sheet_png)
    return _write_extras(piece, src, plan, soundfont=soundfont, stems=stems, sample_rate=sample_rate,
                         bit_depth=bit_depth, layout=layout, force=force)


def _preflight(paths: list[Path], force: bool, sheet_png: bool) -> None:
    """Refuse existing outputs and a missing MuseScore before anything is written."""
    for p in paths:
        check_writable(p, force)
    if sheet_png:
        from melodygan.formats.musicxml import MUSESCORE_HINT, find_musescore

        if find_musescore() is None:
            raise MelodyganError(MUSESCORE_HINT)
