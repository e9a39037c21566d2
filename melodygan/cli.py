"""The command line: a thin argparse layer over the library.

``main(argv) -> int``; one short function per subcommand that calls one library function.
User errors (:class:`~melodygan.errors.MelodyganError`, unreadable files) print one line and
return 2; nothing is written half-way.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from melodygan import __version__
from melodygan.errors import MelodyganError


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors print one line (plus usage) and exit 2."""


# Each subcommand: `_add_<name>(sub)` declares its flags, `_run_<name>(args)` calls one library
# function. Flags carry help= text; defaults show in --help.
_FMT = argparse.ArgumentDefaultsHelpFormatter


# --- preprocess -------------------------------------------------------------------------------
def _add_preprocess(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("preprocess", help="turn corpora into cached arrays + meta.json", formatter_class=_FMT)
    p.add_argument("sources", nargs="+", metavar="SOURCE",
                   help="music21:bach, music21:folk, nottingham:DIR, jsb:FILE, midi:DIR or musicxml:DIR")
    p.add_argument("--out", required=True, help="output folder (arrays per split, pieces.json, meta.json, cache/)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: CPU count, at most 8)")
    p.add_argument("--label-per", choices=("beat", "bar"), default="beat",
                   help="chord-labelling window for sources without chord symbols")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run_preprocess)


def _run_preprocess(args: argparse.Namespace) -> int:
    from melodygan.preprocess import PreprocessConfig, preprocess

    meta = preprocess(args.sources, args.out, workers=args.workers,
                      config=PreprocessConfig(label_per=args.label_per), progress=not args.quiet)
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
                                   "an existing output is never replaced without --force.")
    p.add_argument("midi", metavar="FILE.mid", help="the MIDI file to render")
    p.add_argument("--wav", action="store_true", help="render a WAV with FluidSynth and a General MIDI soundfont")
    p.add_argument("--png", action="store_true", help="draw a piano-roll PNG")
    p.add_argument("--musicxml", action="store_true", help="write a MusicXML lead sheet or score")
    p.add_argument("--sheet-png", action="store_true", help="engrave the MusicXML to <stem>-sheet.png (MuseScore 3)")
    p.add_argument("--soundfont", metavar="SF2", default=None,
                   help="soundfont for --wav (default: TimGM6mb.sf2 shipped with pretty_midi)")
    p.add_argument("--stems", action="store_true", help="with --wav, also one WAV per track (<stem>-<track>.wav)")
    p.add_argument("--sample-rate", type=int, default=44100, help="WAV sample rate in Hz")
    p.add_argument("--bit-depth", type=int, choices=(16, 24), default=16, help="WAV sample size in bits")
    p.add_argument("--layout", choices=("auto", "lead-sheet", "score"), default="auto",
                   help="MusicXML layout: melody + chord symbols, or one part per track")
    p.add_argument("--melody-track", default=None, metavar="NAME|INDEX",
                   help="the melody's track name or index (default: chosen by name, else pitch and monophony)")
    p.add_argument("--out", default=None, metavar="DIR", help="folder for the outputs (default: beside the input)")
    p.add_argument("--force", action="store_true", help="replace existing output files")
    p.set_defaults(func=_run_render)


def _run_render(args: argparse.Namespace) -> int:
    from melodygan.export import render_file

    track = args.melody_track
    if track is not None and track.lstrip("-").isdigit():
        track = int(track)
    written = render_file(args.midi, wav=args.wav, png=args.png, musicxml=args.musicxml, sheet_png=args.sheet_png,
                          soundfont=args.soundfont, stems=args.stems, out_dir=args.out, force=args.force,
                          melody_track=track, sample_rate=args.sample_rate, bit_depth=args.bit_depth,
                          layout=args.layout)
    for path in written:
        print(path)
    return 0


