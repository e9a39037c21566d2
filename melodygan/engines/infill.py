"""Regenerate part of a lead sheet: new melody and/or chords for some bars, the rest kept exactly.

The transformer writes left to right, so it sees the bars before the gap but not those after it.
:func:`infill` therefore samples ``candidates`` fillings of the gap from the model (the bars
before as context, the grammar of :mod:`melodygan.engines.sampling` holding what is kept: the
chords when only the melody is new, the melody when only the chords are) and ranks them by how
likely the model finds the bars *after* the gap once the filling is in place — an importance
weighting of the model's own samples by the right-hand context, so the new bars lead into what
follows (no hand-written score). The ``num`` best distinct fillings are returned.

Variations (:func:`vary`) are the same path over a whole clip: every bar's melody is new over its
chords; ``generate --primer`` (a continuation) is the same search with no right-hand context.

Bars are numbered as a musician counts them: 1 = the first full bar, 0 = the pickup.
"""

from __future__ import annotations

from pathlib import Path

import torch

from melodygan import tokens as tk
from melodygan.devices import cpu_threads, make_generator
from melodygan.engines.leadsheet import TOKENS_PER_BAR_BOUND, bar_specs, load_model, requantize
from melodygan.engines.sampling import BarSpec, Constraints, Grammar, sample_tokens
from melodygan.errors import MelodyganError
from melodygan.keys import Key, semitones_to_c
from melodygan.models.transformer import LeadSheetTransformer
from melodygan.notes import Note
from melodygan.piece import DEFAULT_STEPS_PER_QUARTER, Piece, accented_velocity, chords_from_changes

PARTS = ("melody", "chords", "both")
INFILL_CANDIDATES = 16  # fillings sampled; ranked by the likelihood of the bars after the gap
RIGHT_BARS = 4  # bars after the gap whose likelihood ranks the fillings
MAX_CHORDS_PER_BAR = 2


def parse_bars(text: str) -> tuple[int, int]:
    """``"5-6"`` → ``(5, 6)``, ``"3"`` → ``(3, 3)``.

    Raises:
        MelodyganError: not ``N`` or ``N-M`` with ``0 <= N <= M``.
    """
    parts = text.replace(" ", "").split("-")
    try:
        first, last = (int(parts[0]), int(parts[-1])) if 1 <= len(parts) <= 2 else (-1, -1)
    except ValueError:
        first, last = -1, -1
    if first < 0 or last < first:
        raise MelodyganError(f"bars {text!r} is not a bar or a range like 5-6 (bars count from 1)")
    return first, last


def infill(piece: Piece, bars: tuple[int, int], part: str = "melody", *, num: int = 1, seed: int = 1,
           checkpoint: str | Path | None = None, device: str | None = None, genre: str = "folk",
           candidates: int = INFILL_CANDIDATES, temperature: float = 1.0,
           threads: int | None = None) -> list[Piece]:
    """``num`` versions of ``piece`` with bars ``bars`` (first, last; 1 = the first full bar) rewritten.

    Args:
        piece: a lead sheet (melody and, for ``part="melody"``, chords); other voices are kept
            outside the gap and dropped inside it when the chords change.
        bars: the gap, inclusive.
        part: ``"melody"`` (new notes over the kept chords), ``"chords"`` (new chords under the
            kept notes) or ``"both"``.
        num: versions, most fitting first (at most ``candidates``).
        seed, temperature: sampling.
        checkpoint, device: the transformer (shipped weights by default).
        genre: ``folk`` or ``pop``.
        candidates: fillings sampled and ranked.
        threads: torch CPU threads (None: ``$MELODYGAN_THREADS``, else 1).

    Raises:
        MelodyganError: a part or a bar range the piece does not have, a melody the model cannot
            read, bad numbers.
    """
    check_infill(piece, bars, part, num=num, candidates=candidates)
    work = piece if piece.steps_per_quarter == DEFAULT_STEPS_PER_QUARTER else requantize(piece)
    up = -semitones_to_c(work.key.tonic)
    try:
        norm = work.transposed(-up).replace(key=Key(0, work.key.mode))
    except ValueError as e:
        raise MelodyganError(f"the piece cannot be moved to C for the model: {e}") from e
    offset, specs = bar_specs(norm, melody=True, chords=True)
    pickup = offset > 0
    first, last = bars
    b0, b1 = first - 1 + pickup, last - 1 + pickup  # token bar indices (the pickup bar is 0)
    gap = [BarSpec(melody=None if part != "chords" else s.melody, chords=None if part != "melody" else s.chords)
           for s in specs[b0:b1 + 1]]
    model, _ = load_model(checkpoint, device)
    prefix = tk.prefix_tokens("leadsheet", norm.key, norm.time_signature, genre)
    _, bar_tokens = tk.encode_bars(norm, "leadsheet", genre=genre)
    generator = make_generator(seed)
    with cpu_threads(threads):
        rows = _sample_gap(model, prefix, bar_tokens, gap, b0, len(specs), pickup, norm, generator, candidates,
                           temperature)
        filled = [_splice(norm, row, b0, b1, offset, part) for row in rows]
        scores = _right_context_logprob(model, filled, b0, b1, genre)
    order = sorted(range(len(filled)), key=lambda i: -scores[i])
    out: list[Piece] = []
    seen: set[tuple] = set()
    for i in order:
        p = filled[i]
        sig = (tuple(p.melody), tuple((c.start_steps, c.index) for c in p.chords))
        if sig in seen:
            continue
        seen.add(sig)
        out.append(p.transposed(up).replace(key=work.key))
        if len(out) == num:
            break
    return out


