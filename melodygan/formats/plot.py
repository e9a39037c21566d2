"""Piano-roll pictures of a Piece (matplotlib, Agg canvas: no display needed).

One rectangle per note, a colour per track (melody first, legend in the corner), note opacity
from velocity, bar lines (solid) and beat lines (dotted) on the piece's grid with the pickup
respected, bar numbers along the bottom, chord symbols along the top at each change, pitch names
on the C's. The width grows with the number of bars so that long pieces stay readable.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from melodygan.errors import MelodyganError
from melodygan.files import atomic_output
from melodygan.notes import pitch_name
from melodygan.piece import Piece

# Colour-blind-safe palette (Okabe & Ito); the melody gets the first colour.
TRACK_COLOURS = ("#D55E00", "#0072B2", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")


def plot_piano_roll(piece: Piece, path: str | Path, *, title: str | None = None, dpi: int = 100,
                    force: bool = False) -> Path:
    """Draw the piece as a piano roll and save it as a PNG, atomically.

    Args:
        piece: the music (all tracks are drawn).
        path: the ``.png`` to write.
        title: heading; None for the piece's title, key, meter and tempo.
        dpi: resolution.
        force: replace an existing file.

    Returns:
        The path written.

    Raises:
        MelodyganError: a piece without notes; an existing file without ``force``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch, Rectangle

    tracks = {k: v for k, v in piece.tracks().items() if v}
    lo_hi = piece.pitch_range()
    if not tracks or lo_hi is None:
        raise MelodyganError("the piece has no notes to draw")
    lo, hi = lo_hi[0] - 2, lo_hi[1] + 2
    end = piece.end_steps
    spq = piece.steps_per_quarter
    width = min(max(8.0, 1.6 * piece.num_bars + 2), 40.0)
    height = min(max(4.0, 0.09 * (hi - lo) + 2.0), 12.0)
    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)

    def beats(step: float) -> float:
        return step / spq  # x axis in quarter notes

    for i, notes in enumerate(tracks.values()):
        colour = TRACK_COLOURS[i % len(TRACK_COLOURS)]
        for n in notes:
            alpha = 0.35 + 0.65 * n.velocity / 127
            ax.add_patch(Rectangle((beats(n.start_steps), n.pitch - 0.4), beats(n.duration_steps), 0.8,
                                   facecolor=colour, edgecolor="black", linewidth=0.3, alpha=alpha))
    bar = piece.bar_steps
    starts = ([0] if piece.pickup_steps else []) + list(range(piece.pickup_steps, end + 1, bar))
    for s in range(piece.pickup_steps % piece.beat_steps, end + 1, piece.beat_steps):
        ax.axvline(beats(s), color="#bbbbbb", linewidth=0.5, linestyle=":", zorder=0)
    for k, s in enumerate(starts):
        ax.axvline(beats(s), color="#555555", linewidth=1.0, zorder=0)
        number = k if piece.pickup_steps else k + 1
        if s < end and (number or piece.pickup_steps == 0):
            ax.text(beats(s) + 0.05, lo - 0.5, str(number), fontsize=7, color="#555555", va="top")
    for c in piece.chords:
        if c.start_steps < end:
            ax.text(beats(c.start_steps) + 0.05, hi + 0.6, c.symbol(key=piece.key),
                    fontsize=9, fontweight="bold", va="bottom")
    cs = [p for p in range(lo, hi + 1) if p % 12 == 0]
    ax.set_yticks(cs, [pitch_name(p) for p in cs])
    for p in range(lo, hi + 1):
        if p % 12 in (1, 3, 6, 8, 10):  # black keys shaded, like a keyboard on its side
            ax.axhspan(p - 0.5, p + 0.5, color="#f2f2f2", zorder=-1, linewidth=0)
    ax.set_xlim(0, beats(end))
    ax.set_ylim(lo - 1.5, hi + 2.5)
    ax.set_xlabel("quarter notes")
    num, den = piece.time_signature
    heading = title if title is not None else (
        f"{piece.title + ' — ' if piece.title else ''}{piece.key.name}, {num}/{den}, {piece.tempo_bpm:g} bpm")
    ax.set_title(heading, loc="left", pad=18)
    ax.legend(handles=[Patch(color=TRACK_COLOURS[i % len(TRACK_COLOURS)], label=name)
                       for i, name in enumerate(tracks)], loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8,
              frameon=False)
    with atomic_output(path, force=force) as tmp, warnings.catch_warnings():
        # a track or title in a script the default font lacks draws as boxes; not worth a warning each
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        fig.savefig(str(tmp), format="png", bbox_inches="tight")  # room for the legend beside the roll
    return Path(path)
