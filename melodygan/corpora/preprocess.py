"""Preprocessing: corpora → compact arrays per split + ``meta.json``; loading them back; piano-roll tensors.

``preprocess(sources, out_dir)`` lists every input file of the sources
(:mod:`melodygan.corpora.sources`), one job per file, and reads them in a process pool (every
core by default), job order kept, writing the output shard by shard as it goes (a shard is
``shard_size`` files; layout, manifest and resuming in :mod:`melodygan.corpora.shards`)::

    shards/NNNNN.npz   per split (train_, valid_, test_): integer rows, times in steps
        ``notes``   int32 ``(M, 6)``: piece, track, start_steps, duration_steps, pitch, velocity
        ``chords``  int32 ``(K, 5)``: piece, start_steps, duration_steps, chord index (see
                    :mod:`melodygan.chords`, 0 = N.C.), slash bass pitch class (−1 = none)
        ``pieces``  int32 ``(N, 8)``: key tonic, key mode (0 major, 1 minor), meter numerator,
                    meter denominator, pickup_steps, length_steps, steps_per_quarter, number of tracks
        ``tempo``   float32 ``(N,)``: quarter notes per minute
        (``piece`` indexes rows of ``pieces`` of the same shard; track 0 is the melody, then the
        voices in order.)
    shards/NNNNN.json  per split, per piece: id, title, source, track names, GM programs; the
                       shard's skipped inputs and counts
    manifest.json      the shards written so far, each with the key that lets a new run keep it
    meta.json          when all are written: config, sources, counts per split and per source,
                       every skipped input with its reason, the split rule, this layout
    cache/             one JSON per job, keyed by a hash of the file's bytes, the config and the
                       cache version; a re-run reads unchanged files from here. Each piece is kept
                       as its rows (:func:`rows_to_dict`: the note and chord rows of
                       :class:`~melodygan.piece_arrays.PieceArrays` as base64 little-endian int32)

Memory holds one shard's pieces (and the ids seen so far), whatever the size of the corpus; a run
that is killed keeps its finished shards, and the same command resumes it.

Splits are deterministic: JSB keeps its own train/valid/test; every other piece goes by the
SHA-1 of its id (``"nottingham/jigs.abc/12"``): the first 8 hex digits as an integer, mod 100,
below 80 → train, below 90 → valid, else test.

A piece goes from its reader to the shard as rows: MIDI files and POP909 songs are read as
:class:`~melodygan.piece_arrays.PieceArrays` (no Note object per note), the other sources' Pieces
are turned into rows once, and the shard's arrays are those rows joined (:func:`encode_rows`).

Inputs that fail (corrupt, empty, drum-only, not decodable, absurdly long: more than
``max_steps`` steps or ``max_notes`` notes) are skipped and listed with their reason; the run
never stops on one file.

Piano-roll tensors for the models are built from loaded pieces (not stored densely):
:func:`pieces_to_rolls` gives ``(N, 2, T, P)`` uint8 onset/sustain melody rolls (layout of
:mod:`melodygan.pianoroll`) and ``(N, T)`` int64 per-step chord labels.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Generator, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from melodygan.chords import Chord
from melodygan.corpora import shards
from melodygan.corpora.sources import Job, JobResult, list_jobs, run_job
from melodygan.errors import MelodyganError
from melodygan.files import fs_error
from melodygan.keys import Key
from melodygan.notes import Note
from melodygan.pianoroll import chords_to_labels, notes_to_roll
from melodygan.piece import Piece
from melodygan.piece_arrays import PieceArrays, chord_of_row

FORMAT_VERSION = 2  # 2: sharded folder (1: one file per split, still read)
CACHE_VERSION = 2  # 2: pieces as rows (1: notes as lists)
SPLITS = shards.SPLITS
DEFAULT_SHARD_SIZE = 1000


@dataclass(frozen=True)
class PreprocessConfig:
    """What preprocessing does to every piece (part of the cache key).

    Attributes:
        label_per: window for chord labelling of sources without chord symbols: "beat" or "bar".
        max_steps: longer pieces are skipped as absurdly long (16th steps; 32,768 ≈ 512 bars of 4/4).
        max_notes: pieces with more notes are skipped as absurdly long.
        min_notes: pieces with fewer melody notes are skipped as empty.
    """

    label_per: str = "beat"
    max_steps: int = 32768
    max_notes: int = 20000
    min_notes: int = 1


# --- pieces ⇄ JSON (the cache) ----------------------------------------------------------------
def _note_row(n: Note) -> list[int]:
    return [int(n.start_steps), int(n.duration_steps), int(n.pitch), int(n.velocity)]


def piece_to_dict(piece: Piece) -> dict[str, Any]:
    """A JSON-able dict of a piece (inverse: :func:`piece_from_dict`); notes as ``[start, dur, pitch, vel]``."""
    return {
        "melody": [_note_row(n) for n in piece.melody],
        "chords": [[int(c.start_steps), int(c.duration_steps), int(c.index), -1 if c.bass is None else int(c.bass)]
                   for c in piece.chords],
        "voices": {str(k): [_note_row(n) for n in v] for k, v in piece.voices.items()},
        "key": [int(piece.key.tonic), piece.key.mode], "time_signature": [int(x) for x in piece.time_signature],
        "tempo_bpm": float(piece.tempo_bpm), "steps_per_quarter": int(piece.steps_per_quarter),
        "pickup_steps": int(piece.pickup_steps), "length_steps": int(piece.end_steps), "title": str(piece.title),
        "melody_name": str(piece.melody_name), "programs": {str(k): int(v) for k, v in piece.programs.items()},
    }


def _chord(start: int, duration: int, index: int, bass: int) -> Chord:
    return chord_of_row(start, duration, index, bass)


def _b64(rows: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(rows, dtype="<i4").tobytes()).decode("ascii")


def _from_b64(text: str, columns: int) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<i4").astype(np.int64).reshape(-1, columns)


def rows_to_dict(rows: PieceArrays) -> dict[str, Any]:
    """A JSON-able dict of a piece's rows (inverse: :func:`rows_from_dict`): the note and chord rows
    as base64 of little-endian int32, ``length_steps`` the piece's length (as the shards keep it)."""
    return {
        "notes": _b64(rows.notes), "chords": _b64(rows.chords), "tracks": list(rows.tracks),
        "key": [int(rows.key.tonic), rows.key.mode], "time_signature": [int(x) for x in rows.time_signature],
        "tempo_bpm": float(rows.tempo_bpm), "steps_per_quarter": int(rows.steps_per_quarter),
        "pickup_steps": int(rows.pickup_steps), "length_steps": int(rows.end_steps), "title": str(rows.title),
        "programs": {str(k): int(v) for k, v in rows.programs.items()},
    }