def check_infill(piece: Piece, bars: tuple[int, int], part: str = "melody", *, num: int = 1,
                 candidates: int = INFILL_CANDIDATES) -> None:
    """Refuse what :func:`infill` cannot do, before any model is loaded.

    Raises:
        MelodyganError: an unknown part, a bad ``num``, nothing to keep, bars outside the piece.
    """
    if part not in PARTS:
        raise MelodyganError(f"unknown part {part!r}; allowed: {', '.join(PARTS)}")
    if not 1 <= num <= candidates:
        raise MelodyganError(f"num {num} must be 1..{candidates} (the candidates sampled)")
    if part == "melody" and not piece.chords:
        raise MelodyganError("the piece has no chords to keep; regenerate --part both, or harmonize it first")
    if part == "chords" and not piece.melody:
        raise MelodyganError("the piece has no melody to keep; regenerate --part both")
    first, last = bars
    lowest = 0 if piece.pickup_steps else 1
    if first < lowest or last > piece.num_bars:
        raise MelodyganError(f"bars {first}-{last} are outside the piece (bars {lowest}-{piece.num_bars})")


def vary_gaps(num_bars: int, amount: float, first: int = 1) -> list[tuple[int, int]]:
    """The 2-bar gaps a variation of ``amount`` (0..1) rewrites: the answering half of each 4-bar
    phrase first (bars 3-4, 7-8, ...), then the opening halves (1-2, 5-6, ...), until ``amount`` of
    the bars are covered; bar numbers from ``first``."""
    if not 0 < amount <= 1:
        raise MelodyganError(f"amount {amount} must be in (0, 1]")
    pairs = [(b, min(b + 1, first + num_bars - 1)) for b in range(first, first + num_bars, 2)]
    order = [p for i, p in enumerate(pairs) if i % 2 == 1] + [p for i, p in enumerate(pairs) if i % 2 == 0]
    chosen, covered = [], 0
    for p in order:
        if covered >= amount * num_bars - 1e-9:
            break
        chosen.append(p)
        covered += p[1] - p[0] + 1
    return sorted(chosen)


def vary(piece: Piece, *, num: int = 1, seed: int = 1, amount: float = 1.0, **options: object) -> list[Piece]:
    """``num`` variations of a clip: the same chords, a new melody in ``amount`` of its bars (the
    gaps of :func:`vary_gaps`, each filled in turn by :func:`infill`, so every new bar hears the bars
    around it); each variation from its own seed."""
    gaps = vary_gaps(piece.num_bars, amount)
    out = []
    for k in range(num):
        p = piece
        for j, gap in enumerate(gaps):
            p = infill(p, gap, "melody", num=1, seed=seed + 1000 * k + j, **options)[0]  # type: ignore[arg-type]
        out.append(p)
    return out


def _sample_gap(model: LeadSheetTransformer, prefix: list[int], bar_tokens: list[list[int]], gap: list[BarSpec],
                b0: int, total_bars: int, pickup: bool, norm: Piece, generator: torch.Generator, candidates: int,
                temperature: float) -> list[list[int]]:
    """``candidates`` token rows of the gap's bars, the bars before it as context."""
    block = model.config.block_size
    budget = len(gap) * TOKENS_PER_BAR_BOUND + 1
    if len(prefix) + budget > block:
        raise MelodyganError(f"a gap of {len(gap)} bars is too long for the model; regenerate at most "
                             f"{(block - len(prefix)) // TOKENS_PER_BAR_BOUND} bars at a time")
    start = b0
    while start > 0 and len(prefix) + 1 + sum(len(b) for b in bar_tokens[start - 1:b0]) + budget <= block:
        start -= 1
    context = tk.join(prefix, bar_tokens[start:b0], start)
    history = tuple(tuple(tk.bar_events(bar)) for bar in bar_tokens[:b0])
    constraints = Constraints(task="leadsheet", num_bars=len(gap), bar_steps=norm.bar_steps,
                              scale=norm.key.scale_extended, pitch_range=(48, 96), bars=tuple(gap),
                              max_chords_per_bar=MAX_CHORDS_PER_BAR, first_bar=b0, total_bars=total_bars,
                              pickup=pickup, history=history)
    grammars = [Grammar(constraints) for _ in range(candidates)]
    out = sample_tokens(model, torch.tensor([context] * candidates, dtype=torch.long), budget, generator,
                        temperature=temperature, grammars=grammars, prompt_in_grammar=False)
    return [[t for t in row[len(context):] if t not in (tk.PAD, tk.EOS)] for row in out.tolist()]


