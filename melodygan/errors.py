"""Errors raised for bad user input: a one-line message, exit code 2 from the CLI."""

from __future__ import annotations


class MelodyganError(Exception):
    """A problem with the user's input (file, flag, data) that the user can fix.

    The message is one line that names the bad value and what is allowed; the CLI prints it as
    ``melodygan: error: <message>`` and exits with code 2, without a traceback.
    """
