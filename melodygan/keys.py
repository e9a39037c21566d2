"""Keys: key signatures as (tonic pitch class, mode), scales, and key estimation.

Key estimation uses the Krumhansl-Kessler key profiles correlated with a duration-weighted
pitch-class histogram (the Krumhansl-Schmuckler algorithm). music21's ``analyze('key')`` default
uses the Aarden-Essen profiles instead; :func:`estimate_key_aarden_essen` is that one, used where
results must match music21's (the rule harmonizers and the evaluation guide's reference table).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from melodygan.errors import MelodyganError
from melodygan.notes import Note

_MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
# Aarden–Essen key profiles (Humdrum keycor), C major / C minor, as used by music21's default key finder.
AARDEN_ESSEN_MAJOR = np.array([17.7661, 0.145624, 14.9265, 0.160186, 19.8049, 11.3587,
                               0.291248, 22.062, 0.145624, 8.15494, 0.232998, 4.95122])
AARDEN_ESSEN_MINOR = np.array([18.2648, 0.737619, 14.0499, 16.8599, 0.702494, 14.4362,
                               0.702494, 18.6161, 4.56621, 1.93186, 7.37619, 1.75623])
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
NATURAL_MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)
# Minor-key melodies use the raised 6th and 7th as often as the natural ones.
MINOR_SCALE_EXTENDED = (0, 2, 3, 5, 7, 8, 9, 10, 11)
_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_MINOR_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")
_LETTER = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


@dataclass(frozen=True)
class Key:
    """A key: tonic pitch class (0 = C) and mode ``'major'`` or ``'minor'``."""

    tonic: int = 0
    mode: str = "major"

    def __post_init__(self) -> None:
        if not 0 <= self.tonic <= 11:
            raise ValueError(f"key tonic must be a pitch class 0-11, got {self.tonic}")
        if self.mode not in ("major", "minor"):
            raise ValueError(f"key mode must be 'major' or 'minor', got {self.mode!r}")

    @property
    def name(self) -> str:
        """``'G'`` for G major, ``'Em'`` for E minor."""
        return _MINOR_NAMES[self.tonic] + "m" if self.mode == "minor" else _NAMES[self.tonic]

    @property
    def scale(self) -> tuple[int, ...]:
        """Pitch classes of the diatonic scale (natural minor for minor keys)."""
        steps = MAJOR_SCALE if self.mode == "major" else NATURAL_MINOR_SCALE
        return tuple(sorted((self.tonic + s) % 12 for s in steps))

    @property
    def scale_extended(self) -> tuple[int, ...]:
        """Scale pitch classes a melody may use: major scale, or minor with raised 6th and 7th."""
        steps = MAJOR_SCALE if self.mode == "major" else MINOR_SCALE_EXTENDED
        return tuple(sorted((self.tonic + s) % 12 for s in steps))

    @property
    def sharps(self) -> int:
        """Number of sharps (positive) or flats (negative) in the key signature, -7..7."""
        major_tonic = self.tonic if self.mode == "major" else (self.tonic + 3) % 12
        fifths = (major_tonic * 7) % 12
        return fifths - 12 if fifths > 6 else fifths

    def transposed(self, semitones: int) -> Key:
        return Key((self.tonic + semitones) % 12, self.mode)

    @classmethod
    def parse(cls, text: str) -> Key:
        """Parse ``'G'``, ``'F#m'``, ``'Bb major'``, ``'e minor'``, ``'Ebm'``.

        Raises:
            ValueError: naming the text when it is not a key.
        """
        s = text.strip().replace("♯", "#").replace("♭", "b")
        if not s or s[0].upper() not in _LETTER:
            raise ValueError(f"not a key: {text!r} (try e.g. 'G', 'F#m', 'Bb major', 'E minor')")
        pc = _LETTER[s[0].upper()]
        rest = s[1:]
        while rest[:1] in ("#", "b"):
            pc += 1 if rest[0] == "#" else -1
            rest = rest[1:]
        rest = rest.strip().lower()
        if rest in ("", "maj", "major"):
            mode = "major"
        elif rest in ("m", "min", "minor"):
            mode = "minor"
        else:
            raise ValueError(f"not a key: {text!r} (try e.g. 'G', 'F#m', 'Bb major', 'E minor')")
        return cls(pc % 12, mode)


def to_key(key: str | Key | None) -> Key | None:
    """``'G'``, ``'F#m'``, a Key, or None (passed through).

    Raises:
        MelodyganError: a text that is not a key.
    """
    if key is None or isinstance(key, Key):
        return key
    try:
        return Key.parse(key)
    except ValueError as e:
        raise MelodyganError(str(e)) from None


def semitones_to_c(tonic: int) -> int:
    """Semitones (-6..5) from pitch class ``tonic`` down or up to C: the nearest way to move a key to C."""
    return -(((tonic + 6) % 12) - 6)


def pitch_class_histogram(notes: list[Note]) -> np.ndarray:
    """Duration-weighted pitch-class histogram, shape ``(12,)`` float64, in steps (unnormalised)."""
    pcs = np.fromiter((n.pitch % 12 for n in notes), dtype=np.int64, count=len(notes))
    durations = np.fromiter((n.duration_steps for n in notes), dtype=np.float64, count=len(notes))
    return np.bincount(pcs, weights=durations, minlength=12)  # whole steps: sums exact in float64


def estimate_key(notes: list[Note]) -> tuple[Key, float]:
    """Krumhansl-Schmuckler key estimate of some notes.

    Returns:
        ``(key, correlation)``; the correlation in [-1, 1] is the confidence (C major and 0.0 for
        no notes).
    """
    return estimate_key_from_histogram(pitch_class_histogram(notes))


_CANDIDATES = [(mode, tonic, np.roll(profile, tonic))
               for mode, profile in (("major", _MAJOR_PROFILE), ("minor", _MINOR_PROFILE)) for tonic in range(12)]
_ROLLED = np.stack([c[2] for c in _CANDIDATES])  # (24, 12)
_ROLLED_CENTRED = _ROLLED - _ROLLED.mean(axis=1, keepdims=True)
_ROLLED_SQUARES = (_ROLLED_CENTRED * _ROLLED_CENTRED).sum(axis=1)  # (24,)


def estimate_key_from_histogram(h: np.ndarray) -> tuple[Key, float]:
    """:func:`estimate_key` of a duration-weighted pitch-class histogram ``(12,)`` float64."""
    if h.sum() == 0:
        return Key(0, "major"), 0.0
    if h.std() == 0:
        return Key(0, "major"), 0.0
    # all 24 correlations at once, then np.corrcoef itself for the ones near the best, so that the
    # choice among near-equal keys is the same as one corrcoef per key (first of equals wins)
    hc = h - h.mean()
    approx = (_ROLLED_CENTRED @ hc) / np.sqrt(_ROLLED_SQUARES * (hc @ hc))  # (24,)
    near = np.flatnonzero(approx >= approx.max() - 1e-9)
    best, best_r = Key(0, "major"), -2.0
    for i in near.tolist():
        mode, tonic, profile = _CANDIDATES[i]
        r = float(np.corrcoef(h, profile)[0, 1])
        if r > best_r:
            best, best_r = Key(tonic, mode), r
    return best, best_r


def estimate_keys(histograms: np.ndarray) -> list[Key]:
    """The keys of :func:`estimate_key_from_histogram` for many histograms ``(F, 12)`` at once:
    where the best candidate leads the next by far more than rounding, it is the answer; the
    others are settled one by one, as there."""
    h = np.asarray(histograms, dtype=np.float64).reshape(-1, 12)
    hc = h - h.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        approx = (hc @ _ROLLED_CENTRED.T) / np.sqrt(_ROLLED_SQUARES[None] * (hc * hc).sum(axis=1, keepdims=True))
    top2 = -np.sort(-approx, axis=1)[:, :2]  # (F, 2)
    clear = (top2[:, 0] - top2[:, 1] > 1e-6) & (h.sum(axis=1) > 0) & (h.std(axis=1) > 0)
    best = approx.argmax(axis=1).tolist()
    out = []
    for row, ok, i in zip(h, clear.tolist(), best):
        if ok:
            mode, tonic, _ = _CANDIDATES[i]
            out.append(Key(tonic, mode))
        else:
            out.append(estimate_key_from_histogram(row)[0])
    return out


def key_profile(key: Key) -> np.ndarray:
    """The Krumhansl-Kessler profile of ``key``, shape ``(12,)``, rotated to its tonic."""
    return np.roll(_MAJOR_PROFILE if key.mode == "major" else _MINOR_PROFILE, key.tonic)


def estimate_key_aarden_essen(notes: list[Note]) -> Key:
    """Key with the highest Pearson correlation between the duration-weighted pitch-class histogram
    and a rotated Aarden–Essen profile (24 candidates; C major for no notes).

    Ties resolve like music21: the higher tonic pitch class, major before minor.
    """
    h = pitch_class_histogram(notes)
    if h.sum() == 0 or h.std() == 0:
        return Key(0, "major")
    best: tuple[float, int, str] = (-2.0, 0, "major")
    for mode, profile in (("major", AARDEN_ESSEN_MAJOR), ("minor", AARDEN_ESSEN_MINOR)):
        for tonic in range(12):
            r = float(np.corrcoef(h, np.roll(profile, tonic))[0, 1])
            best = max(best, (r, tonic, mode))
    return Key(best[1], best[2])


def spell_flats(pitch_class: int, key: Key) -> bool | None:
    """How to spell a black-key chord root in ``key``: with the key's own accidentals for its
    scale notes, sharps for a minor key's raised 6th and 7th (the leading tone of its dominant),
    flats in flat keys (True = flats, False = sharps), else None for the common name (Bb, Eb, Ab
    with flats; F#, C# with sharps). In A major C# and G# are sharps, so its chords read ``C#m``
    and ``G#dim``, not ``Dbm`` and ``Abdim``; in A minor and D minor the leading-tone chords read
    ``G#dim`` and ``C#dim``."""
    pc = pitch_class % 12
    if key.mode == "minor" and pc in ((key.tonic + 9) % 12, (key.tonic + 11) % 12):
        return False
    if key.sharps < 0:
        return True
    if key.sharps > 0 and pc in key.scale:
        return False
    return None


# Pitch names along the line of fifths, Fb (-8) .. B# (12): position p names pitch class 7p mod 12.
_FIFTHS_LETTERS = "FCGDAEB"


def _fifths_name(position: int) -> str:
    letter = _FIFTHS_LETTERS[(position + 1) % 7]
    accidentals = (position + 1) // 7  # 0 for F..B, 1 for F#..B#, -1 for Fb..Bb
    return letter + ("#" * accidentals if accidentals > 0 else "b" * -accidentals)


def pitch_spelling(pitch_class: int, key: Key) -> str:
    """The name of a melody note's pitch class in ``key`` (``'G#'``, ``'Ab'``, ``'E#'``), one
    accidental at most.

    The name nearest to the key on the line of fifths wins: the key's scale notes get the key
    signature's own names, chromatic notes the name closest to them (in C major F#, C#, Eb, Bb;
    in A major D# and A#; in F# major E#). A minor key leans one fifth to the sharp side, so its
    raised 6th and 7th are sharps (G# and F# in A minor, C# and B in D minor). A tie goes to the
    flat name in major keys and to the sharp name in minor keys (Ab in C major, D# in A minor).
    """
    pc = pitch_class % 12
    center = key.sharps + (3 if key.mode == "minor" else 2)  # the middle of the key's scale (D in C major)
    candidates = [p for p in range(-8, 13) if (7 * p) % 12 == pc]
    minor = key.mode == "minor"
    best = min(candidates, key=lambda p: (abs(p - center), -p if minor else p))
    return _fifths_name(best)
