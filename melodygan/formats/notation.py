"""Notation reader: MusicXML / .mxl / ABC / Humdrum kern (via music21) → :class:`Piece`.

This module and the MusicXML writer are the only places that import music21, and only inside
functions (importing music21 takes about a second; ``melodygan generate`` must start fast).

Conversion rules (:func:`score_to_piece`):
    * Times: music21 offsets (quarter notes from the start of the part, pickup included) times
      ``steps_per_quarter``, rounded to the nearest step; a note keeps at least one step. A
      tuplet group keeps its span and its notes are spread over it, each on a step of its own (an
      eighth-note triplet becomes 16th–8th–16th); a 16th-note triplet has only two steps, so one
      of its notes is merged into the one before. Grace notes take no time and are dropped. What
      was moved, merged or dropped is counted in one :class:`ScoreImportWarning`.
    * Repeats (MusicXML and kern through :func:`read_notation`): repeat signs, first and second
      endings, D.C. and D.S. are written out as played (music21's ``expandRepeats``); ABC tunes
      are read as written (:mod:`melodygan.formats.abc`).
    * Pickup: a first measure with ``paddingLeft`` > 0 (an anacrusis) gives ``pickup_steps``.
    * Melody: the part named by ``melody_part`` (name or index), else the first part. Chords
      written in the melody (``[ceg]`` in ABC) and overlaps are reduced by the skyline (highest
      note wins). Tied notes are merged into one note (``stripTies``). Other parts become voices.
    * Chord symbols: every ``ChordSymbol`` is re-parsed from its text with
      :func:`melodygan.chords.parse_chord_symbol` (music21's flat spelling ``B-`` read back as
      ``Bb``); where the text is not understood, the chord is labelled from the pitches music21
      realised (:func:`melodygan.chords.label_chord`). A chord lasts until the next symbol or the
      end of the piece; ``N.C.`` ends the previous chord.
    * Key: the first ``Key`` (tonic and mode; dorian → minor, mixolydian → major on the same
      tonic) or ``KeySignature`` without a mode (its major key or its relative minor, whichever
      the notes' pitch-class profile fits better); no key signature: estimated from the notes;
      meter: the first time signature (4/4 if none);
      tempo: the first metronome mark (120 bpm if none); title from the metadata.

Bounds (:mod:`melodygan.limits`), checked before music21 parses anything: the file size; for
MusicXML the text size (an ``.mxl`` is decompressed with a cap, so a zip bomb stops at the cap),
element nesting, parts, measures and notes, counted by a streaming scan; then music21's parse
runs under the ``parse_seconds`` time limit with its own messages captured into one warning.
"""

from __future__ import annotations

import re
import warnings
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from melodygan import limits
from melodygan.chords import Chord, label_chord, parse_chord_symbol
from melodygan.errors import MelodyganError, library_output
from melodygan.keys import Key, estimate_key, key_profile, pitch_class_histogram
from melodygan.notes import Note, skyline
from melodygan.piece import ALLOWED_DENOMINATORS, DEFAULT_STEPS_PER_QUARTER, SATB, Piece, chords_from_changes

NOTATION_SUFFIXES = (".xml", ".musicxml", ".mxl", ".abc", ".krn")
_MODE_TO_KEY_MODE = {"major": "major", "ionian": "major", "mixolydian": "major", "lydian": "major",
                     "minor": "minor", "aeolian": "minor", "dorian": "minor", "phrygian": "minor",
                     "locrian": "minor"}
_MUSIC21_FLAT = re.compile(r"([A-Ga-g])-")


def chord_symbol_text(figure: str) -> str:
    """music21 chord figure → plain chord-symbol text (``'B-7'`` → ``'Bb7'``, ``'Gm/b-'`` → ``'Gm/bb'``)."""
    return _MUSIC21_FLAT.sub(r"\1b", figure.strip())


def _steps(quarters: Any, steps_per_quarter: int) -> int:
    return round(float(quarters) * steps_per_quarter)