# --- generate ---------------------------------------------------------------------------------
def _add_generate(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("generate", help="generate lead-sheet clips (melody + chords)", formatter_class=_FMT)
    p.set_defaults(func=_run_generate)


def _run_generate(args: argparse.Namespace) -> int:
    raise MelodyganError("generate is not available in this build")


# --- harmonize --------------------------------------------------------------------------------
def _add_harmonize(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("harmonize", help="add chords (and accompaniment) to your melody", formatter_class=_FMT)
    p.set_defaults(func=_run_harmonize)


def _run_harmonize(args: argparse.Namespace) -> int:
    raise MelodyganError("harmonize is not available in this build")


# --- train ------------------------------------------------------------------------------------
def _add_train(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("train", help="train a model", formatter_class=_FMT)
    models = p.add_subparsers(dest="model", metavar="MODEL", parser_class=_Parser)
    models.required = True
    _add_train_ar(models)
    _add_train_gan(models)


def _add_train_ar(models: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = models.add_parser("ar", help="train the autoregressive transformer", formatter_class=_FMT)
    p.set_defaults(func=_run_train_ar)


def _run_train_ar(args: argparse.Namespace) -> int:
    raise MelodyganError("train ar is not available in this build")


def _add_train_gan(models: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = models.add_parser("gan", help="train the convolutional GAN", formatter_class=_FMT)
    p.add_argument("--data", required=True, help="folder written by `melodygan preprocess` (train/valid splits)")
    p.add_argument("--out", required=True, help="run folder: checkpoint, resume.pt, metrics.jsonl, samples/")
    p.add_argument("--steps", type=int, default=4000, help="total optimisation steps")
    p.add_argument("--batch-size", type=int, default=64, help="phrases per step")
    p.add_argument("--seed", type=int, default=1, help="seed of every random draw (same seed, same weights)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its resume.pt")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: CUDA when available)")
    p.set_defaults(func=_run_train_gan)


def _run_train_gan(args: argparse.Namespace) -> int:
    from melodygan.training.gan import train_gan_from_dir

    train_gan_from_dir(args.data, args.out, steps=args.steps, batch_size=args.batch_size, seed=args.seed,
                       resume=args.resume, device=args.device)
    print(f"wrote {args.out}")
    return 0


# --- evaluate ---------------------------------------------------------------------------------
def _add_evaluate(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("evaluate", help="measure a model against real data; writes a report", formatter_class=_FMT)
    p.add_argument("--engine", required=True,
                   help="what to judge: rule-triad, rule-tonic, harmonize-leadsheet (harmonizers); ar, gan, hybrid "
                        "(generators)")
    p.add_argument("--data", required=True,
                   help="held-out data: a preprocessed folder (its test split), Nottingham .abc file(s), or a score")
    p.add_argument("--out", required=True, help="report folder (report.md, metrics.json, PNG plots)")
    p.add_argument("--checkpoint", default=None, help="model folder for model engines (default: shipped weights)")
    p.add_argument("--num", type=int, default=64, help="pieces to harmonize or generate")
    p.add_argument("--seed", type=int, default=1, help="seed for the choice of real pieces and for sampling")
    p.add_argument("--force", action="store_true", help="replace an existing report folder")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.set_defaults(func=_run_evaluate)


def _run_evaluate(args: argparse.Namespace) -> int:
    from melodygan.evaluate import evaluate

    result = evaluate(args.engine, args.data, args.num, args.out, checkpoint=args.checkpoint, seed=args.seed,
                      force=args.force, plots=not args.no_plots)
    print(f"wrote {args.out}/report.md ({result['num_model']} pieces from {args.engine}, {result['num_real']} real)")
    return 0


COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [  # type: ignore[type-arg]
    _add_generate,
    _add_harmonize,
    _add_render,
    _add_preprocess,
    _add_train,
    _add_evaluate,
]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="melodygan", description="Generate music and harmonize melodies.",
                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--version", action="version", version=f"melodygan {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 2 user error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except MelodyganError as e:
        print(f"melodygan: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("melodygan: interrupted", file=sys.stderr)
        return 130
