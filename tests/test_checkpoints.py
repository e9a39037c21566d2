"""Checkpoint folders: save -> load gives identical outputs; strict config loading."""

from dataclasses import dataclass

import pytest
import torch

from melodygan.checkpoints import config_from_dict, load_checkpoint, save_checkpoint
from melodygan.devices import make_generator, pick_device
from melodygan.errors import MelodyganError


@dataclass(frozen=True)
class TinyConfig:
    width: int = 4
    dims: tuple[int, ...] = (2, 3)


class Tiny(torch.nn.Module):
    def __init__(self, config: TinyConfig) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(5, config.width)
        self.head = torch.nn.Linear(config.width, 5, bias=False)
        self.head.weight = self.emb.weight  # tied

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.emb(x))


def test_save_load_identical_outputs(tmp_path):
    torch.manual_seed(0)
    model = Tiny(TinyConfig(width=6))
    save_checkpoint(tmp_path / "ck", model, TinyConfig(width=6), "tiny", extra={"steps": 3})
    loaded, config, extra = load_checkpoint(tmp_path / "ck", Tiny, TinyConfig, "tiny")
    x = torch.tensor([[0, 1, 4]])
    assert torch.equal(model(x), loaded(x))
    assert config == TinyConfig(width=6) and extra == {"steps": 3}
    assert loaded.head.weight.data_ptr() == loaded.emb.weight.data_ptr()


def test_wrong_type_and_unknown_keys(tmp_path):
    save_checkpoint(tmp_path / "ck", Tiny(TinyConfig()), TinyConfig(), "tiny")
    with pytest.raises(MelodyganError, match="expected 'other'"):
        load_checkpoint(tmp_path / "ck", Tiny, TinyConfig, "other")
    with pytest.raises(MelodyganError, match="unknown TinyConfig keys"):
        config_from_dict(TinyConfig, {"width": 3, "depth": 2})
    assert config_from_dict(TinyConfig, {"dims": [1, 2]}) == TinyConfig(dims=(1, 2))
    with pytest.raises(MelodyganError, match="not a checkpoint folder"):
        load_checkpoint(tmp_path / "missing", Tiny, TinyConfig, "tiny")


def test_devices_and_generators():
    assert pick_device("cpu").type == "cpu"
    a = torch.rand(3, generator=make_generator(7))
    assert torch.equal(a, torch.rand(3, generator=make_generator(7)))
    if not torch.cuda.is_available():
        with pytest.raises(MelodyganError, match="CUDA is not available"):
            pick_device("cuda")


def test_the_shape_probe_gives_every_model_its_shapes_without_allocating_large_tensors() -> None:
    from melodygan.checkpoints import _ShapeProbe
    from melodygan.models.gan import GanConfig, MelodyGenerator
    from melodygan.models.harmonizer import ChordHarmonizer, HarmonizerConfig
    from melodygan.models.transformer import LeadSheetTransformer, TransformerConfig

    for cls, config in ((LeadSheetTransformer, TransformerConfig()), (MelodyGenerator, GanConfig()),
                        (ChordHarmonizer, HarmonizerConfig())):
        state = torch.random.get_rng_state()
        with torch.random.fork_rng(devices=[]), torch.device("meta"), _ShapeProbe():
            probe = cls(config)
        assert torch.equal(torch.random.get_rng_state(), state)
        assert {k: v.shape for k, v in probe.state_dict().items()} == \
            {k: v.shape for k, v in cls(config).state_dict().items()}, cls.__name__
    with torch.device("meta"), _ShapeProbe():  # 3.2e13 numbers: only a meta tensor can hold them
        huge = ChordHarmonizer(HarmonizerConfig(hidden=10**6))
    assert huge.lstm.weight_hh_l0.is_meta and huge.lstm.weight_hh_l0.shape == (4 * 10**6, 10**6)