def _key_of(part: Any, notes: list[Note]) -> Key:
    """The part's first key: a Key as written; a bare key signature (MusicXML without ``<mode>``)
    as its major or its relative minor, whichever the notes correlate with better; no key
    signature at all: estimated from the notes (Krumhansl-Schmuckler)."""
    from music21 import key as m21key

    for k in part.recurse().getElementsByClass(m21key.KeySignature):
        if isinstance(k, m21key.Key):
            mode = _MODE_TO_KEY_MODE.get(str(k.mode).lower(), "major")
            return Key(k.tonic.pitchClass, mode)
        major = Key((k.sharps * 7) % 12, "major")
        minor = Key((major.tonic + 9) % 12, "minor")
        h = pitch_class_histogram(notes)
        if h.std() == 0:
            return major
        r_major, r_minor = (float(np.corrcoef(h, key_profile(k_))[0, 1]) for k_ in (major, minor))
        return minor if r_minor > r_major else major
    return estimate_key(notes)[0] if notes else Key()


def _time_signature_of(part: Any) -> tuple[int, int]:
    from music21 import meter

    for ts in part.recurse().getElementsByClass(meter.TimeSignature):
        num, den = int(ts.numerator), int(ts.denominator)
        if num >= 1 and den in ALLOWED_DENOMINATORS:
            return num, den
    return 4, 4


def _tempo_of(score: Any) -> float:
    from music21 import tempo

    for mark in score.recurse().getElementsByClass(tempo.MetronomeMark):
        bpm = mark.getQuarterBPM()
        if bpm is not None and 10 <= bpm <= 400:
            return float(bpm)
    return 120.0


def _pickup_steps(part: Any, steps_per_quarter: int, bar_steps: int) -> int:
    from music21 import stream

    measures = part.getElementsByClass(stream.Measure)
    if not measures:
        return 0
    first = measures[0]
    if float(first.paddingLeft or 0) > 0:
        pickup = _steps(first.duration.quarterLength, steps_per_quarter)
        if 0 < pickup < bar_steps:
            return pickup
    return 0


def part_notes(part: Any, steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER) -> tuple[list[Note], Counter[str]]:
    """All notes of a music21 part on the step grid (ties merged, chord symbols excluded).

    Notes of a tuplet (a triplet: three in the time of two) cannot all sit on a 16th grid; each
    tuplet group keeps its span and its notes are spread over it, every one on its own step
    (an eighth-note triplet on a beat becomes 16th, 8th, 16th); where the span has fewer steps
    than notes (a 16th-note triplet), the notes that would share a step are merged into the note
    before them.

    Returns:
        ``(notes, report)``: notes sorted by onset; ``report`` counts ``"grace"`` notes dropped
        (they take no time), ``"range"`` notes outside MIDI's 0-127 dropped, ``"tuplet"`` notes
        moved to the grid and ``"tuplet merged"`` ones lost that way.
    """
    from music21 import harmony

    report: Counter[str] = Counter()
    flat = part.stripTies(inPlace=False).flatten() if hasattr(part, "stripTies") else part.flatten()
    slots: list[tuple[float, float, Any]] = []  # (start_q, end_q, element) in quarters
    for el in flat.notes:
        if isinstance(el, harmony.Harmony):
            continue
        if float(el.quarterLength) <= 0:
            report["grace"] += 1  # a grace note takes no time on the grid
            continue
        slots.append((float(el.offset), float(el.offset + el.quarterLength), el))
    steps = _tuplet_steps(slots, steps_per_quarter, report)
    notes: list[Note] = []
    for (_, _, el), placed in zip(slots, steps):
        if placed is None:
            continue
        start, end = placed
        velocity = int(el.volume.velocity) if el.volume is not None and el.volume.velocity else 90
        for p in el.pitches:
            if 0 <= p.midi <= 127:
                notes.append(Note(start, end - start, int(p.midi), min(max(velocity, 1), 127)))
            else:
                report["range"] += 1
    return sorted(notes), report