def _splice(norm: Piece, row: list[int], b0: int, b1: int, offset: int, part: str) -> Piece:
    """``norm`` with the gap's bars replaced by the decoded ``row`` (times on ``norm``'s grid)."""
    bs = norm.bar_steps
    lo, hi = b0 * bs - offset, (b1 + 1) * bs - offset  # the gap on the piece's grid
    decoded = tk.decode(tk.prefix_tokens("leadsheet", norm.key, norm.time_signature) + [tk.BAR] * b0 + row)
    melody, chords = norm.melody, norm.chords
    if part != "chords":
        new = [n.shifted(-offset) for n in decoded.melody if b0 * bs <= n.start_steps]
        new = [_clip(n, hi) for n in new if lo <= n.start_steps < hi]
        # the metrical accents a generated clip gets on export, so the new notes sit among the old
        new = [Note(n.start_steps, n.duration_steps, n.pitch, accented_velocity(norm, n.start_steps, n.velocity))
               for n in new]
        melody = _cut(melody, lo, hi) + new
    if part != "melody":
        kept = [(c.start_steps, c) for c in norm.chords if c.start_steps < lo]
        kept += [(max(c.start_steps, hi), c) for c in norm.chords if c.end_steps > hi]
        new_ch = [(c.start_steps - offset, c) for c in decoded.chords
                  if b0 * bs <= c.start_steps and lo <= c.start_steps - offset < hi]
        chords = chords_from_changes(sorted(kept + new_ch, key=lambda sc: sc[0]), norm.end_steps)
    voices = norm.voices if part == "melody" else {k: _cut(v, lo, hi) for k, v in norm.voices.items()}
    return norm.replace(melody=sorted(melody), chords=chords, voices=voices)


def _cut(notes: list[Note], lo: int, hi: int) -> list[Note]:
    """The notes outside ``[lo, hi)``; one sounding into the gap ends at ``lo``."""
    out = []
    for n in notes:
        if n.start_steps >= hi or n.end_steps <= lo:
            out.append(n)
        elif n.start_steps < lo:
            out.append(Note(n.start_steps, lo - n.start_steps, n.pitch, n.velocity))
    return out


def _clip(n: Note, hi: int) -> Note:
    return n if n.end_steps <= hi else Note(n.start_steps, hi - n.start_steps, n.pitch, n.velocity)


@torch.no_grad()
def _right_context_logprob(model: LeadSheetTransformer, pieces: list[Piece], b0: int, b1: int,
                           genre: str) -> list[float]:
    """Per piece: the model's log-probability of the tokens of up to :data:`RIGHT_BARS` bars after
    the gap, given the gap and what comes before (0 for every piece when the gap ends the piece)."""
    block = model.config.block_size
    seqs, spans = [], []
    for p in pieces:
        prefix, bars = tk.encode_bars(p, "leadsheet", genre=genre)
        right = bars[b1 + 1:b1 + 1 + RIGHT_BARS]
        if not right:
            return [0.0] * len(pieces)
        start = b0
        body = [t for bar in bars[b0:b1 + 1] for t in bar]
        tail = [t for bar in right for t in bar]
        while start > 0 and len(prefix) + 1 + len(bars[start - 1]) + len(body) + len(tail) <= block:
            start -= 1
        head = tk.join(prefix, bars[start:b0], start)
        seq = (head + body + tail)[:block]
        seqs.append(seq)
        spans.append((len(head) + len(body), len(seq)))
    T = max(len(s) for s in seqs)
    x = torch.full((len(seqs), T), tk.PAD, dtype=torch.long)
    for i, s in enumerate(seqs):
        x[i, :len(s)] = torch.tensor(s)
    logits, _ = model(x)
    logp = torch.log_softmax(logits.float(), -1)
    out = []
    for i, (a, b) in enumerate(spans):
        targets = x[i, a:b]
        out.append(float(logp[i, a - 1:b - 1].gather(1, targets[:, None]).sum()))
    return out


def keep_voices_outside(original: Piece, arranged: Piece, gaps: list[tuple[int, int]]) -> Piece:
    """``arranged`` with its accompaniment voices taken from ``original`` outside the ``gaps`` (bar
    ranges as in :func:`infill`) and from ``arranged`` inside them."""
    bs, first = original.bar_steps, original.pickup_steps
    spans = [(max(0, first + (a - 1) * bs), first + b * bs) for a, b in gaps]

    def inside(n: Note) -> bool:
        return any(lo <= n.start_steps < hi for lo, hi in spans)

    voices = {}
    for name in dict.fromkeys([*original.voices, *arranged.voices]):
        old = [n for n in original.voices.get(name, []) if not inside(n)]
        for lo, hi in spans:
            old = _cut(old, lo, hi)
        voices[name] = sorted(old + [_clip(n, max(hi for lo, hi in spans if lo <= n.start_steps < hi))
                                     for n in arranged.voices.get(name, []) if inside(n)])
    return arranged.replace(voices=voices)
