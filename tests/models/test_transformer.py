"""The lead-sheet transformer: shapes, causality, KV cache = full forward, save → load, overfitting."""

from __future__ import annotations

from pathlib import Path

import torch

from melodygan.checkpoints import load_checkpoint, save_checkpoint
from melodygan.models.transformer import MODEL_TYPE, KVCache, LeadSheetTransformer, TransformerConfig
from melodygan.tokens import VOCAB_SIZE


def _model(seed: int = 0) -> LeadSheetTransformer:
    torch.manual_seed(seed)
    return LeadSheetTransformer(TransformerConfig.tiny()).eval()


def test_shapes_and_loss() -> None:
    m = _model()
    x = torch.randint(0, VOCAB_SIZE, (3, 17))
    logits, loss = m(x, x)
    assert logits.shape == (3, 17, VOCAB_SIZE)
    assert loss is not None and loss.ndim == 0
    assert abs(loss.item() - torch.log(torch.tensor(float(VOCAB_SIZE)))) < 0.5  # untrained ≈ uniform
    assert m(x)[1] is None


def test_tied_embeddings() -> None:
    m = _model()
    assert m.lm_head.weight.data_ptr() == m.wte.weight.data_ptr()


def test_causal_future_tokens_do_not_change_the_past() -> None:
    m = _model()
    x = torch.randint(10, VOCAB_SIZE, (1, 12))
    y = x.clone()
    y[0, 8:] = torch.randint(10, VOCAB_SIZE, (4,))
    a, _ = m(x)
    b, _ = m(y)
    torch.testing.assert_close(a[:, :8], b[:, :8])
    assert not torch.allclose(a[:, 8:], b[:, 8:])


def test_kv_cache_matches_full_forward() -> None:
    m = _model()
    x = torch.randint(10, VOCAB_SIZE, (2, 20))
    full, _ = m(x)
    cache = KVCache(m.config, 2)
    parts = [m(x[:, :7], cache=cache)[0]]  # prefill, then one at a time, then a chunk
    for t in range(7, 15):
        parts.append(m(x[:, t:t + 1], cache=cache)[0])
    parts.append(m(x[:, 15:], cache=cache)[0])
    torch.testing.assert_close(torch.cat(parts, 1), full, atol=1e-5, rtol=1e-4)
    assert cache.length == 20


def test_padding_targets_are_ignored() -> None:
    m = _model()
    x = torch.randint(10, VOCAB_SIZE, (1, 10))
    t = x.clone()
    _, full = m(x, t)
    t2 = t.clone()
    t2[0, 5:] = 0  # PAD
    _, half = m(x, t2)
    _, ref = m(x[:, :5], t[:, :5])
    assert half is not None and ref is not None and full is not None
    torch.testing.assert_close(half, ref)
    assert not torch.allclose(half, full)


def test_save_load_gives_identical_outputs(tmp_path: Path) -> None:
    m = _model(3)
    save_checkpoint(tmp_path / "ck", m, m.config, MODEL_TYPE)
    loaded, config, _ = load_checkpoint(tmp_path / "ck", LeadSheetTransformer, TransformerConfig, MODEL_TYPE)
    assert config == m.config
    x = torch.randint(0, VOCAB_SIZE, (2, 9))
    torch.testing.assert_close(loaded(x)[0], m(x)[0])


def test_overfits_one_tiny_batch() -> None:
    torch.manual_seed(0)
    m = LeadSheetTransformer(TransformerConfig.tiny())
    x = torch.randint(10, VOCAB_SIZE, (2, 24))
    opt = torch.optim.AdamW(m.parameters(), lr=1e-2)
    for _ in range(150):
        _, loss = m(x[:, :-1], x[:, 1:])
        assert loss is not None
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.1