def _tuplet_steps(slots: list[tuple[float, float, Any]], steps_per_quarter: int,
                  report: Counter[str]) -> list[tuple[int, int] | None]:
    """Grid ``(start, end)`` steps of each slot (None: merged away). Plain notes round to the
    nearest step; a chain of tuplet notes (each starting where the previous ended) is spread over
    its rounded span (see :func:`part_notes`)."""
    out: list[tuple[int, int] | None] = []
    groups: list[list[int]] = []  # chains of slot indices
    open_at: dict[float, int] = {}  # end (quarters) of an open chain -> its group index
    for i, (a, b, el) in enumerate(slots):
        start = _steps(a, steps_per_quarter)
        out.append((start, max(_steps(b, steps_per_quarter), start + 1)))
        if el.duration.tuplets:
            g = open_at.pop(round(a, 6), None)
            if g is None:
                g = len(groups)
                groups.append([])
            groups[g].append(i)
            open_at[round(b, 6)] = g
    for group in groups:
        if all(abs(x * steps_per_quarter - round(x * steps_per_quarter)) < 1e-6 for i in group for x in slots[i][:2]):
            continue  # already on the grid (e.g. eighth-note triplets at 12 steps per quarter)
        report["tuplet"] += len(group)
        lo, hi = _steps(slots[group[0]][0], steps_per_quarter), _steps(slots[group[-1]][1], steps_per_quarter)
        span = max(hi - lo, 1)
        starts = [lo + int(k * span / len(group) + 0.5) for k in range(len(group))]
        kept = [k for k in range(len(group)) if k == 0 or starts[k] != starts[k - 1]]
        report["tuplet merged"] += len(group) - len(kept)
        for k in range(len(group)):
            out[group[k]] = None  # merged into the kept note before it, which takes over its time
        for j, k in enumerate(kept):
            out[group[k]] = (starts[k], starts[kept[j + 1]] if j + 1 < len(kept) else lo + span)
    return out


def part_chord_changes(part: Any, steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER) -> list[tuple[int, Chord]]:
    """Chord-symbol changes of a music21 part: ``(start_steps, chord)`` in order.

    Each symbol is re-parsed from its text (see module docstring); a symbol that is neither
    parseable nor realised as pitches is skipped (it is not a chord, e.g. a remark).
    """
    from music21 import harmony

    changes: list[tuple[int, Chord]] = []
    for cs in part.flatten().getElementsByClass(harmony.Harmony):
        start = _steps(cs.offset, steps_per_quarter)
        if isinstance(cs, harmony.NoChord):
            changes.append((start, parse_chord_symbol("N.C.")))
            continue
        text = chord_symbol_text(str(cs.figure or ""))
        try:
            chord = parse_chord_symbol(text)
        except ValueError:
            weights = np.zeros(12, dtype=np.float32)
            for p in cs.pitches:
                weights[p.pitchClass] += 1.0
            if weights.sum() == 0:
                continue
            chord, _ = label_chord(weights)
        changes.append((start, chord))
    return changes


class ScoreImportWarning(UserWarning):
    """Notes of a score that did not fit the Piece as written (grace notes, tuplets, range)."""


def _warn_changes(report: Counter[str], source: str, steps_per_quarter: int) -> None:
    """One :class:`ScoreImportWarning` with the counts of :func:`part_notes`' report."""
    grid = {4: "16th", 8: "32nd", 2: "8th"}.get(steps_per_quarter, f"1/{4 * steps_per_quarter}")
    parts = []
    if report["tuplet"]:
        merged = report["tuplet merged"]
        parts.append(f"{report['tuplet']} tuplet notes (triplets) fitted to the {grid} grid"
                     + (f", {merged} of them merged into the note before (too short for the grid)" if merged else ""))
    if report["grace"]:
        parts.append(f"{report['grace']} grace notes dropped")
    if report["range"]:
        parts.append(f"{report['range']} notes outside MIDI's range dropped")
    if parts:
        warnings.warn(f"{source}: " + "; ".join(parts), ScoreImportWarning, stacklevel=3)


