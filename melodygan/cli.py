"""The command line: a thin argparse layer over the library.

``main(argv) -> int``; one short function per subcommand that calls one library function.
User errors (:class:`~melodygan.errors.MelodyganError`, unreadable files) print one line and
return 2; nothing is written half-way.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from melodygan import __version__
from melodygan.errors import MelodyganError

if TYPE_CHECKING:
    from melodygan.piece import Piece


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors print one line and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"melodygan: error: {message} (see `{self.prog} --help`)\n")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows a flag's default once: not where the help text already says it ("(default: ..."),
    nor for defaults that mean "not given" (None, False, an empty list). Descriptions and epilogs
    are wrapped by paragraph, but lines that start with spaces (the examples) are kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        unset = action.default is None or action.default is False or action.default == [] \
            or action.default is argparse.SUPPRESS  # `is`: a default of 0 is a real default
        if "(default" in text or "%(default)" in text or unset:
            return text
        return super()._get_help_string(action)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        out: list[str] = []
        paragraph: list[str] = []
        for line in [*text.splitlines(), ""]:
            if line.strip() and not line.startswith(" "):
                paragraph.append(line.strip())
                continue
            if paragraph:
                out.append(super()._fill_text(" ".join(paragraph), width, indent))
                paragraph = []
            if line.strip():
                out.append(indent + line)
        return "\n".join(out)


# Each subcommand: `_add_<name>(sub)` declares its flags, `_run_<name>(args)` calls one library
# function. Flags carry help= text; defaults show in --help (once); `epilog=` holds examples.
_FMT = _HelpFormatter


# --- preprocess -------------------------------------------------------------------------------
def _add_preprocess(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("preprocess", help="turn corpora into cached arrays + meta.json", formatter_class=_FMT,
                       epilog="examples:\n"
                              "  melodygan preprocess nottingham:data/nottingham --out cache/nottingham\n"
                              "  melodygan preprocess music21:bach --out cache/bach --label-per bar\n"
                              "  melodygan preprocess midi:songs/ musicxml:scores/ --out cache/mine --workers 2")
    p.add_argument("sources", nargs="+", metavar="SOURCE",
                   help="music21:bach, music21:folk, nottingham:DIR, jsb:FILE, midi:DIR or musicxml:DIR")
    p.add_argument("--out", required=True,
                   help="output folder (shards/ of arrays per split, manifest.json, meta.json, cache/); the same "
                        "command on a folder a stopped run left resumes it")
    p.add_argument("--workers", type=int, default=0, help="worker processes; 0 = every CPU core")
    p.add_argument("--shard-size", type=int, default=1000,
                   help="input files per shard (written as soon as it is read; memory holds one)")
    p.add_argument("--label-per", choices=("beat", "bar"), default="beat",
                   help="chord-labelling window for sources without chord symbols")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run_preprocess)


def _run_preprocess(args: argparse.Namespace) -> int:
    from melodygan.corpora.preprocess import PreprocessConfig, preprocess

    meta = preprocess(args.sources, args.out, workers=args.workers,
                      config=PreprocessConfig(label_per=args.label_per), progress=not args.quiet,
                      shard_size=args.shard_size)
    c = meta["counts"]
    print(f"{args.out}: {c['train']} train / {c['valid']} valid / {c['test']} test pieces; "
          f"{len(meta['skipped'])} inputs skipped (reasons in meta.json); "
          f"{meta['files']['reused_from_cache']}/{meta['files']['total']} files reused from cache")
    for source, n in meta["per_source"].items():
        print(f"  {source}: {n.get('pieces', 0)} pieces, {n.get('with_chords', 0)} with chords, "
              f"{n.get('skipped', 0)} skipped")
    return 0


# --- render -----------------------------------------------------------------------------------
def _add_render(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("render", help="render a MIDI file to WAV / PNG / MusicXML", formatter_class=_FMT,
                       description="Render any MIDI file. Outputs go beside the input with the same stem "
                                   "(song.mid -> song.wav, song.png, song.musicxml) unless --out says otherwise; "
                                   "an existing output is never replaced without --force.",
                       epilog="examples:\n"
                              "  melodygan render song.mid --wav --png --musicxml\n"
                              "  melodygan render song.mid --wav --stems --out renders/\n"
                              "  melodygan render piano.mid --musicxml --melody-track \"Right hand\" --force")
    p.add_argument("midi", metavar="FILE.mid", help="the MIDI file to render")
    p.add_argument("--wav", action="store_true", help="render a WAV with FluidSynth and a General MIDI soundfont")
    p.add_argument("--png", action="store_true", help="draw a piano-roll PNG")
    p.add_argument("--musicxml", action="store_true", help="write a MusicXML lead sheet or score")
    p.add_argument("--sheet-png", action="store_true", help="engrave the MusicXML to <stem>-sheet.png (MuseScore 3)")
    p.add_argument("--soundfont", metavar="SF2", default=None,
                   help="soundfont for --wav; None means TimGM6mb.sf2, shipped with pretty_midi")
    p.add_argument("--sample-rate", type=int, default=44100, help="WAV sample rate in Hz")
    p.add_argument("--bit-depth", type=int, choices=(16, 24), default=16, help="WAV sample size in bits")
    p.add_argument("--layout", choices=("auto", "lead-sheet", "score"), default="auto",
                   help="MusicXML layout: melody + chord symbols, or one part per track")
    p.add_argument("--melody-track", default=None, metavar="NUMBER|NAME", help=_MELODY_TRACK_HELP)
    p.add_argument("--out", default=None, metavar="DIR", help="folder for the outputs (default: beside the input)")
    p.add_argument("--force", action="store_true", help="replace existing output files")
    _add_daw_flags(p, humanize=False)
    p.set_defaults(func=_run_render)


def _run_render(args: argparse.Namespace) -> int:
    from melodygan import progress
    from melodygan.formats.export import render_file

    _check_daw_flags(args)
    track = args.melody_track
    if track is not None and track.lstrip("-").isdigit():
        track = int(track)
    progress.stage("rendering")
    written = render_file(args.midi, wav=args.wav, png=args.png, musicxml=args.musicxml,
                          sheet_png=args.sheet_png, soundfont=args.soundfont, out_dir=args.out, force=args.force,
                          melody_track=track, sample_rate=args.sample_rate, bit_depth=args.bit_depth,
                          layout=args.layout, **_daw_options(args))  # type: ignore[arg-type]
    for path in written:
        print(path)
    return 0


# --- DAW export flags, shared by generate, harmonize, infill, vary and render -----------------
def _loudness(text: str) -> float | None:
    """``--loudness``: LUFS in range, or ``peak`` (peak normalisation); refused at parse time."""
    from melodygan.formats.loudness import check_loudness

    if text.strip().lower() == "peak":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a loudness in LUFS (e.g. -16) or 'peak'") from None
    try:
        check_loudness(value)
    except MelodyganError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return value


def _unit_amount(text: str) -> float:
    """A number in 0..1 (``--humanize``), refused at parse time otherwise."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number in 0..1") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value:g} is outside 0..1")
    return value


