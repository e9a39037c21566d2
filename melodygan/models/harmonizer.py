"""The chord harmonizer: a bidirectional LSTM over the per-beat features of a whole melody.

Input ``(B, T, F)``: the :func:`melodygan.beats.beat_features` of ``T`` beats (pitch classes
relative to the key's tonic). Outputs per beat, from both directions of the whole melody:

* ``chord``: logits over the 169 key-relative chord labels (label 0, no chord, is never a target
  and is masked to -inf, so the distribution is over the 168 real chords);
* ``change``: one logit, "the chord at this beat differs from the previous beat's".

Decoding (chord path search with a transition model and the user's constraints) lives in
:mod:`melodygan.engines.chordpath`. The checkpoint also carries, per genre, the key-relative
chord-transition matrix and label prior counted on the training songs (buffers, saved with the
weights) so that a checkpoint is the whole harmonizer.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from melodygan.beats import GENRES, NUM_FEATURES, NUM_LABELS

MODEL_TYPE = "chord-harmonizer"


@dataclass(frozen=True)
class HarmonizerConfig:
    """Shape of the network.

    Attributes:
        n_features: input width (:data:`melodygan.beats.NUM_FEATURES`).
        n_labels: chord labels (169; 0 = no chord).
        d_in: width of the input projection.
        hidden: LSTM hidden size per direction.
        layers: stacked BiLSTM layers.
        dropout: on the projection, between layers and before the heads.
        n_genres: transition tables kept (:data:`melodygan.beats.GENRES`).
    """

    n_features: int = NUM_FEATURES
    n_labels: int = NUM_LABELS
    d_in: int = 96
    hidden: int = 128
    layers: int = 2
    dropout: float = 0.3
    n_genres: int = len(GENRES)

    @classmethod
    def tiny(cls) -> HarmonizerConfig:
        return cls(d_in=16, hidden=16, layers=1, dropout=0.0)


class ChordHarmonizer(nn.Module):
    log_transitions: torch.Tensor  # (G, L, L) buffer
    log_prior: torch.Tensor  # (G, L) buffer

    def __init__(self, config: HarmonizerConfig) -> None:
        super().__init__()
        self.config = c = config
        self.proj = nn.Sequential(nn.Linear(c.n_features, c.d_in), nn.GELU(), nn.Dropout(c.dropout))
        self.lstm = nn.LSTM(c.d_in, c.hidden, num_layers=c.layers, batch_first=True, bidirectional=True,
                            dropout=c.dropout if c.layers > 1 else 0.0)
        self.drop = nn.Dropout(c.dropout)
        self.chord = nn.Linear(2 * c.hidden, c.n_labels)
        self.change = nn.Linear(2 * c.hidden, 1)
        # log P(next | previous) at chord changes and log prior per genre (uniform until fitted)
        uniform = -torch.log(torch.tensor(float(c.n_labels)))
        self.register_buffer("log_transitions", torch.full((c.n_genres, c.n_labels, c.n_labels), float(uniform)))
        self.register_buffer("log_prior", torch.full((c.n_genres, c.n_labels), float(uniform)))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (B, T, F) padded, ``lengths`` (B,) → chord logits (B, T, L), change logits (B, T)."""
        h = self.proj(x)  # (B, T, d_in)
        packed = pack_padded_sequence(h, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])  # (B, T, 2H)
        out = self.drop(out)
        logits = self.chord(out)  # (B, T, L)
        logits = logits.masked_fill(torch.arange(logits.shape[-1], device=x.device) == 0, float("-inf"))
        return logits, self.change(out).squeeze(-1)
