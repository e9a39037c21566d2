"""The chorale voicer's factorisation: causal in the lower voices, bidirectional in the soprano."""

from __future__ import annotations

import torch

from melodygan.models.chorale import (
    NUM_TOKENS,
    PITCH_HI,
    PITCH_LO,
    ChoraleConfig,
    ChoraleVoicer,
    pitch_token,
    token_pitch,
)


def _model() -> ChoraleVoicer:
    torch.manual_seed(0)
    return ChoraleVoicer(ChoraleConfig(d_emb=8, enc_hidden=8, enc_layers=2, dec_hidden=16, dropout=0.0)).eval()


def _inputs(t: int = 24) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    sop = torch.randint(1, NUM_TOKENS, (1, t), generator=g)
    low = torch.randint(1, NUM_TOKENS, (1, t, 3), generator=g)
    return sop, low, torch.tensor([t])


def test_tokens_round_trip_and_fold_octaves() -> None:
    assert token_pitch(pitch_token(-1)) == -1
    for p in (PITCH_LO, 60, PITCH_HI):
        assert token_pitch(pitch_token(p)) == p
    assert token_pitch(pitch_token(PITCH_HI + 5)) == PITCH_HI + 5 - 12
    assert token_pitch(pitch_token(PITCH_LO - 1)) == PITCH_LO + 11


def test_a_step_sees_only_earlier_lower_voices_and_the_voices_above_it() -> None:
    model = _model()
    sop, low, lengths = _inputs()
    base = model(sop, low, lengths)
    changed = low.clone()
    changed[0, 10:, :] = (changed[0, 10:, :] % (NUM_TOKENS - 1)) + 1  # every voice from step 10 on
    out = model(sop, changed, lengths)
    assert torch.allclose(base[0, :10], out[0, :10])  # steps before 10 cannot see it
    assert torch.allclose(base[0, 10, 0], out[0, 10, 0])  # the alto at 10 does not see step 10's voices
    assert not torch.allclose(base[0, 10, 1], out[0, 10, 1])  # the tenor sees the alto chosen at 10
    only_bass = low.clone()
    only_bass[0, 10, 2] = (only_bass[0, 10, 2] % (NUM_TOKENS - 1)) + 1
    out = model(sop, only_bass, lengths)
    assert torch.allclose(base[0, :11], out[0, :11])  # its own bass never feeds step 10


def test_every_step_hears_the_whole_soprano() -> None:
    model = _model()
    sop, low, lengths = _inputs()
    later = sop.clone()
    later[0, 20] = (later[0, 20] % (NUM_TOKENS - 1)) + 1
    assert not torch.allclose(model(sop, low, lengths)[0, 2], model(later, low, lengths)[0, 2])
