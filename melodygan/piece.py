"""Piece: the one core type. Every reader produces a Piece and every exporter consumes one.

A Piece is a lead line (``melody``), chord symbols (``chords``), any other named parts
(``voices``: ``{"Alto": [...], "Tenor": [...], "Bass": [...]}`` for a chorale, ``{"Chords": ...,
"Bass": ...}`` after arranging), plus key, meter, tempo and the grid. All times are integer steps
of ``1 / steps_per_quarter`` quarter notes (default 4: 16ths). Step 0 is the start of the pickup
when there is one; bar 1 starts at ``pickup_steps``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from melodygan.chords import Chord, ChordTimeline
from melodygan.keys import Key
from melodygan.notes import Note

DEFAULT_STEPS_PER_QUARTER = 4
ALLOWED_DENOMINATORS = (1, 2, 4, 8, 16)
SATB = ("Soprano", "Alto", "Tenor", "Bass")  # the voice names of four-part harmony, top down


class Grid:
    """The step grid of a piece, for the types that hold one (:class:`Piece`,
    :class:`melodygan.piece_arrays.PieceArrays`): bar and beat lengths, and the total length
    from ``length_steps`` or the content (each type says where its content ends)."""

    time_signature: tuple[int, int]
    steps_per_quarter: int
    pickup_steps: int
    length_steps: int | None

    @property
    def content_end_steps(self) -> int:
        raise NotImplementedError

    @property
    def bar_steps(self) -> int:
        """Steps in one bar."""
        return bar_steps_of(self.time_signature, self.steps_per_quarter)

    @property
    def beat_steps(self) -> int:
        """Steps in one beat: a dotted quarter in compound meters (6/8, 9/8, 12/8), else 1/den."""
        return beat_steps_of(self.time_signature, self.steps_per_quarter)

    @property
    def end_steps(self) -> int:
        """Total length: ``length_steps`` if set, else the content rounded up to a bar line."""
        if self.length_steps is not None:
            return self.length_steps
        return end_steps_of(self.content_end_steps, self.pickup_steps, self.bar_steps)


@dataclass(frozen=True)
class Piece(Grid):
    """A short piece of music on the step grid.

    Attributes:
        melody: the lead line, monophonic for lead sheets (sorted by onset).
        chords: chord symbols, sorted and non-overlapping; each lasts until the next.
        voices: other named parts, in display order.
        key: key signature.
        time_signature: ``(numerator, denominator)``, e.g. ``(6, 8)``.
        tempo_bpm: quarter notes per minute.
        steps_per_quarter: grid resolution.
        pickup_steps: length of the anacrusis before bar 1 (0 for none).
        length_steps: total length; None means "up to the end of the last note or chord, rounded
            up to a bar line".
        title: free text.
        melody_name: track name of the lead line ("Melody", or "Soprano" for chorales).
        programs: General MIDI program per track name (0-127), where the source said.
    """

    melody: list[Note] = field(default_factory=list)
    chords: list[Chord] = field(default_factory=list)
    voices: dict[str, list[Note]] = field(default_factory=dict)
    key: Key = field(default_factory=Key)
    time_signature: tuple[int, int] = (4, 4)
    tempo_bpm: float = 120.0
    steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER
    pickup_steps: int = 0
    length_steps: int | None = None
    title: str = ""
    melody_name: str = "Melody"
    programs: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_grid(self.time_signature, self.tempo_bpm, self.steps_per_quarter, self.pickup_steps)

    # --- grid -------------------------------------------------------------------------------
    @property
    def content_end_steps(self) -> int:
        """End of the last note or chord (0 for an empty piece)."""
        ends = [n.end_steps for n in self.all_notes()] + [c.end_steps for c in self.chords]
        return max(ends, default=0)

    @property
    def num_bars(self) -> int:
        """Whole bars after the pickup (a final partial bar counts as one)."""
        return -(-(self.end_steps - self.pickup_steps) // self.bar_steps)

    @property
    def seconds_per_step(self) -> float:
        return 60.0 / self.tempo_bpm / self.steps_per_quarter

    # --- content ----------------------------------------------------------------------------
    def tracks(self) -> dict[str, list[Note]]:
        """All note tracks by name, the melody first."""
        out = {self.melody_name: self.melody} if self.melody else {}
        out.update(self.voices)
        return out

    def all_notes(self) -> list[Note]:
        return [n for notes in self.tracks().values() for n in notes]

    def chord_at(self, step: int) -> Chord | None:
        """The chord sounding at ``step`` (the last one starting at or before it), or None.

        One look-up; for many, build a :class:`melodygan.chords.ChordTimeline` once."""
        return ChordTimeline(self.chords).at(step)

    def transposed(self, semitones: int) -> Piece:
        """Everything moved by ``semitones`` (key and chords included).

        Raises:
            ValueError: if a note would leave MIDI's 0-127.
        """
        return replace(
            self,
            melody=[n.transposed(semitones) for n in self.melody],
            chords=[c.transposed(semitones) for c in self.chords],
            voices={k: [n.transposed(semitones) for n in v] for k, v in self.voices.items()},
            key=self.key.transposed(semitones),
        )

    def pitch_range(self) -> tuple[int, int] | None:
        """Lowest and highest pitch over all tracks, or None when there are no notes."""
        pitches = [n.pitch for n in self.all_notes()]
        return (min(pitches), max(pitches)) if pitches else None

    def from_downbeat(self) -> Piece:
        """The piece without its pickup: notes starting in the anacrusis dropped, everything shifted
        to start at bar 1's downbeat (a chord sounding across that bar line starts there)."""
        start = self.pickup_steps
        if start == 0:
            return self

        def keep(notes: list[Note]) -> list[Note]:
            return [n.shifted(-start) for n in notes if n.start_steps >= start]

        chords = [c.with_time(max(c.start_steps, start) - start, c.end_steps - max(c.start_steps, start))
                  for c in self.chords if c.end_steps > start]
        return replace(self, melody=keep(self.melody), chords=chords,
                       voices={k: keep(v) for k, v in self.voices.items()}, pickup_steps=0,
                       length_steps=None if self.length_steps is None else self.length_steps - start)

    def with_chords(self, chords: list[Chord]) -> Piece:
        return replace(self, chords=sorted(chords, key=lambda c: c.start_steps))

    def replace(self, **changes: object) -> Piece:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return replace(self, **changes)  # type: ignore[arg-type]


