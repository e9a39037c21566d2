"""The chorale voicer: alto, tenor and bass under a given soprano, one 16th-note step at a time.

The factorisation is exact, so the likelihood it reports is a true conditional probability::

    p(A, T, B | S) = prod_t p(A_t | S, past) · p(T_t | A_t, S, past) · p(B_t | A_t, T_t, S, past)

where *past* is every lower-voice step before ``t``. Three parts:

* **soprano encoder** — a bidirectional GRU over the *whole* soprano line (its pitch, whether a
  note starts at the step, the position in the beat, how far the step is from the start and from
  the end), so every step sees where the melody is going: the cadence ahead, the next phrase;
* **voice decoder** — a GRU over the steps, fed the encoder's view of the step and the three lower
  voices of the previous step (holding a note = repeating its pitch);
* **heads** — alto from the decoder state; tenor from the state and the alto just chosen; bass
  from the state, alto and tenor (a chord is chosen top down, each voice knowing the ones above).

Tokens per voice: 0 = silence, ``1 + pitch - PITCH_LO`` for MIDI ``PITCH_LO``..``PITCH_HI``.
Pitches are absolute (a voice's range is part of its style); training transposes every chorale
through the keys so that all keys are one to the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

MODEL_TYPE = "chorale-voicer"
PITCH_LO, PITCH_HI = 28, 96
NUM_TOKENS = 1 + PITCH_HI - PITCH_LO + 1  # silence + pitches
STEPS_PER_BEAT = 4  # the model's grid: 16th notes, quarter-note beats
# distances (in quarter notes) from the start / to the end, bucketed: 0, 1, 2, 3, 4-5, 6-7, 8-11, 12-15, 16+
_DIST_EDGES = (1, 2, 3, 4, 6, 8, 12, 16)
NUM_DIST = len(_DIST_EDGES) + 1


def pitch_token(pitch: int) -> int:
    """MIDI pitch (−1 = silence) → token; pitches outside the vocabulary move by octaves into it."""
    if pitch < 0:
        return 0
    while pitch < PITCH_LO:
        pitch += 12
    while pitch > PITCH_HI:
        pitch -= 12
    return 1 + pitch - PITCH_LO


def token_pitch(token: int) -> int:
    """Token → MIDI pitch (−1 for silence)."""
    return -1 if token == 0 else PITCH_LO + token - 1


def distance_bucket(quarters: torch.Tensor) -> torch.Tensor:
    """Whole quarter notes of distance → bucket index (see ``_DIST_EDGES``)."""
    edges = torch.tensor(_DIST_EDGES, device=quarters.device)
    return torch.bucketize(quarters, edges, right=True)


@dataclass(frozen=True)
class ChoraleConfig:
    """Shape of the network.

    Attributes:
        d_emb: width of the pitch embeddings.
        enc_hidden: soprano encoder GRU size per direction.
        enc_layers: stacked encoder layers.
        dec_hidden: decoder GRU size.
        dec_layers: stacked decoder layers.
        dropout: on embeddings, between layers and before the heads.
        pair_tables: learned voice-pair interval tables added to each head's logits (see
            :meth:`ChoraleVoicer.pair_bias`).
    """

    d_emb: int = 64
    enc_hidden: int = 128
    enc_layers: int = 2
    dec_hidden: int = 256
    dec_layers: int = 1
    dropout: float = 0.3
    pair_tables: bool = False

    @classmethod
    def tiny(cls) -> ChoraleConfig:
        return cls(d_emb=8, enc_hidden=8, enc_layers=1, dec_hidden=16, dec_layers=1, dropout=0.0)


class ChoraleVoicer(nn.Module):
    cand_pitch: torch.Tensor  # (NUM_TOKENS,) buffer: the pitch of each token (token 0: silence)

    def __init__(self, config: ChoraleConfig) -> None:
        super().__init__()
        self.config = c = config
        e = c.d_emb
        self.sop = nn.Embedding(NUM_TOKENS, e)
        self.pos = nn.Embedding(STEPS_PER_BEAT, e)
        self.from_start = nn.Embedding(NUM_DIST, e)
        self.to_end = nn.Embedding(NUM_DIST, e)
        self.onset = nn.Parameter(torch.zeros(e))
        self.encoder = nn.GRU(e, c.enc_hidden, num_layers=c.enc_layers, batch_first=True, bidirectional=True,
                              dropout=c.dropout if c.enc_layers > 1 else 0.0)
        self.voice_emb = nn.ModuleList(nn.Embedding(NUM_TOKENS, e) for _ in range(3))  # A, T, B (inputs)
        self.decoder = nn.GRU(2 * c.enc_hidden + 3 * e, c.dec_hidden, num_layers=c.dec_layers, batch_first=True,
                              dropout=c.dropout if c.dec_layers > 1 else 0.0)
        self.chosen = nn.ModuleList(nn.Embedding(NUM_TOKENS, e) for _ in range(2))  # A, T chosen at this step
        ctx = c.dec_hidden + 2 * c.enc_hidden
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Linear(ctx + k * e, c.dec_hidden), nn.GELU(), nn.Dropout(c.dropout),
                          nn.Linear(c.dec_hidden, NUM_TOKENS))
            for k in range(3))
        self.drop = nn.Dropout(c.dropout)
        if c.pair_tables:  # (voice, upper voice) pairs: A-S; T-S, T-A; B-S, B-A, B-T
            self.pairs = nn.Parameter(torch.zeros(6, 12 * 12 * 3))
        self.register_buffer("cand_pitch", torch.arange(NUM_TOKENS) + PITCH_LO - 1, persistent=False)

    # --- pieces ---------------------------------------------------------------------------------
    def encode(self, soprano: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Soprano tokens (B, T) and true lengths (B,) → per-step context (B, T, 2·enc_hidden)."""
        b, t = soprano.shape
        steps = torch.arange(t, device=soprano.device).expand(b, t)
        from_start = distance_bucket(steps // STEPS_PER_BEAT)
        to_end = distance_bucket(((lengths[:, None] - 1 - steps).clamp(min=0)) // STEPS_PER_BEAT)
        prev = torch.cat([torch.full_like(soprano[:, :1], -1), soprano[:, :-1]], dim=1)
        onset = ((soprano != prev) & (soprano != 0)).unsqueeze(-1).float()
        x = (self.sop(soprano) + self.pos(steps % STEPS_PER_BEAT) + self.from_start(from_start)
             + self.to_end(to_end) + onset * self.onset)
        out, _ = self.encoder(self.drop(x))
        return out  # type: ignore[no-any-return]

    def decoder_input(self, context: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
        """Context (B, T, C) and the previous step's lower voices (B, T, 3) → decoder input."""
        prev = [self.voice_emb[v](previous[..., v]) for v in range(3)]
        return torch.cat([context, *(self.drop(p) for p in prev)], dim=-1)

    def head(self, voice: int, state: torch.Tensor, context: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
        """Logits of voice ``voice`` (0 A, 1 T, 2 B) from the decoder state, context and the voices
        chosen above it at this step (``chosen`` (..., ≥ voice) tokens)."""
        parts = [state, context] + [self.chosen[k](chosen[..., k]) for k in range(voice)]
        return self.heads[voice](self.drop(torch.cat(parts, dim=-1)))  # type: ignore[no-any-return]

    def pair_bias(self, voice: int, sop_now: torch.Tensor, sop_prev: torch.Tensor, chosen: torch.Tensor,
                  previous: torch.Tensor) -> torch.Tensor | float:
        """Learned interval tables between the voice and each voice above it, as logits per candidate.

        For a candidate pitch of ``voice`` and an upper voice, the table is read at (the interval
        class between the two one step before, the interval class the candidate would make,
        whether the two move in similar or contrary motion or not both move): what the training
        chorales teach about how two voices go from one interval to the next — the way into a
        unison, fifth or octave above all. Token tensors: ``sop_now``/``sop_prev`` (...,),
        ``chosen``/``previous`` (..., 3). Returns (..., NUM_TOKENS), or 0 without the tables.
        """
        if not self.config.pair_tables:
            return 0.0
        cand = self.cand_pitch  # (K,) pitches (token 0: silence)
        prev_v = previous[..., voice]
        uppers = [(sop_now, sop_prev)] + [(chosen[..., u], previous[..., u]) for u in range(voice)]
        first = (0, 1, 3)[voice]
        bias = torch.zeros(*prev_v.shape, NUM_TOKENS, device=cand.device)
        pv = prev_v + PITCH_LO - 1
        for k, (now_u, prev_u) in enumerate(uppers):
            pn, pp = now_u + PITCH_LO - 1, prev_u + PITCH_LO - 1
            valid = ((now_u > 0) & (prev_u > 0) & (prev_v > 0)).unsqueeze(-1) & (torch.arange(NUM_TOKENS) > 0)
            ic_prev = (pv - pp) % 12
            ic_new = (cand - pn.unsqueeze(-1)) % 12
            mv, mu = torch.sign(cand - pv.unsqueeze(-1)), torch.sign(pn - pp).unsqueeze(-1)
            motion = torch.where((mv == 0) | (mu == 0), 0, torch.where(mv == mu, 1, 2))
            idx = (ic_prev.unsqueeze(-1) * 12 + ic_new) * 3 + motion
            bias = bias + torch.where(valid, self.pairs[first + k][idx], 0.0)
        return bias

    # --- training / scoring ---------------------------------------------------------------------
    def forward(self, soprano: torch.Tensor, lower: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits.

        Args:
            soprano: (B, T) tokens.
            lower: (B, T, 3) tokens of alto, tenor, bass (the targets).
            lengths: (B,) true lengths (steps past a length are padding).

        Returns:
            (B, T, 3, NUM_TOKENS) logits of A, T, B at every step.
        """
        context = self.encode(soprano, lengths)
        previous = torch.cat([torch.zeros_like(lower[:, :1]), lower[:, :-1]], dim=1)
        sop_prev = torch.cat([torch.zeros_like(soprano[:, :1]), soprano[:, :-1]], dim=1)
        state, _ = self.decoder(self.decoder_input(context, previous))
        return torch.stack([self.head(v, state, context, lower) + self.pair_bias(v, soprano, sop_prev, lower, previous)
                            for v in range(3)], dim=2)


# --- data and likelihood ------------------------------------------------------------------------
def chorale_tokens(steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(T, 4)`` MIDI pitches S, A, T, B (−1 silence) → soprano tokens ``(T,)``, lower ``(T, 3)``."""
    steps = np.asarray(steps, dtype=np.int64)
    tokens = np.where(steps < 0, 0, np.clip(steps, PITCH_LO, PITCH_HI) - PITCH_LO + 1)
    return tokens[:, 0], tokens[:, 1:]


def collate(chorales: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Chorales ``(T_i, 4)`` → soprano (B, T), lower (B, T, 3) tokens (0-padded), lengths (B,)."""
    t = max(len(c) for c in chorales)
    sop = np.zeros((len(chorales), t), dtype=np.int64)
    low = np.zeros((len(chorales), t, 3), dtype=np.int64)
    for i, c in enumerate(chorales):
        s, lo = chorale_tokens(c)
        sop[i, :len(c)], low[i, :len(c)] = s, lo
    return torch.from_numpy(sop), torch.from_numpy(low), torch.tensor([len(c) for c in chorales])


def token_log_probs(model: ChoraleVoicer, sop: torch.Tensor, low: torch.Tensor,
                    lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probabilities the model gives the true A, T, B tokens (B, T, 3) and their mask."""
    logits = model(sop, low, lengths)
    lp = torch.log_softmax(logits, -1).gather(-1, low.unsqueeze(-1)).squeeze(-1)  # (B, T, 3)
    mask = (torch.arange(sop.shape[1])[None, :] < lengths[:, None]).unsqueeze(-1).expand_as(lp)
    return lp, mask


@torch.no_grad()
def conditional_nll(model: ChoraleVoicer, chorales: list[np.ndarray], batch_size: int = 16) -> float:
    """Note-wise NLL (nats per voice-step) of alto, tenor and bass given the soprano, on a 16th grid."""
    model.eval()
    total, count = 0.0, 0
    order = sorted(range(len(chorales)), key=lambda i: len(chorales[i]))
    for k in range(0, len(order), batch_size):
        sop, low, lengths = collate([chorales[i] for i in order[k:k + batch_size]])
        lp, mask = token_log_probs(model, sop, low, lengths)
        total -= float(lp[mask].sum())
        count += int(mask.sum())
    return total / max(count, 1)
