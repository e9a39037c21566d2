"""The command line's own manners: --help shows each default once (none for "not given") and
examples that parse; a closed stdout pipe ends the command quietly."""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from melodygan.cli import build_parser

WITH_EXAMPLES = ("generate", "harmonize", "infill", "vary", "render", "preprocess", "train", "train ar",
                 "train gan", "train harmonizer")


def _subparsers(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    out = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                full = f"{prefix}{name}"
                out[full] = sub
                out.update(_subparsers(sub, full + " "))
    return out


def test_every_help_shows_each_default_once_and_none_for_not_given() -> None:
    parser = build_parser()
    commands = _subparsers(parser)
    assert set(WITH_EXAMPLES) <= set(commands)
    for name, sub in {"": parser, **commands}.items():
        text = sub.format_help()
        flat = " ".join(text.split())
        assert "(default: None)" not in flat and "default: None," not in flat, name
        assert "(default: False)" not in flat and "(default: [])" not in flat, name
        for action in sub._actions:
            if action.help and action.option_strings:
                shown = sub._get_formatter()._expand_help(action) if action.help != argparse.SUPPRESS else ""
                shown = shown if isinstance(shown, str) else ""
                assert shown.count("(default") <= 1, (name, action.option_strings, shown)
    generate = " ".join(commands["generate"].format_help().split())
    assert "--bars BARS bars per clip (default: 8)" in generate  # a real default is still shown
    preprocess = " ".join(commands["preprocess"].format_help().split())
    assert "0 = every CPU core (default: 0)" in preprocess  # zero is a default too
    assert "--key KEY key, e.g. G, Em, Bb (default: drawn from the training tunes' keys)" in generate


@pytest.mark.parametrize("command", WITH_EXAMPLES)
def test_examples_are_shown_and_parse(command: str) -> None:
    parser = build_parser()
    text = _subparsers(parser)[command].format_help()
    assert "examples:" in text
    examples = [line.strip() for line in text.split("examples:", 1)[1].splitlines() if line.strip()]
    assert 2 <= len(examples) <= 4, examples
    for line in examples:
        argv = shlex.split(re.sub(r"\s+#.*$", "", line))
        assert argv[0] == "melodygan" and " ".join(argv[1:]).startswith(command)
        args = parser.parse_args(argv[1:])  # exits (a failure here) on any flag the command does not know
        assert callable(args.func)


def test_a_closed_stdout_pipe_ends_quietly(tmp_path: Path) -> None:
    """`melodygan tokens | head`: the reader goes away; no traceback, no error line, exit 141."""
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root))
    proc = subprocess.Popen([sys.executable, "-m", "melodygan", "tokens"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before the command writes anything: every write finds a closed pipe
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 141
    assert err == ""
