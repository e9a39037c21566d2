"""Named bounds on what a reader accepts, checked before the expensive step.

Every reader checks its input against these limits before it hands the input to a library
(pretty_midi, music21, librosa) or allocates anything in proportion to it, and refuses an input
over a limit with one line that names the limit and how to raise it::

    song.mid: length 600 minutes, over the limit score_minutes=90; raise it with --limit score_minutes=N
    (or MELODYGAN_LIMITS=score_minutes=N)

The defaults admit any real piece (a symphony, a two-hour concert MIDI, a folk collection of a
thousand tunes) and refuse what would take more than seconds or a few hundred MB to read.

Raise a limit for one command with ``melodygan --limit NAME=VALUE ...`` (repeatable), for every
command and worker process with the environment variable ``MELODYGAN_LIMITS="NAME=VALUE,NAME=VALUE"``,
or in Python with :func:`override`. ``0`` turns a limit off.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from melodygan.errors import MelodyganError

ENV = "MELODYGAN_LIMITS"


@dataclass(frozen=True)
class Limits:
    """The bounds (0 = no bound). Names are what ``--limit`` and ``MELODYGAN_LIMITS`` take."""

    midi_mb: float = 2.0  # size of a MIDI file (about 250,000 notes; parsing takes about a second per MB)
    file_mb: float = 64.0  # size of a MusicXML, kern or ABC file on disk
    midi_ticks: int = 10_000_000  # the last event's tick (pretty_midi keeps a time for every tick)
    score_minutes: float = 90.0  # length of a score in minutes (its tempo map; audio rendering too)
    score_bars: int = 4000  # length of a score in bars
    notes: int = 300_000  # notes in one score
    tracks: int = 128  # MIDI tracks / notation parts
    xml_mb: float = 64.0  # MusicXML text, after decompressing an .mxl
    xml_measures: int = 6000  # measures of all parts together (music21 reads about 300 a second)
    xml_depth: int = 64  # element nesting
    abc_tunes: int = 2000  # tunes in one ABC file
    abc_line_chars: int = 10_000  # characters in one ABC line
    abc_tune_chars: int = 50_000  # characters in one ABC tune
    abc_note_length: int = 64  # the multiplier or divisor of an ABC note length (C16, C/8)
    audio_minutes: float = 15.0  # length of a recording to transcribe
    parse_seconds: float = 90.0  # wall time of one music21 parse (a last resort behind the bounds above)

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]


def _parse(text: str, where: str) -> dict[str, Any]:
    types = {f.name: f.type for f in dataclasses.fields(Limits)}
    out: dict[str, Any] = {}
    for item in (x.strip() for x in text.replace(";", ",").split(",")):
        if not item:
            continue
        name, sep, value = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in types:
            raise MelodyganError(f"{where}: {item!r} is not NAME=VALUE with NAME one of {', '.join(Limits.names())}")
        try:
            number: float = float(value) if types[name] in ("float", float) else int(value)
        except ValueError:
            raise MelodyganError(f"{where}: {name}={value!r} is not a number") from None
        if number < 0:
            raise MelodyganError(f"{where}: {name}={value} must be >= 0 (0 = no limit)")
        out[name] = number
    return out


_overrides: dict[str, Any] = {}


_last: tuple[tuple[str, tuple[tuple[str, Any], ...]], Limits] | None = None


def current() -> Limits:
    """The limits in force: the defaults, then ``MELODYGAN_LIMITS``, then :func:`override`."""
    global _last
    state = (os.environ.get(ENV, ""), tuple(sorted(_overrides.items())))
    if _last is not None and _last[0] == state:
        return _last[1]  # the same settings as the last call: a reader checks several limits per file
    values = _parse(state[0], ENV)
    values.update(_overrides)
    _last = (state, Limits(**values))
    return _last[1]


def set_from_flags(items: list[str]) -> None:
    """Apply ``--limit NAME=VALUE`` items for this process and the worker processes it starts."""
    parsed = _parse(",".join(items), "--limit")
    if parsed:
        merged = {**_parse(os.environ.get(ENV, ""), ENV), **parsed}
        os.environ[ENV] = ",".join(f"{k}={v}" for k, v in merged.items())


@contextlib.contextmanager
def override(**values: Any) -> Iterator[Limits]:
    """Change limits inside a ``with`` block (this process only), e.g. ``override(notes=10)``."""
    unknown = set(values) - set(Limits.names())
    if unknown:
        raise MelodyganError(f"unknown limits {sorted(unknown)}; allowed: {', '.join(Limits.names())}")
    old = dict(_overrides)
    _overrides.update(values)
    try:
        yield current()
    finally:
        _overrides.clear()
        _overrides.update(old)


def over(source: object, text: str, name: str) -> MelodyganError:
    """The one-line refusal: ``<source>: <text>, over the limit NAME=VALUE; raise it with ...``."""
    limit = getattr(current(), name)
    shown = f"{limit:g}" if isinstance(limit, float) else str(limit)
    return MelodyganError(f"{source}: {text}, over the limit {name}={shown}; raise it with "
                          f"--limit {name}=N (or {ENV}={name}=N)")


def check(source: object, what: str, value: float, name: str, unit: str = "") -> None:
    """Raise :func:`over` when ``value`` exceeds the limit ``name`` (a limit of 0 is no limit).

    ``what`` and ``unit`` describe the value: ``check(p, "length", 600.0, "score_minutes", " minutes")``
    gives ``p: length 600 minutes, over the limit score_minutes=90; raise it with ...``.
    """
    limit = getattr(current(), name)
    if limit and value > limit:
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        raise over(source, f"{what} {shown}{unit}", name)


class _Timeout(BaseException):
    """Raised by the alarm inside a library call; a BaseException so that the library's own
    ``except Exception`` handlers do not swallow it."""


@contextlib.contextmanager
def time_limit(source: object, what: str = "reading it") -> Iterator[None]:
    """Stop the block after ``parse_seconds`` of wall time with a one-line MelodyganError.

    Uses ``SIGALRM``, so it only acts in the main thread of a process on a POSIX system (a
    worker process's jobs run there); elsewhere the block runs unbounded.
    """
    seconds = float(current().parse_seconds)
    usable = (seconds > 0 and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def alarm(signum: int, frame: Any) -> None:
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, alarm)
    old_delay, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _Timeout:
        raise over(source, f"{what} took more than {seconds:g} s", "parse_seconds") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if old_delay:
            signal.setitimer(signal.ITIMER_REAL, old_delay)