def _add_daw_flags(p: argparse.ArgumentParser, humanize: bool = True) -> None:
    """The flags that shape files for a DAW, and --quiet; every command that writes WAV/MIDI takes them."""
    from melodygan.formats.loudness import DEFAULT_LOUDNESS_LUFS

    p.add_argument("--stems", action="store_true", help="with --wav, also one WAV per track (<stem>-<track>.wav), "
                                                          "all as long as the mix and adding up to it")
    p.add_argument("--loop", action="store_true",
                   help="with --wav: the WAV and stems exactly the clip's bars long, to the sample; the release "
                        "tail is folded onto the start so the clip loops seamlessly")
    p.add_argument("--loudness", type=_loudness, default=argparse.SUPPRESS, metavar="LUFS",
                   help=f"with --wav: integrated loudness of the WAV (default {DEFAULT_LOUDNESS_LUFS:g}), e.g. -16; "
                        "never clipped: the peak stays at or under -1 dBFS (a warning says when that keeps it "
                        "quieter); 'peak': peak at -1 dBFS instead")
    p.add_argument("--split-tracks", action="store_true",
                   help="also one MIDI file per part (<stem>-<part>.mid), each with the tempo, meter and key")
    if humanize:
        p.add_argument("--humanize", type=_unit_amount, default=0.0, metavar="0..1",
                       help="play it like a person: timing and velocity deviations by beat and instrument, "
                            "seeded by --seed, in the MIDI and WAV (0: on the grid)")
    p.add_argument("--quiet", action="store_true", help="no progress line on stderr (none either when stderr "
                                                          "is not a terminal)")
    p.set_defaults(progress=True)


def _check_daw_flags(args: argparse.Namespace) -> None:
    """Refuse WAV-only flags without --wav, before any file is read or model run."""
    wav_only = [flag for flag, on in (("--stems", args.stems), ("--loop", args.loop),
                                      ("--loudness", hasattr(args, "loudness"))) if on]
    if wav_only and not args.wav:
        raise MelodyganError(f"{' and '.join(wav_only)} shape the WAV; add --wav")


def _daw_options(args: argparse.Namespace, index: int = 0) -> dict[str, object]:
    """The DAW flags as :func:`melodygan.formats.export.export_piece` arguments (clip ``index`` of
    a batch humanized with its own seed)."""
    from melodygan.formats.loudness import DEFAULT_LOUDNESS_LUFS

    options: dict[str, object] = {"stems": args.stems, "loop": args.loop, "split_tracks": args.split_tracks,
                                  "loudness_lufs": getattr(args, "loudness", DEFAULT_LOUDNESS_LUFS)}
    if getattr(args, "humanize", 0.0):
        options.update(humanize=args.humanize, seed=args.seed + index)
    return options


# --- generate ---------------------------------------------------------------------------------
def _add_output_flags(p: argparse.ArgumentParser) -> None:
    from melodygan.engines.arrange import BASS_STYLES, STYLES

    p.add_argument("--accompaniment", default=None, choices=(*STYLES, "none"), metavar="STYLE",
                   help=f"chord-track pattern: {', '.join(STYLES)}, or none (default: block; none for chorales)")
    p.add_argument("--bass", default="root", choices=BASS_STYLES, help="bass pattern")
    p.add_argument("--wav", action="store_true", help="also render a WAV with FluidSynth")
    p.add_argument("--png", action="store_true", help="also draw a piano-roll PNG")
    p.add_argument("--musicxml", action="store_true", help="also write a MusicXML lead sheet")
    p.add_argument("--force", action="store_true", help="replace existing output files")
    _add_daw_flags(p)


def _add_sampling_flags(p: argparse.ArgumentParser, temperature: float = 1.0) -> None:
    p.add_argument("--seed", type=int, default=1, help="random seed: the same seed gives the same files")
    p.add_argument("--temperature", type=float, default=temperature, help="sampling temperature (0 = greedy)")
    p.add_argument("--checkpoint", default=None, metavar="DIR",
                   help="model checkpoint folder (default: the shipped weights)")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: CUDA when available)")
    _add_threads_flag(p)
    _add_output_flags(p)


def _add_threads_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads for the model (default: $MELODYGAN_THREADS, else 1: faster for these small "
                        "models, above all on a busy machine; the GAN's one batched pass: one per core)")


_MELODY_TRACK_HELP = ("the melody's track: MIDI, its number counted from 0 as mido does (track 0 of most files is "
                      "the tempo track, so the first instrument is track 1, as DAWs show it) or its name; MusicXML, "
                      "the part's index from 0 or name (default: scored by name, GM program, monophony, register and "
                      "density; the choice and its reason are printed)")


