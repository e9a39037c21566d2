"""The chord harmonizer network: shapes, no-chord masked, both directions used, save → load equality."""

from __future__ import annotations

from pathlib import Path

import torch

from melodygan.beats import NUM_FEATURES
from melodygan.checkpoints import load_checkpoint, save_checkpoint
from melodygan.models.harmonizer import MODEL_TYPE, ChordHarmonizer, HarmonizerConfig


def test_shapes_mask_and_bidirectionality() -> None:
    torch.manual_seed(0)
    model = ChordHarmonizer(HarmonizerConfig.tiny()).eval()
    x = torch.randn(2, 10, NUM_FEATURES)
    logits, change = model(x, torch.tensor([10, 7]))
    assert logits.shape == (2, 10, 169) and change.shape == (2, 10)
    assert torch.isinf(logits[..., 0]).all()
    later = x.clone()
    later[0, 9] += 1.0  # change only the last beat: the first beat's output must move (it sees the future)
    assert not torch.allclose(model(later, torch.tensor([10, 7]))[0][0, 0], logits[0, 0])


def test_save_load_gives_identical_outputs(tmp_path: Path) -> None:
    torch.manual_seed(1)
    config = HarmonizerConfig.tiny()
    model = ChordHarmonizer(config).eval()
    model.log_prior.fill_(-3.0)
    save_checkpoint(tmp_path / "h", model, config, MODEL_TYPE, {"path_weights": {}})
    again, cfg, extra = load_checkpoint(tmp_path / "h", ChordHarmonizer, HarmonizerConfig, MODEL_TYPE, "cpu")
    x = torch.randn(1, 6, NUM_FEATURES)
    assert cfg == config and extra == {"path_weights": {}}
    assert torch.equal(again.log_prior, model.log_prior)
    assert torch.equal(again.eval()(x, torch.tensor([6]))[0], model(x, torch.tensor([6]))[0])
