"""Which track of a multitrack file holds the melody: a scored choice, with its reason.

:func:`choose_melody_track` scores every pitched track and takes the highest; the reason names
what decided. Each score is a sum of hand-set terms (tuned on the tracks of real pop and folk
files: a sung line against a sequenced synth lead, a French "Chant" against pizzicato strings,
piano block chords against a string melody):

==================  ======================================================================
name                words in several languages: voice (vocal, voca, vox, voice, voix, voz,
                    chant, canto, canta, gesang, stimme, sing, lyric, soprano) +3, melody
                    (melody, melodie, melodia, tune, theme, thema, tema, mel) +3, lead and
                    solo +1.5; accompaniment words (bass, drum, pad, strings, str, pizz, arp,
                    seq, sq, chord, comp, backing, bgv, harmony, choir, rhythm, fx, click)
                    -1 to -3; with an accompaniment or choir word the voice words do
                    not count (``Backing Vox``). Words are matched at the start of the name's words (``Voca``
                    says voice), camel case split (``PizzStr``), accents dropped. Capped at 4.5.
GM program          voice programs (53 Voice Oohs, 54 Synth Voice) +1, solo winds, brass and
                    synth leads (56-87) +0.5; string ensembles, pizzicato and tremolo strings
                    -1, pads -1.5, basses and timpani -2, percussive and sound effects -2/-3
monophony           2 × (share of notes overlapping no other - 0.7), in [-1.5, +0.6]
register            mean pitch under G3 -2, under G3+ (55) -0.75, G3..C6 +0.5; the highest
                    mostly-monophonic track +0.4
density             over 3 notes a quarter -1, over 2.2 -0.4, 0.25..2.2 +0.3, sparser -0.3
sequenced figure    one inter-onset interval for 85% of the notes *and* a pitch figure of 2-8
                    notes repeating for 75% of them (an arpeggiator, a sequencer): -1.5
coverage            plays in under 15% of the bars -1.5, under 30% -0.5
key                 1.5 × (share of the duration on the key's scale - 0.85), in [-1, +0.2]
==================  ======================================================================

Only this module's :func:`choose_melody_track` decides; the readers call it with the tracks'
file numbers, GM programs and key.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from melodygan.errors import MelodyganError
from melodygan.keys import Key
from melodygan.notes import Note, pitch_name

# (stem, weight, what it says, exact): a token matches a stem when it starts with it (exact: equals it)
_NAME_WORDS: tuple[tuple[str, float, str, bool], ...] = (
    *((w, 3.0, "voice", False) for w in ("voc", "voice", "voix", "voz", "vox", "chant", "canto", "canta", "gesang",
                                          "stimme", "sing", "sang", "lyric", "sopran")),
    *((w, 3.0, "melody", False) for w in ("melod", "tune", "theme", "thema", "tema")),
    ("mel", 3.0, "melody", True),
    ("lead", 1.5, "lead", False), ("ld", 1.5, "lead", True), ("solo", 1.5, "solo", False),
    *((w, -3.0, "drums", False) for w in ("drum", "kick", "snare", "hihat", "perc", "cymbal", "click")),
    *((w, -3.0, "drums", True) for w in ("hat", "tom", "kit", "count")),
    *((w, -2.5, "bass", False) for w in ("bass", "bajo", "basso", "basse")),
    ("pad", -2.0, "pad", False), ("arp", -2.0, "arpeggio", False), ("pizz", -2.0, "pizzicato", False),
    *((w, -2.0, "accompaniment", False) for w in ("chord", "accomp", "acomp", "backing", "bgv", "begleit")),
    *((w, -2.0, "accompaniment", True) for w in ("comp", "acc", "bv", "back", "bvox", "harm", "harmony")),
    *((w, -2.0, "effects", True) for w in ("fx", "sfx")),
    *((w, -1.5, "strings", False) for w in ("string", "streich", "cuerd", "cordes")),
    ("str", -1.5, "strings", True), ("strs", -1.5, "strings", True),
    ("seq", -1.5, "sequencer", False), ("sq", -1.0, "sequencer", True),
    ("choir", -1.5, "choir", False), ("chor", -1.5, "choir", False), ("coro", -1.5, "choir", True),
    ("rhythm", -1.5, "rhythm part", False), ("rhy", -1.5, "rhythm part", True),
    ("left", -1.0, "left hand", True), ("lh", -1.0, "left hand", True),
)
_NAME_CAP = 4.5
_POSITIVE_WORDS = ("voice", "melody", "lead", "solo")
_SEQUENCED_IOI_SHARE = 0.85
_SEQUENCED_FIGURE_SHARE = 0.75


def name_tokens(name: str) -> list[str]:
    """Lower-case words of a track name, accents dropped, camel case split: ``'PizzStr'`` →
    ``['pizz', 'str']``, ``'Lead Voca'`` → ``['lead', 'voca']``, ``'Mélodie'`` → ``['melodie']``."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return [t.lower() for t in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", plain)]


