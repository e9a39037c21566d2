"""Four-part chorale harmonization: alto, tenor and bass under a given melody, in Bach's manner.

The melody is the soprano and is kept note for note. The voicer
(:mod:`melodygan.models.chorale`, trained on the JSB Chorales) reads the whole soprano line and
writes the lower voices one 16th-note step at a time, top down within each step (alto, then tenor
knowing the alto, then bass knowing both). Each voice is held to its range (:data:`VOICE_RANGES`);
nothing else is imposed — doublings, spacing, parallels and cadences are what the network learned.

``num`` candidates are sampled at once; they are ranked by the model's own log-likelihood per
step (no hand-written critic) and the best ``num`` distinct ones returned, or the single best of
``candidates`` when ``num`` is 1.

The model's grid is the 16th note. A melody on a finer grid (triplets) is read at every 16th for
the model; the lower voices it writes are on 16ths, the melody stays as it was. A melody far from
a soprano's register is moved by octaves for the model only (and the lower voices follow it down
when it lies low, so the texture stays under it); a warning says so.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import numpy as np
import torch

from melodygan.checkpoints import checkpoint_folder, load_checkpoint
from melodygan.corpora.jsb import steps_to_notes
from melodygan.corpora.labelling import estimate_piece_key, label_chords
from melodygan.devices import cpu_threads
from melodygan.errors import MelodyganError
from melodygan.keys import Key, to_key
from melodygan.models.chorale import (
    MODEL_TYPE,
    NUM_TOKENS,
    PITCH_HI,
    PITCH_LO,
    STEPS_PER_BEAT,
    ChoraleConfig,
    ChoraleVoicer,
    pitch_token,
    token_pitch,
)
from melodygan.notes import Note, is_monophonic, skyline
from melodygan.piece import SATB, Piece

# SATB ranges (MIDI), the same as the voice-leading check's: S C4-G5, A F3-C5, T C3-G4, B E2-C4.
VOICE_RANGES: dict[str, tuple[int, int]] = {"Soprano": (60, 79), "Alto": (53, 72), "Tenor": (48, 67),
                                            "Bass": (40, 60)}
SOPRANO_CENTRE = 68  # median soprano pitch of the training chorales (about A-flat 4)
DEFAULT_TEMPERATURE = 1.0  # sampling temperature of the voices
MAX_STEPS = 16384  # 16ths: 1,024 bars of 4/4


@functools.lru_cache(maxsize=2)
def _load(path: str) -> ChoraleVoicer:
    model, _, _ = load_checkpoint(path, ChoraleVoicer, ChoraleConfig, MODEL_TYPE, "cpu")
    return model.float().eval()  # type: ignore[return-value]


def load_voicer(checkpoint: str | Path | None = None) -> ChoraleVoicer:
    """The chorale voicer (shipped weights by default), cached per process.

    Raises:
        MelodyganError: no checkpoint there, or one of another kind.
    """
    path = checkpoint_folder(checkpoint, "chorale", "chorale voicer", "train one with scripts/train_chorale.sh")
    return _load(str(path))


def soprano_grid(melody: list[Note], steps_per_quarter: int, length_steps: int) -> np.ndarray:
    """The melody's pitch at every 16th (−1 where it is silent), ``(T,)`` with ``T`` 16ths."""
    ratio = steps_per_quarter / STEPS_PER_BEAT
    n16 = int(np.ceil(length_steps / ratio))
    grid = np.full(n16, -1, dtype=np.int64)
    for n in melody:
        a, b = int(np.ceil(n.start_steps / ratio - 1e-9)), int(np.ceil(n.end_steps / ratio - 1e-9))
        grid[a:max(b, a + 1)] = n.pitch  # a note shorter than a 16th still takes its 16th
    return grid


