"""Harmonization: chord symbols for a given melody, which is kept note for note.

The lead-sheet transformer reads tokens in *harmonize order* (each bar's melody, then ``HARM``,
then that bar's chords), so it sees a whole bar of melody before choosing its chords.
Harmonizing is sampling with the melody forced (a logit mask), a few bars at a time:

1. The melody is made monophonic (skyline); its key is the piece's own, or the Krumhansl-Schmuckler
   estimate when that fits the notes clearly better; the melody is moved to the tonic C, as in training.
2. For each segment of ``segment_bars`` bars (default 1), ``candidates`` chord sequences are sampled in one
   batch, with the previous ``context_bars`` bars (melody and chosen chords) as context.
3. Each candidate is scored by the model's own log-probability of its chords per bar plus a
   consonance critic (:func:`critic`: the share of melody notes that are chord tones or stepwise
   passing tones resolving to one, plus the interval consonance of notes with chord tones); the
   best one is kept and the next segment continues from it.
4. The chords are moved back to the melody's key and grid; the melody is returned untouched.
"""

from __future__ import annotations

from pathlib import Path

import torch

from melodygan import tokens as tk
from melodygan.chords import Chord
from melodygan.devices import make_generator
from melodygan.errors import MelodyganError
from melodygan.generate import bar_specs, load_model, requantize, shift_to
from melodygan.keys import Key, estimate_key
from melodygan.notes import Note, is_monophonic, skyline
from melodygan.piece import Piece, chords_from_changes
from melodygan.sampling import Constraints, Grammar, sample_tokens

CONSONANCE_WEIGHT = 16.0  # critic (0..2) weight against the model's log-probability per bar
_INTERVAL_SCORE = (1, -1, -1, 1, 1, 0, -1, 1, 1, 1, -1, -1)  # by (melody - chord tone) mod 12


def chord_fit(notes: list[Note], chords: list[Chord]) -> float:
    """Share of notes (0..1) that are chord tones of the chord at their onset, or stepwise
    non-chord tones whose next different note is a chord tone (passing and neighbour tones).

    Notes without a chord count as misses; 1.0 for no notes.
    """
    if not notes:
        return 1.0

    def chord_at(step: int) -> Chord | None:
        current = None
        for c in chords:
            if c.start_steps > step:
                break
            current = c
        return current

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
    index = 0
    ordered = sorted(chords, key=lambda c: c.start_steps)
    for n in sorted(notes):
        while index + 1 < len(ordered) and ordered[index + 1].start_steps <= n.start_steps:
            index += 1
        c = ordered[index] if ordered and ordered[index].start_steps <= n.start_steps else None
        tones = c.pitch_classes if c is not None else ()
        value = sum(_INTERVAL_SCORE[(n.pitch - t) % 12] for t in tones) / len(tones) if tones else -1.0
        total += value * n.duration_steps
        weight += n.duration_steps
    return total / weight if weight else 0.0


def critic(notes: list[Note], chords: list[Chord]) -> float:
    """Musical fit of chords to a melody, 0..2: :func:`chord_fit` + :func:`consonance` (clipped at 0)."""
    return chord_fit(notes, chords) + max(consonance(notes, chords), 0.0)


def _key_for(piece: Piece) -> Key:
    """The piece's own key when its scale fits the melody about as well as the estimated key's
    (files without a key signature say C major), else the Krumhansl-Schmuckler estimate."""
    estimated, _ = estimate_key(piece.melody)

    def fit(key: Key) -> float:
        total = sum(n.duration_steps for n in piece.melody)
        return sum(n.duration_steps for n in piece.melody if n.pitch % 12 in key.scale_extended) / total

    return piece.key if fit(piece.key) >= fit(estimated) - 0.02 else estimated


def _melody_of(piece: Piece) -> list[Note]:
    notes = piece.melody
    if not notes and piece.voices:
        notes = [n for v in piece.voices.values() for n in v]
    if not notes:
        raise MelodyganError("the input has no melody notes (empty or drum-only); give a file with a melody")
    if not is_monophonic(notes):
        notes = skyline(notes)
    return notes