def rows_from_dict(d: dict[str, Any]) -> PieceArrays:
    """Inverse of :func:`rows_to_dict`."""
    return PieceArrays(_from_b64(d["notes"], 5), list(d["tracks"]), _from_b64(d["chords"], 4),
                       Key(d["key"][0], d["key"][1]), (d["time_signature"][0], d["time_signature"][1]),
                       d["tempo_bpm"], d["steps_per_quarter"], d["pickup_steps"], d["length_steps"], d["title"],
                       dict(d["programs"]))


def piece_from_dict(d: dict[str, Any]) -> Piece:
    """Inverse of :func:`piece_to_dict`."""
    return Piece(
        melody=[Note(*n) for n in d["melody"]],
        chords=[_chord(*c) for c in d["chords"]],
        voices={k: [Note(*n) for n in v] for k, v in d["voices"].items()},
        key=Key(d["key"][0], d["key"][1]), time_signature=(d["time_signature"][0], d["time_signature"][1]),
        tempo_bpm=d["tempo_bpm"], steps_per_quarter=d["steps_per_quarter"], pickup_steps=d["pickup_steps"],
        length_steps=d["length_steps"], title=d["title"], melody_name=d["melody_name"],
        programs=dict(d["programs"]),
    )


# --- splits, checks, cache ----------------------------------------------------------------------
def split_of(piece_id: str) -> str:
    """Deterministic 80/10/10 split of a piece id (see the module docstring)."""
    bucket = int(hashlib.sha1(piece_id.encode("utf-8")).hexdigest()[:8], 16) % 100
    return "train" if bucket < 80 else "valid" if bucket < 90 else "test"


