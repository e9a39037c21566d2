"""Corpus sources for preprocessing: ``KIND:ARG`` specs → per-file jobs → Pieces with ids.

Sources (``melodygan preprocess SOURCE...``):

==================  ============================================================================
``nottingham:DIR``  Nottingham Music Database ``.abc`` files (or one file); melody + chord symbols
``jsb:FILE``        JSB Chorales ``Jsb16thSeparated.json``; its own train/valid/test split
``music21:bach``    Bach chorales bundled with music21 (four voices; chords labelled per beat)
``music21:folk``    folk melodies bundled with music21 (Essen, O'Neill, Ryan, Aird; melody only)
``midi:DIR``        every ``.mid``/``.midi`` below DIR (chords labelled when the file has none)
``musicxml:DIR``    every ``.xml``/``.musicxml``/``.mxl`` below DIR (chord symbols kept, else labelled)
``pop909:DIR``      POP909 song folders: sung melody, human chords, meter from the beat annotations;
                    its own split by song id (:mod:`melodygan.corpora.pop909`)
==================  ============================================================================

One job per input file, so that a process pool can spread them and a cache can reuse each one
(:mod:`melodygan.corpora.preprocess`). :func:`run_job` returns the pieces of one job with their ids
(``"<source>/<file>[/<tune index>]"``) and every input it skipped with a reason; it never raises
for a bad input. MIDI files and POP909 songs come as rows (:class:`~melodygan.piece_arrays.PieceArrays`,
read without a Note object per note; ``.to_piece()`` gives the Piece), the other sources as Pieces.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from melodygan.errors import MelodyganError
from melodygan.piece import Piece
from melodygan.piece_arrays import PieceArrays

KINDS = ("nottingham", "jsb", "music21", "midi", "musicxml", "pop909")
MUSIC21_CORPORA = ("bach", "folk")
MIDI_SUFFIXES = (".mid", ".midi")
MUSICXML_SUFFIXES = (".xml", ".musicxml", ".mxl")
_SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


@dataclass(frozen=True)
class Job:
    """One input file of one source.

    Attributes:
        source: source name used in ids: ``nottingham``, ``jsb``, ``music21-bach``,
            ``music21-folk``, ``midi``, ``musicxml``.
        path: the file to read.
        name: the file's name relative to the source root (used in piece ids).
    """

    source: str
    path: str
    name: str


@dataclass
class JobResult:
    """What one job produced.

    Attributes:
        items: ``(piece_id, split, piece)``; ``split`` is the source's own split (JSB) or None;
            ``piece`` a Piece, or its rows for MIDI and POP909 (see the module docstring).
        skipped: ``(input, reason)`` for every input left out.
    """

    items: list[tuple[str, str | None, Piece | PieceArrays]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _missing_hint(kind: str) -> str:
    examples = {
        "nottingham": f"nottingham:{_SHARED / 'nottingham'}",
        "jsb": f"jsb:{_SHARED / 'jsb-chorales' / 'Jsb16thSeparated.json'}",
        "pop909": f"pop909:{_SHARED / 'pop909'}",
    }
    extra = f" (e.g. {examples[kind]}; see data/{'jsb-chorales' if kind == 'jsb' else kind}/README.md)" \
        if kind in examples else ""
    return f"; pass the path of the files{extra}, or use music21:bach / music21:folk, which need no download"


def list_jobs(spec: str) -> list[Job]:
    """Expand one source spec into jobs, in a fixed order.

    Raises:
        MelodyganError: unknown kind, missing path, or a folder with no matching files.
    """
    kind, sep, arg = spec.partition(":")
    if not sep or kind not in KINDS:
        raise MelodyganError(f"bad source {spec!r}; use KIND:ARG with KIND one of {', '.join(KINDS)} "
                             "(e.g. music21:bach, nottingham:DIR, jsb:FILE, pop909:DIR, midi:DIR, musicxml:DIR)")
    if kind == "music21":
        return _music21_jobs(arg)
    path = Path(arg).expanduser()
    if not path.exists():
        raise MelodyganError(f"{spec}: {path} does not exist" + _missing_hint(kind))
    if kind == "pop909":
        from melodygan.corpora.pop909 import song_folders

        return [Job("pop909", str(f), f.name) for f in song_folders(path)]
    if kind == "jsb":
        if not path.is_file():
            raise MelodyganError(f"{spec}: {path} is not a file" + _missing_hint(kind))
        return [Job("jsb", str(path), path.name)]
    suffixes = {"nottingham": (".abc",), "midi": MIDI_SUFFIXES, "musicxml": MUSICXML_SUFFIXES}[kind]
    if path.is_file():
        return [Job(kind, str(path), path.name)]
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
    if not files:
        raise MelodyganError(f"{spec}: no {'/'.join(suffixes)} files under {path}")
    return [Job(kind, str(p), p.relative_to(path).as_posix()) for p in files]


def _music21_jobs(name: str) -> list[Job]:
    if name not in MUSIC21_CORPORA:
        allowed = ", ".join("music21:" + c for c in MUSIC21_CORPORA)
        raise MelodyganError(f"unknown music21 corpus {name!r}; allowed: {allowed}")
    from melodygan.formats.notation import music21_corpus_files

    if name == "bach":
        return [Job("music21-bach", str(p), p.name) for p in music21_corpus_files("bach")]
    return [Job("music21-folk", str(p), f"{p.parent.name}/{p.name}") for p in music21_corpus_files("folk")]


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:200]


def run_job(job: Job, label_per: str = "beat") -> JobResult:
    """Read one job's file into Pieces (see the module docstring); bad inputs become ``skipped``."""
    logging.getLogger("melodygan").setLevel(logging.WARNING)
    result = JobResult()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if job.source == "jsb":
                _jsb(job, result)
            elif job.source in ("nottingham", "music21-folk"):
                _abc(job, result)
            elif job.source == "music21-bach":
                _bach(job, result, label_per)
            elif job.source == "pop909":
                _pop909(job, result)
            elif job.source == "midi":
                _midi(job, result, label_per)
            elif job.source == "musicxml":
                _musicxml(job, result, label_per)
            else:
                raise MelodyganError(f"unknown source {job.source!r}")
        except MelodyganError as e:
            result.skipped.append((f"{job.source}/{job.name}", _first_line(e)))
        except Exception as e:  # a reader bug or a file no reader foresaw: skip it, say why
            result.skipped.append((f"{job.source}/{job.name}", f"{type(e).__name__}: {_first_line(e)}"))
    return result


