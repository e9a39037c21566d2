"""The progress line: drawn on a terminal's stderr while a command works, silent with --quiet or
when stderr is not a terminal, never mistaken for a library's output, gone when the command ends."""

from __future__ import annotations

import io
import os
import pty
import select
import sys
from pathlib import Path

import pytest

from melodygan import progress
from melodygan.cli import main
from melodygan.formats.midi import write_midi
from melodygan.notes import Note
from melodygan.piece import Piece


def _song(tmp_path: Path) -> Path:
    return write_midi(Piece(melody=[Note(4 * i, 4, 60 + i) for i in range(8)]), tmp_path / "song.mid")


def _on_a_terminal(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    """Run ``main(argv)`` with stderr on a pseudo-terminal; what it showed there."""
    master, slave = pty.openpty()
    terminal = io.TextIOWrapper(io.FileIO(slave, "w", closefd=False), write_through=True)
    monkeypatch.setattr(sys, "stderr", terminal)
    try:
        code = main(argv)
    finally:
        monkeypatch.undo()
    shown = b""
    while select.select([master], [], [], 0.2)[0]:
        chunk = os.read(master, 65536)
        if not chunk:
            break
        shown += chunk
    os.close(master)
    os.close(slave)
    return code, shown.decode("utf-8", "replace")


def test_a_command_shows_its_stage_on_a_terminal_and_clears_it(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    song = _song(tmp_path)
    code, shown = _on_a_terminal(["render", str(song), "--wav", "--sample-rate", "22050"], monkeypatch)
    assert code == 0
    assert "render: rendering" in shown and "song.wav" in shown  # the stage, and the file at hand
    assert shown.startswith("\rrender: loading")
    assert shown.endswith("\r") and shown.split("\r")[-2].strip() == ""  # the line is blanked at the end


def test_quiet_and_pipes_get_no_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    song = _song(tmp_path)
    code, shown = _on_a_terminal(["render", str(song), "--wav", "--quiet", "--force"], monkeypatch)
    assert code == 0 and "render:" not in shown
    assert main(["render", str(song), "--wav", "--force"]) == 0  # stderr captured: not a terminal
    err = capsys.readouterr().err
    assert "\r" not in err and "render:" not in err


def test_library_output_capture_does_not_swallow_the_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import warnings

    from melodygan.errors import LibraryWarning, library_output

    master, slave = pty.openpty()
    terminal = io.TextIOWrapper(io.FileIO(slave, "w", closefd=False), write_through=True)
    monkeypatch.setattr(sys, "stderr", terminal)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with progress.task("test", enabled=True):
            progress.stage("working", total=2)
            with library_output("lib"):
                progress.advance()
                progress.detail("inside")
            progress.advance()
    monkeypatch.undo()
    shown = b""
    while select.select([master], [], [], 0.2)[0]:
        shown += os.read(master, 65536)
    os.close(master)
    os.close(slave)
    assert not [w for w in caught if issubclass(w.category, LibraryWarning)]  # not taken for the library's
    assert "test: working 1/2 · inside" in shown.decode()


def test_no_task_no_output() -> None:
    progress.stage("nothing")  # outside a task (the Python API): no-ops
    progress.advance()
    progress.detail("x")
    assert not progress.shown(quiet=True)