def check_piece(piece: Piece | PieceArrays, config: PreprocessConfig) -> str | None:
    """Why a piece (or its rows) should be skipped, or None when it is fine."""
    if isinstance(piece, PieceArrays):
        melody, count = piece.melody_count, len(piece.notes)
    else:
        melody, count = len(piece.melody), len(piece.all_notes())
    if melody < config.min_notes:
        return "empty (no melody notes)" if not melody else f"only {melody} melody notes"
    if piece.end_steps > config.max_steps:
        return f"absurdly long ({piece.end_steps} steps > {config.max_steps})"
    if count > config.max_notes:
        return f"absurdly long ({count} notes > {config.max_notes})"
    return None


def _job_key(job: Job, config: PreprocessConfig) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([FORMAT_VERSION, CACHE_VERSION, job.source, job.name, asdict(config)]).encode())
    path = Path(job.path)
    # a job is a file, or a folder of files (a POP909 song): hash every file's name and bytes
    files = sorted(f for f in path.rglob("*") if f.is_file()) if path.is_dir() else [path]
    for file in files:
        h.update(file.relative_to(path).as_posix().encode() if path.is_dir() else b"")
        with open(file, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:32]


def _write_cache(path: Path, text: str) -> None:
    """Write a cache entry whole or not at all (a temporary name of this process, then a rename):
    one per input file, so without the checks of :func:`melodygan.files.atomic_output`."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise fs_error(path, e) from None


def _cached_job(args: tuple[Job, PreprocessConfig, str]) -> tuple[dict[str, Any], bool]:
    """Worker: one job's result as a JSON-able dict, from the cache when it is there."""
    job, config, cache_dir = args
    key = _job_key(job, config)
    cache_file = Path(cache_dir) / f"{key}.json"
    if cache_file.is_file():
        try:
            return json.loads(cache_file.read_text(encoding="utf-8")), True
        except (OSError, json.JSONDecodeError):
            pass  # a damaged cache entry is rebuilt
    result: JobResult = run_job(job, config.label_per)
    items, skipped = [], list(result.skipped)
    for pid, split, piece in result.items:
        rows = piece if isinstance(piece, PieceArrays) else PieceArrays.from_piece(piece)
        reason = check_piece(rows, config)
        if reason:
            skipped.append((pid, reason))
        else:
            items.append({"id": pid, "split": split, "source": job.source, "rows": rows_to_dict(rows)})
    out = {"job": asdict(job), "items": items, "skipped": [list(s) for s in skipped]}
    _write_cache(cache_file, json.dumps(out, separators=(",", ":")))
    return out, False


# --- arrays -------------------------------------------------------------------------------------
def encode_pieces(pieces: list[Piece]) -> dict[str, np.ndarray]:
    """Pieces → the split arrays (layout in the module docstring)."""
    return encode_rows([PieceArrays.from_piece(p) for p in pieces])


def encode_rows(pieces: list[PieceArrays]) -> dict[str, np.ndarray]:
    """The rows of pieces → the split arrays (layout in the module docstring), joined as they are."""
    counts = [len(p.notes) for p in pieces]
    notes = np.concatenate([p.notes for p in pieces]) if pieces else np.zeros((0, 5), dtype=np.int64)
    chord_counts = [len(p.chords) for p in pieces]
    chords = np.concatenate([p.chords for p in pieces]) if pieces else np.zeros((0, 4), dtype=np.int64)
    rows = [(p.key.tonic, int(p.key.mode == "minor"), *p.time_signature, p.pickup_steps, p.end_steps,
             p.steps_per_quarter, len(p.tracks)) for p in pieces]
    return {
        "notes": np.column_stack([np.repeat(np.arange(len(pieces)), counts), notes]).astype(np.int32),  # (M, 6)
        "chords": np.column_stack([np.repeat(np.arange(len(pieces)), chord_counts), chords]).astype(np.int32),
        "pieces": np.asarray(rows, dtype=np.int32).reshape(-1, 8),  # (N, 8)
        "tempo": np.asarray([p.tempo_bpm for p in pieces], dtype=np.float32),  # (N,)
    }