def score_to_piece(score: Any, *, melody_part: str | int | None = None, title: str | None = None,
                   steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER, source: str | None = None) -> Piece:
    """Convert a music21 ``Score`` (or a single ``Part``) to a :class:`Piece` (rules in the module docstring).

    Grace notes dropped and tuplet notes moved to the grid are reported in one
    :class:`ScoreImportWarning` (counts), never silently.

    Args:
        score: a music21 Score or Part.
        melody_part: part name or index of the melody; default the first part.
        title: overrides the score's title.
        steps_per_quarter: grid resolution.
        source: names the input in the warning (default the title).

    Raises:
        MelodyganError: no parts, or no part matching ``melody_part``.
    """
    from music21 import stream

    parts = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]
    if not isinstance(parts[0], stream.Stream) or isinstance(parts[0], stream.Score):
        raise MelodyganError("the score has no parts")
    names = [str(p.partName or p.id or f"Part {i + 1}") for i, p in enumerate(parts)]
    if melody_part is None:
        mi = 0
    elif isinstance(melody_part, int):
        if not 0 <= melody_part < len(parts):
            raise MelodyganError(f"melody part {melody_part} out of range; the score has parts 0..{len(parts) - 1}")
        mi = melody_part
    else:
        matches = [i for i, n in enumerate(names) if n.lower() == melody_part.lower()]
        if not matches:
            raise MelodyganError(f"no part named {melody_part!r}; parts are: {', '.join(names)}")
        mi = matches[0]
    lead = parts[mi]
    time_signature = _time_signature_of(lead)
    num, den = time_signature
    bar_steps = steps_per_quarter * 4 * num // den
    melody, report = part_notes(lead, steps_per_quarter)
    melody = skyline(melody)
    voices: dict[str, list[Note]] = {}
    for i, p in enumerate(parts):
        if i != mi:
            notes, more = part_notes(p, steps_per_quarter)
            report += more
            name = names[i] if names[i] not in voices and names[i] != names[mi] else f"{names[i]} {i + 1}"
            voices[name] = notes
    end = max([n.end_steps for n in melody] + [n.end_steps for v in voices.values() for n in v]
              + [_steps(lead.highestTime, steps_per_quarter)] + [1])
    changes = []
    for p in parts:  # chord symbols may sit in any part; the first part that has some wins
        changes = part_chord_changes(p, steps_per_quarter)
        if changes:
            break
    chords = [c for c in chords_from_changes(changes, end) if not c.is_no_chord]
    if title is None:
        md = getattr(score, "metadata", None)
        title = str(md.title) if md is not None and md.title else ""
    if report:
        _warn_changes(report, source or title or "score", steps_per_quarter)
    every_note = melody + [n for v in voices.values() for n in v]
    return Piece(
        melody=melody, chords=chords, voices=voices, key=_key_of(lead, every_note), time_signature=time_signature,
        tempo_bpm=_tempo_of(score), steps_per_quarter=steps_per_quarter,
        pickup_steps=_pickup_steps(lead, steps_per_quarter, bar_steps), length_steps=end, title=title,
        melody_name="Melody" if len(parts) == 1 else names[mi],
    )


def _mxl_text(path: Path) -> bytes:
    """The score inside an ``.mxl`` (the container's root file, else the first .xml/.musicxml),
    decompressed with the ``xml_mb`` cap: a zip bomb stops at the cap, whatever its header says."""
    cap = limits.current().xml_mb * 2**20 or float("inf")
    try:
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if not n.startswith("META-INF/")]
            root = None
            if "META-INF/container.xml" in z.namelist():
                m = re.search(rb'full-path="([^"]+)"', z.read("META-INF/container.xml")[:65536])
                root = m.group(1).decode("utf-8", "replace") if m else None
            if root not in names:
                root = next((n for n in names if n.lower().endswith((".xml", ".musicxml"))), None)
            if root is None:
                raise MelodyganError(f"{path}: the .mxl archive holds no MusicXML file")
            declared = z.getinfo(root).file_size
            if declared > cap:
                raise limits.over(path, f"decompressed size {declared / 2**20:.4g} MB", "xml_mb")
            chunks, size = [], 0
            with z.open(root) as f:
                while chunk := f.read(1 << 20):
                    size += len(chunk)
                    if size > cap:
                        raise limits.over(path, f"decompressed size over {size / 2**20:.4g} MB", "xml_mb")
                    chunks.append(chunk)
            return b"".join(chunks)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, KeyError, ValueError,
            NotImplementedError, RuntimeError) as e:
        raise MelodyganError(f"{path}: not a readable .mxl archive ({type(e).__name__}: {str(e)[:100]})") from None