def check_grid(time_signature: tuple[int, int], tempo_bpm: float, steps_per_quarter: int, pickup_steps: int) -> None:
    """What a Piece's meter, tempo, grid and pickup must satisfy.

    Raises:
        ValueError: naming the bad value and what is allowed.
    """
    num, den = time_signature
    if num < 1 or den not in ALLOWED_DENOMINATORS:
        raise ValueError(f"bad time signature {num}/{den}: numerator >= 1, "
                         f"denominator one of {ALLOWED_DENOMINATORS}")
    if (steps_per_quarter * 4 * num) % den:
        raise ValueError(f"time signature {num}/{den} does not fit a grid of "
                         f"{steps_per_quarter} steps per quarter")
    if not 10 <= tempo_bpm <= 400:
        raise ValueError(f"tempo {tempo_bpm} bpm outside 10-400")
    bar = bar_steps_of(time_signature, steps_per_quarter)
    if pickup_steps < 0 or pickup_steps >= bar:
        raise ValueError(f"pickup_steps {pickup_steps} must be in 0..{bar - 1}")


def bar_steps_of(time_signature: tuple[int, int], steps_per_quarter: int) -> int:
    """Steps in one bar of ``time_signature``."""
    num, den = time_signature
    return steps_per_quarter * 4 * num // den


def beat_steps_of(time_signature: tuple[int, int], steps_per_quarter: int) -> int:
    """Steps in one beat: a dotted quarter in compound meters (6/8, 9/8, 12/8), else 1/den."""
    num, den = time_signature
    unit = steps_per_quarter * 4 // den
    return unit * 3 if den == 8 and num % 3 == 0 and num > 3 else unit


def end_steps_of(content_end_steps: int, pickup_steps: int, bar_steps: int) -> int:
    """A piece's length without ``length_steps``: its content rounded up to a bar line (one bar at least)."""
    body = max(content_end_steps - pickup_steps, 0)
    bars = -(-body // bar_steps)
    return pickup_steps + max(bars, 1) * bar_steps


def chords_from_changes(symbols: list[tuple[int, Chord]], end_steps: int) -> list[Chord]:
    """Turn (onset, chord) changes into chords that each last until the next change.

    Consecutive identical chords (same root, quality and bass) merge into one.

    Args:
        symbols: ``(start_steps, chord)`` pairs in any order; the chord's own times are ignored.
        end_steps: where the last chord ends.
    """
    ordered = sorted(symbols, key=lambda x: x[0])
    out: list[Chord] = []
    for i, (start, chord) in enumerate(ordered):
        end = ordered[i + 1][0] if i + 1 < len(ordered) else end_steps
        if end <= start:
            continue
        if out and (out[-1].root, out[-1].quality, out[-1].bass) == (chord.root, chord.quality, chord.bass) \
                and out[-1].end_steps == start:
            out[-1] = out[-1].with_time(out[-1].start_steps, end - out[-1].start_steps)
        else:
            out.append(chord.with_time(start, end - start))
    return out


# --- accents by metrical position ---------------------------------------------------------
def metric_weight(piece: Piece, step: int) -> float:
    """Accent of a step: 1.0 on the downbeat, 0.9 on the middle of an even bar, 0.84 on other
    beats, 0.76 on eighth off-beats and 0.7 on anything finer."""
    bar, beat = piece.bar_steps, piece.beat_steps
    pos = (step - piece.pickup_steps) % bar
    if pos == 0:
        return 1.0
    if pos % beat == 0:
        return 0.9 if (bar // beat) % 2 == 0 and pos == bar // 2 else 0.84
    eighth = max(piece.steps_per_quarter // 2, 1)
    return 0.76 if pos % eighth == 0 else 0.7


def accented_velocity(piece: Piece, step: int, base: int) -> int:
    """``base`` scaled by :func:`metric_weight` of the step, within MIDI's 1..127."""
    return max(1, min(127, round(base * metric_weight(piece, step))))


def add_dynamics(piece: Piece) -> Piece:
    """Accent tracks whose notes all share one velocity by their place in the bar.

    Tracks with varied velocities (played, or already shaped) are left alone, so applying this
    twice changes nothing the second time.
    """
    def shape(notes: list[Note]) -> list[Note]:
        if len({n.velocity for n in notes}) != 1:
            return notes
        return [Note(n.start_steps, n.duration_steps, n.pitch, accented_velocity(piece, n.start_steps, n.velocity))
                for n in notes]

    return piece.replace(melody=shape(piece.melody), voices={k: shape(v) for k, v in piece.voices.items()})