def decode_pieces(arrays: dict[str, np.ndarray], info: list[dict[str, Any]]) -> list[Piece]:
    """Inverse of :func:`encode_pieces`; ``info`` gives titles, track names and programs per piece."""
    n = len(arrays["pieces"])
    notes_by: list[dict[int, list[Note]]] = [{} for _ in range(n)]
    for i, t, s, d, pitch, vel in arrays["notes"].tolist():
        notes_by[i].setdefault(t, []).append(Note(s, d, pitch, vel))
    chords_by: list[list[Chord]] = [[] for _ in range(n)]
    for i, s, d, idx, bass in arrays["chords"].tolist():
        chords_by[i].append(_chord(s, d, idx, bass))
    out = []
    for i, (row, bpm) in enumerate(zip(arrays["pieces"].tolist(), arrays["tempo"].tolist())):
        tonic, minor, num, den, pickup, length, spq, _ = row
        names = info[i]["tracks"]
        out.append(Piece(
            melody=notes_by[i].get(0, []), chords=chords_by[i],
            voices={name: notes_by[i].get(t, []) for t, name in enumerate(names) if t > 0},
            key=Key(tonic, "minor" if minor else "major"), time_signature=(num, den), tempo_bpm=round(bpm, 3),
            steps_per_quarter=spq, pickup_steps=pickup, length_steps=length, title=info[i]["title"],
            melody_name=names[0], programs=dict(info[i].get("programs", {})),
        ))
    return out


# --- the pipeline -------------------------------------------------------------------------------
def available_cpus() -> int:
    """CPU cores this process may use (its affinity where the system tells it)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _exit_with_parent(parent: int, every_s: float = 0.5) -> None:
    """In a pool worker: leave as soon as the process that made the pool is gone (killed with
    SIGKILL, it cannot stop its workers; orphans would sleep on the job queue for ever)."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _results(jobs: list[Job], config: PreprocessConfig, cache_dir: Path,
             workers: int) -> Generator[tuple[dict[str, Any], bool], None, None]:
    """Every job's result, in job order; with ``workers`` > 1 from a process pool that keeps a few
    jobs per worker in flight (so memory stays bounded however many jobs there are)."""
    args = ((j, config, str(cache_dir)) for j in jobs)
    if workers <= 1 or len(jobs) == 1:
        for a in args:
            yield _cached_job(a)
        return
    with ProcessPoolExecutor(max_workers=workers, initializer=_exit_with_parent, initargs=(os.getpid(),)) as pool:
        window: deque[Future[tuple[dict[str, Any], bool]]] = deque()
        for a in args:
            window.append(pool.submit(_cached_job, a))
            if len(window) >= 4 * workers:
                yield window.popleft().result()  # the oldest first: job order, whoever finished first
        while window:
            yield window.popleft().result()


def preprocess(sources: list[str], out_dir: str | Path, workers: int | None = None,
               config: PreprocessConfig | None = None, progress: bool = True,
               shard_size: int = DEFAULT_SHARD_SIZE) -> dict[str, Any]:
    """Read corpora into a sharded folder of split arrays + ``meta.json`` (see the module docstring
    and :mod:`melodygan.corpora.shards`), shard by shard, resuming a run that was stopped.

    Args:
        sources: specs like ``"music21:bach"``, ``"nottingham:DIR"``, ``"jsb:FILE"``, ``"midi:DIR"``.
        out_dir: output folder (created; a folder that holds other files and neither ``meta.json``
            nor ``manifest.json`` is refused).
        workers: processes (default: every CPU core this process may use).
        config: preprocessing options.
        progress: a progress bar on stderr (files, files per second, time left).
        shard_size: input files per shard.

    Returns:
        The meta dict written to ``meta.json``.

    Raises:
        MelodyganError: a bad source spec, or an output folder that is not ours.
    """
    from tqdm import tqdm

    if workers is not None and workers < 0:
        raise MelodyganError(f"workers must be >= 0 (0 = every core), got {workers}")
    run = _Run(sources, out_dir, config, shard_size)
    out, config, plan = run.out, run.config, run.plan
    workers = workers or available_cpus()
    manifest = shards.read_manifest(out)
    if manifest.get("format_version") != FORMAT_VERSION:
        manifest = {}
    manifest.update(run.manifest_head())
    manifest["done"] = {k: v for k, v in manifest.get("done", {}).items() if k in run.names}
    done = [shards.is_done(out, i, k) for i, k in enumerate(run.keys)]
    todo = [job for part, d in zip(plan, done) if not d for job in part]
    bar = tqdm(total=len(run.jobs), initial=sum(len(p) for p, d in zip(plan, done) if d), desc="preprocess",
               unit="file", disable=not progress, file=sys.stderr, dynamic_ncols=True)
    seen: set[str] = set()
    reused = sum(len(p) for p, d in zip(plan, done) if d)
    results = _results(todo, config, run.cache_dir, workers)
    try:
        for index, part in enumerate(plan):
            if done[index]:
                seen.update(i["id"] for s in SPLITS for i in shards.read_info(out, index)["pieces"][s])
                continue
            shard = _Shard(run.keys[index])
            for _ in part:
                res, hit = next(results)
                reused += hit
                shard.add(res, hit, seen)
                bar.update(1)
            shards.write_shard(out, index, shard.arrays(), shard.info())
            shards.record(out, manifest, index, run.keys[index])
    finally:
        results.close()  # stops the pool when the run stops early
        bar.close()
    return run.finish(reused)