def _allowed(soprano: np.ndarray) -> torch.Tensor:
    """Additive logit masks ``(T, 3, NUM_TOKENS)``: each voice in its range; silence only where
    the soprano is silent."""
    mask = torch.full((len(soprano), 3, NUM_TOKENS), float("-inf"))
    for v, name in enumerate(SATB[1:]):
        lo, hi = VOICE_RANGES[name]
        mask[:, v, 1 + lo - PITCH_LO:1 + hi - PITCH_LO + 1] = 0.0
    mask[torch.from_numpy(soprano < 0), :, 0] = 0.0
    return mask


@torch.no_grad()
def sample_lower_voices(model: ChoraleVoicer, soprano: np.ndarray, num: int, generator: torch.Generator,
                        temperature: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``num`` alto/tenor/bass lines under one soprano.

    Args:
        soprano: ``(T,)`` MIDI pitches per 16th (−1 silence), in the model's register.
        temperature: > 0 samples (1 = the model's own distribution); 0 takes the likeliest token.

    Returns:
        Pitches ``(num, T, 3)`` (−1 silence) and each candidate's mean log-likelihood per token
        under the model (untempered).
    """
    model.eval()
    t_len = len(soprano)
    sop = torch.tensor([pitch_token(int(p)) for p in soprano], dtype=torch.long)
    context = model.encode(sop[None], torch.tensor([t_len]))  # (1, T, C)
    mask = _allowed(soprano)
    prev = torch.zeros(num, 3, dtype=torch.long)
    tokens = torch.zeros(num, t_len, 3, dtype=torch.long)
    total = torch.zeros(num)
    hidden = None
    for t in range(t_len):
        ctx = context[:, t].expand(num, -1)  # (N, C)
        out, hidden = model.decoder(model.decoder_input(ctx[:, None], prev[:, None]), hidden)
        state = out[:, 0]
        chosen = torch.zeros(num, 3, dtype=torch.long)
        s_now, s_prev = sop[t].expand(num), (sop[t - 1] if t else torch.tensor(0)).expand(num)
        for v in range(3):
            logits = model.head(v, state, ctx, chosen) + model.pair_bias(v, s_now, s_prev, chosen, prev) + mask[t, v]
            log_p = torch.log_softmax(logits, -1)
            if temperature > 0:
                tok = torch.multinomial(torch.softmax(logits / temperature, -1), 1, generator=generator)[:, 0]
            else:
                tok = log_p.argmax(-1)
            total += log_p.gather(-1, tok[:, None])[:, 0]
            chosen[:, v] = tok
        tokens[:, t] = chosen
        prev = chosen
    pitches = np.vectorize(token_pitch)(tokens.numpy()) if t_len else np.zeros((num, 0, 3), dtype=np.int64)
    return pitches.astype(np.int64), (total / max(3 * t_len, 1)).numpy()


def _octave_shift(melody: list[Note]) -> int:
    """Octaves to move the melody by so that its median sits nearest a soprano's."""
    median = float(np.median([n.pitch for n in melody]))
    return round((SOPRANO_CENTRE - median) / 12)


def harmonize_chorale(piece: Piece, *, key: str | Key | None = None, num: int = 1, seed: int = 1,
                      temperature: float = DEFAULT_TEMPERATURE, candidates: int = 8,
                      checkpoint: str | Path | None = None, threads: int | None = None) -> list[Piece]:
    """Alto, tenor and bass under ``piece.melody`` (the soprano).

    Args:
        piece: the melody (made monophonic by skyline when chords were played with it); other
            parts are dropped. Any key, meter and pickup.
        key: the key written in the result (None: estimated from all four voices).
        num: harmonizations to return, best first (distinct).
        seed: the draw.
        temperature: sampling temperature (0 = the likeliest note at every step).
        candidates: lines drawn per harmonization returned, ranked by the model's likelihood.
        checkpoint: a chorale voicer checkpoint folder; None = the shipped weights.
        threads: torch CPU threads (None: ``$MELODYGAN_THREADS``, else 1).

    Returns:
        ``num`` pieces: the melody named "Soprano" with voices "Alto", "Tenor", "Bass" and chord
        symbols labelled from the four voices per beat.

    Raises:
        MelodyganError: no melody, a melody too long for the model, or bad settings.
    """
    if not 1 <= num <= 32:
        raise MelodyganError(f"num {num} must be 1..32")
    if temperature < 0:
        raise MelodyganError(f"temperature {temperature} must be >= 0")
    if not 1 <= candidates <= 64:
        raise MelodyganError(f"candidates {candidates} must be 1..64")
    if piece.steps_per_quarter % STEPS_PER_BEAT:
        from melodygan.engines.leadsheet import requantize

        piece = requantize(piece)
    melody = piece.melody or [n for v in piece.voices.values() for n in v]
    if not melody:
        raise MelodyganError("the input has no melody notes (empty or drum-only); give a file with a melody")
    if not is_monophonic(melody):
        melody = skyline(melody)
    ratio = piece.steps_per_quarter // STEPS_PER_BEAT
    grid = soprano_grid(melody, piece.steps_per_quarter, piece.end_steps)
    if len(grid) > MAX_STEPS:
        raise MelodyganError(f"the melody is {len(grid) // 16} bars of 4/4 long; the chorale voicer takes at most "
                             f"{MAX_STEPS // 16}")
    octaves = _octave_shift(melody)
    if octaves:
        span = f"{abs(octaves)} octave{'s' if abs(octaves) > 1 else ''}"
        warnings.warn(f"the melody lies {span} below a soprano's range; the lower voices are written {span} lower "
                      "with it" if octaves > 0 else
                      f"the melody lies {span} above a soprano's range; the lower voices keep their own ranges",
                      UserWarning, stacklevel=2)
    model_sop = np.where(grid >= 0, np.clip(grid + 12 * octaves, PITCH_LO, PITCH_HI), -1)
    draws = num * candidates
    generator = torch.Generator().manual_seed(seed)
    with cpu_threads(threads):
        pitches, score = sample_lower_voices(load_voicer(checkpoint), model_sop, draws, generator, temperature)
    if octaves > 0:  # a low melody: the texture moves down with it
        pitches = np.where(pitches >= 0, pitches - 12 * octaves, -1)
    order = np.argsort(-score, kind="stable")
    chosen: list[np.ndarray] = []
    seen: set[bytes] = set()
    for i in order:
        if pitches[i].tobytes() not in seen:
            seen.add(pitches[i].tobytes())
            chosen.append(pitches[i])
        if len(chosen) == num:
            break
    the_key = to_key(key)
    out = []
    for lines in chosen:
        voices = {name: [Note(n.start_steps * ratio, n.duration_steps * ratio, n.pitch, n.velocity)
                         for n in steps_to_notes(lines[:, v].tolist())]
                  for v, name in enumerate(SATB[1:])}
        result = piece.replace(melody=melody, voices=voices, chords=[], melody_name="Soprano",
                               programs={}, length_steps=piece.end_steps)
        result = result.replace(key=the_key or estimate_piece_key(result)[0])
        out.append(label_chords(result, per="beat"))
    return out


def jsb_nll(path: str | Path, splits: tuple[str, ...] = ("valid", "test"),
            checkpoint: str | Path | None = None) -> dict[str, float]:
    """Note-wise NLL (nats per voice and 16th step) of alto, tenor and bass given the soprano on
    the JSB Chorales splits, untransposed (:func:`melodygan.training.chorale.conditional_nll`)."""
    from melodygan.corpora.jsb import read_jsb_steps
    from melodygan.models.chorale import conditional_nll

    data = read_jsb_steps(path)
    model = load_voicer(checkpoint)
    with cpu_threads(None):
        return {s: conditional_nll(model, [np.array(c) for c in data[s]]) for s in splits}
