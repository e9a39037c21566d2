"""Chords: the fixed chord vocabulary, chord-symbol spelling both ways, and chord labelling.

Vocabulary (fixed once; models and token tables index into it):
    index 0                      "N.C." (no chord)
    index 1 + 12*q + root        root pitch class ``root`` (0 = C … 11 = B) with quality ``QUALITIES[q]``

so there are ``1 + 12 * len(QUALITIES)`` = 169 chord classes. A slash bass is kept on the
:class:`Chord` (and in its spelling) but is not part of the vocabulary index.

Qualities and their intervals above the root (semitones):

    maj (0 4 7)   min (0 3 7)    dim (0 3 6)    aug (0 4 8)
    dom7 (0 4 7 10)  maj7 (0 4 7 11)  min7 (0 3 7 10)  hdim7 (0 3 6 10)  dim7 (0 3 6 9)
    sus4 (0 5 7)  sus2 (0 2 7)   maj6 (0 4 7 9)  min6 (0 3 7 9)  aug7 (0 4 8 10)

Spelling: ``C Cm Cdim Caug C7 Cmaj7 Cm7 Cm7b5 Cdim7 Csus4 Csus2 C6 Cm6 C+7``, slash bass as
``C/E``; ``N.C.`` for no chord. The parser also reads the usual aliases (``Cmin``, ``C-``, ``Cø7``,
``C°``, ``CM7``, ``Cº7`` …) and the Nottingham Music Database's own spelling: ``Gd`` = G diminished,
``Ea`` = E augmented, ``Fa7`` = F augmented seventh, lower-case slash basses with ``+`` for sharp and
``b`` for flat (``D/f+`` = D over F#, ``Gm/bb`` = G minor over Bb), optional chords in parentheses.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from melodygan.keys import Key, key_profile, spell_flats
from melodygan.notes import PITCH_NAMES_FLAT, PITCH_NAMES_SHARP, Note

QUALITIES: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "dim": (0, 3, 6),
    "aug": (0, 4, 8),
    "dom7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "min7": (0, 3, 7, 10),
    "hdim7": (0, 3, 6, 10),
    "dim7": (0, 3, 6, 9),
    "sus4": (0, 5, 7),
    "sus2": (0, 2, 7),
    "maj6": (0, 4, 7, 9),
    "min6": (0, 3, 7, 9),
    "aug7": (0, 4, 8, 10),
}
QUALITY_NAMES: tuple[str, ...] = tuple(QUALITIES)
NO_CHORD = "N"
NUM_CHORD_CLASSES = 1 + 12 * len(QUALITIES)

_SUFFIX: dict[str, str] = {
    "maj": "", "min": "m", "dim": "dim", "aug": "aug", "dom7": "7", "maj7": "maj7", "min7": "m7",
    "hdim7": "m7b5", "dim7": "dim7", "sus4": "sus4", "sus2": "sus2", "maj6": "6", "min6": "m6",
    "aug7": "+7",
}
# Suffix aliases accepted by the parser, longest first when matching.
_ALIASES: dict[str, str] = {
    "": "maj", "maj": "maj", "M": "maj", "major": "maj",
    "m": "min", "min": "min", "-": "min", "minor": "min", "mi": "min",
    "dim": "dim", "°": "dim", "o": "dim", "d": "dim",
    "aug": "aug", "+": "aug", "a": "aug", "#5": "aug",
    "7": "dom7", "dom7": "dom7", "9": "dom7", "7b9": "dom7", "7#9": "dom7", "13": "dom7", "11": "dom7",
    "maj7": "maj7", "M7": "maj7", "Δ": "maj7", "Δ7": "maj7", "ma7": "maj7", "maj9": "maj7",
    "m7": "min7", "min7": "min7", "-7": "min7", "mi7": "min7", "m9": "min7",
    "m7b5": "hdim7", "ø": "hdim7", "ø7": "hdim7", "hdim7": "hdim7", "min7b5": "hdim7", "-7b5": "hdim7",
    "dim7": "dim7", "°7": "dim7", "o7": "dim7", "º7": "dim7", "d7": "dim7",
    "sus4": "sus4", "sus": "sus4", "sus2": "sus2",
    "6": "maj6", "maj6": "maj6", "M6": "maj6",
    "m6": "min6", "min6": "min6", "-6": "min6",
    "+7": "aug7", "aug7": "aug7", "7#5": "aug7", "a7": "aug7", "7+": "aug7",
}
_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_SYMBOL_RE = re.compile(r"^([A-Ga-g])([#b♯♭+\-]*)(.*?)(?:/(.+))?$")


@dataclass(frozen=True)
class Chord:
    """A chord symbol placed on the step grid.

    Attributes:
        root: root pitch class 0-11 (C = 0), or None for "no chord".
        quality: a key of :data:`QUALITIES`, or ``"N"`` for no chord.
        start_steps: onset in steps.
        duration_steps: length in steps (>= 1); a chord lasts until the next one.
        bass: pitch class of a slash bass, or None when the root is in the bass.
    """

    root: int | None
    quality: str
    start_steps: int = 0
    duration_steps: int = 1
    bass: int | None = None

    def __post_init__(self) -> None:
        if self.quality == NO_CHORD:
            if self.root is not None:
                raise ValueError("a no-chord label has no root")
        elif self.quality not in QUALITIES:
            raise ValueError(f"unknown chord quality {self.quality!r}; allowed: {', '.join(QUALITIES)}")
        elif self.root is None or not 0 <= self.root <= 11:
            raise ValueError(f"chord root must be a pitch class 0-11, got {self.root}")
        if self.duration_steps < 1:
            raise ValueError(f"duration_steps must be >= 1, got {self.duration_steps}")

    @property
    def is_no_chord(self) -> bool:
        return self.quality == NO_CHORD

    @property
    def end_steps(self) -> int:
        return self.start_steps + self.duration_steps

    @property
    def pitch_classes(self) -> tuple[int, ...]:
        """Sorted pitch classes sounding in the chord (slash bass included), empty for no chord."""
        if self.root is None:
            return ()
        pcs = {(self.root + i) % 12 for i in QUALITIES[self.quality]}
        if self.bass is not None:
            pcs.add(self.bass)
        return tuple(sorted(pcs))

    @property
    def index(self) -> int:
        """Vocabulary index (0 = no chord); the slash bass is not part of it."""
        return chord_index(self.root, self.quality)

    def symbol(self, flats: bool | None = None, key: Key | None = None) -> str:
        """Chord-symbol spelling, e.g. ``'F#m7'``, ``'Bb/D'``, ``'N.C.'``.

        Args:
            flats: spell black-key roots with flats (True) or sharps (False); None picks the
                common name (Db, Eb, F#, Ab, Bb).
            key: spell root and bass as the key does (:func:`melodygan.keys.spell_flats`:
                ``C#m`` in A major, ``Db`` in Ab major); overrides ``flats``.
        """
        if self.root is None:
            return "N.C."

        def name(pc: int) -> str:
            return _root_name(pc, spell_flats(pc, key) if key is not None else flats)

        text = name(self.root) + _SUFFIX[self.quality]
        if self.bass is not None and self.bass != self.root:
            text += "/" + name(self.bass)
        return text

    def transposed(self, semitones: int) -> Chord:
        if self.root is None:
            return self
        bass = None if self.bass is None else (self.bass + semitones) % 12
        return replace(self, root=(self.root + semitones) % 12, bass=bass)

    def with_time(self, start_steps: int, duration_steps: int) -> Chord:
        return replace(self, start_steps=start_steps, duration_steps=duration_steps)


def _root_name(pc: int, flats: bool | None) -> str:
    if flats is None:
        return ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")[pc]
    return (PITCH_NAMES_FLAT if flats else PITCH_NAMES_SHARP)[pc]


def chord_index(root: int | None, quality: str) -> int:
    """Vocabulary index of a (root, quality) pair; 0 for no chord."""
    if quality == NO_CHORD or root is None:
        return 0
    return 1 + 12 * QUALITY_NAMES.index(quality) + root


def chord_from_index(index: int, start_steps: int = 0, duration_steps: int = 1) -> Chord:
    """Inverse of :func:`chord_index`."""
    if not 0 <= index < NUM_CHORD_CLASSES:
        raise ValueError(f"chord index {index} outside 0..{NUM_CHORD_CLASSES - 1}")
    if index == 0:
        return Chord(None, NO_CHORD, start_steps, duration_steps)
    q, root = divmod(index - 1, 12)
    return Chord(root, QUALITY_NAMES[q], start_steps, duration_steps)


def _parse_pitch_class(letter: str, accidentals: str) -> int:
    pc = _LETTER_PC[letter.upper()]
    for a in accidentals:
        pc += 1 if a in "#♯+" else -1
    return pc % 12


def parse_chord_symbol(text: str, start_steps: int = 0, duration_steps: int = 1) -> Chord:
    """Parse a chord symbol into a :class:`Chord`.

    Accepts standard symbols (``'Am7'``, ``'Bb/D'``, ``'F#m7b5'``, ``'N.C.'``) and the Nottingham
    spelling (``'Gd'``, ``'Ea'``, ``'Fa7'``, ``'D/f+'``, ``'Gm/bb'``, ``'(E7)'``).

    Raises:
        ValueError: if ``text`` is not a chord symbol (the message names it).
    """
    s = text.strip().strip("()").strip()
    if s.upper() in {"N.C.", "NC", "N.C", "N"}:
        return Chord(None, NO_CHORD, start_steps, duration_steps)
    m = _SYMBOL_RE.match(s)
    if not m or not m.group(1).isupper():
        raise ValueError(f"not a chord symbol: {text!r}")
    letter, accidentals, suffix, bass_text = m.groups()
    # In "C+7"/"Ca" style symbols a '+' or '-' right after the letter is a quality, not an accidental.
    acc = ""
    rest = accidentals + suffix
    while rest and rest[0] in "#b♯♭":
        acc, rest = acc + rest[0], rest[1:]
    quality = _ALIASES.get(rest)
    if quality is None:
        quality = _ALIASES.get(rest.replace("(", "").replace(")", ""))
    if quality is None:
        raise ValueError(f"unknown chord quality {rest!r} in {text!r}")
    root = _parse_pitch_class(letter, acc)
    bass: int | None = None
    if bass_text:
        bm = re.match(r"^([A-Ga-g])([#b♯♭+\-]*)$", bass_text.strip())
        if not bm:
            raise ValueError(f"bad slash bass {bass_text!r} in {text!r}")
        bass = _parse_pitch_class(bm.group(1), bm.group(2))
        if bass == root:
            bass = None
    return Chord(root, quality, start_steps, duration_steps, bass)


# Harte et al. (2005) shorthands → (quality, exact?). Extensions the vocabulary lacks keep the
# nearest chord of it (a 9th chord its seventh chord, 7sus4 its sus4 triad) and count as lossy.
HARTE_QUALITIES: dict[str, tuple[str, bool]] = {
    "maj": ("maj", True), "min": ("min", True), "dim": ("dim", True), "aug": ("aug", True),
    "7": ("dom7", True), "maj7": ("maj7", True), "min7": ("min7", True), "hdim7": ("hdim7", True),
    "dim7": ("dim7", True), "sus4": ("sus4", True), "sus2": ("sus2", True), "maj6": ("maj6", True),
    "min6": ("min6", True), "sus4(b7)": ("sus4", False), "minmaj7": ("min", False), "9": ("dom7", False),
    "maj9": ("maj7", False), "min9": ("min7", False), "11": ("dom7", False), "min11": ("min7", False),
    "13": ("dom7", False), "5": ("maj", False), "1": ("maj", False), "aug(b7)": ("aug7", True),
    "sus2(b7)": ("sus2", False), "maj(9)": ("maj", False), "min(9)": ("min", False),
}
_HARTE_DEGREES = {"1": 0, "b2": 1, "2": 2, "#2": 3, "b3": 3, "3": 4, "4": 5, "#4": 6, "b5": 6, "5": 7,
                  "#5": 8, "b6": 8, "6": 9, "bb7": 9, "b7": 10, "7": 11, "b9": 1, "9": 2, "#9": 3, "11": 5,
                  "#11": 6, "13": 9, "b13": 8}


def parse_harte(label: str, start_steps: int = 0, duration_steps: int = 1) -> tuple[Chord, bool]:
    """A chord label in Harte notation (``"G:maj"``, ``"A:min7"``, ``"Bb:maj/3"``, ``"D:sus4(b7)"``,
    ``"N"``) → ``(chord, exact)``; ``exact`` is False when the vocabulary has only a nearer chord
    (see :data:`HARTE_QUALITIES`) or the quality is unknown (read as major).

    Raises:
        ValueError: not a Harte label (bad root).
    """
    label = label.strip()
    if label in ("N", "X", ""):
        return Chord(None, NO_CHORD, start_steps, duration_steps), True
    root_text, _, rest = label.partition(":")
    m = re.fullmatch(r"([A-G])([#b]*)", root_text)
    if m is None:
        raise ValueError(f"{label!r}: not a Harte chord label (root {root_text!r})")
    root = _parse_pitch_class(m.group(1), m.group(2))
    quality_text, _, bass_text = (rest or "maj").partition("/")
    quality, exact = HARTE_QUALITIES.get(quality_text, ("maj", False))
    bass = (root + _HARTE_DEGREES[bass_text]) % 12 if bass_text in _HARTE_DEGREES else None
    exact = exact and (not bass_text or bass_text in _HARTE_DEGREES)
    return Chord(root, quality, start_steps, duration_steps, bass=None if bass == root else bass), exact


def chord_templates() -> np.ndarray:
    """Binary pitch-class templates of the vocabulary, shape ``(NUM_CHORD_CLASSES, 12)``; row 0 is zeros."""
    t = np.zeros((NUM_CHORD_CLASSES, 12), dtype=np.float32)
    for q, intervals in enumerate(QUALITIES.values()):
        for root in range(12):
            for i in intervals:
                t[1 + 12 * q + root, (root + i) % 12] = 1.0
    return t


# Simple chords are preferred over extended ones when they explain the notes equally well.
_QUALITY_PRIOR = np.array(
    [1.0, 1.0, 0.85, 0.7, 0.9, 0.8, 0.85, 0.75, 0.75, 0.6, 0.5, 0.6, 0.55, 0.5], dtype=np.float32
)


def label_chord(pc_weights: np.ndarray, qualities: tuple[str, ...] | None = None) -> tuple[Chord, float]:
    """Best chord for a pitch-class weight vector by template matching.

    Score of a chord = prior(quality) * (weight on chord tones - 0.5 * weight off the chord)
    / total weight, with a penalty for chord tones that never sound; the root gets a small bonus
    so that a lone C-E-G is C major, not A minor seventh missing its root.

    Args:
        pc_weights: shape ``(12,)``, non-negative weights (e.g. durations in steps, lowest note
            weighted up).
        qualities: restrict to these qualities (e.g. triads only); default all.

    Returns:
        ``(chord, confidence)`` with confidence in [0, 1]: the share of the weight explained by
        the chord's tones (0 and a no-chord label for silence).
    """
    w = np.asarray(pc_weights, dtype=np.float32)
    total = float(w.sum())
    if total <= 0:
        return Chord(None, NO_CHORD), 0.0
    templates = chord_templates()[1:]  # (168, 12)
    inside = templates @ w  # (168,)
    outside = total - inside
    present = (w > 0).astype(np.float32)
    missing = templates.sum(1) - templates @ present  # chord tones never heard
    prior = np.repeat(_QUALITY_PRIOR, 12)
    root_bonus = 0.1 * w[np.tile(np.arange(12), len(QUALITIES))] / total  # weight on each root
    score = prior * (inside - 0.5 * outside) / total - 0.15 * missing + root_bonus
    if qualities is not None:
        allowed = np.repeat(np.array([q in qualities for q in QUALITIES]), 12)
        score = np.where(allowed, score, -np.inf)
    best = int(np.argmax(score))
    chord = chord_from_index(best + 1)
    return chord, float(inside[best] / total)


class ChordTimeline:
    """The chord sounding at any step of a chord list: the last one starting at or before it.

    Built once (sorted by onset, ``O(n log n)``), each look-up is a bisection. "No chord" symbols are
    returned as they are; a step before the first chord gives None.
    """

    def __init__(self, chords: Sequence[Chord]) -> None:
        self.chords = sorted(chords, key=lambda c: c.start_steps)
        self.starts = [c.start_steps for c in self.chords]

    def at(self, step: int) -> Chord | None:
        i = bisect.bisect_right(self.starts, step) - 1
        return self.chords[i] if i >= 0 else None


# dom7 counts as a tonic in major for the blues (C7 F7 G7 is in C)
_TONIC_QUALITIES = {"major": ("maj", "maj7", "maj6", "sus2", "sus4", "dom7"), "minor": ("min", "min7", "min6")}
_DOMINANT_QUALITIES = ("maj", "dom7", "sus4")
_LEADING_TONE_QUALITIES = ("dim", "dim7", "hdim7")


def _chord_fit(chord: Chord, key: Key) -> float:
    """1 when all of a chord's tones lie in the key (the major scale, or natural minor with the
    raised 7th on the dominant V, V7 and the leading-tone chord vii°, vii°7 of harmonic minor),
    0.75 when its triad does but an added tone does not (C7 in C, Cmaj7 in D minor), else 0."""
    assert chord.root is not None
    scale = set(key.scale)
    step = (chord.root - key.tonic) % 12
    if key.mode == "minor" and ((step == 7 and chord.quality in _DOMINANT_QUALITIES)
                                or (step == 11 and chord.quality in _LEADING_TONE_QUALITIES)):
        scale.add((key.tonic + 11) % 12)
    tones = [(chord.root + i) % 12 for i in QUALITIES[chord.quality]]
    if all(pc in scale for pc in tones):
        return 1.0
    return 0.75 if all(pc in scale for pc in tones[:3]) else 0.0


def _is_tonic(chord: Chord, key: Key) -> bool:
    return chord.root == key.tonic and chord.quality in _TONIC_QUALITIES[key.mode]


def key_of_chords(chords: Sequence[Chord]) -> Key:
    """The key a chord progression is in, from its chord roots and qualities.

    Each of the 24 keys gets a score (weights set by hand on textbook progressions):

    * diatonic fit, 2 × the share of the duration on chords whose tones all lie in the key (in
      minor the dominant and leading-tone chords may take the raised 7th: ``Am Dm E7`` is A minor;
      a chord whose triad fits but not its seventh counts three quarters);
    * tonic, 0.5 × the share of the duration on the key's tonic chord (I, Imaj7, I6, the blues'
      I7; i, im7);
    * cadences, 0.5 × the share of chord changes that go from the dominant (V, V7) to the tonic,
      and as much again for each ii–V–I;
    * ends: 0.25 when the last chord is the tonic, 0.15 when the first one is;
    * a tie-breaker, 0.05 × the Krumhansl-Schmuckler correlation of the chord tones.

    ``Dm7 G7 Cmaj7 A7`` is C major (three diatonic chords and a ii–V–I; D minor has two),
    ``D A Bm G`` D major (all diatonic in B minor too, but it starts on D). No chords: C major.
    """
    sounding = [c for c in chords if c.root is not None]
    if not sounding:
        return Key(0, "major")
    weights = np.array([max(c.duration_steps, 0) for c in sounding], dtype=np.float64)
    weights = weights / weights.sum() if weights.sum() > 0 else np.full(len(sounding), 1.0 / len(sounding))
    moves = max(len(sounding) - 1, 1)
    notes = [Note(c.start_steps, max(c.duration_steps, 1), 60 + pc) for c in sounding for pc in c.pitch_classes]
    best, best_score = Key(0, "major"), -np.inf
    for mode in ("major", "minor"):
        for tonic in range(12):
            key = Key(tonic, mode)
            dominant = (tonic + 7) % 12
            fit = sum(w * _chord_fit(c, key) for c, w in zip(sounding, weights))
            tonic_share = sum(w for c, w in zip(sounding, weights) if _is_tonic(c, key))
            cadences = 0
            for i in range(1, len(sounding)):
                prev, chord = sounding[i - 1], sounding[i]
                if _is_tonic(chord, key) and prev.root == dominant and prev.quality in _DOMINANT_QUALITIES:
                    cadences += 1
                    before = sounding[i - 2] if i >= 2 else None
                    if before is not None and before.root == (tonic + 2) % 12 and \
                            before.quality in ("min", "min7", "hdim7", "dim"):
                        cadences += 1  # ii–V–I
            score = (2.0 * fit + 0.5 * tonic_share + 0.5 * cadences / moves
                     + 0.25 * _is_tonic(sounding[-1], key) + 0.15 * _is_tonic(sounding[0], key))
            score += 0.05 * _key_correlation(notes, key)
            if score > best_score + 1e-9:
                best, best_score = key, score
    return best


def _key_correlation(notes: list[Note], key: Key) -> float:
    """Krumhansl-Kessler profile correlation of some notes with one key (0 when undefined)."""
    h = np.zeros(12)
    for n in notes:
        h[n.pitch % 12] += n.duration_steps
    profile = key_profile(key)
    if h.std() == 0:
        return 0.0
    return float(np.corrcoef(h, profile)[0, 1])
