"""Generation: lead-sheet clips (melody + chord symbols) from the transformer, the GAN, or both.

Engines:
    ``"ar"``      the lead-sheet transformer writes chords and melody together;
    ``"gan"``     the convolutional GAN writes a melody over ``chords`` (or, without them, over
                  chords the transformer writes first);
    ``"hybrid"``  the transformer's chords, the GAN's melody.

The transformer was trained with every tune moved to the tonic C, so it always writes in C major
or C minor and the clip is then transposed to the asked key (by -6..+5 semitones, keeping the
register). Without ``key`` the key is drawn (from ``seed``) from the key distribution of the
training tunes. Everything random comes from ``seed``: the same call gives the same clips.
Import cost is kept low: no music21, librosa or matplotlib on this path.
"""

from __future__ import annotations

import functools
import math
import random
from pathlib import Path

import torch

from melodygan import tokens as tk
from melodygan.checkpoints import PACKAGE_WEIGHTS, load_checkpoint
from melodygan.chords import Chord, parse_chord_symbol
from melodygan.devices import make_generator, pick_device
from melodygan.errors import MelodyganError
from melodygan.keys import Key, estimate_key
from melodygan.models.transformer import MODEL_TYPE, LeadSheetTransformer, TransformerConfig
from melodygan.notes import Note
from melodygan.piece import Piece, chords_from_changes
from melodygan.sampling import BarSpec, Constraints, Grammar, sample_tokens

ENGINES = ("ar", "gan", "hybrid")
DEFAULT_CHECKPOINT = PACKAGE_WEIGHTS / "ar-leadsheet"
# Folk-tune keys when the checkpoint does not list its training keys.
_FALLBACK_KEYS = {"G": 30, "D": 25, "A": 10, "C": 10, "F": 5, "Em": 8, "Am": 6, "Dm": 6}
TOKENS_PER_BAR_BOUND = 60  # upper bound on the tokens of one bar (16 notes and 4 chords)
GENERATE_CANDIDATES = 16  # samples per 2-bar segment; the best by likelihood + consonance + variety is kept
CONSONANCE_WEIGHT = 16.0  # weight of melodygan.harmonize.critic (0..2) in the candidate score
LIKELIHOOD_WEIGHT = 4.0  # weight of the mean log-probability per sampled token
VARIETY_WEIGHT = 6.0  # weight of the chord-variety bonus (entropy of the chord changes so far, capped)
VARIETY_CAP_NATS = 1.5  # about the variety of the tunes' own chords; more is not rewarded


@functools.lru_cache(maxsize=4)
def _load(path: str, device: str) -> tuple[LeadSheetTransformer, dict]:
    model, _, extra = load_checkpoint(path, LeadSheetTransformer, TransformerConfig, MODEL_TYPE, device)
    return model.float(), extra  # type: ignore[return-value]


def load_model(checkpoint: str | Path | None = None, device: str | torch.device | None = None
               ) -> tuple[LeadSheetTransformer, dict]:
    """The transformer and its checkpoint metadata (shipped weights by default), cached per process.

    Raises:
        MelodyganError: no checkpoint there.
    """
    path = Path(checkpoint) if checkpoint is not None else DEFAULT_CHECKPOINT
    if not (path / "config.json").is_file():
        hint = " (the package ships none: run scripts/train_defaults.sh)" if checkpoint is None else ""
        raise MelodyganError(f"no transformer checkpoint in {path}{hint}")
    return _load(str(path), str(pick_device(str(device) if device is not None else None)))


def to_key(key: str | Key | None) -> Key | None:
    """``'G'``, ``'F#m'``, a Key or None.

    Raises:
        MelodyganError: not a key.
    """
    if key is None or isinstance(key, Key):
        return key
    try:
        return Key.parse(key)
    except ValueError as e:
        raise MelodyganError(str(e)) from e