def check_musicxml_bounds(data: bytes, source: object) -> None:
    """Stream-scan MusicXML text (expat, no entity resolution) and refuse it over a limit: size,
    nesting depth, parts, measures (all parts together) or notes. Malformed XML is left to music21,
    which names the problem."""
    import xml.parsers.expat

    lim = limits.current()
    limits.check(source, "MusicXML text", round(len(data) / 2**20, 2), "xml_mb", " MB")
    counts = {"depth": 0, "part": 0, "measure": 0, "note": 0}
    inside: list[str] = []

    class _Over(Exception):
        pass

    class _Bad(Exception):
        pass

    def characters(chars: str) -> None:
        if inside and inside[-1] in ("beats", "beat-type") and chars.strip():
            beats = inside[-1] == "beats"
            problem = meter_problem(chars if beats else "1", "4" if beats else chars)
            if problem:
                raise _Bad(problem)

    def start(name: str, attrs: Any) -> None:
        inside.append(name)
        counts["depth"] += 1
        if lim.xml_depth and counts["depth"] > lim.xml_depth:
            raise _Over("depth")
        if name in ("part", "measure", "note"):
            counts[name] += 1
            bound = {"part": lim.tracks, "measure": lim.xml_measures, "note": lim.notes}[name]
            if bound and counts[name] > bound:
                raise _Over(name)

    def end(name: str) -> None:
        counts["depth"] -= 1
        if inside:
            inside.pop()

    parser = xml.parsers.expat.ParserCreate()
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    try:
        parser.Parse(data, True)
    except _Bad as e:
        raise MelodyganError(f"{source}: {e}") from None
    except _Over as e:
        what = str(e)
        name = {"depth": "xml_depth", "part": "tracks", "measure": "xml_measures", "note": "notes"}[what]
        text = {"depth": "elements nested deeper than {}", "part": "more than {} parts",
                "measure": "more than {} measures", "note": "more than {} notes"}[what]
        raise limits.over(source, text.format(getattr(lim, name)), name) from None
    except (xml.parsers.expat.ExpatError, LookupError, ValueError):
        pass  # malformed XML, an unknown encoding: music21 reports it in its own words


_POWERS_OF_TWO = (1, 2, 4, 8, 16, 32, 64)


def meter_problem(numerator: str, denominator: str) -> str | None:
    """Why a time signature cannot be read (music21 runs for minutes on ``999/4``), or None:
    the numerator (``3`` or ``3+2``) must add up to 1..64, the denominator one of 1, 2, 4 … 64."""
    try:
        num = sum(int(x) for x in numerator.strip().split("+"))
        den = int(denominator.strip())
    except ValueError:
        return f"time signature {numerator.strip()[:20]}/{denominator.strip()[:20]} is not N/D"
    if not 1 <= num <= 64 or den not in _POWERS_OF_TWO:
        return f"time signature {num}/{den} is not N/D with N 1..64 and D one of 1, 2, 4 ... 64"
    return None


def check_kern_bounds(text: str, source: object) -> None:
    """Meter (``*M3/4``) and tempo (``*MM120``) records of a Humdrum file that music21 cannot use."""
    for m in re.finditer(r"\*M(\d*)/(\d*)", text):
        problem = meter_problem(m.group(1) or "x", m.group(2) or "x")
        if problem:
            raise MelodyganError(f"{source}: {problem}")
    for m in re.finditer(r"\*MM(\d+(?:\.\d*)?)", text):
        if not 1 <= float(m.group(1)) <= 1000:
            raise MelodyganError(f"{source}: tempo *MM{m.group(1)[:20]} is not 1..1000 beats per minute")


def check_piece_length(piece: Piece, source: object) -> None:
    """The ``score_bars`` limit on a piece read from notation (a note of 10^8 quarters)."""
    limits.check(source, "length", round(piece.end_steps / max(piece.bar_steps, 1)), "score_bars", " bars")


def check_notation_bounds(path: Path) -> None:
    """The bounds of a notation file before music21 reads it (see the module docstring)."""
    limits.check(path, "file size", round(path.stat().st_size / 2**20, 2), "file_mb", " MB")
    suffix = path.suffix.lower()
    if suffix == ".mxl":
        check_musicxml_bounds(_mxl_text(path), path)
    elif suffix in (".xml", ".musicxml"):
        check_musicxml_bounds(path.read_bytes(), path)
    elif suffix == ".krn":
        check_kern_bounds(path.read_bytes().decode("utf-8", "replace"), path)


def expand_repeats(score: Any, source: object) -> Any:
    """The score played through: repeat signs, first and second endings (and D.C./D.S. marks)
    written out in order, by music21's ``expandRepeats``. A score without any comes back as it is;
    one whose repeats music21 cannot follow is read as written, with a warning."""
    from music21 import bar, repeat, spanner

    marks = any(isinstance(b, bar.Repeat) for b in score.recurse().getElementsByClass(bar.Barline)) or \
        any(score.recurse().getElementsByClass(spanner.RepeatBracket)) or \
        any(score.recurse().getElementsByClass(repeat.RepeatExpression))
    if not marks:
        return score
    try:
        return score.expandRepeats()
    except Exception as e:  # music21's ExpanderException and friends for repeats it cannot follow
        warnings.warn(f"{source}: repeats not expanded ({type(e).__name__}: {str(e)[:80]}); read as written",
                      ScoreImportWarning, stacklevel=2)
        return score


