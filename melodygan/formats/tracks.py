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
file numbers, GM programs and key. The terms are computed from a few counts per track
(:class:`TrackFacts`): from Notes (:func:`track_facts`), or for many tracks of many files at once
from note columns (:func:`track_facts_many`, the corpus path), with the same numbers.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from melodygan.errors import MelodyganError
from melodygan.keys import Key
from melodygan.notes import Note, NoteColumns, pitch_name

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


@functools.lru_cache(maxsize=4096)
def _name_score(name: str) -> tuple[float, tuple[str, ...]]:
    score, says = _name_score_uncached(name)
    return score, tuple(says)


def name_score(name: str) -> tuple[float, list[str]]:
    """The name's term (see the module docstring) and what the name says (``['voice', 'lead']``)."""
    score, says = _name_score(name)
    return score, list(says)


def _name_score_uncached(name: str) -> tuple[float, list[str]]:
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


def _clashes(ordered: list[Note]) -> list[bool]:
    """Per note of ``ordered`` (sorted by onset): does it overlap another note of the track?"""
    clash = [False] * len(ordered)
    furthest, owner = -1, -1
    for i, n in enumerate(ordered):
        if n.start_steps < furthest:
            clash[i] = True
            clash[owner] = True
        if n.end_steps > furthest:
            furthest, owner = n.end_steps, i
    return clash


def monophonic_share(notes: list[Note]) -> float:
    """Share of notes that overlap no other note of the track."""
    return 1.0 - sum(_clashes(sorted(notes))) / max(len(notes), 1)


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


@dataclass(frozen=True)
class TrackFacts:
    """What the terms of a track's score are made of (see the module docstring).

    Attributes:
        count: notes.
        clashes: notes that overlap another note of the track.
        pitch_sum, low, high: sum, lowest and highest of the pitches.
        bars_played: bars in which a note starts.
        end_steps: the end of the last note.
        sequenced: an even stream repeating a short pitch figure.
        duration_sum: the notes' steps.
        in_key_steps: the steps of the notes on the key's scale (None without a key).
    """

    count: int
    clashes: int
    pitch_sum: int
    low: int
    high: int
    bars_played: int
    end_steps: int
    sequenced: bool
    duration_sum: int
    in_key_steps: int | None


