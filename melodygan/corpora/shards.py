"""The sharded output folder of ``melodygan preprocess``: written as it goes, resumable, read back.

A run lists every input file (its jobs, in a fixed order), cuts the list into shards of
``shard_size`` jobs and writes, for shard ``k``::

    shards/k.npz    the shard's pieces per split: train_notes, train_chords, train_pieces, train_tempo,
                    valid_..., test_... (the layout of :func:`melodygan.corpora.preprocess.encode_pieces`;
                    ``piece`` numbers rows within the shard)
    shards/k.json   per split the pieces' ids, titles, sources, track names and programs; the inputs
                    skipped with their reasons; counts per source; files read from the cache

(``k`` as five digits), each file atomically, the ``.json`` last and holding the shard's key: a
hash of the format version, the settings and the shard's jobs (source, name, path, size and
modification time of each file). ``manifest.json`` lists the plan and the shards written so far.
A killed run leaves whole shards; run again, it skips every shard whose key still matches and
reads the rest (files already read come from the per-file cache). Only one shard's pieces are in
memory at a time.

When every shard is written, ``meta.json`` sums them up (counts, skips, sources) and says how many
shards there are; :func:`iter_pieces` reads a split back shard by shard.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from melodygan.corpora.sources import Job
from melodygan.errors import MelodyganError
from melodygan.files import atomic_output

SPLITS = ("train", "valid", "test")
MANIFEST = "manifest.json"
SHARD_DIR = "shards"


def shard_name(index: int) -> str:
    return f"{index:05d}"


def plan(jobs: list[Job], shard_size: int) -> list[list[Job]]:
    """The jobs cut into shards of ``shard_size`` (the last may be shorter)."""
    if shard_size < 1:
        raise MelodyganError(f"shard size must be >= 1, got {shard_size}")
    return [jobs[i:i + shard_size] for i in range(0, len(jobs), shard_size)]


def shard_key(jobs: list[Job], config: object, format_version: int) -> str:
    """What a finished shard must match to be kept: settings and, per job, its file's size and time."""
    h = hashlib.sha256(json.dumps([format_version, asdict(config)]).encode())  # type: ignore[call-overload]
    for job in jobs:
        path = Path(job.path)
        try:
            st = path.stat()
            stamp: list[object] = [st.st_size, st.st_mtime_ns] if path.is_file() else _folder_stamp(path)
        except OSError:
            stamp = ["missing"]
        h.update(json.dumps([job.source, job.name, job.path, stamp]).encode())
    return h.hexdigest()[:32]


def _folder_stamp(path: Path) -> list[object]:
    """A job that is a folder (a POP909 song): every file's name, size and time."""
    return [[f.relative_to(path).as_posix(), f.stat().st_size, f.stat().st_mtime_ns]
            for f in sorted(path.rglob("*")) if f.is_file()]


def read_manifest(out: Path) -> dict[str, Any]:
    """The manifest of a folder, or an empty one."""
    try:
        data = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, json.JSONDecodeError):
        return {}


def write_text_atomic(path: Path, text: str) -> None:
    with atomic_output(path, force=True) as tmp:
        tmp.write_text(text, encoding="utf-8")


def record(out: Path, manifest: dict[str, Any], index: int, key: str) -> None:
    """Mark a shard written (after its files are in place)."""
    manifest.setdefault("done", {})[shard_name(index)] = key
    write_text_atomic(out / MANIFEST, json.dumps(manifest, indent=1))


def is_done(out: Path, index: int, key: str) -> bool:
    """Whether shard ``index`` is written with ``key`` (its ``.json``, written after its ``.npz``,
    holds the key)."""
    folder = out / SHARD_DIR
    try:
        info = read_info(out, index)
    except (OSError, json.JSONDecodeError):
        return False
    return isinstance(info, dict) and info.get("key") == key and (folder / f"{shard_name(index)}.npz").is_file()


def write_shard(out: Path, index: int, arrays: dict[str, dict[str, np.ndarray]], info: dict[str, Any]) -> None:
    """Write one shard's arrays (per split) and info, each file atomically."""
    folder = out / SHARD_DIR
    folder.mkdir(parents=True, exist_ok=True)
    flat = {f"{split}_{k}": v for split, part in arrays.items() for k, v in part.items()}
    with atomic_output(folder / f"{shard_name(index)}.npz", force=True) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **flat)  # type: ignore[arg-type]  # numpy's stub types the first kwarg as allow_pickle
    write_text_atomic(folder / f"{shard_name(index)}.json", json.dumps(info, separators=(",", ":")))


def read_info(out: Path, index: int) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / SHARD_DIR / f"{shard_name(index)}.json").read_text(encoding="utf-8"))
    return data


def read_arrays(out: Path, index: int, split: str) -> dict[str, np.ndarray]:
    with np.load(out / SHARD_DIR / f"{shard_name(index)}.npz") as z:
        return {k[len(split) + 1:]: z[k] for k in z.files if k.startswith(f"{split}_")}


def remove_stale(out: Path, shards: int) -> None:
    """Shard files past the current plan (a longer earlier run) and the single-file layout of
    format 1 go, so that the folder holds one dataset."""
    folder = out / SHARD_DIR
    if folder.is_dir():
        for f in folder.iterdir():
            stem = f.name.split(".")[0]
            if f.suffix in (".npz", ".json") and stem.isdigit() and int(stem) >= shards:
                f.unlink()
    for name in [f"{s}.npz" for s in SPLITS] + ["pieces.json"]:
        if (out / name).is_file():
            os.unlink(out / name)


def iter_shards(out: Path, meta: dict[str, Any], split: str) -> Iterator[tuple[dict[str, np.ndarray], list[Any]]]:
    """``(arrays, info)`` of one split, shard by shard."""
    for index in range(int(meta["shards"])):
        info = read_info(out, index)["pieces"][split]
        if info:
            yield read_arrays(out, index, split), info
