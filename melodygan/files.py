"""Output files: atomic writes and overwrite refusal for everything melodygan writes.

Every exporter writes through :func:`atomic_output`: the data goes to a temporary file in the
same folder (so the final rename never crosses a file system), and only a complete file is moved
into place with :func:`os.replace`. A crash or an error half-way leaves the old file (or no file)
and no stray temporary. An existing file is never replaced unless ``force=True``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from melodygan.errors import MelodyganError


def check_writable(path: str | Path, force: bool = False) -> Path:
    """Refuse to overwrite an existing file unless ``force``; make sure the folder exists.

    Args:
        path: the output file.
        force: allow replacing an existing file.

    Returns:
        The path as a :class:`~pathlib.Path`.

    Raises:
        MelodyganError: when the file exists and ``force`` is False, or the path is a folder.
    """
    p = Path(path)
    if p.is_dir():
        raise MelodyganError(f"output {p} is a folder; give a file name")
    if p.exists() and not force:
        raise MelodyganError(f"{p} exists; pass --force (force=True) to overwrite it")
    return p


@contextlib.contextmanager
def atomic_output(path: str | Path, force: bool = False) -> Iterator[Path]:
    """Write a file atomically: yield a temporary path beside ``path``, then rename it into place.

    Usage::

        with atomic_output("song.wav") as tmp:
            soundfile.write(tmp, audio, 44100)

    The temporary file keeps the final suffix (``.tmp-xxxx.wav``) so that libraries that pick a
    format from the extension still work. When the block raises, the temporary file is removed
    and ``path`` is left untouched.

    Args:
        path: the final file.
        force: allow replacing an existing file.

    Yields:
        The temporary path to write to (it exists, empty).

    Raises:
        MelodyganError: when ``path`` exists and ``force`` is False (nothing is written).
    """
    final = check_writable(path, force)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.stem}.tmp-", suffix=final.suffix, dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if not tmp.exists() or tmp.stat().st_size == 0:
            raise MelodyganError(f"nothing was written for {final}")
        # mkstemp makes the file private (0600); give it the usual permissions for new files
        os.chmod(tmp, 0o666 & ~_umask())
        # Re-check right before the rename: another program may have created the file meanwhile.
        check_writable(final, force)
        os.replace(tmp, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def output_path(source: str | Path, suffix: str, out_dir: str | Path | None = None, tag: str = "") -> Path:
    """Where an output for ``source`` goes: same stem, new suffix, beside it or in ``out_dir``.

    Args:
        source: the input (or main output) file, e.g. ``song.mid``.
        suffix: the new extension with its dot, e.g. ``".wav"``.
        out_dir: a folder for the outputs; None means beside ``source``.
        tag: inserted after the stem, e.g. ``"-Bass"`` for a stem file ``song-Bass.wav``.

    Returns:
        e.g. ``out_dir/song-Bass.wav``.
    """
    src = Path(source)
    folder = Path(out_dir) if out_dir is not None else src.parent
    return folder / f"{src.stem}{tag}{suffix}"