class _Run:
    """A run's plan: its jobs cut into shards, each with its key, and the folder they go to."""

    def __init__(self, sources: list[str], out_dir: str | Path, config: PreprocessConfig | None,
                 shard_size: int) -> None:
        self.config = config or PreprocessConfig()
        if self.config.label_per not in ("beat", "bar"):
            raise MelodyganError(f"label_per must be 'beat' or 'bar', got {self.config.label_per!r}")
        if not sources:
            raise MelodyganError("no sources given; e.g. music21:bach, nottingham:DIR, jsb:FILE, midi:DIR")
        self.sources, self.shard_size = list(sources), shard_size
        self.out = Path(out_dir)
        ours = (self.out / "meta.json").exists() or (self.out / shards.MANIFEST).exists() or \
            (self.out / shards.SHARD_DIR).is_dir()
        if self.out.exists() and (not self.out.is_dir() or (any(self.out.iterdir()) and not ours)):
            raise MelodyganError(f"{self.out} exists and is not a preprocessing folder; choose a new or empty folder")
        self.jobs = [job for spec in sources for job in list_jobs(spec)]
        self.plan = shards.plan(self.jobs, shard_size)
        self.keys = [shards.shard_key(part, self.config, FORMAT_VERSION) for part in self.plan]
        self.names = {shards.shard_name(i) for i in range(len(self.plan))}
        self.cache_dir = self.out / "cache"
        self.cache_dir.mkdir(parents=True, exist_ok=True)

    def manifest_head(self) -> dict[str, Any]:
        return {"format_version": FORMAT_VERSION, "sources": self.sources, "config": asdict(self.config),
                "shard_size": self.shard_size, "shards": len(self.plan), "files": len(self.jobs)}

    def finish(self, reused: int) -> dict[str, Any]:
        """``meta.json`` (and a complete manifest) once every shard is written."""
        missing = [shards.shard_name(i) for i, k in enumerate(self.keys) if not shards.is_done(self.out, i, k)]
        if missing:
            raise MelodyganError(f"{self.out}: {len(missing)} of {len(self.plan)} shards are not written yet "
                                 f"(first: {missing[0]}); write them, then finish")
        manifest = {**self.manifest_head(), "done": dict(zip(sorted(self.names), self.keys))}
        shards.write_text_atomic(self.out / shards.MANIFEST, json.dumps(manifest, indent=1))
        meta = _summary(self.out, self.sources, self.config, len(self.plan), len(self.jobs), reused)
        shards.remove_stale(self.out, len(self.plan))
        shards.write_text_atomic(self.out / "meta.json", json.dumps(meta, indent=1))
        return meta


def shard_count(sources: list[str], shard_size: int = DEFAULT_SHARD_SIZE) -> int:
    """How many shards :func:`preprocess` cuts these sources into."""
    return len(shards.plan([job for spec in sources for job in list_jobs(spec)], shard_size))