def name_score(name: str) -> tuple[float, list[str]]:
    """The name's term (see the module docstring) and what the name says (``['voice', 'lead']``)."""
    plus = minus = 0.0
    says: list[str] = []
    for token in name_tokens(name):
        for stem, weight, what, exact in _NAME_WORDS:
            if (token == stem) if exact else token.startswith(stem):
                if weight > 0:
                    plus += weight
                else:
                    minus += weight
                if what not in says:
                    says.append(what)
                break
    if "accompaniment" in says or "choir" in says:
        plus = 0.0  # backing vocals, harmony vocals, a choir: voices, but not the tune
    return min(plus + minus, _NAME_CAP), says


def program_score(program: int | None) -> tuple[float, str]:
    """The GM program's term and a word for it (``''`` when neutral)."""
    if program is None:
        return 0.0, ""
    table = ((53, 54, 1.0, "a voice program"), (56, 87, 0.5, "a solo-instrument program"),
             (48, 51, -1.0, "a string-ensemble program"), (44, 45, -1.0, "a string program"),
             (47, 47, -2.0, "timpani"), (32, 39, -2.0, "a bass program"), (88, 95, -1.5, "a pad program"),
             (96, 103, -1.0, "an effects program"), (112, 119, -2.0, "a percussion program"),
             (120, 127, -3.0, "a sound-effects program"))
    for low, high, score, what in table:
        if low <= program <= high:
            return score, what
    return 0.0, ""


def monophonic_share(notes: list[Note]) -> float:
    """Share of notes that overlap no other note of the track."""
    ordered = sorted(notes)
    clash = [False] * len(ordered)
    furthest, owner = -1, -1
    for i, n in enumerate(ordered):
        if n.start_steps < furthest:
            clash[i] = True
            clash[owner] = True
        if n.end_steps > furthest:
            furthest, owner = n.end_steps, i
    return 1.0 - sum(clash) / max(len(ordered), 1)


def _sequenced(notes: list[Note], bar_steps: int) -> bool:
    """An even stream repeating a short pitch figure (an arpeggiator or step sequencer)."""
    onsets = sorted({n.start_steps: n for n in notes}.values())
    if len(onsets) < 24:
        return False
    gaps = [b.start_steps - a.start_steps for a, b in itertools.pairwise(onsets)]
    iois = [g for g in gaps if g <= bar_steps]  # the gaps inside phrases
    if not iois or Counter(iois).most_common(1)[0][1] < _SEQUENCED_IOI_SHARE * len(iois):
        return False
    pitches = [n.pitch for n in onsets]
    best = max(sum(pitches[i] == pitches[i - k] for i in range(k, len(pitches))) / (len(pitches) - k)
               for k in range(2, 9))
    return best >= _SEQUENCED_FIGURE_SHARE


@dataclass
class TrackScore:
    """A track's melody score, its terms, and the words that explain it."""

    name: str
    number: int | None
    score: float = 0.0
    terms: dict[str, float] = field(default_factory=dict)
    pros: list[str] = field(default_factory=list)
    cons: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """``"track 3 'Lead Voca'"`` (or just the name when the file number is unknown)."""
        return f"track {self.number} {self.name!r}" if self.number is not None else repr(self.name)


