"""The chorale voicer's factorisation: causal in the lower voices, bidirectional in the soprano."""

from __future__ import annotations

import pytest
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


def _model(pair_tables: bool = False) -> ChoraleVoicer:
    torch.manual_seed(0)
    model = ChoraleVoicer(ChoraleConfig(d_emb=8, enc_hidden=8, enc_layers=2, dec_hidden=16, dropout=0.0,
                                        pair_tables=pair_tables)).eval()
    if pair_tables:
        with torch.no_grad():
            model.pairs.normal_()  # trained tables are not zero: make them count
    return model


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


@pytest.mark.parametrize("pair_tables", [False, True])
def test_a_step_sees_only_earlier_lower_voices_and_the_voices_above_it(pair_tables: bool) -> None:
    model = _model(pair_tables)
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


def test_the_pair_tables_read_the_interval_into_the_candidate() -> None:
    """A table entry for (octave before, octave now, similar motion) moves exactly the logits of
    the candidates that make parallel octaves with the soprano, and no others."""
    model = _model(pair_tables=True)
    with torch.no_grad():
        model.pairs.zero_()
        model.pairs[0, (0 * 12 + 0) * 3 + 1] = -5.0  # alto-soprano: octave -> octave, similar motion
    tok = lambda p: torch.tensor([pitch_token(p)])  # noqa: E731
    prev = torch.stack([tok(60), tok(55), tok(48)], dim=-1)  # alto C4 under a soprano C5
    bias = model.pair_bias(0, tok(74), tok(72), torch.zeros(1, 3, dtype=torch.long), prev)[0]  # soprano up to D5
    assert isinstance(bias, torch.Tensor)
    hit = {token_pitch(int(k)) for k in torch.nonzero(bias).flatten()}
    assert hit == {p for p in range(61, PITCH_HI + 1) if p % 12 == 2}  # D above C4: the parallel octaves