def preprocess_shard(sources: list[str], out_dir: str | Path, index: int, *, config: PreprocessConfig | None = None,
                     shard_size: int = DEFAULT_SHARD_SIZE) -> int:
    """Read one shard of a run in this process and write its files: the task that an engine for
    several machines (Ray, Dask …, see docs/data.md) maps over ``range(shard_count(sources))``.
    Every task needs the same sources (paths the same on every machine) and ``out_dir`` on a
    shared file system; :func:`finish_preprocess` then writes ``meta.json``. A shard already
    written with the same key is left as it is. Unlike :func:`preprocess`, the same source given
    twice is not merged.

    Returns:
        The number of input files read (0 when the shard was already there).

    Raises:
        MelodyganError: bad sources or settings, an index outside the plan.
    """
    run = _Run(sources, out_dir, config, shard_size)
    if not 0 <= index < len(run.plan):
        raise MelodyganError(f"shard {index} outside 0..{len(run.plan) - 1}")
    if shards.is_done(run.out, index, run.keys[index]):
        return 0
    shard = _Shard(run.keys[index])
    for res, hit in _results(run.plan[index], run.config, run.cache_dir, 1):
        shard.add(res, hit, set())
    shards.write_shard(run.out, index, shard.arrays(), shard.info())
    return len(run.plan[index])


def finish_preprocess(sources: list[str], out_dir: str | Path, *, config: PreprocessConfig | None = None,
                      shard_size: int = DEFAULT_SHARD_SIZE) -> dict[str, Any]:
    """Write ``meta.json`` of a run whose shards :func:`preprocess_shard` wrote (wherever it ran).

    Raises:
        MelodyganError: a shard of the plan is missing or was written with other inputs or settings.
    """
    run = _Run(sources, out_dir, config, shard_size)
    reused = sum(shards.read_info(run.out, i).get("reused_from_cache", 0) for i in range(len(run.plan))
                 if shards.is_done(run.out, i, run.keys[i]))
    return run.finish(reused)


class _Shard:
    """One shard's pieces, counts and skips while it is being read."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.by_split: dict[str, list[tuple[dict[str, Any], PieceArrays]]] = {s: [] for s in SPLITS}
        self.skipped: list[dict[str, str]] = []
        self.per_source: dict[str, Counter[str]] = {}
        self.reused = 0

    def add(self, res: dict[str, Any], hit: bool, seen: set[str]) -> None:
        self.reused += hit
        src = res["job"]["source"]
        counts = self.per_source.setdefault(src, Counter())
        for pid, reason in res["skipped"]:
            self.skipped.append({"input": pid, "reason": reason})
            counts["skipped"] += 1
        for item in res["items"]:
            if item["id"] in seen:  # the same source given twice
                continue
            seen.add(item["id"])
            rows = rows_from_dict(item["rows"])
            split = item["split"] or split_of(item["id"])
            info = {"id": item["id"], "title": rows.title, "source": src, "tracks": list(rows.tracks),
                    "programs": rows.programs}
            self.by_split[split].append((info, rows))
            counts["pieces"] += 1
            counts["with_chords"] += bool(len(rows.chords))
            counts[split] += 1

    def arrays(self) -> dict[str, dict[str, np.ndarray]]:
        return {s: encode_rows([p for _, p in self.by_split[s]]) for s in SPLITS}

    def info(self) -> dict[str, Any]:
        return {"key": self.key, "pieces": {s: [i for i, _ in self.by_split[s]] for s in SPLITS},
                "skipped": self.skipped,
                "per_source": {k: dict(v) for k, v in self.per_source.items()}, "reused_from_cache": self.reused}


def _summary(out: Path, sources: list[str], config: PreprocessConfig, count: int, files: int,
             reused: int) -> dict[str, Any]:
    """``meta.json``: the shards' counts, sources and skips added up."""
    counts = dict.fromkeys(SPLITS, 0)
    per_source: dict[str, Counter[str]] = {}
    skipped: list[dict[str, str]] = []
    for index in range(count):
        info = shards.read_info(out, index)
        for s in SPLITS:
            counts[s] += len(info["pieces"][s])
        for src, c in info["per_source"].items():
            per_source.setdefault(src, Counter()).update(c)
        skipped += info["skipped"]
    return {
        "format_version": FORMAT_VERSION,
        "config": asdict(config),
        "sources": list(sources),
        "counts": counts,
        "per_source": {k: dict(v) for k, v in per_source.items()},
        "files": {"total": files, "reused_from_cache": reused},
        "skipped": skipped,
        "shards": count,
        "split_rule": ("JSB: its own split; POP909: song id ending in 0 test, 1 valid; others: "
                       "int(sha1(id)[:8], 16) % 100 < 80 train, < 90 valid, else test"),
        "layout": {"notes": "piece, track, start_steps, duration_steps, pitch, velocity",
                   "chords": "piece, start_steps, duration_steps, chord_index, bass_pc (-1 none)",
                   "pieces": "key_tonic, key_minor, ts_num, ts_den, pickup_steps, length_steps, steps_per_quarter, "
                             "num_tracks", "tempo": "bpm",
                   "files": "shards/NNNNN.npz (SPLIT_notes, SPLIT_chords, SPLIT_pieces, SPLIT_tempo; piece numbers "
                            "rows within the shard) and shards/NNNNN.json (ids, titles, tracks, programs per split)"},
    }