def score_tracks(tracks: Mapping[str, list[Note]], *, programs: Mapping[str, int] | None = None,
                 numbers: Mapping[str, int | None] | None = None, key: Key | None = None,
                 bar_steps: int = 16, steps_per_quarter: int = 4) -> list[TrackScore]:
    """The melody score of every track (see the module docstring), in the order of ``tracks``."""
    programs, numbers = programs or {}, numbers or {}
    song_end = max((n.end_steps for v in tracks.values() for n in v), default=1)
    song_bars = max(-(-song_end // bar_steps), 1)
    out: list[TrackScore] = []
    means = {}
    for name, notes in tracks.items():
        s = TrackScore(name, numbers.get(name))
        if not notes:
            s.score = float("-inf")
            out.append(s)
            continue
        t = s.terms
        t["name"], says = name_score(name)
        if t["name"] > 0:
            s.pros.append("name says " + "/".join(w for w in says if w in _POSITIVE_WORDS))
        elif t["name"] < 0:
            s.cons.append("name says " + "/".join(w for w in says if w not in _POSITIVE_WORDS))
        t["program"], what = program_score(programs.get(name))
        if what:
            (s.pros if t["program"] > 0 else s.cons).append(what)
        mono = monophonic_share(notes)
        t["monophony"] = max(-1.5, min(0.6, 2.0 * (mono - 0.7)))
        if mono >= 0.9:
            s.pros.append("monophonic")
        elif mono < 0.6:
            s.cons.append(f"chords ({round(100 * (1 - mono))}% of notes overlap)")
        mean = sum(n.pitch for n in notes) / len(notes)
        means[name] = (mean, mono)
        low, high = min(n.pitch for n in notes), max(n.pitch for n in notes)
        span = f"{pitch_name(low)}-{pitch_name(high)}"
        if mean < 48:
            t["register"] = -2.0
            s.cons.append(f"bass register ({span})")
        elif mean < 55:
            t["register"] = -0.75
            s.cons.append(f"low register ({span})")
        elif mean <= 84:
            t["register"] = 0.5
            s.pros.append(f"register {span}")
        else:
            t["register"] = -0.3
        bars_played = {n.start_steps // bar_steps for n in notes}
        per_quarter = len(notes) / (len(bars_played) * bar_steps / steps_per_quarter)
        t["density"] = -1.0 if per_quarter > 3 else -0.4 if per_quarter > 2.2 else 0.3 if per_quarter >= 0.25 else -0.3
        if per_quarter > 2.2:
            s.cons.append(f"{per_quarter:.1f} notes a quarter")
        if _sequenced(notes, bar_steps):
            t["sequenced"] = -1.5
            s.cons.append("repeats a short figure in even notes")
        coverage = len(bars_played) / song_bars
        t["coverage"] = -1.5 if coverage < 0.15 else -0.5 if coverage < 0.3 else 0.0
        if coverage < 0.3:
            s.cons.append(f"plays in {round(100 * coverage)}% of the bars")
        if key is not None:
            total = sum(n.duration_steps for n in notes) or 1
            in_key = frozenset(key.scale_extended)  # once per track, not once per note
            share = sum(n.duration_steps for n in notes if n.pitch % 12 in in_key) / total
            t["key"] = max(-1.0, min(0.2, 1.5 * (share - 0.85)))
            if share < 0.75:
                s.cons.append(f"{round(100 * share)}% of its notes in {key.name}")
        out.append(s)
    mono_means = {n: m for n, (m, mono) in means.items() if mono >= 0.8}
    if mono_means:
        top = max(mono_means, key=lambda n: mono_means[n])
        for s in out:
            if s.name == top:
                s.terms["highest"] = 0.4
                if len(tracks) > 1:
                    s.pros.append("highest line")
    for s in out:
        if s.terms:
            s.score = round(sum(s.terms.values()), 3)
    return out


def _listing(scores: list[TrackScore]) -> str:
    return ", ".join(s.label for s in scores) or "none"


def choose_melody_track(tracks: Mapping[str, list[Note]], melody_track: str | int | None = None, *,
                        programs: Mapping[str, int] | None = None, numbers: Mapping[str, int | None] | None = None,
                        key: Key | None = None, bar_steps: int = 16, steps_per_quarter: int = 4,
                        file_tracks: int | None = None) -> tuple[str, str]:
    """Pick the melody among named pitched tracks.

    Args:
        tracks: pitched tracks with notes, in file order.
        melody_track: a track name (case-insensitive; a unique part of a name also does), a
            track number (``numbers``; without them, an index into ``tracks``), or None to choose
            by score.
        programs: GM program per track name.
        numbers: the file's track number (0-based, as mido counts; the conductor is track 0 of a
            type-1 file) per track name; None where unknown.
        key: the key, for the share of notes in it.
        bar_steps, steps_per_quarter: the grid, for densities and coverage.
        file_tracks: how many tracks the file has (for the error on a number without notes).

    Returns:
        ``(name, reason)``; the reason names the track number and what decided.

    Raises:
        MelodyganError: when ``melody_track`` names no pitched track.
    """
    if numbers is None:
        numbers = {n: i for i, n in enumerate(tracks)}
    scores = score_tracks(tracks, programs=programs, numbers=numbers, key=key, bar_steps=bar_steps,
                          steps_per_quarter=steps_per_quarter)
    listing = _listing(scores)
    if isinstance(melody_track, int):
        matches = [s for s in scores if s.number == melody_track]
        if not matches:
            if file_tracks is not None and 0 <= melody_track < file_tracks:
                raise MelodyganError(f"track {melody_track} has no pitched notes (a tempo, drum or empty track); "
                                     f"pitched tracks: {listing}")
            raise MelodyganError(f"melody track {melody_track} out of range; pitched tracks: {listing}")
        best = max(matches, key=lambda s: s.score)
        how = "asked for by number" if len(matches) == 1 else \
            f"asked for by number; the best of the {len(matches)} instruments in that track"
        return best.name, f"{best.label} ({how})"
    if isinstance(melody_track, str):
        wanted = melody_track.strip().lower()
        exact = [s for s in scores if s.name.lower() == wanted]
        partial = [s for s in scores if wanted and wanted in s.name.lower()]
        if exact or len(partial) == 1:
            chosen = (exact or partial)[0]
            return chosen.name, f"{chosen.label} (asked for by name)"
        if len(partial) > 1:
            raise MelodyganError(f"{melody_track!r} matches several tracks ({_listing(partial)}); give the full name "
                                 "or the track number")
        raise MelodyganError(f"no track named {melody_track!r}; pitched tracks: {listing}")
    ranked = sorted(scores, key=lambda s: -s.score)
    best = ranked[0]
    if len(ranked) == 1:
        return best.name, f"{best.label} (the only pitched track)"
    why = ", ".join(best.pros[:4]) or "the best of weak candidates"
    runner = ranked[1]
    against = f"; next: {runner.label}" + (f": {', '.join(runner.cons[:2])}" if runner.cons else "")
    return best.name, f"{best.label} ({why}{against})"


__all__ = ["TrackScore", "choose_melody_track", "monophonic_share", "name_score", "name_tokens", "program_score",
           "score_tracks"]
