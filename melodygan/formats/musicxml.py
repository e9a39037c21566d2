"""MusicXML scores of a Piece (music21), and a PNG of the sheet through MuseScore 3.

Two layouts:

* **lead sheet**: the melody as one part with the chord symbols above it (``<harmony>``
  elements, spelled in the key's accidentals), key signature, meter and a metronome mark;
* **score**: one part per track (a chorale's Soprano, Alto, Tenor, Bass; or every track of a MIDI
  file), chord symbols over the top part. Polyphonic tracks are written as chords, notes held
  across other onsets tied.

``layout="auto"`` writes a lead sheet when the piece has chord symbols and no parts besides an
arrangement's "Chords" and "Bass", and a score otherwise. A pickup becomes a short first measure
(number 0). Notes crossing bar lines are split and tied. Only this module (with the notation
readers) imports music21, and only inside its functions: the import takes a second or two.

The sheet PNG needs MuseScore 3 (``musescore3`` or ``mscore3``/``mscore`` on the PATH), run with
``QT_QPA_PLATFORM=offscreen``; without it :func:`write_sheet_png` raises a one-line error that says
how to install it.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from melodygan.chords import Chord
from melodygan.errors import MelodyganError
from melodygan.files import atomic_output, check_writable
from melodygan.keys import Key, pitch_spelling
from melodygan.notes import Note
from melodygan.piece import Piece

LAYOUTS = ("auto", "lead-sheet", "score")
ARRANGEMENT_PARTS = ("Chords", "Bass")
MUSESCORE_NAMES = ("musescore3", "mscore3", "mscore", "musescore")
MUSESCORE_HINT = ("MuseScore 3 is needed for the sheet PNG and was not found on the PATH (Debian/Ubuntu: "
                  "apt install musescore3; or https://musescore.org); the MusicXML file opens in any notation program")


def m21_figure(chord: Chord, key: Key) -> str:
    """The chord symbol spelled for ``key`` and for music21 (``-`` for flat: ``'Bb/D'`` -> ``'B-/D'``)."""
    assert chord.root is not None
    text = chord.symbol(key=key)
    text = re.sub(r"^([A-G])b", r"\1-", text)
    return re.sub(r"/([A-G])b", r"/\1-", text)


def m21_pitch(midi: int, key: Key) -> Any:
    """A music21 Pitch spelled for ``key`` (:func:`melodygan.keys.pitch_spelling`: G#–A–G# in A
    major and A minor, A#–B in C# minor), with no accidental object on naturals (music21 would
    print a natural sign on every such note)."""
    from music21 import pitch

    name = pitch_spelling(midi % 12, key)
    alter = name.count("#") - name.count("b")
    p = pitch.Pitch(name.replace("b", "-") + str((midi - alter) // 12 - 1))  # B#3 is MIDI 60, Cb4 is 59
    if p.accidental is not None and p.accidental.name == "natural":
        p.accidental = None
    return p


def choose_layout(piece: Piece, layout: str = "auto") -> str:
    """Resolve ``"auto"`` (see the module docstring); check the name."""
    if layout not in LAYOUTS:
        raise MelodyganError(f"unknown score layout {layout!r}; allowed: {', '.join(LAYOUTS)}")
    if layout != "auto":
        return layout
    others = [k for k in piece.voices if k not in ARRANGEMENT_PARTS]
    return "lead-sheet" if piece.chords and not others and piece.melody else "score"


def _part(name: str, notes: list[Note], piece: Piece, with_chords: bool, first: bool) -> Any:
    """One music21 Part: notes (chordified where they overlap), chord symbols, measures, ties."""
    from music21 import chord as m21chord
    from music21 import harmony, instrument, key, meter, note, stream, tempo

    spq = piece.steps_per_quarter
    shift = (piece.bar_steps - piece.pickup_steps) % piece.bar_steps  # pickup sits at the end of bar 0
    flat = stream.Part()
    flat.partName = name
    flat.id = re.sub(r"\W+", "_", name) or "part"
    # group by (start, duration) into chords, then slice where groups overlap so every element is
    # a plain note or chord (MusicXML needs one voice per staff here)
    cuts = sorted({shift + n.start_steps for n in notes} | {shift + n.end_steps for n in notes}
                  | _beat_cuts(notes, piece, shift))
    for a, b in itertools.pairwise(cuts):
        sounding = [n for n in notes if shift + n.start_steps <= a and shift + n.end_steps >= b]
        if not sounding:
            continue
        pitches = [m21_pitch(p, piece.key) for p in sorted({n.pitch for n in sounding})]
        el = note.Note(pitches[0]) if len(pitches) == 1 else m21chord.Chord(pitches)
        el.quarterLength = (b - a) / spq
        # a note that started before this slice continues: tie it from the previous slice
        el.editorial.continues = any(shift + n.start_steps < a for n in sounding)  # type: ignore[attr-defined]
        el.volume.velocity = max(n.velocity for n in sounding)
        flat.insert(a / spq, el)
    num, den = piece.time_signature
    flat.insert(0, meter.TimeSignature(f"{num}/{den}"))
    # a Key (tonic and mode), not only a signature: MusicXML's <mode> tells A minor from C major
    tonic = pitch_spelling(piece.key.tonic, piece.key).replace("b", "-")
    flat.insert(0, key.Key(tonic, piece.key.mode))
    if first:
        flat.insert(0, tempo.MetronomeMark(number=round(piece.tempo_bpm, 2)))
    inst = instrument.Instrument()
    inst.partName = inst.instrumentName = name
    flat.insert(0, inst)
    measured = flat.makeNotation()  # measures, ties across bar lines, beams
    measured.makeRests(fillGaps=True, inPlace=True, timeRangeFromBarDuration=True)
    measured.partName = name
    _tie_continuations(measured)
    if with_chords:
        # chord symbols go into the measures after notation, so that they never count as a voice
        measures = list(measured.getElementsByClass("Measure"))
        for c in piece.chords:
            if c.start_steps >= piece.end_steps:
                continue
            sym = harmony.NoChord() if c.is_no_chord else harmony.ChordSymbol(m21_figure(c, piece.key))
            sym.writeAsChord = False
            at = (shift + c.start_steps) / spq
            m = next(m for m in reversed(measures) if m.offset <= at)
            m.insert(at - m.offset, sym)
    if piece.pickup_steps:
        _make_anacrusis(measured, shift / spq)
    return measured


def _beat_cuts(notes: list[Note], piece: Piece, shift: int) -> set[int]:
    """In a compound meter (6/8, 9/8, 12/8), the dotted-quarter beats a note runs across without
    filling whole beats from one: a note of four eighths on the downbeat of a 6/8 bar is written
    as a dotted quarter tied to an eighth, so the bar's second beat stays in sight (a dotted half
    filling the bar stays one note). Positions as in :func:`_part` (after the pickup shift)."""
    num, den = piece.time_signature
    if den != 8 or num % 3 or num <= 3:
        return set()
    beat = 3 * piece.steps_per_quarter // 2
    out: set[int] = set()
    for n in notes:
        a, b = shift + n.start_steps, shift + n.end_steps
        if a % beat == 0 and b % beat == 0:
            continue
        out.update(range((a // beat + 1) * beat, b, beat))
    return out


def _tie_continuations(part: Any) -> None:
    """Tie slices that continue a note held from the slice before (set in :func:`_part`)."""
    from music21 import tie

    prev = None
    for el in part.recurse().notes:
        if getattr(el.editorial, "continues", False) and prev is not None:
            if prev.tie is None or prev.tie.type == "stop":
                prev.tie = tie.Tie("start" if prev.tie is None else "continue")
            el.tie = tie.Tie("stop") if el.tie is None else tie.Tie("continue")
        prev = el


def _make_anacrusis(part: Any, pad_ql: float) -> None:
    """Turn the first measure into a pickup: drop its leading rest(s), number it 0."""
    from music21 import note

    m0 = part.getElementsByClass("Measure")[0]
    for el in list(m0.notesAndRests):
        if isinstance(el, note.Rest) and el.offset < pad_ql:
            m0.remove(el)
    for el in list(m0.notesAndRests):
        m0.coreSetElementOffset(el, el.offset - pad_ql)
    m0.coreElementsChanged()
    m0.paddingLeft = pad_ql
    for m in part.getElementsByClass("Measure"):
        m.number -= 1


def piece_to_score(piece: Piece, layout: str = "auto") -> Any:
    """Build a ``music21.stream.Score`` (see the module docstring for the layouts).

    Raises:
        MelodyganError: an unknown layout, or a piece without notes.
    """
    from music21 import metadata, stream

    kind = choose_layout(piece, layout)
    tracks = {piece.melody_name: piece.melody} if kind == "lead-sheet" else piece.tracks()
    tracks = {k: v for k, v in tracks.items() if v}
    if not tracks:
        raise MelodyganError("the piece has no notes to write as a score")
    score = stream.Score()
    score.metadata = metadata.Metadata()
    score.metadata.title = piece.title or "melodygan"
    for i, (name, notes) in enumerate(tracks.items()):
        score.insert(0, _part(name, sorted(notes), piece, with_chords=(i == 0 and bool(piece.chords)), first=i == 0))
    return score


def write_musicxml(piece: Piece, path: str | Path, layout: str = "auto", force: bool = False) -> Path:
    """Write a MusicXML file (uncompressed ``.musicxml``/``.xml``), atomically.

    Args:
        piece: the music.
        path: output file.
        layout: ``"auto"``, ``"lead-sheet"`` or ``"score"``.
        force: replace an existing file.

    Raises:
        MelodyganError: existing file without ``force``, bad layout, empty piece.
    """
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    check_writable(path, force)
    # music21 writes its own notation remarks ("messed up beam pair", "out of midi channels") to
    # stderr; they are about its internals, not the user's music
    with contextlib.redirect_stderr(io.StringIO()):
        data = GeneralObjectExporter(piece_to_score(piece, layout)).parse()
    # music21 names itself the composer when there is none
    data = data.replace(b'<creator type="composer">Music21</creator>', b"")
    if piece.pickup_steps:  # a pickup measure is "implicit": not counted as bar 1
        data = data.replace(b'<measure implicit="no" number="0">', b'<measure implicit="yes" number="0">')
    with atomic_output(path, force=force) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def find_musescore() -> str | None:
    """Path of a MuseScore executable on the PATH (3 preferred), or None."""
    for name in MUSESCORE_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def write_sheet_png(musicxml_path: str | Path, png_path: str | Path, force: bool = False,
                    timeout_s: float = 120.0) -> Path:
    """Engrave a MusicXML file to a PNG with MuseScore (first page; later pages as ``-2.png`` …).

    Raises:
        MelodyganError: MuseScore missing (with the install hint), failing, or the file exists.
    """
    exe = find_musescore()
    if exe is None:
        raise MelodyganError(MUSESCORE_HINT)
    final = check_writable(png_path, force)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    with tempfile.TemporaryDirectory(dir=final.parent) as tmp:
        out = Path(tmp) / "sheet.png"
        try:
            subprocess.run([exe, "-o", str(out), str(musicxml_path)], env=env, check=True, capture_output=True,
                           timeout=timeout_s)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
            raise MelodyganError(f"MuseScore ({exe}) failed to engrave {musicxml_path}: {type(e).__name__}") from None
        pages = sorted(Path(tmp).glob("sheet*.png"))
        if not pages:
            raise MelodyganError(f"MuseScore ({exe}) wrote no PNG for {musicxml_path}")
        for i, page in enumerate(pages):
            target = final if i == 0 else final.with_name(f"{final.stem}-{i + 1}{final.suffix}")
            with atomic_output(target, force=force) as t:
                shutil.copyfile(page, t)
    return final