def read_notation(path: str | Path, melody_track: str | int | None = None) -> Piece:
    """Read one MusicXML (.xml/.musicxml/.mxl) or kern (.krn) file (ABC: :mod:`melodygan.formats.abc`).

    Raises:
        MelodyganError: the file is missing, unreadable, over a limit, or holds no notes.
    """
    from music21 import converter, stream

    path = Path(path)
    if not path.is_file():
        raise MelodyganError(f"{path}: no such file")
    check_notation_bounds(path)
    if path.suffix.lower() == ".abc":  # ABC goes through its own bounded reader, tune by tune
        raise MelodyganError(f"{path}: read ABC files with melodygan.read_score or melodygan.formats.abc")
    try:
        with limits.time_limit(path, "reading the score"), library_output("music21"):
            parsed = converter.parse(str(path), forceSource=True)
            if isinstance(parsed, stream.Opus):
                if not parsed.scores:
                    raise MelodyganError(f"{path}: the file holds no tunes")
                parsed = parsed.scores[0]
            parsed = expand_repeats(parsed, path)
            piece = score_to_piece(parsed, melody_part=melody_track, title=None, source=path.name)
        check_piece_length(piece, path)
    except MelodyganError:
        raise
    except Exception as e:  # music21 raises many exception types for bad input
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise MelodyganError(f"{path}: not a readable score ({type(e).__name__}: {msg[:120]})") from None
    if not piece.all_notes():
        raise MelodyganError(f"{path}: the score holds no notes")
    if not piece.title:
        piece = piece.replace(title=path.stem)
    return piece


FOLK_FOLDERS = ("essenFolksong", "oneills1850", "ryansMammoth", "airdsAirs", "miscFolk")


def music21_corpus_files(name: str) -> list[Path]:
    """The files of a collection bundled with music21, sorted: ``"bach"`` (chorales: ``.mxl``, ``.xml``,
    ``.krn``) or ``"folk"`` (the ABC files of Essen, O'Neill, Ryan, Aird and misc. folk)."""
    from music21 import corpus

    if name == "bach":
        paths = [Path(str(p)) for p in corpus.getComposer("bach")]
        return sorted(p for p in paths if p.suffix in (".mxl", ".xml", ".krn"))
    if name == "folk":
        paths = [Path(str(p)) for p in corpus.getPaths(fileExtensions=("abc",))]
        return sorted(p for p in paths if p.parent.name in FOLK_FOLDERS)
    raise MelodyganError(f"unknown music21 collection {name!r}; allowed: bach, folk")


def _satb_parts(parts: list[Any]) -> list[Any] | None:
    """The Soprano, Alto, Tenor, Bass parts by name (instrument parts such as horns or continuo
    are left out), or the parts themselves when there are exactly four; None otherwise."""
    by_name: dict[str, Any] = {}
    for p in parts:
        name = str(p.partName or "").strip().lower()
        for voice in SATB:
            v = voice.lower()
            if v not in by_name and name in (v, v[0], v[0] + "."):
                by_name[v] = p
    if len(by_name) == 4:
        return [by_name[v.lower()] for v in SATB]
    return parts if len(parts) == 4 else None


def read_chorale(path: str | Path) -> Piece:
    """A four-voice chorale score: the soprano as melody, alto, tenor and bass as named voices.

    Parts are found by name (Soprano/Alto/Tenor/Bass, S./A./…) or, in a four-part score, by order;
    doubling instruments (horns, continuo) are left out.

    Raises:
        MelodyganError: not a four-voice score.
    """
    from music21 import converter

    score: Any = converter.parse(str(path))
    parts = list(score.parts) if hasattr(score, "parts") else []
    satb = _satb_parts(parts)
    if satb is None:
        raise MelodyganError(f"not a four-voice chorale ({len(parts)} parts, no Soprano/Alto/Tenor/Bass)")
    for p in parts:
        if all(p is not q for q in satb):
            score.remove(p)  # doubling instruments (horns, continuo) are not voices of the chorale
    for p, name in zip(satb, SATB):  # chorale parts come in S, A, T, B order
        p.partName = name
    return score_to_piece(score, melody_part="Soprano")
