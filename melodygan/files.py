"""Output files: atomic writes and overwrite refusal for everything melodygan writes.

Every exporter writes through :func:`atomic_output`: the data goes to a temporary file in the
same folder (so the final rename never crosses a file system), and only a complete file is moved
into place with :func:`os.replace`. A crash or an error half-way leaves the old file (or no file)
and no stray temporary. An existing file is never replaced unless ``force=True``.
A file-system refusal (read-only folder, full disk, a path through a file) is one
:class:`~melodygan.errors.MelodyganError` line. :func:`staged_outputs` makes a batch of files
all-or-nothing.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import uuid
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
    make_folder(final.parent)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{final.stem}.tmp-", suffix=final.suffix, dir=final.parent)
    except OSError as e:
        raise fs_error(final, e) from None
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
    except MelodyganError:
        raise
    except Exception as e:  # OSError, or a writer library's own error for a full disk
        if isinstance(e, OSError) or _FS_TROUBLE.search(str(e)):
            raise fs_error(final, e) from None
        raise
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


_FS_TROUBLE = re.compile(r"No space left|StorageFull|Errno 28|Read-only file system|Permission denied|"
                         r"Disk quota", re.IGNORECASE)


def fs_error(path: str | Path, e: BaseException) -> MelodyganError:
    """A file-system failure as one line: ``cannot write PATH: No space left on device``."""
    reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e).strip().splitlines()[0][:160]
    if "space left" in reason.lower() or "StorageFull" in reason or "Errno 28" in reason:
        reason = "No space left on device"
    return MelodyganError(f"cannot write {path}: {reason}")


def check_folder(folder: str | Path) -> Path:
    """Refuse, before any work, a folder that cannot be made or written to: its nearest existing
    ancestor is a file, or is not writable (a read-only file system, no permission)."""
    p = Path(folder)
    probe = p
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise MelodyganError(f"cannot create the folder {p}: {probe} is a file")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise MelodyganError(f"cannot write to {probe}: it is read-only (or not yours)")
    return p


def make_folder(folder: str | Path) -> Path:
    """``mkdir -p`` with one-line errors (a path through a file, a read-only parent)."""
    p = Path(folder)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise MelodyganError(f"cannot create the folder {p}: a file of that name is in the way") from None
    except NotADirectoryError:
        raise MelodyganError(f"cannot create the folder {p}: a part of the path is a file") from None
    except OSError as e:
        raise MelodyganError(f"cannot create the folder {p}: {e.strerror or e}") from None
    return p


@contextlib.contextmanager
def staged_outputs(folder: str | Path, names: list[str], force: bool = False) -> Iterator[Path]:
    """Write a batch of files all-or-nothing: every name is checked first, the files are written
    into a staging folder inside ``folder``, and moved into place only when all are written.

    Usage::

        with staged_outputs("out", ["clip-001.mid", "clip-001.wav"]) as stage:
            write_midi(piece, stage / "clip-001.mid") ...

    An error in the block leaves ``folder`` as it was. Replaced files (``force``) are kept aside
    until every new file is in place, and put back if a move fails.

    Raises:
        MelodyganError: a name exists and ``force`` is False (nothing is written), a name the
            block did not write, or a file-system refusal.
    """
    out = make_folder(folder)
    for name in names:
        check_writable(out / name, force)
    stage = out / f".staging-{uuid.uuid4().hex[:8]}"
    aside = stage / ".replaced"
    try:
        stage.mkdir()
        aside.mkdir()
    except OSError as e:
        shutil.rmtree(stage, ignore_errors=True)
        raise fs_error(stage, e) from None
    moved: list[str] = []
    try:
        yield stage
        missing = [n for n in names if not (stage / n).is_file()]
        if missing:
            raise MelodyganError(f"nothing was written for {out / missing[0]}")
        for name in names:
            check_writable(out / name, force)
        try:
            for name in names:
                if (out / name).exists():
                    os.replace(out / name, aside / name)
                os.replace(stage / name, out / name)
                moved.append(name)
        except OSError as e:
            for name in moved:  # put the folder back as it was
                with contextlib.suppress(OSError):
                    os.replace(out / name, stage / name)
            for name in names:
                if (aside / name).exists():
                    with contextlib.suppress(OSError):
                        os.replace(aside / name, out / name)
            raise fs_error(out, e) from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)


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