def track_facts(notes: list[Note], bar_steps: int, key: Key | None) -> TrackFacts:
    """The facts of one track's notes (any order)."""
    ordered = sorted(notes)
    clash = _clashes(ordered)
    in_key = None
    if key is not None:
        scale = frozenset(key.scale_extended)  # once per track, not once per note
        in_key = sum(n.duration_steps for n in notes if n.pitch % 12 in scale)
    return TrackFacts(len(notes), sum(clash), sum(n.pitch for n in notes), min(n.pitch for n in notes),
                      max(n.pitch for n in notes), len({n.start_steps // bar_steps for n in notes}),
                      max(n.end_steps for n in notes), _sequenced(notes, bar_steps),
                      sum(n.duration_steps for n in notes), in_key)


def track_facts_many(notes: NoteColumns, group: np.ndarray, bar_steps: np.ndarray,
                     in_key: np.ndarray | None) -> list[TrackFacts]:
    """:func:`track_facts` of many tracks at once, the same numbers.

    Args:
        notes: every track's notes, by track and in Note order within one (a reader's order).
        group: ``(N,)`` the track of each note, 0 .. G-1, every track with a note.
        bar_steps: ``(G,)`` the bar of each track's piece.
        in_key: ``(G, 12)`` bool, the pitch classes of each track's key (None: no keys).
    """
    st, du, pi = notes.start_steps, notes.duration_steps, notes.pitch
    en = st + du
    n = len(st)
    groups = len(bar_steps)
    starts = np.searchsorted(group, np.arange(groups))  # (G,) each track's first row
    count = np.diff(np.append(starts, n))
    first = np.zeros(n, dtype=bool)
    first[starts] = True
    # clashes as monophonic_share finds them: a note starting before the furthest end so far, and
    # the note that reached that end first; the tracks kept apart by an offset per track
    offset = group * (int(en.max()) + 2)
    reach = np.maximum.accumulate(en + offset)  # (N,) the furthest end so far, this note's included
    before = np.concatenate([[-1], reach[:-1]])
    before[first] = offset[first] - 1
    clash = st + offset < before
    record = en + offset > before  # the note reaching a new furthest end
    owner = np.maximum.accumulate(np.where(record, np.arange(n), -1))
    owner = np.concatenate([[-1], owner[:-1]])
    marked = clash.copy()
    marked[owner[clash]] = True
    bar = st // bar_steps[group]
    new_bar = first.copy()
    new_bar[1:] |= bar[1:] != bar[:-1]
    sums = [np.add.reduceat(x, starts).tolist() for x in (marked.astype(np.int64), pi, du, new_bar.astype(np.int64))]
    low, high, end = (f.reduceat(x, starts).tolist() for f, x in ((np.minimum, pi), (np.maximum, pi),
                                                                   (np.maximum, en)))
    keyed = [None] * groups if in_key is None else np.add.reduceat(du * in_key[group, pi % 12], starts).tolist()
    sequenced = _sequenced_many(st, pi, group, first, count, bar_steps)
    return [TrackFacts(*row) for row in zip(count.tolist(), sums[0], sums[1], low, high, sums[3], end, sequenced,
                                            sums[2], keyed)]


def _sequenced_many(st: np.ndarray, pi: np.ndarray, group: np.ndarray, first: np.ndarray, count: np.ndarray,
                    bar_steps: np.ndarray) -> list[bool]:
    """:func:`_sequenced` of many tracks (notes in Note order by track): the onsets (the last note
    of each, as the dict of :func:`_sequenced` keeps it), their gaps, and the figures repeating."""
    groups = len(count)
    last = np.ones(len(st), dtype=bool)  # the last note of each onset
    last[:-1] = (st[1:] != st[:-1]) | ~first[1:]
    o_st, o_pi, o_gr = st[last], pi[last], group[last]
    onsets = np.bincount(o_gr, minlength=groups)  # (G,)
    if not (onsets >= 24).any():
        return [False] * groups
    same = o_gr[1:] == o_gr[:-1]
    gap = o_st[1:] - o_st[:-1]
    inside = same & (gap <= bar_steps[o_gr[1:]])  # the gaps inside phrases
    width = int(bar_steps.max()) + 1
    cells = np.bincount(o_gr[1:][inside] * width + gap[inside], minlength=groups * width)
    mode = cells.reshape(groups, width).max(axis=1)  # (G,) how often the commonest gap comes
    iois = np.bincount(o_gr[1:][inside], minlength=groups)
    even = (onsets >= 24) & (iois > 0) & ~(mode < _SEQUENCED_IOI_SHARE * iois)
    if not even.any():
        return [False] * groups
    best = np.zeros(groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        for k in range(2, 9):
            repeats = (o_gr[k:] == o_gr[:-k]) & (o_pi[k:] == o_pi[:-k])
            share = np.bincount(o_gr[k:][repeats], minlength=groups) / (onsets - k)
            best = np.maximum(best, np.where(onsets > k, share, 0.0))
    return (even & (best >= _SEQUENCED_FIGURE_SHARE)).tolist()


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


def score_tracks(tracks: Mapping[str, list[Note] | TrackFacts], *, programs: Mapping[str, int] | None = None,
                 numbers: Mapping[str, int | None] | None = None, key: Key | None = None,
                 bar_steps: int = 16, steps_per_quarter: int = 4) -> list[TrackScore]:
    """The melody score of every track (see the module docstring), in the order of ``tracks``:
    each given by its notes, or by its :class:`TrackFacts` (with this ``bar_steps`` and ``key``)."""
    programs, numbers = programs or {}, numbers or {}
    facts = {name: v if isinstance(v, TrackFacts) else track_facts(v, bar_steps, key) if v else None
             for name, v in tracks.items()}
    song_end = max((f.end_steps for f in facts.values() if f is not None), default=1)
    song_bars = max(-(-song_end // bar_steps), 1)
    out: list[TrackScore] = []
    means = {}
    for name, f in facts.items():
        s = TrackScore(name, numbers.get(name))
        if f is None or not f.count:
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
        mono = 1.0 - f.clashes / max(f.count, 1)
        t["monophony"] = max(-1.5, min(0.6, 2.0 * (mono - 0.7)))
        if mono >= 0.9:
            s.pros.append("monophonic")
        elif mono < 0.6:
            s.cons.append(f"chords ({round(100 * (1 - mono))}% of notes overlap)")
        mean = f.pitch_sum / f.count
        means[name] = (mean, mono)
        span = f"{pitch_name(f.low)}-{pitch_name(f.high)}"
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
        per_quarter = f.count / (f.bars_played * bar_steps / steps_per_quarter)
        t["density"] = -1.0 if per_quarter > 3 else -0.4 if per_quarter > 2.2 else 0.3 if per_quarter >= 0.25 else -0.3
        if per_quarter > 2.2:
            s.cons.append(f"{per_quarter:.1f} notes a quarter")
        if f.sequenced:
            t["sequenced"] = -1.5
            s.cons.append("repeats a short figure in even notes")
        coverage = f.bars_played / song_bars
        t["coverage"] = -1.5 if coverage < 0.15 else -0.5 if coverage < 0.3 else 0.0
        if coverage < 0.3:
            s.cons.append(f"plays in {round(100 * coverage)}% of the bars")
        if key is not None and f.in_key_steps is not None:
            share = f.in_key_steps / (f.duration_sum or 1)
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


def choose_melody_track(tracks: Mapping[str, list[Note] | TrackFacts], melody_track: str | int | None = None, *,
                        programs: Mapping[str, int] | None = None, numbers: Mapping[str, int | None] | None = None,
                        key: Key | None = None, bar_steps: int = 16, steps_per_quarter: int = 4,
                        file_tracks: int | None = None) -> tuple[str, str]:
    """Pick the melody among named pitched tracks.

    Args:
        tracks: pitched tracks with notes (or their :class:`TrackFacts`), in file order.
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


__all__ = ["TrackFacts", "TrackScore", "choose_melody_track", "monophonic_share", "name_score", "name_tokens",
           "program_score", "score_tracks", "track_facts", "track_facts_many"]
