"""Progress on stderr while a command works: one tqdm line with the stage, its count, what is
being done and the time spent, e.g. ``generate: writing 2/4 · clip-002.wav [00:07]``.

The command line opens one :func:`task` per command; the commands and the library mark their
work with :func:`stage` (a new stage, with a count when there is one), :func:`advance` and
:func:`detail` (the file or part at hand). All three do nothing when no task is open (the Python
API, tests) or when the task is quiet (``--quiet``, or stderr is not a terminal, so logs and
pipes get no control characters). While a task is open a thread redraws the line twice a second,
so the clock moves while a model runs; what the command prints on a terminal's stdout meanwhile
goes above the line, and the line is cleared when the task ends.

The line is written to a copy of the terminal's file descriptor taken when the task opens, so
that libraries whose own output is captured meanwhile (:func:`melodygan.errors.library_output`
redirects descriptor 2) neither swallow it nor report it as theirs.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from typing import IO, Any

REFRESH_SECONDS = 0.5


class _Task:
    def __init__(self, command: str, stream: IO[str]) -> None:
        from tqdm import tqdm

        self.command = command
        self.stream = stream
        self.label = "loading"
        self.text = ""
        self.bar: Any = tqdm(total=None, file=stream, leave=False, mininterval=0.1, desc=f"{command}: loading",
                             bar_format="{desc} [{elapsed}]")
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self._describe()
        self.thread = threading.Thread(target=self._redraw, name="melodygan-progress", daemon=True)
        self.thread.start()

    def _describe(self) -> None:
        count = f" {self.bar.n}/{self.bar.total}" if self.bar.total else ""
        more = f" · {self.text}" if self.text else ""
        self.bar.set_description_str(f"{self.command}: {self.label}{count}{more}", refresh=True)

    def _redraw(self) -> None:
        while not self.stopped.wait(REFRESH_SECONDS):
            with self.lock:
                self.bar.refresh()

    def stage(self, label: str, total: int | None) -> None:
        with self.lock:
            self.label, self.text = label, ""
            self.bar.n, self.bar.total = 0, total  # not reset(): the clock counts the whole command
            self._describe()

    def advance(self, n: int) -> None:
        with self.lock:
            self.bar.update(n)
            self._describe()

    def detail(self, text: str) -> None:
        with self.lock:
            self.text = text
            self._describe()

    def close(self) -> None:
        self.stopped.set()
        self.thread.join()
        with self.lock:
            self.bar.close()
        self.stream.flush()


_current: _Task | None = None


def shown(quiet: bool = False, stream: IO[str] | None = None) -> bool:
    """Whether a task would be drawn: not ``quiet`` and ``stream`` (stderr) is a terminal."""
    stream = stream if stream is not None else sys.stderr
    try:
        return not quiet and stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False


@contextlib.contextmanager
def task(command: str, *, enabled: bool) -> Iterator[None]:
    """Show the progress of ``command`` on stderr inside the block (nothing when not ``enabled``,
    or when a task is already open)."""
    global _current
    if not enabled or _current is not None:
        yield
        return
    try:
        stream: IO[str] = os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1, encoding="utf-8",
                                    errors="replace")
    except (OSError, AttributeError, ValueError):  # no real descriptor behind stderr
        yield
        return
    _current = _Task(command, stream)
    saved = sys.stdout
    if shown(stream=saved):  # stdout on the same terminal: its lines go above the progress line
        sys.stdout = _AboveTheLine(saved, _current)  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout = saved
        current, _current = _current, None
        current.close()
        stream.close()


class _AboveTheLine:
    """A terminal stdout whose lines are printed above the progress line (cleared, then redrawn)."""

    def __init__(self, out: IO[str], task: _Task) -> None:
        self.out, self.task = out, task

    def write(self, text: str) -> int:
        with self.task.lock:
            self.task.bar.clear()
            n = self.out.write(text)
            self.out.flush()
            self.task.bar.refresh()
        return n

    def __getattr__(self, name: str) -> Any:
        return getattr(self.out, name)


def stage(label: str, total: int | None = None) -> None:
    """Start a stage of the open task: ``label`` (``"sampling"``, ``"writing"``), ``total`` steps if counted."""
    if _current is not None:
        _current.stage(label, total)


def advance(n: int = 1) -> None:
    """``n`` more steps of the current stage are done."""
    if _current is not None:
        _current.advance(n)


def detail(text: str) -> None:
    """What the current stage is doing now (a file name, a part)."""
    if _current is not None:
        _current.detail(text)
