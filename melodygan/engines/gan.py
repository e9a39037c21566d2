"""The GAN engine: sample melody rolls over chord progressions and decode them to notes.

Meters. The model works in a bar frame of 16 sixteenths (see :mod:`melodygan.models.gan`); any
meter whose bar fits (2/4, 3/4, 4/4, 2/2, 6/8, 3/8, 12/16 …) is a mask over that frame plus a
row of beat starts, so the one network serves them all. Longer bars (9/8, 5/4, 12/8) are refused.

Sampling. The generator draws its own notes on an 8th-note grid (see :mod:`melodygan.models.gan`);
:func:`gan_melodies` decodes that binary roll, so on the generator's output the thresholds below
change nothing and ``min_duration_steps`` (in 16ths) merges or drops short notes. Melodies of 8
bars and more are in period form by default (``answer_bars``, :func:`sample_frames`).

Decoding a roll ``(2, T, P)`` (sustain and onset values, binary or probabilities) to notes, step by step:

1. **Sounding or rest.** Step ``t`` sounds when the pitches' total sustain probability is at least
   ``sustain_threshold`` (the model's softmax puts the rest of the mass on "rest"; a binary roll
   sums to 1 where a note sounds).
2. **Which pitch.** The pitch with the highest sustain probability, among the allowed pitch
   classes when a scale mask is given (the mask picks among pitches; it never turns a rest into
   a note). Ties go to the lowest pitch.
3. **Onset-aware note boundaries.** A new note starts at a sounding step when the step before was
   silent, when the pitch changes, or when the onset probability of the chosen pitch is at least
   ``onset_threshold`` (so two repeated quarter notes stay two notes).
4. **Minimum duration.** A note shorter than ``min_duration_steps`` is removed; if the note before
   it ends exactly where it starts, that note is lengthened over the gap (a held note rather than
   a hole in the rhythm), otherwise the steps become rest.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
import torch

from melodygan.checkpoints import PACKAGE_WEIGHTS, checkpoint_folder, load_checkpoint
from melodygan.chords import Chord, key_of_chords
from melodygan.devices import make_generator, pick_device
from melodygan.errors import MelodyganError
from melodygan.keys import Key
from melodygan.models.gan import GanConfig, MelodyGenerator, key_vector, slot_noise
from melodygan.notes import Note, notes_from_arrays
from melodygan.pianoroll import bar_steps_of, chords_to_bar_frames, meter_rows
from melodygan.piece import Piece

MODEL_TYPE = "gan-melody"
DEFAULT_CHECKPOINT = PACKAGE_WEIGHTS / "gan-melody"


@dataclass(frozen=True)
class DecodeConfig:
    """Thresholds for :func:`decode_roll` (see the module docstring for the rules)."""

    sustain_threshold: float = 0.5
    onset_threshold: float = 0.5
    min_duration_steps: int = 1


def decode_roll(roll: np.ndarray, pitch_low: int, *, sustain_threshold: float = 0.5, onset_threshold: float = 0.5,
                min_duration_steps: int = 1, allowed_pitch_classes: tuple[int, ...] | None = None,
                velocity: int = 90) -> list[Note]:
    """Decode one melody roll to monophonic notes (rules in the module docstring).

    Args:
        roll: ``(2, T, P)`` sustain and onset values in [0, 1] (probabilities or binary).
        pitch_low: MIDI pitch of column 0.
        sustain_threshold: total sustain mass at which a step sounds.
        onset_threshold: onset probability at which a repeated pitch starts a new note.
        min_duration_steps: shorter notes are merged into the previous note or dropped.
        allowed_pitch_classes: if given, only pitches of these classes are chosen.
        velocity: MIDI velocity of every note.

    Returns:
        Notes sorted by onset, none overlapping.
    """
    return decode_rolls(np.asarray(roll)[None], pitch_low, sustain_threshold=sustain_threshold,
                        onset_threshold=onset_threshold, min_duration_steps=min_duration_steps,
                        allowed_pitch_classes=None if allowed_pitch_classes is None else [allowed_pitch_classes],
                        velocity=velocity)[0]


def decode_rolls(rolls: np.ndarray, pitch_low: int, *, sustain_threshold: float = 0.5, onset_threshold: float = 0.5,
                 min_duration_steps: int = 1, allowed_pitch_classes: list[tuple[int, ...] | None] | None = None,
                 velocity: int = 90) -> list[list[Note]]:
    """:func:`decode_roll` of a whole batch at once (the same notes, without a loop over clips).

    Args:
        rolls: ``(B, 2, T, P)`` sustain and onset values in [0, 1].
        pitch_low, sustain_threshold, onset_threshold, min_duration_steps, velocity: as in
            :func:`decode_roll`.
        allowed_pitch_classes: None, or one entry per clip (None for no mask).

    Returns:
        ``B`` lists of notes.
    """
    roll = np.asarray(rolls, dtype=np.float32)
    sustain, onset = roll[:, 0], roll[:, 1]  # (B, T, P)
    batch, length, num_pitches = sustain.shape
    if batch == 0 or length == 0:
        return [[] for _ in range(batch)]
    sounding = sustain.sum(2) >= sustain_threshold  # (B, T)
    choice = sustain
    if allowed_pitch_classes is not None and any(a is not None for a in allowed_pitch_classes):
        classes = (np.arange(num_pitches) + pitch_low) % 12  # (P,)
        ok = np.stack([np.isin(classes, a) if a is not None else np.ones(num_pitches, dtype=bool)
                       for a in allowed_pitch_classes])  # (B, P)
        choice = np.where(ok[:, None, :], sustain + 1e-6, -1.0)  # an allowed pitch always wins
    pitch = choice.argmax(2)  # (B, T)
    onset_here = np.take_along_axis(onset, pitch[..., None], 2)[..., 0] >= onset_threshold  # (B, T)
    prev_sounding = np.concatenate([np.zeros((batch, 1), dtype=bool), sounding[:, :-1]], axis=1)
    prev_pitch = np.concatenate([np.full((batch, 1), -1), pitch[:, :-1]], axis=1)
    starts = sounding & (~prev_sounding | (pitch != prev_pitch) | onset_here)  # (B, T)
    clip, begin = np.nonzero(starts)  # (K,), (K,): by clip, then by time
    # A note ends at the next start or at the first silent step after it, whichever comes first.
    silent_at = np.where(sounding, length, np.arange(length))  # (B, T)
    next_silent = np.minimum.accumulate(silent_at[:, ::-1], axis=1)[:, ::-1]  # (B, T) first silent step >= t
    next_silent = np.concatenate([next_silent, np.full((batch, 1), length)], axis=1)  # (B, T + 1)
    same_clip_next = np.append(clip[1:] == clip[:-1], False)
    next_start = np.where(same_clip_next, np.append(begin[1:], length), length)
    end = np.minimum(next_start, next_silent[clip, begin + 1])  # (K,)
    notes = notes_from_arrays(begin, end - begin, pitch_low + pitch[clip, begin], np.full(len(begin), velocity))
    bounds = np.concatenate([[0], np.cumsum(np.bincount(clip, minlength=batch))]).tolist()
    out = [notes[a:b] for a, b in pairwise(bounds)]
    if min_duration_steps <= 1:
        return out
    return [_merge_short(n, min_duration_steps) for n in out]


def _merge_short(notes: list[Note], min_duration_steps: int) -> list[Note]:
    """Rule 4 of the module docstring."""
    kept: list[Note] = []
    for n in notes:
        if n.duration_steps >= min_duration_steps:
            kept.append(n)
        elif kept and kept[-1].end_steps == n.start_steps:
            last = kept[-1]
            kept[-1] = Note(last.start_steps, last.duration_steps + n.duration_steps, last.pitch, last.velocity)
    return kept


@functools.lru_cache(maxsize=4)
def load_generator(checkpoint: str | None = None, device: str | None = None) -> tuple[MelodyGenerator, GanConfig]:
    """Load (and cache) a generator from a checkpoint folder (default: the shipped weights).

    Raises:
        MelodyganError: no checkpoint there, or it is not a GAN melody checkpoint.
    """
    path = checkpoint_folder(checkpoint, "gan-melody", "GAN",
                             "train one with `melodygan train gan --data DIR --out RUN`")
    model, config, _ = load_checkpoint(path, MelodyGenerator, GanConfig, MODEL_TYPE, pick_device(device))
    assert isinstance(model, MelodyGenerator)
    return model, config


@torch.inference_mode()
def sample_frames(model: MelodyGenerator, chord_frames: np.ndarray, keys: list[Key], meter: np.ndarray,
                  seed: int = 1, batch_size: int = 1024, answer_bars: int = 0) -> np.ndarray:
    """Sample melody rolls in the bar frame.

    Args:
        model: a generator in eval mode.
        chord_frames: ``(B, N, S, 12)`` chord pitch classes per step.
        keys: ``B`` keys.
        meter: ``(2, S)`` meter rows (see :func:`meter_rows`).
        seed: all noise comes from one generator seeded with this; same seed → same rolls.
        batch_size: phrases per forward call.
        answer_bars: period form: with ``L > 0``, bars ``L .. 2L - 1`` of every ``2L`` answer the ``L``
            before them — they reuse those bars' latents and choice noise, so the answer restates
            the question's melody wherever the chords (and the note just before) allow, and
            departs from it where they differ (a different cadence). 0 = every bar its own noise.

    Returns:
        ``(B, N, 2, S, P)`` float32 binary rolls (sustain, onset): the generator's own choices, the
        rolls its discriminator was trained on.
    """
    cfg = model.config
    device = next(model.parameters()).device
    b, n = chord_frames.shape[:2]
    gen = make_generator(seed)
    z_phrase = torch.randn(b, cfg.z_phrase, generator=gen)
    z_bars = torch.randn(b, n, cfg.z_bar, generator=gen)
    noise = slot_noise(b, n, cfg, gen)
    if answer_bars > 0:
        for i in range(n):
            if (i // answer_bars) % 2:
                z_bars[:, i] = z_bars[:, i - answer_bars]
                noise[:, i] = noise[:, i - answer_bars]
    tonic = torch.tensor([k.tonic for k in keys])
    minor = torch.tensor([k.mode == "minor" for k in keys])
    key = key_vector(tonic, minor)
    meter_t = torch.from_numpy(meter).to(device)
    out = []
    for i in range(0, b, batch_size):
        sl = slice(i, i + batch_size)
        m = meter_t[None].expand(len(range(b)[sl]), -1, -1)
        hard, _ = model(z_phrase[sl].to(device), z_bars[sl].to(device),
                        torch.from_numpy(chord_frames[sl]).to(device), key[sl].to(device), m,
                        noise=noise[sl].to(device))
        out.append(hard.float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, n, 2, cfg.steps_per_bar, cfg.num_pitches), np.float32)


def gan_melodies(chords: list[list[Chord]], *, bars: int = 8, time_signature: tuple[int, int] = (4, 4),
                 key: Key | list[Key] | None = None, seed: int = 1, checkpoint: str | Path | None = None,
                 device: str | None = None, tempo_bpm: float = 120.0, scale_mask: bool = False,
                 decode: DecodeConfig | None = None, answer_bars: int | None = None) -> list[Piece]:
    """One GAN melody over each chord progression.

    Args:
        chords: one chord list per melody; times in 16th steps from the start (no pickup). Steps
            past the last chord have no chord; chords past ``bars`` are cut.
        bars: length of every melody in bars.
        time_signature: meter; bars up to 16 sixteenths (see :func:`meter_rows`).
        key: key of every melody, or one key per chord list; None estimates each melody's key
            from its progression's chord tones.
        seed: same seed (and inputs) → same melodies.
        checkpoint: checkpoint folder; None uses the shipped weights.
        device: ``'cpu'``, ``'cuda'``…; None picks CUDA when available.
        tempo_bpm: tempo written into the Pieces.
        scale_mask: choose only pitches of the key's scale (minor: raised 6th and 7th allowed).
        decode: decoding thresholds (defaults: :class:`DecodeConfig`).
        answer_bars: period form (see :func:`sample_frames`): bars ``L .. 2L - 1`` of every ``2L``
            reuse the noise of the ``L`` bars before them. None = the model's training phrase
            length (4 bars), 0 = off.

    Returns:
        One Piece per chord list: the melody, those chords (cut to the length), key and meter.

    Raises:
        MelodyganError: bad bars or meter, or no checkpoint.
    """
    if bars < 1:
        raise MelodyganError(f"bars must be >= 1, got {bars}")
    model, cfg = load_generator(None if checkpoint is None else str(checkpoint), device)
    meter = meter_rows(time_signature, cfg.steps_per_bar)
    bar_steps = bar_steps_of(time_signature)
    total = bars * bar_steps
    dec = decode or DecodeConfig()
    cut = [[c.with_time(c.start_steps, min(c.end_steps, total) - c.start_steps) for c in cl if c.start_steps < total]
           for cl in chords]
    if isinstance(key, list) and len(key) != len(cut):
        raise MelodyganError(f"{len(key)} keys for {len(cut)} chord lists; give one key per list")
    keys = key if isinstance(key, list) else [key if key is not None else key_of_chords(cl) for cl in cut]
    frames = np.stack([chords_to_bar_frames(cl, bars, bar_steps, cfg.steps_per_bar) for cl in cut]) if cut else \
        np.zeros((0, bars, cfg.steps_per_bar, 12), np.float32)
    answer = cfg.phrase_bars if answer_bars is None else answer_bars
    if answer < 0:
        raise MelodyganError(f"answer_bars must be >= 0, got {answer_bars}")
    probs = sample_frames(model, frames, keys, meter, seed, answer_bars=answer)
    return pieces_from_frames(probs, cut, keys, time_signature, cfg.pitch_low, tempo_bpm=tempo_bpm,
                              scale_mask=scale_mask, decode=dec)


def pieces_from_frames(probs: np.ndarray, chords: list[list[Chord]], keys: list[Key],
                       time_signature: tuple[int, int], pitch_low: int, *, tempo_bpm: float = 120.0,
                       scale_mask: bool = False, decode: DecodeConfig | None = None) -> list[Piece]:
    """Decode sampled frames ``(B, N, 2, S, P)`` to Pieces carrying ``chords`` and ``keys`` (one each)."""
    dec = decode or DecodeConfig()
    bar_steps = bar_steps_of(time_signature)
    batch, bars, channels, _, num_pitches = probs.shape
    total = bars * bar_steps
    rolls = probs[:, :, :, :bar_steps].transpose(0, 2, 1, 3, 4).reshape(batch, channels, total, num_pitches)
    melodies = decode_rolls(rolls, pitch_low, sustain_threshold=dec.sustain_threshold,
                            onset_threshold=dec.onset_threshold, min_duration_steps=dec.min_duration_steps,
                            allowed_pitch_classes=[k.scale_extended for k in keys] if scale_mask else None)
    return [Piece(melody=notes, chords=cl, key=k, time_signature=time_signature, tempo_bpm=tempo_bpm,
                  length_steps=total, title=f"GAN melody {i + 1}")
            for i, (notes, cl, k) in enumerate(zip(melodies, chords, keys))]
