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


# --- preprocess -------------------------------------------------------------------------------
def _add_preprocess(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("preprocess", help="turn corpora into cached arrays + meta.json",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.set_defaults(func=_run_preprocess)


def _run_preprocess(args: argparse.Namespace) -> int:
    raise MelodyganError("preprocess is not available in this build")


COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [  # type: ignore[type-arg]
    _add_preprocess,
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
