"""The lead-sheet transformer engine: its checkpoint, the critic, and the one segment search.

Both jobs of the transformer go through :func:`search_segments`: a clip or a harmonization is
written a few bars at a time; for each segment ``candidates`` continuations are sampled in one batch
(the tokens of the chosen earlier bars as context, the grammar of :mod:`melodygan.engines.sampling`
as a logit mask) and the best by a caller's score is kept, then the next segment continues from it.

* :func:`sample_leadsheets` (``generate``): four-bar segments, melody and chords together, each bar
  opening with its place and its form (new, or a repeat / the rhythm of an earlier bar); one sample
  per segment, or the most likely of ``candidates`` (the model's own mean log-probability per
  token: no hand-written score).
* :func:`harmonize_bars` (``harmonize``): one-bar segments in harmonize order (each bar's melody,
  then ``HARM``, then its chords), the melody forced; score = the chords' log-probability per bar
  + the consonance critic.

The transformer was trained with every tune moved to the tonic C, so callers move the music to C
(:func:`melodygan.keys.semitones_to_c`) and back.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from pathlib import Path

import torch

from melodygan import tokens as tk
from melodygan.checkpoints import checkpoint_folder, load_checkpoint
from melodygan.chords import Chord, ChordTimeline, chord_from_index, key_of_chords
from melodygan.devices import make_generator, pick_device
from melodygan.engines.sampling import BarSpec, Constraints, Events, Grammar, sample_tokens
from melodygan.errors import MelodyganError
from melodygan.keys import Key, semitones_to_c
from melodygan.models.transformer import MODEL_TYPE, LeadSheetTransformer, TransformerConfig
from melodygan.notes import Note
from melodygan.piece import DEFAULT_STEPS_PER_QUARTER, Piece, chords_from_changes

# Folk-tune keys when the checkpoint does not list its training keys.
_FALLBACK_KEYS = {"G": 30, "D": 25, "A": 10, "C": 10, "F": 5, "Em": 8, "Am": 6, "Dm": 6}
TOKENS_PER_BAR_BOUND = 60  # upper bound on the tokens of one bar (16 notes and 4 chords)
GENERATE_CANDIDATES = 1  # samples per segment of generate (more: the most likely is kept)
GENERATE_SEGMENT_BARS = 4
GENERATE_CONTEXT_BARS = 12
CONSONANCE_WEIGHT = 16.0  # the transformer harmonizer: weight of the critic (0..2) in its score
_INTERVAL_SCORE = (1, -1, -1, 1, 1, 0, -1, 1, 1, 1, -1, -1)  # by (melody - chord tone) mod 12

# score(new_tokens, logprob_sum, first_bar, bars, chosen_bars) of one candidate segment
SegmentScore = Callable[[list[int], float, int, int, list[list[int]]], float]


@functools.lru_cache(maxsize=4)
def _load(path: str, device: str) -> tuple[LeadSheetTransformer, dict]:
    model, config, extra = load_checkpoint(path, LeadSheetTransformer, TransformerConfig, MODEL_TYPE, device)
    if config.vocab_size != tk.VOCAB_SIZE:  # type: ignore[attr-defined]
        raise MelodyganError(f"{path} was trained on a token vocabulary of {config.vocab_size} tokens; "  # type: ignore[attr-defined]
                             f"this version of melodygan has {tk.VOCAB_SIZE}: retrain it (melodygan train ar)")
    return model.float(), extra  # type: ignore[return-value]


def load_model(checkpoint: str | Path | None = None, device: str | torch.device | None = None
               ) -> tuple[LeadSheetTransformer, dict]:
    """The transformer and its checkpoint metadata (shipped weights by default), cached per process.

    Raises:
        MelodyganError: no checkpoint there.
    """
    path = checkpoint_folder(checkpoint, "ar-leadsheet", "transformer", "train one with scripts/train_defaults.sh")
    return _load(str(path), str(pick_device(str(device) if device is not None else None)))


def chord_fit(notes: list[Note], chords: list[Chord]) -> float:
    """Share of notes (0..1) that are chord tones of the chord at their onset, or stepwise
    non-chord tones whose next different note is a chord tone (passing and neighbour tones).

    Notes without a chord count as misses; 1.0 for no notes.
    """
    if not notes:
        return 1.0

    chord_at = ChordTimeline(chords).at
    good = 0
    for i, n in enumerate(notes):
        c = chord_at(n.start_steps)
        if c is None:
            continue
        if n.pitch % 12 in c.pitch_classes:
            good += 1
            continue
        nxt = next((m for m in notes[i + 1:] if m.pitch != n.pitch), None)
        if nxt is not None and abs(nxt.pitch - n.pitch) <= 2:
            c2 = chord_at(nxt.start_steps)
            if c2 is not None and nxt.pitch % 12 in c2.pitch_classes:
                good += 1
    return good / len(notes)


def consonance(notes: list[Note], chords: list[Chord]) -> float:
    """Duration-weighted mean interval consonance (-1..1) of each note with the tones of the chord at its onset.

    Per chord tone: +1 for a unison, third, fifth or sixth above it (mod 12), 0 for a fourth, -1
    for seconds, sevenths and the tritone. Notes without a chord score -1; 0.0 for no notes.
    """
    total, weight = 0.0, 0
    chord_at = ChordTimeline(chords).at
    for n in sorted(notes):
        c = chord_at(n.start_steps)
        tones = c.pitch_classes if c is not None else ()
        value = sum(_INTERVAL_SCORE[(n.pitch - t) % 12] for t in tones) / len(tones) if tones else -1.0
        total += value * n.duration_steps
        weight += n.duration_steps
    return total / weight if weight else 0.0


def critic(notes: list[Note], chords: list[Chord]) -> float:
    """Musical fit of chords to a melody, 0..2: :func:`chord_fit` + :func:`consonance` (clipped at 0)."""
    return chord_fit(notes, chords) + max(consonance(notes, chords), 0.0)


def search_segments(model: LeadSheetTransformer, prefix: list[int], specs: list[BarSpec],
                    constraints: Callable[[tuple[BarSpec, ...], int, tuple[Events, ...]], Constraints],
                    generator: torch.Generator, *,
                    candidates: int, score: SegmentScore, need: Callable[[list[BarSpec]], int],
                    segment_bars: int, context_bars: int, filters: dict) -> list[list[int]]:
    """The tokens of each bar, chosen ``segment_bars`` at a time (see the module docstring).

    Args:
        model: the transformer, in eval mode.
        prefix: the conditioning tokens (task, key, meter).
        specs: one per bar: what is fixed in it (melody and/or chords) or free.
        constraints: the grammar's constraints for the bars of one segment, given the index of its
            first bar and the melody events of the bars chosen before it.
        generator: every draw comes from it.
        candidates: samples per segment.
        score: higher is better; the first best candidate wins.
        need: the token budget of a segment's bars; when context plus budget overflow the model's
            block, the context shrinks first, then the segment.
        segment_bars, context_bars: bars decided together, earlier bars seen.
        filters: ``temperature``, ``top_k``, ``top_p`` for :func:`sample_tokens`.
    """
    chosen: list[list[int]] = []
    block = model.config.block_size
    b0 = 0
    while b0 < len(specs):
        seg, ctx = min(segment_bars, len(specs) - b0), context_bars
        while True:  # shrink context, then segment, until the sample surely fits the block
            context = tk.join(prefix, chosen[max(0, b0 - ctx):b0], max(0, b0 - ctx))
            budget = need(specs[b0:b0 + seg])
            if len(context) + budget <= block or (ctx == 0 and seg == 1):
                break
            if ctx > 0:
                ctx -= 1
            else:
                seg -= 1
        budget = min(budget, block - len(context))
        history = tuple(tuple(tk.bar_events(bar)) for bar in chosen)
        grammars = [Grammar(constraints(tuple(specs[b0:b0 + seg]), b0, history)) for _ in range(candidates)]
        logprobs = torch.zeros(candidates)
        out = sample_tokens(model, torch.tensor([context] * candidates, dtype=torch.long), budget, generator,
                            grammars=grammars, prompt_in_grammar=False, logprobs=logprobs, **filters)
        best: list[int] = []
        best_score = float("-inf")
        for row, lp in zip(out.tolist(), logprobs.tolist()):
            new = [t for t in row[len(context):] if t not in (tk.PAD, tk.EOS)]
            value = score(new, lp, b0, seg, chosen)
            if value > best_score:
                best, best_score = new, value
        chosen += split_bars(best)
        b0 += seg
    return chosen


def split_bars(tokens: list[int]) -> list[list[int]]:
    """Tokens cut into bars at each ``BAR`` token."""
    bars: list[list[int]] = []
    for t in tokens:
        if t == tk.BAR or not bars:
            bars.append([])
        bars[-1].append(t)
    return bars


ENDINGS = ("full", "open")
OPEN_ENDING_BARS = 8  # an open clip is written as the opening of a tune this many bars longer


def sample_leadsheets(num: int, bars: int, key: Key | None, time_signature: tuple[int, int], *, seed: int = 1,
                      chords: list[Chord] | None = None, primer: Piece | None = None, temperature: float = 1.0,
                      top_k: int | None = None, top_p: float | None = None, checkpoint: str | Path | None = None,
                      device: str | None = None, tempo_bpm: float = 110.0, genre: str = "folk",
                      candidates: int = GENERATE_CANDIDATES, ending: str = "full") -> list[Piece]:
    """The transformer's lead sheets (melody + chords).

    ``ending="full"`` writes each clip as a whole tune (its bars count down to a final cadence);
    ``"open"`` as the opening bars of a tune :data:`OPEN_ENDING_BARS` bars longer (phrases close,
    the tune does not: it ends where a strain would, ready to loop or go on).

    Each clip is written :data:`GENERATE_SEGMENT_BARS` bars at a time, seeing up to
    :data:`GENERATE_CONTEXT_BARS` bars before; with ``candidates`` > 1 the most likely of that many
    samples of a segment is kept (mean log-probability per sampled token). Without ``key``, each
    clip's key is drawn from the training keys of the genre (from the chords when given, from the
    primer when given).
    """

    model, extra = load_model(checkpoint, device)
    rng = random.Random(seed)
    if primer is not None:
        time_signature = primer.time_signature
        key = key or primer.key
    bar_steps = Piece(time_signature=time_signature).bar_steps
    if key is None and chords:
        key = key_of_chords(chords)
    keys = [key or _draw_key(extra, rng, genre) for _ in range(num)]
    generator = make_generator(seed)
    pieces = []
    for i, k in enumerate(keys):
        up = -semitones_to_c(k.tonic)
        specs: list[BarSpec] = []
        pickup = False
        if primer is not None:
            offset, specs = bar_specs(primer.transposed(-up), melody=True, chords=bool(primer.chords))
            pickup = offset > 0
        if chords is not None:
            fixed = Piece(chords=[c.transposed(-up) for c in chords], time_signature=time_signature,
                          length_steps=bars * bar_steps)
            specs += bar_specs(fixed, melody=False, chords=True)[1][:bars]
        total_bars = len(specs) + bars if chords is None else len(specs)
        constraints = Constraints(task="leadsheet", num_bars=total_bars, bar_steps=bar_steps,
                                  scale=Key(0, k.mode).scale_extended, pitch_range=(50, 93), bars=tuple(specs),
                                  max_chords_per_bar=2, pickup=pickup)
        prefix = tk.prefix_tokens("leadsheet", Key(0, k.mode), time_signature, genre)
        tune_bars = total_bars + (OPEN_ENDING_BARS if ending == "open" else 0)
        row = _leadsheet_tokens(model, prefix, constraints, generator, candidates,
                                dict(temperature=temperature, top_k=top_k, top_p=top_p), tune_bars)
        p = tk.decode(row, tempo_bpm=tempo_bpm)
        pieces.append(p.transposed(up).replace(key=k, title=f"melodygan clip {i + 1}"))
    return pieces


def _leadsheet_tokens(model: LeadSheetTransformer, prefix: list[int], constraints: Constraints,
                      generator: torch.Generator, candidates: int, filters: dict,
                      tune_bars: int | None = None) -> list[int]:
    """One lead sheet, a segment at a time; of several candidates the most likely per token is kept.
    ``tune_bars``: the length of the whole tune the bars are counted down to (default: the clip's)."""
    specs = list(constraints.bars) + [BarSpec()] * max(0, constraints.num_bars - len(constraints.bars))

    def score(new: list[int], logprob: float, _b0: int, _bars: int, _chosen: list[list[int]]) -> float:
        # Likelihood per token (per bar would favour sparse melodies: fewer tokens, fewer losses).
        return logprob / max(len(new), 1)

    def segment(bars: tuple[BarSpec, ...], first_bar: int, history: tuple[Events, ...]) -> Constraints:
        return Constraints(task="leadsheet", num_bars=len(bars), bar_steps=constraints.bar_steps,
                           scale=constraints.scale, pitch_range=constraints.pitch_range, bars=bars,
                           chord_every_bar=constraints.chord_every_bar,
                           max_chords_per_bar=constraints.max_chords_per_bar, first_bar=first_bar,
                           total_bars=tune_bars or constraints.num_bars, pickup=constraints.pickup,
                           history=history)

    chosen = search_segments(model, prefix, specs, segment, generator, candidates=candidates, score=score,
                             need=lambda bars: len(bars) * TOKENS_PER_BAR_BOUND,
                             segment_bars=GENERATE_SEGMENT_BARS, context_bars=GENERATE_CONTEXT_BARS,
                             filters=filters)
    return [*tk.join(prefix, chosen, 0), tk.EOS]


def harmonize_bars(model: LeadSheetTransformer, norm: Piece, generator: torch.Generator, *, temperature: float,
                   candidates: int, segment_bars: int, context_bars: int, max_chords_per_bar: int,
                   genre: str = "folk") -> list[Chord]:
    """Chords for the melody of ``norm`` (already in C), on its grid; see the module docstring."""
    offset, specs = bar_specs(norm, melody=True, chords=False)
    prefix = tk.prefix_tokens("harmonize", norm.key, norm.time_signature, genre)
    bar_steps = norm.bar_steps
    notes = [n.shifted(offset) for n in tk.monophonic_melody(norm.melody)]

    def score(new: list[int], logprob: float, b0: int, bars: int, _chosen: list[list[int]]) -> float:
        inside = [n for n in notes if b0 * bar_steps <= n.start_steps < (b0 + bars) * bar_steps]
        return logprob / bars + CONSONANCE_WEIGHT * critic(inside, _decode_chords(new, b0, bar_steps))

    def need(bars: list[BarSpec]) -> int:
        return sum(2 + 3 * len(s.melody or ()) + 2 * max_chords_per_bar for s in bars) + 1

    def segment(bars: tuple[BarSpec, ...], first_bar: int, history: tuple[Events, ...]) -> Constraints:
        return Constraints(task="harmonize", num_bars=len(bars), bar_steps=bar_steps, bars=bars,
                           max_chords_per_bar=max_chords_per_bar, first_bar=first_bar, total_bars=len(specs),
                           pickup=offset > 0, history=history)

    chosen = search_segments(model, prefix, specs, segment, generator, candidates=candidates, score=score,
                             need=need, segment_bars=segment_bars, context_bars=context_bars,
                             filters=dict(temperature=temperature))
    chords = _decode_chords([t for bar in chosen for t in bar], 0, bar_steps)
    # back to the melody's grid (the pickup bar was padded in front)
    moved = [(max(c.start_steps - offset, 0), c) for c in chords if c.end_steps - offset > 0]
    return chords_from_changes(moved, norm.end_steps)


def bar_specs(piece: Piece, melody: bool, chords: bool) -> tuple[int, list[BarSpec]]:
    """``(offset_steps, specs)``: the piece's melody and/or chords as fixed bar contents."""
    offset, num_bars = tk.bar_layout(piece)
    bs = piece.bar_steps
    notes = [n.shifted(offset) for n in tk.monophonic_melody(piece.melody)]
    chs = [c.with_time(c.start_steps + offset, c.duration_steps) for c in piece.chords if not c.is_no_chord]
    specs = []
    for b in range(num_bars):
        m = tuple(tk.melody_events(notes, b * bs, bs)) if melody else None
        c = tuple(tk.chord_events(chs, b * bs, bs)) if chords and chs else None
        specs.append(BarSpec(melody=m, chords=c))
    return offset, specs


def _draw_key(extra: dict, rng: random.Random, genre: str = "folk") -> Key:
    by_genre = extra.get("key_counts_by_genre") or {}
    counts = by_genre.get(genre) or extra.get("key_counts") or _FALLBACK_KEYS
    names = sorted(counts)
    return Key.parse(rng.choices(names, weights=[counts[n] for n in names])[0])


def requantize(piece: Piece, steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER) -> Piece:
    """The piece on another grid (onsets and ends rounded; notes keep at least one step)."""
    f = steps_per_quarter / piece.steps_per_quarter

    def q(x: int) -> int:
        return round(x * f)

    notes = []
    for n in piece.melody:
        s = q(n.start_steps)
        notes.append(Note(s, max(1, q(n.end_steps) - s), n.pitch, n.velocity))
    chords = [c.with_time(q(c.start_steps), max(1, q(c.end_steps) - q(c.start_steps))) for c in piece.chords]
    voices = {k: [Note(q(n.start_steps), max(1, q(n.end_steps) - q(n.start_steps)), n.pitch, n.velocity) for n in v]
              for k, v in piece.voices.items()}
    return piece.replace(melody=notes, chords=chords, voices=voices, steps_per_quarter=steps_per_quarter,
                         pickup_steps=q(piece.pickup_steps) % max(1, steps_per_quarter * 4 * piece.time_signature[0]
                                                                  // piece.time_signature[1]),
                         length_steps=None if piece.length_steps is None else q(piece.length_steps))

def _decode_chords(tokens: list[int], first_bar: int, bar_steps: int) -> list[Chord]:
    """Chords of harmonize-order bar tokens, on the grid starting at bar ``first_bar``."""
    bar, pos = first_bar - 1, 0
    changes: list[tuple[int, Chord]] = []
    for t in tokens:
        k = tk.kind(t)
        if t == tk.BAR:
            bar, pos = bar + 1, 0
        elif k == "pos":
            pos = t - tk.POS_OFFSET
        elif k == "chord":
            changes.append((bar * bar_steps + pos, chord_from_index(t - tk.CHORD_OFFSET)))
    end = (bar + 1) * bar_steps
    return chords_from_changes([(s, c) for s, c in changes if not c.is_no_chord], end)