def _jsb(job: Job, result: JobResult) -> None:
    from melodygan.corpora.jsb import read_jsb

    for split, pieces in read_jsb(job.path).items():
        for i, p in enumerate(pieces):
            result.items.append((f"jsb/{split}/{i:03d}", split, p))


def _pop909(job: Job, result: JobResult) -> None:
    from melodygan.corpora.pop909 import read_song_arrays, split_of

    result.items.append((f"pop909/{job.name}", split_of(job.name), read_song_arrays(job.path)))


def _abc(job: Job, result: JobResult) -> None:
    from melodygan.formats.abc import abc_tunes, read_abc_text

    text = read_abc_text(job.path)
    if not text.strip():
        raise MelodyganError("empty file")
    for i, tune in enumerate(abc_tunes(text, source=job.name)):
        pid = f"{job.source}/{job.name}/{i}"
        if isinstance(tune, str):  # one bad tune must not lose the file's other tunes
            result.skipped.append((pid, tune))
        else:
            result.items.append((pid, None, tune))


def _bach(job: Job, result: JobResult, label_per: str) -> None:
    from melodygan.corpora.labelling import label_chords
    from melodygan.formats.notation import read_chorale

    piece = read_chorale(job.path)
    title = piece.title if piece.title and piece.title.lower() != "untitled" else Path(job.name).stem
    result.items.append((f"{job.source}/{Path(job.name).stem}", None,
                         label_chords(piece.replace(title=title), per=label_per)))


def _midi(job: Job, result: JobResult, label_per: str) -> None:
    from melodygan.corpora.labelling import label_chord_rows
    from melodygan.formats.midi_arrays import midi_to_arrays

    rows = midi_to_arrays(job.path)
    if not len(rows.chords):
        rows = rows.with_chords(label_chord_rows(rows, per=label_per))
    result.items.append((f"midi/{job.name}", None, rows))


def _musicxml(job: Job, result: JobResult, label_per: str) -> None:
    from melodygan.corpora.labelling import label_chords
    from melodygan.formats.notation import read_notation

    piece = read_notation(job.path)
    if not piece.chords:
        piece = label_chords(piece, per=label_per)
    result.items.append((f"musicxml/{job.name}", None, piece))
