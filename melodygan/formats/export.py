"""Export a Piece (or render a MIDI file) to every format at once: MIDI, WAV, MusicXML, PNG.

Outputs sit beside the MIDI file with the same stem (``song.mid`` → ``song.wav``,
``song.musicxml``, ``song.png``, ``song-sheet.png``, stems ``song-Melody.wav`` …, one MIDI file
per part ``song-Melody.mid`` …) or in ``out_dir``.
All output paths are checked before anything is written, so an existing file (without
``force``) stops the whole export with nothing written; each file is written atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from melodygan.errors import MelodyganError
from melodygan.files import atomic_output, check_writable, output_path
from melodygan.formats.loudness import DEFAULT_LOUDNESS_LUFS
from melodygan.piece import Piece, add_dynamics

if TYPE_CHECKING:
    import mido


def _plan(midi_path: Path, *, wav: bool, png: bool, musicxml: bool, sheet_png: bool, stems: bool,
          out_dir: str | Path | None, track_names: list[str], split_tracks: bool = False) -> dict[str, Path]:
    """Every output path but the main MIDI, by kind (``"wav"``, ``"stem:<track>"``, ``"part:<track>"``,
    ``"musicxml"``, ``"sheet_png"``, ``"png"``)."""
    from melodygan.formats.audio import stem_path
    from melodygan.formats.parts import part_path

    plan: dict[str, Path] = {}
    if split_tracks:
        for name in track_names:
            plan[f"part:{name}"] = part_path(output_path(midi_path, ".mid", out_dir), name)
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


def _write_extras(piece: Piece | None, audio_source: object, plan: dict[str, Path], *, soundfont: str | Path | None,
                  stems: bool, sample_rate: int, bit_depth: int, layout: str, force: bool, loop: bool = False,
                  loudness_lufs: float | None = DEFAULT_LOUDNESS_LUFS) -> list[Path]:
    """Write the planned files: the parts (split from ``audio_source``, the MIDI as written), the
    WAV of ``audio_source``, and the notation and piano roll of ``piece``."""
    written: list[Path] = []
    parts = [k for k in plan if k.startswith("part:")]
    if parts:
        from melodygan.formats.audio import midifile_of
        from melodygan.formats.parts import split_parts

        for (_, part), key in zip(split_parts(midifile_of(audio_source)), parts):  # type: ignore[arg-type]
            written.append(_save_midifile(part, plan[key], force))
    if "wav" in plan:
        from melodygan.formats.audio import render_wav

        written += render_wav(audio_source, plan["wav"], soundfont=soundfont, stems=stems,  # type: ignore[arg-type]
                              sample_rate=sample_rate, bit_depth=bit_depth, force=force, loop=loop,
                              loudness_lufs=loudness_lufs)
    if piece is None:
        return written
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


def _save_midifile(mid: mido.MidiFile, path: Path, force: bool) -> Path:
    """A ``mido.MidiFile`` written atomically."""
    with atomic_output(path, force=force) as tmp:
        mid.save(str(tmp))
    return path


def _performance(piece: Piece, *, dynamics: bool, humanize: float, seed: int,
                 base_midi: str | Path | mido.MidiFile | None,
                 keep_tracks: bool) -> tuple[Piece, Piece | mido.MidiFile]:
    """``(notated, midi)``: the piece to notate (accents added), and what the MIDI file and the
    WAV are made from: the piece as played (humanized), or that laid over ``base_midi`` as a
    ``mido.MidiFile``."""
    from melodygan.performance import humanize as perform

    if dynamics:
        piece = add_dynamics(piece)
    performed = perform(piece, humanize, seed) if humanize else piece
    if base_midi is None:
        return piece, performed
    from melodygan.formats.audio import midifile_of
    from melodygan.formats.parts import lay_over

    return piece, lay_over(midifile_of(base_midi), performed, keep_tracks=keep_tracks)


def export_paths(piece: Piece, midi_path: str | Path, *, wav: bool = False, png: bool = False,
                 musicxml: bool = False, stems: bool = False, sheet_png: bool = False, split_tracks: bool = False,
                 base_midi: str | Path | mido.MidiFile | None = None, keep_tracks: bool = True) -> list[Path]:
    """The files :func:`export_piece` writes with these settings, the MIDI first (nothing is written)."""
    names: list[str] = []
    if (wav and stems) or split_tracks:
        from melodygan.formats.audio import midifile_of, track_names

        _, midi = _performance(piece, dynamics=False, humanize=0.0, seed=1, base_midi=base_midi,
                                  keep_tracks=keep_tracks)
        names = track_names(midifile_of(midi))
    midi_path = Path(midi_path)
    plan = _plan(midi_path, wav=wav, png=png, musicxml=musicxml, sheet_png=sheet_png, stems=stems,
                 out_dir=None, track_names=names, split_tracks=split_tracks)
    return [midi_path, *plan.values()]


def export_piece(piece: Piece, midi_path: str | Path, *, wav: bool = False, png: bool = False,
                 musicxml: bool = False, soundfont: str | Path | None = None, stems: bool = False,
                 force: bool = False, sheet_png: bool = False, dynamics: bool = True,
                 sample_rate: int = 44100, bit_depth: int = 16, layout: str = "auto", loop: bool = False,
                 loudness_lufs: float | None = DEFAULT_LOUDNESS_LUFS, split_tracks: bool = False,
                 humanize: float = 0.0, seed: int = 1, base_midi: str | Path | mido.MidiFile | None = None,
                 keep_tracks: bool = True) -> list[Path]:
    """Write a Piece as a DAW-ready MIDI file plus any of WAV, MusicXML, piano-roll PNG, sheet PNG,
    and one MIDI file per part.

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
        loop: the WAV (and stems) exactly as long as the clip, the release tail folded onto the start.
        loudness_lufs: the WAV's integrated loudness (never clipping); None: peak at -1 dBFS.
        split_tracks: also one ``<stem>-<part>.mid`` per part (:func:`melodygan.formats.parts.split_parts`).
        humanize: 0..1, timing and velocity deviations in the MIDI and WAV
            (:func:`melodygan.performance.humanize`); the MusicXML and PNG stay on the grid.
        seed: the humanization's seed.
        base_midi: the MIDI file the piece was read from (the melody given to ``harmonize``): the
            MIDI written keeps its tempo map and, with ``keep_tracks``, every one of its tracks as
            it was, the piece's voices added as new tracks (:func:`melodygan.formats.parts.lay_over`).
        keep_tracks: with ``base_midi``: keep its tracks (True) or write the piece's own tracks only.

    Returns:
        The files written, the MIDI first.

    Raises:
        MelodyganError: an existing output without ``force`` (nothing is written then), MuseScore
            missing for ``sheet_png``, bad settings.
    """
    from melodygan.formats.audio import check_loudness, midifile_of, track_names
    from melodygan.formats.midi import write_midi

    check_loudness(loudness_lufs)
    midi_path = Path(midi_path)
    notated, midi = _performance(piece, dynamics=dynamics, humanize=humanize, seed=seed,
                                            base_midi=base_midi, keep_tracks=keep_tracks)
    names = track_names(midifile_of(midi)) if (wav and stems) or split_tracks else []
    plan = _plan(midi_path, wav=wav, png=png, musicxml=musicxml, sheet_png=sheet_png, stems=stems,
                 out_dir=None, track_names=names, split_tracks=split_tracks)
    _preflight([midi_path, *plan.values()], force, sheet_png)
    if isinstance(midi, Piece):
        written = [write_midi(midi, midi_path, force=force)]
    else:
        written = [_save_midifile(midi, midi_path, force)]
    return written + _write_extras(notated, midi, plan, soundfont=soundfont, stems=stems, sample_rate=sample_rate,
                                   bit_depth=bit_depth, layout=layout, force=force, loop=loop,
                                   loudness_lufs=loudness_lufs)


def render_file(midi_path: str | Path, *, wav: bool = False, png: bool = False, musicxml: bool = False,
                sheet_png: bool = False, soundfont: str | Path | None = None, stems: bool = False,
                out_dir: str | Path | None = None, force: bool = False, melody_track: str | int | None = None,
                sample_rate: int = 44100, bit_depth: int = 16, layout: str = "auto", loop: bool = False,
                loudness_lufs: float | None = DEFAULT_LOUDNESS_LUFS, split_tracks: bool = False) -> list[Path]:
    """Render an existing MIDI file to WAV / MusicXML / PNG / one MIDI file per part (the
    ``melodygan render`` command).

    The WAV and the parts are the MIDI file itself (drums, tempo changes and all; a drum-only file
    renders); the MusicXML and the piano roll come from the file read as a Piece
    (:func:`melodygan.formats.midi.midi_to_piece`, which picks the melody track or takes
    ``melody_track``), and only when asked for: what the reader reports (drums left out, tempo
    changes, quantisation) is said to concern them, not the WAV.

    Args:
        midi_path: the input ``.mid``.
        wav, png, musicxml, sheet_png, soundfont, stems, sample_rate, bit_depth, layout, force, loop,
            loudness_lufs, split_tracks: as in :func:`export_piece`.
        out_dir: folder for the outputs; None for beside the input.
        melody_track: track name or index of the melody for the MusicXML and PNG.

    Returns:
        The files written.

    Raises:
        MelodyganError: unreadable input, nothing asked for, an existing output without ``force``.
    """
    from melodygan.formats.audio import check_loudness, midifile_of, track_names

    src = Path(midi_path)
    if not (wav or png or musicxml or sheet_png or split_tracks):
        raise MelodyganError("nothing to render; ask for --wav, --png, --musicxml, --sheet-png and/or --split-tracks")
    check_loudness(loudness_lufs)
    mid = midifile_of(src)
    names = track_names(mid) if (wav and stems) or split_tracks else []
    plan = _plan(src, wav=wav, png=png, musicxml=musicxml, sheet_png=sheet_png, stems=stems,
                 out_dir=out_dir, track_names=names, split_tracks=split_tracks)
    if src.resolve() in {p.resolve() for p in plan.values()}:
        raise MelodyganError(f"an output would replace the input {src}; pick another --out folder")
    _preflight(list(plan.values()), force, sheet_png)
    piece = _read_for_notation(src, melody_track, wav) if (png or musicxml or sheet_png) else None
    return _write_extras(piece, mid, plan, soundfont=soundfont, stems=stems, sample_rate=sample_rate,
                         bit_depth=bit_depth, layout=layout, force=force, loop=loop, loudness_lufs=loudness_lufs)


def _read_for_notation(src: Path, melody_track: str | int | None, wav: bool) -> Piece:
    """The file as a Piece for the notation and the piano roll; with a WAV beside them, the
    reader's reports say that they concern those and not the WAV (which plays every event)."""
    import warnings

    from melodygan.formats.midi import MidiImportWarning, midi_to_piece

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        piece = midi_to_piece(src, melody_track=melody_track)
    for w in caught:
        if wav and issubclass(w.category, MidiImportWarning):
            warnings.warn(f"{w.message} (in the notation and piano roll only; the WAV plays the file as it is)",
                          w.category, stacklevel=3)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return piece


def _preflight(paths: list[Path], force: bool, sheet_png: bool) -> None:
    """Refuse existing outputs and a missing MuseScore before anything is written."""
    for p in paths:
        check_writable(p, force)
    if sheet_png:
        from melodygan.formats.musicxml import MUSESCORE_HINT, find_musescore

        if find_musescore() is None:
            raise MelodyganError(MUSESCORE_HINT)