def parse_progression(text: str, bars: int, bar_steps: int, beat_steps: int) -> list[Chord]:
    """``"C G Am F"`` (one chord per bar) or ``"C G | Am F"`` (bars split by ``|``, chords on beats),
    repeated to fill ``bars`` bars.

    Raises:
        MelodyganError: a symbol that is not a chord, or an empty progression.
    """
    bar_groups = [g.split() for g in text.split("|") if g.strip()]
    groups = bar_groups if "|" in text else [[s] for s in text.split()]
    if not groups:
        raise MelodyganError(f"empty chord progression {text!r}; give symbols like \"C G Am F\"")
    out: list[tuple[int, Chord]] = []
    for b in range(bars):
        group = groups[b % len(groups)]
        beats = max(bar_steps // beat_steps, 1)
        for i, sym in enumerate(group):
            try:
                chord = parse_chord_symbol(sym)
            except ValueError as e:
                raise MelodyganError(f"{e}; use symbols like C, Am, G7, F#m7b5, Bb/D") from e
            pos = (i * beats // len(group)) * beat_steps if len(group) <= beats else i * bar_steps // len(group)
            out.append((b * bar_steps + pos, chord))
    return chords_from_changes(out, bars * bar_steps)


def _key_of_chords(chords: list[Chord]) -> Key:
    notes = [Note(c.start_steps, c.duration_steps, 60 + pc) for c in chords for pc in c.pitch_classes]
    return estimate_key(notes)[0]


def _draw_key(extra: dict, rng: random.Random) -> Key:
    counts = extra.get("key_counts") or _FALLBACK_KEYS
    names = sorted(counts)
    return Key.parse(rng.choices(names, weights=[counts[n] for n in names])[0])


def shift_to(tonic: int) -> int:
    """Semitones (-6..5) from C to ``tonic``."""
    return ((tonic + 6) % 12) - 6


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


def chord_entropy(chords: list[Chord]) -> float:
    """Entropy (nats) of the chord symbols' histogram, one count per chord change; 0 for one chord."""
    counts: dict[tuple[int | None, str], int] = {}
    for c in chords:
        counts[(c.root, c.quality)] = counts.get((c.root, c.quality), 0) + 1
    total = sum(counts.values())
    return -sum(n / total * math.log(n / total) for n in counts.values()) if total else 0.0


def sample_leadsheets(num: int, bars: int, key: Key | None, time_signature: tuple[int, int], *, seed: int = 1,
                      chords: list[Chord] | None = None, primer: Piece | None = None, temperature: float = 1.0,
                      top_k: int | None = None, top_p: float | None = None, checkpoint: str | Path | None = None,
                      device: str | None = None, tempo_bpm: float = 110.0,
                      candidates: int = GENERATE_CANDIDATES) -> list[Piece]:
    """The transformer's lead sheets (melody + chords).

    Each clip is written two bars at a time; of ``candidates`` samples of a segment the best is kept,
    by the model's log-probability per token, a consonance critic (:func:`melodygan.harmonize.critic`)
    and a bonus for chord variety (:func:`chord_entropy` of the clip so far, capped near the variety
    of real tunes). Without ``key``, each clip's key is
    drawn from the training keys (from the chords when given, from the primer when given).
    """

    model, extra = load_model(checkpoint, device)
    rng = random.Random(seed)
    if primer is not None:
        time_signature = primer.time_signature
        key = key or primer.key
    bar_steps = Piece(time_signature=time_signature).bar_steps
    if key is None and chords:
        key = _key_of_chords(chords)
    keys = [key or _draw_key(extra, rng) for _ in range(num)]
    generator = make_generator(seed)
    pieces = []
    for i, k in enumerate(keys):
        up = shift_to(k.tonic)
        specs: list[BarSpec] = []
        if primer is not None:
            _, specs = bar_specs(primer.transposed(-up), melody=True, chords=bool(primer.chords))
        if chords is not None:
            fixed = Piece(chords=[c.transposed(-up) for c in chords], time_signature=time_signature,
                          length_steps=bars * bar_steps)
            specs += bar_specs(fixed, melody=False, chords=True)[1][:bars]
        total_bars = len(specs) + bars if chords is None else len(specs)
        constraints = Constraints(task="leadsheet", num_bars=total_bars, bar_steps=bar_steps,
                                  scale=Key(0, k.mode).scale_extended, pitch_range=(50, 93), bars=tuple(specs),
                                  max_chords_per_bar=2)
        prefix = tk.prefix_tokens("leadsheet", Key(0, k.mode), time_signature)
        row = _sample_by_segments(model, prefix, constraints, generator, candidates,
                                  dict(temperature=temperature, top_k=top_k, top_p=top_p))
        p = tk.decode(row, tempo_bpm=tempo_bpm)
        pieces.append(p.transposed(up).replace(key=k, title=f"melodygan clip {i + 1}"))
    return pieces


def _sample_by_segments(model: LeadSheetTransformer, prefix: list[int], constraints: Constraints,
                        generator: torch.Generator, candidates: int, filters: dict,
                        segment_bars: int = 2, context_bars: int = 4) -> list[int]:
    """One lead sheet, ``segment_bars`` at a time: ``candidates`` samples per segment, the best kept.

    Score = likelihood per token + consonance critic of the segment + chord variety of the clip so far.
    """
    from melodygan.harmonize import critic

    chosen: list[list[int]] = []
    specs = list(constraints.bars) + [BarSpec()] * max(0, constraints.num_bars - len(constraints.bars))
    block = model.config.block_size
    b0 = 0
    while b0 < constraints.num_bars:
        seg = min(segment_bars, constraints.num_bars - b0)
        context = prefix + [t for bar in chosen[max(0, b0 - context_bars):b0] for t in bar]
        budget = min(seg * TOKENS_PER_BAR_BOUND, block - len(context))
        sub = Constraints(task="leadsheet", num_bars=seg, bar_steps=constraints.bar_steps, scale=constraints.scale,
                          pitch_range=constraints.pitch_range, bars=tuple(specs[b0:b0 + seg]),
                          chord_every_bar=constraints.chord_every_bar,
                          max_chords_per_bar=constraints.max_chords_per_bar)
        grammars = [Grammar(sub) for _ in range(candidates)]
        logprobs = torch.zeros(candidates)
        out = sample_tokens(model, torch.tensor([context] * candidates), budget, generator, grammars=grammars,
                            prompt_in_grammar=False, logprobs=logprobs, **filters)
        so_far = tk.decode(prefix + [t for bar in chosen for t in bar]).chords
        best, best_score = [], float("-inf")
        for row, lp in zip(out.tolist(), logprobs.tolist()):
            new = [t for t in row[len(context):] if t not in (tk.PAD, tk.EOS)]
            piece = tk.decode(prefix + new)
            # Likelihood per token (per bar would favour sparse melodies: fewer tokens, fewer losses).
            score = (LIKELIHOOD_WEIGHT * lp / max(len(new), 1) + CONSONANCE_WEIGHT * critic(piece.melody, piece.chords)
                     + VARIETY_WEIGHT * min(chord_entropy(so_far + piece.chords), VARIETY_CAP_NATS))
            if score > best_score:
                best, best_score = new, score
        for t in best:
            if t == tk.BAR or not chosen:
                chosen.append([])
            chosen[-1].append(t)
        b0 += seg
    return prefix + [t for bar in chosen for t in bar] + [tk.EOS]


def generate(engine: str = "ar", *, num: int = 1, bars: int = 8, key: str | Key | None = None,
             time_signature: tuple[int, int] = (4, 4), tempo_bpm: float = 110.0, seed: int = 1,
             chords: str | list[Chord] | None = None, primer: str | Path | Piece | None = None,
             temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
             checkpoint: str | Path | None = None, device: str | None = None) -> list[Piece]:
    """Generate ``num`` lead-sheet clips of ``bars`` bars.

    Args:
        engine: ``"ar"``, ``"gan"`` or ``"hybrid"``.
        num: clips.
        bars: bars per clip (after the primer, if any).
        key: ``"G"``, ``"Em"``, a Key, or None (drawn from the training keys; from the chords
            when chords are given).
        time_signature: one of :data:`melodygan.tokens.METERS`, e.g. ``(6, 8)``.
        tempo_bpm: quarter notes per minute (metadata).
        seed: the same seed gives the same clips.
        chords: a progression (``"C G Am F"``, one chord per bar, repeated; ``|`` splits bars
            holding several) or Chords on the step grid; the melody is written over them.
        primer: a Piece or a score file to continue (its bars come first, melody kept).
        temperature, top_k, top_p: sampling filters.
        checkpoint: a transformer checkpoint folder (``"ar"``/``"hybrid"``) or GAN checkpoint
            (``"gan"``); None = the shipped weights.
        device: ``"cpu"``, ``"cuda"``; None = CUDA when available.

    Returns:
        Pieces with melody and chords (no accompaniment: see :func:`melodygan.arrange.arrange`).

    Raises:
        MelodyganError: an unknown engine, meter, key or chord symbol; bad numbers.
    """
    if engine not in ENGINES:
        raise MelodyganError(f"unknown engine {engine!r}; allowed: {', '.join(ENGINES)}")
    if not 1 <= num <= 1000:
        raise MelodyganError(f"num {num} must be 1..1000")
    if not 1 <= bars <= 256:
        raise MelodyganError(f"bars {bars} must be 1..256")
    if temperature < 0:
        raise MelodyganError(f"temperature {temperature} must be >= 0")
    if top_p is not None and not 0 < top_p <= 1:
        raise MelodyganError(f"top_p {top_p} must be in (0, 1]")
    if top_k is not None and top_k < 1:
        raise MelodyganError(f"top_k {top_k} must be >= 1")
    time_signature = (int(time_signature[0]), int(time_signature[1]))
    tk.meter_token(time_signature)
    the_key = to_key(key)
    try:
        grid = Piece(time_signature=time_signature, tempo_bpm=tempo_bpm)
    except ValueError as e:
        raise MelodyganError(str(e)) from e
    chord_list: list[Chord] | None = None
    if isinstance(chords, str):
        chord_list = parse_progression(chords, bars, grid.bar_steps, grid.beat_steps)
    elif chords is not None:
        chord_list = list(chords)
    primer_piece: Piece | None = None
    if primer is not None:
        primer_piece = primer if isinstance(primer, Piece) else _read_primer(primer)
    ar_checkpoint = checkpoint if engine == "ar" else None
    if engine == "ar":
        pieces = sample_leadsheets(num, bars, the_key, time_signature, seed=seed, chords=chord_list,
                                   primer=primer_piece, temperature=temperature, top_k=top_k, top_p=top_p,
                                   checkpoint=ar_checkpoint, device=device, tempo_bpm=tempo_bpm)
        return pieces
    from melodygan import gan_engine  # the GAN engine is only imported when asked for

    if chord_list is not None and engine == "gan":
        chord_lists = [chord_list] * num
        key_for_gan = the_key or _key_of_chords(chord_list)
    else:
        sheets = sample_leadsheets(num, bars, the_key, time_signature, seed=seed, chords=chord_list,
                                   temperature=temperature, top_k=top_k, top_p=top_p,
                                   checkpoint=checkpoint if engine == "hybrid" else None, device=device,
                                   tempo_bpm=tempo_bpm)
        chord_lists = [s.chords for s in sheets]
        key_for_gan = the_key or sheets[0].key
    gan_checkpoint = checkpoint if engine == "gan" else None
    pieces = gan_engine.gan_melodies(chord_lists, bars=bars, time_signature=time_signature, key=key_for_gan,
                                     seed=seed, checkpoint=gan_checkpoint, device=device)
    return [p.replace(tempo_bpm=tempo_bpm) for p in pieces]


def _read_primer(path: str | Path) -> Piece:
    from melodygan.readers import read_score

    piece = read_score(path)
    if not piece.melody:
        raise MelodyganError(f"primer {path} has no melody notes")
    if piece.steps_per_quarter != tk.STEPS_PER_QUARTER:
        piece = requantize(piece)
    return piece


def requantize(piece: Piece, steps_per_quarter: int = tk.STEPS_PER_QUARTER) -> Piece:
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

