"""Shared fixtures: tiny, randomly initialised checkpoints of both models (seconds to build, no
training), so engine tests run the real code paths without the shipped weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from melodygan.checkpoints import save_checkpoint
from melodygan.models.gan import GanConfig, MelodyGenerator
from melodygan.models.transformer import MODEL_TYPE, LeadSheetTransformer, TransformerConfig


@pytest.fixture(scope="session")
def ar_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-layer lead-sheet transformer (block 512) that lists its training keys (G 3, Em 1)."""
    torch.manual_seed(0)
    config = TransformerConfig(block_size=512, n_layer=1, n_head=2, n_embd=32, dropout=0.0)
    path = tmp_path_factory.mktemp("ck") / "ar"
    save_checkpoint(path, LeadSheetTransformer(config), config, MODEL_TYPE, {"key_counts": {"G": 3, "Em": 1}})
    return path


@pytest.fixture(scope="session")
def gan_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small melody GAN generator over 24 pitches from C4, two-bar phrases."""
    torch.manual_seed(0)
    config = GanConfig(num_pitches=24, pitch_low=60, phrase_bars=2, z_phrase=4, z_bar=4, g_channels=8,
                       c_channels=4, d_channels=8)
    path = tmp_path_factory.mktemp("ck") / "gan"
    save_checkpoint(path, MelodyGenerator(config), config, "gan-melody")
    return path


@pytest.fixture(scope="session")
def harmonizer_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny, randomly initialised chord harmonizer whose transition tables favour I–IV–V–I moves."""
    import numpy as np

    from melodygan.beats import NUM_LABELS
    from melodygan.models.harmonizer import MODEL_TYPE as HARMONIZER
    from melodygan.models.harmonizer import ChordHarmonizer, HarmonizerConfig

    torch.manual_seed(0)
    config = HarmonizerConfig.tiny()
    model = ChordHarmonizer(config)
    counts = np.ones((NUM_LABELS, NUM_LABELS))
    for a, b in [(1, 6), (6, 8), (8, 1), (1, 8)]:  # I→IV→V→I, I→V (major-triad labels 1 + root)
        counts[a, b] += 50
    np.fill_diagonal(counts, 0)
    table = torch.from_numpy(np.log(counts / counts.sum(1, keepdims=True))).float()
    model.log_transitions.copy_(table.expand_as(model.log_transitions))
    path = tmp_path_factory.mktemp("ck") / "harmonizer"
    save_checkpoint(path, model, config, HARMONIZER, {"path_weights": {}})
    return path


@pytest.fixture(scope="session")
def chorale_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny, randomly initialised chorale voicer."""
    from melodygan.models.chorale import MODEL_TYPE as CHORALE
    from melodygan.models.chorale import ChoraleConfig, ChoraleVoicer

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ck") / "chorale"
    save_checkpoint(path, ChoraleVoicer(ChoraleConfig.tiny()), ChoraleConfig.tiny(), CHORALE)
    return path