def iter_pieces(data_dir: str | Path, split: str) -> Iterator[Piece]:
    """Pieces of one split of a preprocessed folder, in the order they were written, one shard in
    memory at a time (folders of the older single-file layout are read too).

    Raises:
        MelodyganError: unknown split, or a folder ``melodygan preprocess`` did not write.
    """
    if split not in SPLITS:
        raise MelodyganError(f"unknown split {split!r}; allowed: {', '.join(SPLITS)}")
    d = Path(data_dir)
    hint = "make one with: melodygan preprocess SOURCE... --out DIR"
    try:
        meta = json.loads((d / "meta.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        meta = {}
    if isinstance(meta, dict) and meta.get("format_version", 1) >= 2:
        try:
            for arrays, info in shards.iter_shards(d, meta, split):
                yield from decode_pieces(arrays, info)
        except (OSError, KeyError, ValueError) as e:
            raise MelodyganError(f"{d}: a shard is missing or damaged ({e}); run melodygan preprocess again "
                                 "with the same sources and --out to rebuild it") from None
        return
    arrays_path, info_path = d / f"{split}.npz", d / "pieces.json"
    manifest = shards.read_manifest(d)
    if manifest and not meta:
        raise MelodyganError(f"preprocessing of {d} did not finish ({len(manifest.get('done', {}))} of "
                             f"{manifest.get('shards', '?')} shards); run the same melodygan preprocess command "
                             "again to resume it")
    if not arrays_path.is_file() or not info_path.is_file():
        raise MelodyganError(f"{d} is not a preprocessed folder (no meta.json with shards, no {split}.npz / "
                             f"pieces.json); {hint}")
    with np.load(arrays_path) as z:
        old = {k: z[k] for k in z.files}
    yield from decode_pieces(old, json.loads(info_path.read_text(encoding="utf-8"))[split])


def load_pieces(data_dir: str | Path, split: str) -> list[Piece]:
    """Pieces of one split of a preprocessed folder, in the order they were written (see :func:`iter_pieces`).

    Raises:
        MelodyganError: unknown split, or a folder ``melodygan preprocess`` did not write.
    """
    return list(iter_pieces(data_dir, split))


def pieces_to_rolls(pieces: list[Piece], length_steps: int, pitch_low: int = 36,
                    num_pitches: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Melody piano rolls and chord labels of pieces, cut or zero-padded to ``length_steps`` from step 0.

    Args:
        pieces: loaded pieces.
        length_steps: ``T``.
        pitch_low: MIDI pitch of roll column 0.
        num_pitches: ``P``; melody notes outside ``pitch_low .. pitch_low + P - 1`` are dropped.

    Returns:
        ``(rolls, labels)``: uint8 ``(N, 2, T, P)`` (channel 0 sustain, 1 onset) and int64 ``(N, T)``
        chord-vocabulary indices (0 = no chord).
    """
    rolls = np.zeros((len(pieces), 2, length_steps, num_pitches), dtype=np.uint8)  # (N, 2, T, P)
    labels = np.zeros((len(pieces), length_steps), dtype=np.int64)  # (N, T)
    for i, p in enumerate(pieces):
        rolls[i] = notes_to_roll(p.melody, length_steps, pitch_low, num_pitches, strict=False)
        labels[i] = chords_to_labels(p.chords, length_steps)
    return rolls, labels
