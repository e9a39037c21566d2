"""Errors raised for bad user input: a one-line message, exit code 2 from the CLI."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


class MelodyganError(Exception):
    """A problem with the user's input (file, flag, data) that the user can fix.

    The message is one line that names the bad value and what is allowed; the CLI prints it as
    ``melodygan: error: <message>`` and exits with code 2, without a traceback.
    """


@contextlib.contextmanager
def library_output(library: str) -> Iterator[None]:
    """Capture what a library prints or warns inside the block; re-issue it as ONE warning.

    music21, the humdrum parser, audio decoders and FluidSynth write their own lines to stderr
    (from Python or from C) and issue warnings of their own. Inside the block, file descriptors
    1 and 2, ``sys.stdout``/``sys.stderr`` and Python warnings are captured; after it, one
    :class:`LibraryWarning` says ``"<library>: <first line> (+N more)"``, which the command line
    prints as one ``melodygan: warning:`` line. Nothing is printed when the library said nothing.
    """
    import io
    import os
    import sys
    import tempfile
    import warnings

    lines: list[str] = []
    saved: list[tuple[int, int]] = []
    with tempfile.TemporaryFile(mode="w+b") as sink:
        for fd in (1, 2):
            try:
                sys.__stdout__.flush() if fd == 1 and sys.__stdout__ else None
                sys.__stderr__.flush() if fd == 2 and sys.__stderr__ else None
                saved.append((fd, os.dup(fd)))
                os.dup2(sink.fileno(), fd)
            except OSError:  # no such descriptor (an embedded interpreter): nothing to capture there
                continue
        text_out, text_err = io.StringIO(), io.StringIO()
        old_out, old_err = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = text_out, text_err
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                yield
        finally:
            sys.stdout, sys.stderr = old_out, old_err
            for fd, copy in saved:
                os.dup2(copy, fd)
                os.close(copy)
            sink.seek(0)
            raw = sink.read().decode("utf-8", "replace")
            lines = [ln.strip() for ln in (text_err.getvalue() + text_out.getvalue() + raw).splitlines()]
            for w in caught:
                if issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning, FutureWarning)):
                    continue
                if w.category.__module__.startswith("melodygan"):
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)  # ours: pass it on
                    continue
                lines.append(str(w.message).strip())
            lines = list(dict.fromkeys(ln for ln in lines if ln))
            if lines:
                more = f" (+{len(lines) - 1} more)" if len(lines) > 1 else ""
                first = lines[0] if len(lines[0]) <= 200 else lines[0][:197] + "..."
                warnings.warn(f"{library}: {first}{more}", LibraryWarning, stacklevel=3)


class LibraryWarning(UserWarning):
    """What a library printed or warned while melodygan called it (see :func:`library_output`)."""