def _add_generate(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("generate", help="generate lead-sheet clips (melody + chords)", formatter_class=_FMT,
                       epilog="examples:\n"
                              "  melodygan generate --out clips/ --num 4 --wav\n"
                              "  melodygan generate --out jazz/ --chords \"Dm7 G7 Cmaj7 A7\" --bars 8   "
                              "# in C, from the chords\n"
                              "  melodygan generate --out waltz/ --meter 3/4 --key D --accompaniment waltz --musicxml\n"
                              "  melodygan generate --out more/ --primer tune.mid --bars 8")
    p.add_argument("--engine", default="ar", choices=("ar", "gan", "hybrid"),
                   help="ar: transformer; gan: GAN melody over --chords (or the transformer's); hybrid: "
                        "transformer chords, GAN melody")
    p.add_argument("--bars", type=int, default=8, help="bars per clip")
    p.add_argument("--key", default=None, help="key, e.g. G, Em, Bb (default: drawn from the training tunes' keys)")
    p.add_argument("--meter", default="4/4", help="time signature: 4/4, 3/4, 2/4, 6/8, 9/8, 12/8, ...")
    p.add_argument("--tempo", type=float, default=110.0, help="tempo in quarter notes per minute")
    p.add_argument("--num", type=int, default=1, help="number of clips")
    p.add_argument("--chords", default=None, help='chord progression, one chord per bar, repeated: "C G Am F" '
                                                   '("C G | Am F" puts two chords in a bar)')
    p.add_argument("--primer", default=None, metavar="FILE", help="a melody (MIDI/MusicXML/ABC) to continue")
    p.add_argument("--genre", default=None, choices=("folk", "pop"),
                   help="style of melody, chords and harmonic rhythm (default: guessed from --primer, else folk)")
    p.add_argument("--candidates", type=int, default=1,
                   help="transformer: samples per 4-bar segment, the most likely kept (1: plain sampling)")
    p.add_argument("--ending", default="full", choices=("full", "open"),
                   help="full: each clip is a whole tune, ending on a final cadence; open: the opening of a longer "
                        "tune, ending where a strain does (loops and continues well)")
    p.add_argument("--top-k", type=int, default=None, help="sample from the k likeliest tokens only")
    p.add_argument("--top-p", type=float, default=None, help="nucleus sampling: smallest set with this probability")
    _add_sampling_flags(p)
    p.add_argument("--out", required=True, metavar="DIR", help="folder for clip-001.mid, clip-002.mid, ...")
    p.set_defaults(func=_run_generate)


def _parse_meter(text: str) -> tuple[int, int]:
    try:
        num, den = (int(x) for x in text.split("/"))
    except ValueError:
        raise MelodyganError(f"meter {text!r} is not N/D, e.g. 4/4, 3/4, 6/8") from None
    return num, den


def _arranged(piece: Piece, args: argparse.Namespace) -> Piece:
    from melodygan.engines.arrange import arrange

    style = args.accompaniment or "block"
    if style != "none":
        piece = arrange(piece, style=style, bass=args.bass)
    return piece


def _export(piece: Piece, path: Path, args: argparse.Namespace, index: int = 0) -> list[Path]:
    from melodygan.formats.export import export_piece

    return export_piece(piece, path, wav=args.wav, png=args.png, musicxml=args.musicxml, force=args.force,
                        **_daw_options(args, index), **_base_of(args))  # type: ignore[arg-type]


def _base_of(args: argparse.Namespace) -> dict[str, object]:
    """harmonize's input MIDI file, whose tempo map (and tracks) the output keeps."""
    base = getattr(args, "base_midi", None)
    return {"base_midi": base, "keep_tracks": not args.melody_only} if base is not None else {}


def _outputs_of(path: Path, args: argparse.Namespace, piece: Piece | None = None) -> list[str]:
    """The file names :func:`_export` writes for one (arranged) piece at ``path``; before the piece
    exists, those that can be told (the parts of a generated clip: Melody, Chords, Bass)."""
    if piece is not None:
        from melodygan.formats.export import export_paths

        return [p.name for p in export_paths(piece, path, wav=args.wav, png=args.png, musicxml=args.musicxml,
                                             stems=args.stems, split_tracks=args.split_tracks,
                                             **_base_of(args))]  # type: ignore[arg-type]
    names = [path.name]
    names += [path.with_suffix(s).name for s, on in ((".wav", args.wav), (".musicxml", args.musicxml),
                                                     (".png", args.png)) if on]
    if args.command == "generate" and (args.split_tracks or (args.wav and args.stems)):
        from melodygan.formats.audio import stem_path
        from melodygan.formats.parts import part_path

        parts = ["Melody"] + (["Chords"] if (args.accompaniment or "block") != "none" else [])
        parts += ["Bass"] if (args.accompaniment or "block") != "none" and args.bass != "none" else []
        names += [part_path(path, n).name for n in parts if args.split_tracks]
        names += [stem_path(path, n).name for n in parts if args.wav and args.stems]
    return names


def _export_batch(pieces: list[Piece], paths: list[Path], args: argparse.Namespace,
                  arrange: bool = True) -> list[list[Path]]:
    """Arrange (unless done) and export every piece, all-or-nothing: every output name is checked
    before any work and the files appear only when the whole batch is written
    (:func:`melodygan.files.staged_outputs`)."""
    from melodygan import progress
    from melodygan.files import staged_outputs

    ready = [_arranged(p, args) for p in pieces] if arrange else list(pieces)
    if not (args.wav or args.png or args.musicxml or args.split_tracks) and getattr(args, "base_midi", None) is None:
        # MIDI only: what export_piece writes for each piece (accents, humanized with the clip's own
        # seed), encoded together and written in one go
        from melodygan.formats.midi import write_midi_batch
        from melodygan.performance import humanize
        from melodygan.piece import add_dynamics

        amount = getattr(args, "humanize", 0.0)
        played = [add_dynamics(p) for p in ready]
        if amount:
            played = [humanize(p, amount, args.seed + i) for i, p in enumerate(played)]
        progress.stage("writing", total=len(paths))
        written_midi = write_midi_batch(played, list(paths), force=args.force)
        progress.advance(len(paths))
        return [[p] for p in written_midi]
    folder = paths[0].parent
    names = [n for piece, p in zip(ready, paths) for n in _outputs_of(p, args, piece)]
    written: list[list[Path]] = []
    progress.stage("writing", total=len(paths))
    with staged_outputs(folder, names, force=args.force) as stage:
        for i, (piece, path) in enumerate(zip(ready, paths)):
            progress.detail(path.name)
            written.append([folder / w.name for w in _export(piece, stage / path.name, args, i)])
            progress.advance()
    return written


def _check_batch(paths: list[Path], args: argparse.Namespace) -> None:
    """Refuse a batch whose outputs exist (without --force) before the pieces are made."""
    from melodygan.files import check_folder, check_writable

    if paths:
        check_folder(paths[0].parent)
    for path in paths:
        for name in _outputs_of(path, args):
            taken = path.parent / name
            if taken.exists() and not args.force:
                raise MelodyganError(f"{taken} exists; use --force to replace it or choose another --out")
            check_writable(taken, args.force)


def _run_generate(args: argparse.Namespace) -> int:
    from melodygan import progress
    from melodygan.engines.generate import generate

    _check_daw_flags(args)
    out = Path(args.out)
    paths = [out / f"clip-{i + 1:03d}.mid" for i in range(max(args.num, 0))]
    _check_batch(paths, args)
    progress.stage(f"sampling {args.num} clip{'s' if args.num != 1 else ''} ({args.engine})")
    pieces = generate(args.engine, num=args.num, bars=args.bars, key=args.key, time_signature=_parse_meter(args.meter),
                      tempo_bpm=args.tempo, seed=args.seed, chords=args.chords, primer=args.primer,
                      temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                      checkpoint=args.checkpoint, device=args.device, genre=args.genre,
                      candidates=args.candidates, threads=args.threads, ending=args.ending)
    if paths:
        for files in _export_batch(list(pieces), paths, args):
            for written in files:
                print(written)
    return 0


# --- infill / vary ----------------------------------------------------------------------------
def _add_edit_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--genre", default=None, choices=("folk", "pop"), help="style (default: guessed from the clip)")
    p.add_argument("--seed", type=int, default=1, help="random seed: the same seed gives the same files")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature")
    p.add_argument("--checkpoint", default=None, metavar="DIR",
                   help="transformer checkpoint folder (default: the shipped weights)")
    _add_threads_flag(p)
    p.add_argument("--wav", action="store_true", help="also render a WAV with FluidSynth")
    p.add_argument("--png", action="store_true", help="also draw a piano-roll PNG")
    p.add_argument("--musicxml", action="store_true", help="also write a MusicXML lead sheet")
    p.add_argument("--force", action="store_true", help="replace existing output files")
    _add_daw_flags(p)
    p.add_argument("--out", default=None, metavar="PATH",
                   help="output .mid, or a folder (default: beside FILE, named after it)")


def _add_infill(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("infill", help="regenerate some bars of a clip, keeping everything else", formatter_class=_FMT,
                       epilog="examples:\n  melodygan infill clip-001.mid --bars 5-6\n"
                              "  melodygan infill song.mid --bars 3-4 --part chords --accompaniment block --num 3")
    p.add_argument("file", metavar="FILE", help="a lead sheet: MIDI, MusicXML or ABC with melody and chords")
    p.add_argument("--bars", required=True, help="bars to regenerate: 5-6, or 3 (1 = the first full bar, 0 = pickup)")
    p.add_argument("--part", default="melody", choices=("melody", "chords", "both"),
                   help="what is new in those bars: the melody (over the kept chords), the chords, or both")
    p.add_argument("--num", type=int, default=1, help="versions, most fitting first (-1.mid, -2.mid, ...)")
    p.add_argument("--accompaniment", default="keep", choices=("keep", *_arrangement_styles()), metavar="STYLE",
                   help="keep: the file's other tracks as they are (silent in the bars when their chords change); "
                        "or a style (block, arpeggio, ...) to re-arrange the new bars")
    _add_edit_flags(p)
    p.set_defaults(func=_run_infill)


def _add_vary(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("vary", help="variations of a clip: same chords, new melody (or same melody, new chords)",
                       formatter_class=_FMT,
                       epilog="examples:\n  melodygan vary clip-001.mid --num 4\n"
                              "  melodygan vary clip-001.mid --amount 0.5          # new answering bars only\n"
                              "  melodygan vary my_tune.mid --keep melody --num 3  # re-harmonized")
    p.add_argument("file", metavar="FILE", help="a lead sheet: MIDI, MusicXML or ABC")
    p.add_argument("--num", type=int, default=1, help="variations (-var-1.mid, -var-2.mid, ...)")
    p.add_argument("--keep", default="chords", choices=("chords", "melody"),
                   help="chords: a new melody over them; melody: new chords under it (the harmonizer)")
    p.add_argument("--amount", type=float, default=1.0,
                   help="--keep chords: share of bars with a new melody (answering bars first), 0..1")
    p.add_argument("--accompaniment", default="keep", choices=("keep", *_arrangement_styles()), metavar="STYLE",
                   help="keep: the file's other tracks (with --keep melody: block); or a style to re-arrange")
    _add_edit_flags(p)
    p.set_defaults(func=_run_vary)


def _arrangement_styles() -> tuple[str, ...]:
    from melodygan.engines.arrange import STYLES

    return STYLES


def _edit_paths(args: argparse.Namespace, suffix: str, num: int) -> list[Path]:
    """Outputs of a command that rewrites FILE: ``--out`` (a .mid, or a folder) or FILE's stem +
    ``-suffix.mid`` beside it; ``-1.mid``, ``-2.mid`` … for several; refused when taken (no --force)."""
    src = Path(args.file)
    if args.out is not None and args.out.lower().endswith((".mid", ".midi")):
        path = Path(args.out)
    else:
        path = (Path(args.out) if args.out else src.parent) / f"{src.stem}-{suffix}.mid"
    paths = [path] if num == 1 else [path.with_name(f"{path.stem}-{i + 1}{path.suffix}") for i in range(num)]
    _check_batch(paths, args)
    return paths


def _read_clip(args: argparse.Namespace, check: Callable[[Piece], None] | None = None) -> tuple[Piece, str]:
    """FILE as a Piece and its genre; ``check`` refuses what cannot be done with it before the
    genre classifier (or any model) runs."""
    from melodygan import progress
    from melodygan.devices import sampling_threads
    from melodygan.engines.harmonize import guess_genre, load_harmonizer
    from melodygan.formats.readers import read_score

    sampling_threads(args.threads)
    progress.stage(f"reading {Path(args.file).name}")
    piece = read_score(args.file)
    if not piece.melody and not piece.chords:
        raise MelodyganError(f"{args.file} has neither melody notes nor chord symbols")
    if check is not None:
        check(piece)
    genre = args.genre or guess_genre(piece, load_harmonizer()[1])
    return piece, genre


def _write_edits(pieces: list[Piece], paths: list[Path], original: Piece, args: argparse.Namespace,
                 gaps: list[tuple[int, int]] | None) -> None:
    """Arrange the edited pieces as asked (``keep``: the file's own tracks; a style: new
    accompaniment, inside ``gaps`` only when given), then export them as one batch, as generate does."""
    from melodygan.engines.arrange import arrange
    from melodygan.engines.infill import keep_voices_outside

    ready = []
    for piece in pieces:
        if args.accompaniment != "keep":
            arranged = arrange(piece.replace(voices={}), style=args.accompaniment)
            piece = arranged if gaps is None else keep_voices_outside(original, arranged, gaps)
        ready.append(piece)
    for files in _export_batch(list(ready), paths, args, arrange=False):  # arranged above
        for written in files:
            print(written)


def _run_infill(args: argparse.Namespace) -> int:
    from melodygan import progress
    from melodygan.engines.infill import check_infill, infill, parse_bars

    _check_daw_flags(args)
    bars = parse_bars(args.bars)
    if not 1 <= args.num <= 16:
        raise MelodyganError(f"--num {args.num} must be 1..16")
    paths = _edit_paths(args, "infill", args.num)
    piece, genre = _read_clip(args, lambda p: check_infill(p, bars, args.part, num=args.num))
    progress.stage(f"regenerating bars {args.bars}")
    pieces = infill(piece, bars, args.part, num=args.num, seed=args.seed, checkpoint=args.checkpoint,
                    genre=genre, temperature=args.temperature, threads=args.threads)
    _write_edits(pieces, paths, piece, args, [bars])
    return 0


def _run_vary(args: argparse.Namespace) -> int:
    from melodygan import progress
    from melodygan.engines.infill import vary, vary_gaps

    _check_daw_flags(args)
    if not 1 <= args.num <= 16:
        raise MelodyganError(f"--num {args.num} must be 1..16")
    if not 0 < args.amount <= 1:
        raise MelodyganError(f"--amount {args.amount:g} must be in (0, 1]")
    paths = _edit_paths(args, "var", args.num)
    piece, genre = _read_clip(args)
    progress.stage(f"sampling {args.num} variation{'s' if args.num != 1 else ''}")
    if args.keep == "melody":
        from melodygan.engines.harmonize import harmonize

        result = harmonize(piece, genre=genre, num=args.num, seed=args.seed, threads=args.threads)
        pieces = result if isinstance(result, list) else [result]
        if args.accompaniment == "keep":
            args.accompaniment = "block"  # the old accompaniment belongs to the old chords
        _write_edits(pieces, paths, piece, args, None)
        return 0
    gaps = vary_gaps(piece.num_bars, args.amount)
    pieces = vary(piece, num=args.num, seed=args.seed, amount=args.amount, checkpoint=args.checkpoint,
                  genre=genre, temperature=args.temperature, threads=args.threads)
    _write_edits(pieces, paths, piece, args, gaps)
    return 0


# --- harmonize --------------------------------------------------------------------------------
def _add_harmonize(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("harmonize", help="add chords (and accompaniment) to your melody", formatter_class=_FMT,
                       epilog="examples:\n"
                              "  melodygan harmonize tune.mid --wav\n"
                              "  melodygan harmonize song.mid --melody-track 2 --genre pop --num 3\n"
                              "  melodygan harmonize reel.abc --key D --chord-rate bar --fix \"1:D,8:A7\"\n"
                              "  melodygan harmonize hummed.wav --tempo 96 --musicxml")
    p.add_argument("file", metavar="FILE",
                   help="your melody: MIDI, MusicXML/.mxl, ABC, kern, or a WAV/FLAC/MP3/OGG recording")
    p.add_argument("--melody-track", default=None, metavar="NUMBER|NAME", help=_MELODY_TRACK_HELP)
    p.add_argument("--key", default=None,
                   help="key, e.g. F, Em (default: estimated from the notes, the file's key signature as evidence)")
    p.add_argument("--genre", default=None, choices=("folk", "pop"),
                   help="harmonic language (default: pop for syncopated melodies, else folk)")
    p.add_argument("--chord-rate", default="auto", choices=("auto", "beat", "half-bar", "bar"),
                   help="where chords may change (auto: learned, mostly per bar or half bar)")
    p.add_argument("--fix", default=None, metavar="BAR:CHORD,...",
                   help='chords to keep exactly, e.g. "3:G7,5:Em" (bars from 1; the pickup is bar 0)')
    p.add_argument("--num", type=int, default=1, help="distinct harmonizations, best first (-1.mid, -2.mid, ...)")
    p.add_argument("--style", default="leadsheet", choices=("leadsheet", "chorale"),
                   help="leadsheet: chord symbols (with an accompaniment); chorale: alto, tenor and bass in Bach's "
                        "manner under your melody as soprano (four named tracks; --musicxml writes the score)")
    p.add_argument("--tempo", type=float, default=None,
                   help="recordings only: the performance's tempo in quarter notes per minute (default: estimated)")
    p.add_argument("--seed", type=int, default=1, help="seed of the alternatives (--num > 1)")
    p.add_argument("--temperature", type=float, default=None,
                   help="spread of the alternatives (chorale: sampling temperature of the voices; default 1)")
    p.add_argument("--checkpoint", default=None, metavar="DIR",
                   help="harmonizer (or chorale voicer) checkpoint folder (default: the shipped weights)")
    _add_threads_flag(p)
    _add_output_flags(p)
    p.add_argument("--melody-only", action="store_true",
                   help="MIDI input: write the melody (on the grid) and the new parts only; by default every "
                        "track of the input is kept as it was and the new ones are added (the tempo map, "
                        "every tempo change, is kept either way; --style chorale always writes its four voices)")
    p.add_argument("--out", default=None, metavar="PATH",
                   help="output .mid, or a folder (default: FILE's stem + -harmonized.mid beside it)")
    p.set_defaults(func=_run_harmonize)


def _run_harmonize(args: argparse.Namespace) -> int:
    from melodygan import progress
    from melodygan.devices import sampling_threads
    from melodygan.engines.harmonize import harmonize, parse_fix
    from melodygan.formats.readers import read_score

    src = Path(args.file)
    _check_daw_flags(args)
    if not 1 <= args.num <= 32:
        raise MelodyganError(f"--num {args.num} must be 1..32")
    paths = _edit_paths(args, "harmonized", args.num)
    path = paths[0]
    parse_fix(args.fix)  # a bad --fix or --threads is refused before any reading or writing
    sampling_threads(args.threads)
    if args.style == "chorale":
        for flag, value, default in (("--genre", args.genre, None), ("--chord-rate", args.chord_rate, "auto"),
                                     ("--fix", args.fix, None)):
            if value != default:
                raise MelodyganError(f"{flag} does not apply to --style chorale (its chords follow from the voices)")
        if args.accompaniment is None:
            args.accompaniment = "none"  # the three voices are the accompaniment
        args.melody_only = True  # a chorale is its four voices (under the input's tempo map)
    if args.key is not None:
        from melodygan.keys import to_key

        to_key(args.key)  # a bad --key too
    track = args.melody_track
    if track is not None and track.lstrip("-").isdigit():
        track = int(track)
    progress.stage(f"reading {src.name}")
    melody = read_score(src, track, tempo_bpm=args.tempo)
    if src.suffix.lower() in (".mid", ".midi"):
        args.base_midi = src  # the output keeps its tempo map (and, unless --melody-only, its tracks)
    if src.suffix.lower() in (".wav", ".flac", ".mp3", ".ogg"):
        from melodygan.formats.midi import write_midi

        transcription = path.with_name(f"{src.stem}-transcription.mid")
        write_midi(melody, transcription, force=args.force)
        print(transcription)
    progress.stage("harmonizing")
    result = harmonize(melody, key=args.key, genre=args.genre, chord_rate=args.chord_rate, fix=args.fix,
                       num=args.num, seed=args.seed, style=args.style, checkpoint=args.checkpoint, threads=args.threads,
                       temperature=args.temperature)
    pieces = result if isinstance(result, list) else [result]
    print(f"key: {pieces[0].key.name}")
    for piece, files in zip(pieces, _export_batch(list(pieces), paths, args)):
        for written in files:
            print(written)
        print("chords: " + " ".join(c.symbol(key=piece.key) for c in piece.chords))
    return 0


# --- tokens -----------------------------------------------------------------------------------
def _add_tokens(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("tokens", help="print the transformer's token vocabulary", formatter_class=_FMT)
    p.set_defaults(func=_run_tokens)


def _run_tokens(args: argparse.Namespace) -> int:
    from melodygan.tokens import describe

    print(describe())
    return 0


# --- train ------------------------------------------------------------------------------------
def _add_train(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("train", help="train a model", formatter_class=_FMT,
                       epilog="examples:\n"
                              "  melodygan train ar --data cache/folk --pop cache/pop909 --out runs/ar --size small\n"
                              "  melodygan train ar --data cache/nottingham --out runs/ar --resume --steps 4000\n"
                              "  melodygan train gan --data cache/nottingham --out runs/gan\n"
                              "  melodygan train harmonizer --folk cache/nottingham --pop cache/pop909 --out runs/harm")
    models = p.add_subparsers(dest="model", metavar="MODEL", parser_class=_Parser)
    models.required = True
    _add_train_ar(models)
    _add_train_gan(models)
    _add_train_harmonizer(models)
    _add_train_chorale(models)


def _add_train_ar(models: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = models.add_parser("ar", help="train the autoregressive transformer", formatter_class=_FMT,
                          epilog="examples:\n"
                                 "  melodygan train ar --data cache/folk --out runs/ar --size small --steps 2000\n"
                                 "  melodygan train ar --data cache/nottingham --out runs/ar --resume --steps 4000")
    p.add_argument("--data", default=None, metavar="DIR",
                   help="folk corpus: a folder written by `melodygan preprocess` (train/valid splits), e.g. Nottingham")
    p.add_argument("--pop", default=None, metavar="DIR", help="pop corpus: a preprocessed folder, e.g. of POP909")
    p.add_argument("--harmonize-fraction", type=float, default=0.25,
                   help="share of training windows in harmonize order (the rest: lead-sheet order)")
    p.add_argument("--opening-fraction", type=float, default=0.2,
                   help="share of training windows that start at a tune's first bar")
    p.add_argument("--downbeat-fraction", type=float, default=0.5,
                   help="share of the openings of tunes with a pickup shown from bar 1 instead")
    p.add_argument("--init-from", default=None, metavar="DIR",
                   help="start from these weights (a run or weights folder of the same size) instead of at random")
    p.add_argument("--out", required=True, metavar="RUN", help="run folder: checkpoint, best/, resume.pt, "
                                                             "metrics.jsonl, loss.png")
    p.add_argument("--size", default="base", choices=("tiny", "small", "base", "gpu"), help="model size preset")
    p.add_argument("--steps", type=int, default=None,
                   help="optimizer steps (default 1100; with --resume: the run's own, or N to extend it to N)")
    p.add_argument("--batch-size", type=int, default=16, help="global batch (split across processes)")
    p.add_argument("--window", type=int, default=256, help="tokens per training window")
    p.add_argument("--lr", type=float, default=3e-3, help="peak learning rate")
    p.add_argument("--warmup", type=int, default=100, help="warm-up steps")
    p.add_argument("--augment", type=int, default=0, help="random transposition of +-N semitones at load time")
    p.add_argument("--no-normalize-key", action="store_true", help="keep tunes in their keys (use with --augment 6)")
    p.add_argument("--eval-every", type=int, default=100, help="steps between validation + checkpoint")
    p.add_argument("--max-minutes", type=float, default=None, help="stop (with a checkpoint) after this long")
    p.add_argument("--seed", type=int, default=1, help="random seed")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--bf16", default="auto", choices=("auto", "on", "off"),
                   help="bf16 autocast (auto: on CUDA only; slower on CPUs without AVX-512 bf16)")
    p.add_argument("--device", default=None, help="cpu, cuda (default: CUDA when available)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--force", action="store_true", help="start afresh in an --out that holds a run (replaces it)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run_train_ar)


def _run_train_ar(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    import torch

    from melodygan.corpora.preprocess import load_pieces
    from melodygan.models.transformer import TransformerConfig
    from melodygan.training.ar import TrainConfig, load_run_config, train

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.resume and (Path(args.out) / "config.json").is_file():
        config, model_config = load_run_config(args.out)
        if args.steps is not None:  # extend (or shorten) the run
            config = dataclasses.replace(config, steps=args.steps)
    else:
        config = TrainConfig(steps=args.steps or TrainConfig.steps, batch_size=args.batch_size,
                             window_tokens=args.window, lr=args.lr,
                             warmup_steps=args.warmup, normalize_key=not args.no_normalize_key,
                             augment_semitones=args.augment, eval_every=args.eval_every, seed=args.seed,
                             harmonize_fraction=args.harmonize_fraction, opening_fraction=args.opening_fraction,
                             downbeat_fraction=args.downbeat_fraction, init_from=args.init_from,
                             compile=args.compile, bf16={"auto": None, "on": True, "off": False}[args.bf16],
                             max_minutes=args.max_minutes)
        model_config = getattr(TransformerConfig, args.size)()
    folders = {g: d for g, d in (("folk", args.data), ("pop", args.pop)) if d}
    if not folders:
        raise MelodyganError("give --data DIR (folk) and/or --pop DIR (folders written by `melodygan preprocess`)")
    result = train({g: load_pieces(d, "train") for g, d in folders.items()},
                   {g: load_pieces(d, "valid") for g, d in folders.items()}, args.out, config, model_config,
                   resume=args.resume, device=args.device, progress=not args.quiet, force=args.force)
    print(json.dumps(result))
    return 0


def _add_train_harmonizer(models: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = models.add_parser("harmonizer", help="train the whole-melody chord harmonizer", formatter_class=_FMT,
                          epilog="examples:\n"
                                 "  melodygan train harmonizer --folk cache/folk --pop cache/pop909 --out runs/harm\n"
                                 "  melodygan train harmonizer --folk cache/folk --out runs/harm --epochs 2")
    p.add_argument("--folk", default=None, metavar="DIR",
                   help="preprocessed folk corpus with chords (e.g. `melodygan preprocess nottingham:...`)")
    p.add_argument("--pop", default=None, metavar="DIR",
                   help="preprocessed pop corpus with chords (e.g. `melodygan preprocess pop909:...`)")
    p.add_argument("--out", required=True, metavar="RUN", help="run folder: best/, resume.pt, metrics.jsonl")
    p.add_argument("--epochs", type=int, default=18, help="passes over the training songs")
    p.add_argument("--max-minutes", type=float, default=150.0, help="stop (with a checkpoint) after this long")
    p.add_argument("--size", default="small", choices=("tiny", "small"), help="model size preset")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--force", action="store_true", help="start afresh in an --out that holds a run (replaces it)")
    p.set_defaults(func=_run_train_harmonizer)


def _run_train_harmonizer(args: argparse.Namespace) -> int:
    import torch

    from melodygan.corpora.preprocess import load_pieces
    from melodygan.models.harmonizer import HarmonizerConfig
    from melodygan.training.harmonizer import HarmonizerTrainConfig, train_harmonizer

    folders = {g: d for g, d in (("folk", args.folk), ("pop", args.pop)) if d}
    if not folders:
        raise MelodyganError("give --folk DIR and/or --pop DIR (folders written by `melodygan preprocess`)")
    torch.set_num_threads(max(1, args.threads))
    train = {g: load_pieces(d, "train") for g, d in folders.items()}
    valid = {g: load_pieces(d, "valid") for g, d in folders.items()}
    mcfg = HarmonizerConfig.tiny() if args.size == "tiny" else HarmonizerConfig()
    tcfg = HarmonizerTrainConfig(epochs=args.epochs, max_minutes=args.max_minutes, seed=args.seed)
    extra = train_harmonizer(args.out, train, valid, model_config=mcfg, train_config=tcfg, resume=args.resume,
                             force=args.force)
    print(f"wrote {args.out}/best ({extra['epochs']} epochs, best valid root {extra['best_valid_root']:.3f})")
    return 0


def _add_train_chorale(models: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = models.add_parser("chorale", help="train the four-part chorale voicer (alto, tenor, bass under a soprano)",
                          formatter_class=_FMT)
    p.add_argument("--data", required=True, metavar="JSON",
                   help="the JSB Chorales file Jsb16thSeparated.json (see data/jsb-chorales/README.md); "
                        "its train split trains, valid picks the best epoch, test is never read")
    p.add_argument("--out", required=True, metavar="RUN", help="run folder: best/, resume.pt, metrics.jsonl")
    p.add_argument("--epochs", type=int, default=120, help="passes over the training chorales")
    p.add_argument("--max-minutes", type=float, default=150.0, help="stop (with a checkpoint) after this long")
    p.add_argument("--size", default="small", choices=("tiny", "small"), help="model size preset")
    p.add_argument("--no-pair-tables", action="store_true",
                   help="leave out the learned voice-pair interval tables (the first shipped voicer had none)")
    p.add_argument("--seed", type=int, default=1, help="random seed")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--force", action="store_true", help="start afresh in an --out that holds a run (replaces it)")
    p.set_defaults(func=_run_train_chorale)


def _run_train_chorale(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from melodygan.corpora.jsb import read_jsb_steps
    from melodygan.models.chorale import ChoraleConfig
    from melodygan.training.chorale import ChoraleTrainConfig, train_chorale

    data = read_jsb_steps(args.data)
    torch.set_num_threads(max(1, args.threads))
    mcfg = ChoraleConfig.tiny() if args.size == "tiny" else ChoraleConfig()
    mcfg = dataclasses.replace(mcfg, pair_tables=not args.no_pair_tables)
    tcfg = ChoraleTrainConfig(epochs=args.epochs, max_minutes=args.max_minutes, seed=args.seed)
    extra = train_chorale(args.out, [np.array(c) for c in data["train"]], [np.array(c) for c in data["valid"]],
                          model_config=mcfg, train_config=tcfg, resume=args.resume, force=args.force)
    print(f"wrote {args.out}/best ({extra['epochs']} epochs, best valid NLL {extra['best_valid_nll']:.4f})")
    return 0


def _add_train_gan(models: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = models.add_parser("gan", help="train the convolutional GAN", formatter_class=_FMT,
                          epilog="examples:\n"
                                 "  melodygan train gan --data cache/nottingham --out runs/gan\n"
                                 "  melodygan train gan --data cache/nottingham --out runs/gan --resume --steps 10000")
    p.add_argument("--data", required=True, help="folder written by `melodygan preprocess` (train/valid splits)")
    p.add_argument("--out", required=True, help="run folder: checkpoint, resume.pt, metrics.jsonl, samples/")
    p.add_argument("--steps", type=int, default=7000, help="total optimisation steps")
    p.add_argument("--batch-size", type=int, default=32, help="phrases per step")
    p.add_argument("--seed", type=int, default=1, help="seed of every random draw (same seed, same weights)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its resume.pt")
    p.add_argument("--force", action="store_true", help="start afresh in an --out that holds a run (replaces it)")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: CUDA when available)")
    p.set_defaults(func=_run_train_gan)


def _run_train_gan(args: argparse.Namespace) -> int:
    from melodygan.training.gan import train_gan_from_dir

    train_gan_from_dir(args.data, args.out, steps=args.steps, batch_size=args.batch_size, seed=args.seed,
                       resume=args.resume, device=args.device, force=args.force)
    print(f"wrote {args.out}")
    return 0


# --- evaluate ---------------------------------------------------------------------------------
def _add_evaluate(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("evaluate", help="measure a model against real data; writes a report", formatter_class=_FMT)
    p.add_argument("--engine", required=True,
                   help="what to judge: rule-triad, rule-tonic, harmonize, harmonize-transformer (harmonizers); "
                        "chorale (four-part voicing; --data the JSB json); ar, gan, hybrid, gan-chords (generators)")
    p.add_argument("--data", required=True,
                   help="held-out data: a preprocessed folder (its test split), the JSB Chorales json (its test "
                        "split), Nottingham .abc file(s), or a score")
    p.add_argument("--out", required=True, help="report folder (report.md, metrics.json, PNG plots)")
    p.add_argument("--checkpoint", default=None, help="model folder for model engines (default: shipped weights)")
    p.add_argument("--num", type=int, default=64, help="pieces to harmonize or generate")
    p.add_argument("--seed", type=int, default=1, help="seed for the choice of real pieces and for sampling")
    p.add_argument("--force", action="store_true", help="replace an existing report folder")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--listener", action="store_true",
                   help="add the listener test: a cross-validated classifier on interpretable features telling "
                        "real from model pieces (0.5 = cannot tell)")
    p.add_argument("--genre", default=None, choices=("folk", "pop"),
                   help="genre asked of the generators and of harmonize (pop for POP909; default: theirs)")
    p.set_defaults(func=_run_evaluate)


def _run_evaluate(args: argparse.Namespace) -> int:
    from melodygan.evaluate import evaluate

    result = evaluate(args.engine, args.data, args.num, args.out, checkpoint=args.checkpoint, seed=args.seed,
                      force=args.force, plots=not args.no_plots, listener_test=args.listener, genre=args.genre)
    print(f"wrote {args.out}/report.md ({result['num_model']} pieces from {args.engine}, {result['num_real']} real)")
    return 0


# --- studio -----------------------------------------------------------------------------------
def _add_studio(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("studio", help="the local web app: generate, harmonize, hum, listen, edit bars, download",
                       formatter_class=_FMT,
                       description="Serve melodygan studio, a page in your browser over the library, on this "
                                   "machine only (unless --allow-remote). Needs: pip install 'melodygan[studio]'.")
    p.add_argument("--port", type=int, default=8765, help="TCP port")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on; a non-loopback one needs --allow-remote")
    p.add_argument("--allow-remote", action="store_true",
                   help="let other machines reach the studio (it has no login: trusted networks only)")
    p.add_argument("--open", action="store_true", help="open the page in the default browser")
    for flag, model in (("ar", "transformer"), ("gan", "GAN"), ("harmonizer", "harmonizer")):
        p.add_argument(f"--{flag}-checkpoint", default=None, metavar="DIR",
                       help=f"{model} checkpoint folder (default: the shipped weights)")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: CUDA when available)")
    p.add_argument("--max-upload-mb", type=float, default=20.0, help="largest upload accepted, in MB")
    p.add_argument("--workers", type=int, default=2, help="model jobs run at once")
    p.set_defaults(func=_run_studio)


def _run_studio(args: argparse.Namespace) -> int:
    try:
        from melodygan.studio.app import StudioSettings
        from melodygan.studio.server import serve
    except ImportError as e:
        raise MelodyganError(f"the studio needs its extra ({e.name} is missing): pip install 'melodygan[studio]'") \
            from None
    if not 0 < args.max_upload_mb <= 2000 or args.workers < 1:
        raise MelodyganError("--max-upload-mb must be in (0, 2000] and --workers >= 1")
    settings = StudioSettings(ar_checkpoint=args.ar_checkpoint, gan_checkpoint=args.gan_checkpoint,
                              harmonizer_checkpoint=args.harmonizer_checkpoint, device=args.device,
                              max_upload_bytes=int(args.max_upload_mb * 1024 * 1024), workers=args.workers,
                              warm_up=True)
    serve(args.host, args.port, open_browser=args.open, allow_remote=args.allow_remote, settings=settings)
    return 0


COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [  # type: ignore[type-arg]
    _add_generate,
    _add_harmonize,
    _add_infill,
    _add_vary,
    _add_render,
    _add_preprocess,
    _add_train,
    _add_evaluate,
    _add_tokens,
    _add_studio,
]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="melodygan", description="Generate music and harmonize melodies.",
                     formatter_class=_FMT)
    parser.add_argument("--version", action="version", version=f"melodygan {__version__}")
    parser.add_argument("--limit", action="append", default=[], metavar="NAME=VALUE",
                        help="raise (or lower) a reader's bound, e.g. --limit score_minutes=240 (0 = none); "
                             "names and defaults in docs/formats.md#limits")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 2 user error).

    What the readers chose (melody track, estimated key) is printed as one ``melodygan: …`` line
    each on stderr at once, before any model runs; what they had to change (quantised, merged or
    dropped notes) once the command has succeeded; a failure prints its own one-line error. When
    the reader of stdout goes away (``melodygan tokens | head``) the command stops quietly with
    exit code 141, as Unix tools do on SIGPIPE.
    """
    import logging
    import warnings

    parser = build_parser()
    args = parser.parse_args(argv)
    notes: list[str] = []

    def tell(record: logging.LogRecord) -> None:
        line = _one_line(record.getMessage())
        if line not in notes:
            notes.append(line)
            print(f"melodygan: {line}", file=sys.stderr, flush=True)

    handler = logging.Handler(logging.INFO)
    handler.emit = tell  # type: ignore[method-assign]
    log = logging.getLogger("melodygan")
    log.addHandler(handler)
    old_level = log.level
    log.setLevel(logging.INFO)
    import os

    from melodygan import limits, progress

    saved_limits = os.environ.get(limits.ENV)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")  # each distinct warning once
            limits.set_from_flags(args.limit)
            # the commands that take --quiet from the DAW flags show a progress line while they work
            shown = getattr(args, "progress", False) and progress.shown(getattr(args, "quiet", False))
            with progress.task(args.command, enabled=shown):
                code = int(args.func(args) or 0)
            sys.stdout.flush()  # a closed pipe shows here, not at exit
    except BrokenPipeError:
        _quiet_stdout()
        return 141
    except MelodyganError as e:
        print(f"melodygan: error: {_one_line(str(e))}", file=sys.stderr)
        return 2
    except OSError as e:  # the file system refused: read-only, full, a path through a file
        where = f"{e.filename}: " if getattr(e, "filename", None) else ""
        print(f"melodygan: error: file system: {where}{_one_line(e.strerror or str(e))}", file=sys.stderr)
        return 2
    except MemoryError:
        print("melodygan: error: out of memory; try a smaller input or lower a --limit", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("melodygan: interrupted", file=sys.stderr)
        return 130
    finally:
        log.removeHandler(handler)
        log.setLevel(old_level)
        if saved_limits is None:
            os.environ.pop(limits.ENV, None)
        else:
            os.environ[limits.ENV] = saved_limits
    for w in caught:
        if issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning, FutureWarning)) \
                and not str(w.filename).startswith(str(Path(__file__).parent)):
            continue  # other libraries' deprecation notices are not the user's business
        line = _one_line(f"warning: {str(w.message).strip()}")
        if line not in notes:
            notes.append(line)
            print(f"melodygan: {line}", file=sys.stderr)
    return code


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush at exit finds no closed pipe."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real descriptor behind sys.stdout (captured in tests)
        pass


def _one_line(text: str) -> str:
    """A message as one line (a library's multi-line text folded at its line breaks)."""
    return " ".join(part.strip() for part in text.strip().splitlines() if part.strip()) or "(no message)"