def harmonize(piece: Piece, *, seed: int = 1, checkpoint: str | Path | None = None, temperature: float = 0.8,
              device: str | None = None, candidates: int = 16, segment_bars: int = 1,
              context_bars: int = 4, max_chords_per_bar: int = 2) -> Piece:
    """Add chord symbols to a melody.

    Args:
        piece: the melody (``piece.melody``; made monophonic by skyline when chords were played
            with it). Other parts are dropped from the result.
        seed: the same seed gives the same chords.
        checkpoint: a transformer checkpoint folder; None = the shipped weights.
        temperature: sampling temperature of the candidates.
        device: ``"cpu"``, ``"cuda"``; None = CUDA when available.
        candidates: chord sequences sampled per segment; the best is kept.
        segment_bars: bars decided together.
        context_bars: bars of earlier melody and chords the model sees.
        max_chords_per_bar: at most this many chord changes per bar (folk tunes rarely have more than 2).

    Returns:
        The piece with the same melody notes, new chords, the estimated key, and no other voices.

    Raises:
        MelodyganError: no melody, an unsupported meter, or bad arguments.
    """
    if candidates < 1 or segment_bars < 1 or context_bars < 0 or max_chords_per_bar < 1:
        raise MelodyganError("candidates, segment_bars and max_chords_per_bar must be >= 1, context_bars >= 0")
    if temperature < 0:
        raise MelodyganError(f"temperature {temperature} must be >= 0")
    melody = _melody_of(piece)
    work = piece.replace(melody=melody, chords=[], voices={})
    if work.steps_per_quarter != tk.STEPS_PER_QUARTER:
        work = requantize(work)
        melody = tk.monophonic_melody(work.melody)
        work = work.replace(melody=melody)
    key = _key_for(work)
    up = shift_to(key.tonic)
    try:
        norm = work.transposed(-up).replace(key=Key(0, key.mode))
    except ValueError as e:
        raise MelodyganError(f"melody cannot be moved to C for the model: {e}") from e
    offset, specs = bar_specs(norm, melody=True, chords=False)
    model, _ = load_model(checkpoint, device)
    prefix = tk.prefix_tokens("harmonize", Key(0, key.mode), norm.time_signature)
    generator = make_generator(seed)
    bar_steps = norm.bar_steps
    block = model.config.block_size
    chosen: list[list[int]] = []  # chosen tokens of each finished bar
    norm_notes = [n.shifted(offset) for n in tk.monophonic_melody(norm.melody)]
    b0 = 0
    while b0 < len(specs):
        seg, ctx = min(segment_bars, len(specs) - b0), context_bars
        while True:  # shrink context, then segment, until the sample surely fits the block
            context = prefix + [t for bar in chosen[max(0, b0 - ctx):b0] for t in bar]
            need = sum(2 + 3 * len(s.melody or ()) + 2 * max_chords_per_bar for s in specs[b0:b0 + seg]) + 1
            if len(context) + need <= block or (ctx == 0 and seg == 1):
                break
            if ctx > 0:
                ctx -= 1
            else:
                seg -= 1
        constraints = Constraints(task="harmonize", num_bars=seg, bar_steps=bar_steps, bars=tuple(specs[b0:b0 + seg]),
                                  max_chords_per_bar=max_chords_per_bar)
        grammars = [Grammar(constraints) for _ in range(candidates)]
        prompt = torch.tensor([context] * candidates, dtype=torch.long)
        logprobs = torch.zeros(candidates)
        out = sample_tokens(model, prompt, need, generator, temperature, None, None, grammars,
                            prompt_in_grammar=False, logprobs=logprobs)
        best, best_score = 0, float("-inf")
        for i, row in enumerate(out.tolist()):
            new = [t for t in row[len(context):] if t not in (tk.EOS, tk.PAD)]
            chords = _decode_chords(new, b0, bar_steps)
            notes = [n for n in norm_notes if b0 * bar_steps <= n.start_steps < (b0 + seg) * bar_steps]
            score = float(logprobs[i]) / seg + CONSONANCE_WEIGHT * critic(notes, chords)
            if score > best_score:
                best, best_score = i, score
        new = [t for t in out[best].tolist()[len(context):] if t not in (tk.EOS, tk.PAD)]
        chosen += _split_bars(new)
        b0 += seg
    all_tokens = [t for bar in chosen for t in bar]
    chords = _decode_chords(all_tokens, 0, bar_steps)
    end = work.end_steps
    moved: list[tuple[int, Chord]] = []
    for c in chords:  # back to the melody's grid (the pickup bar was padded in front) and key
        if c.end_steps - offset > 0:
            moved.append((max(c.start_steps - offset, 0), c.transposed(up)))
    return work.replace(chords=chords_from_changes(moved, end), key=key)


def _split_bars(tokens: list[int]) -> list[list[int]]:
    bars: list[list[int]] = []
    for t in tokens:
        if t == tk.BAR or not bars:
            bars.append([])
        bars[-1].append(t)
    return bars


def _decode_chords(tokens: list[int], first_bar: int, bar_steps: int) -> list[Chord]:
    """Chords of harmonize-order bar tokens, on the grid starting at bar ``first_bar``."""
    bar, pos = first_bar - 1, 0
    changes: list[tuple[int, Chord]] = []
    from melodygan.chords import chord_from_index

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
