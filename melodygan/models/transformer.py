"""A small decoder-only transformer (nanoGPT style) over the lead-sheet tokens of :mod:`melodygan.tokens`.

Pre-norm blocks, fused causal attention (``F.scaled_dot_product_attention``), learned absolute
positions, input and output embeddings tied. A :class:`KVCache` lets a sampler feed one token at
a time; ``forward`` only computes (no sampling loop, no device choice, no I/O).

Shapes: ``B`` batch, ``T`` new tokens, ``S`` cached + new tokens, ``C`` width, ``H`` heads,
``D = C / H`` head width, ``V`` vocabulary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from melodygan.tokens import PAD, VOCAB_SIZE

MODEL_TYPE = "ar-transformer"


@dataclass(frozen=True)
class TransformerConfig:
    """Size of the transformer.

    Attributes:
        vocab_size: number of tokens (``tokens.VOCAB_SIZE``).
        block_size: longest sequence (positions learned).
        n_layer: blocks.
        n_head: attention heads per block.
        n_embd: width ``C`` (a multiple of ``n_head``).
        dropout: on attention weights, residual branches and embeddings (training only).
    """

    vocab_size: int = VOCAB_SIZE
    block_size: int = 384
    n_layer: int = 3
    n_head: int = 4
    n_embd: int = 96
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd {self.n_embd} must be a multiple of n_head {self.n_head}")

    @classmethod
    def tiny(cls) -> TransformerConfig:
        """A few thousand parameters, for tests."""
        return cls(block_size=128, n_layer=2, n_head=2, n_embd=32, dropout=0.0)

    @classmethod
    def small(cls) -> TransformerConfig:
        """0.41 M parameters: the earlier shipped size, compute-optimal for ~1 h of one shared CPU core."""
        return cls()

    @classmethod
    def base(cls) -> TransformerConfig:
        """The shipped size: wide enough for two genres and the bar heads, trained in ~2 h on two CPU cores."""
        return cls(block_size=512, n_layer=4, n_head=4, n_embd=160)

    @classmethod
    def gpu(cls) -> TransformerConfig:
        """A bigger setting for a GPU (~25 M parameters)."""
        return cls(block_size=1024, n_layer=8, n_head=8, n_embd=512, dropout=0.1)


class KVCache:
    """Keys and values of every layer for sampling one token at a time.

    Attributes:
        k, v: ``(n_layer, B, H, block_size, D)`` preallocated.
        length: how many positions are filled.
    """

    def __init__(self, config: TransformerConfig, batch: int, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32) -> None:
        d = config.n_embd // config.n_head
        shape = (config.n_layer, batch, config.n_head, config.block_size, d)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.length = 0


class SelfAttention(nn.Module):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd)
        self.proj = nn.Linear(config.n_embd, config.n_embd)
        self.dropout = config.dropout
        self.resid_drop = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)  # 3 x (B, T, C)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, H, T, D)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, H, T, D)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, H, T, D)
        mask = None
        causal = True
        if cache is not None:
            start = cache.length
            cache.k[layer, :, :, start:start + T] = k.to(cache.k.dtype)
            cache.v[layer, :, :, start:start + T] = v.to(cache.v.dtype)
            k = cache.k[layer, :, :, :start + T].to(q.dtype)  # (B, H, S, D)
            v = cache.v[layer, :, :, :start + T].to(q.dtype)  # (B, H, S, D)
            if start > 0:
                causal = False
                if T > 1:  # new token i sees the cache and new tokens 0..i
                    mask = torch.ones(T, start + T, dtype=torch.bool, device=x.device).tril(diagonal=start)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal and mask is None,
                                           dropout_p=self.dropout if self.training else 0.0)  # (B, H, T, D)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C)
        return self.resid_drop(self.proj(y))


class MLP(nn.Module):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.fc = nn.Linear(config.n_embd, 4 * config.n_embd)
        self.proj = nn.Linear(4 * config.n_embd, config.n_embd)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.proj(F.gelu(self.fc(x))))


class Block(nn.Module):
    """Pre-norm: ``x + attn(ln(x))``, then ``x + mlp(ln(x))``."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = SelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), cache, layer)
        return x + self.mlp(self.ln_2(x))


class LeadSheetTransformer(nn.Module):
    """Decoder-only transformer; ``forward(tokens, targets) -> (logits, loss)``."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # tied embeddings
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("proj.weight"):  # GPT-2: scale residual projections by depth
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, tokens: torch.Tensor, targets: torch.Tensor | None = None,
                cache: KVCache | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Next-token logits.

        Args:
            tokens: ``(B, T)`` int64 token ids.
            targets: ``(B, T)`` int64 next tokens; ``PAD`` (and -1) positions are ignored.
            cache: when given, ``tokens`` continue the cached positions and the cache is filled
                (its ``length`` advances by ``T``).

        Returns:
            ``(logits (B, T, V) float, loss)``; loss is the mean cross-entropy in nats per target
            token, or None without targets.
        """
        _, T = tokens.shape
        start = cache.length if cache is not None else 0
        if start + T > self.config.block_size:
            raise ValueError(f"sequence of {start + T} tokens exceeds block_size {self.config.block_size}")
        pos = torch.arange(start, start + T, device=tokens.device)  # (T,)
        x = self.drop(self.wte(tokens) + self.wpe(pos))  # (B, T, C)
        for i, block in enumerate(self.blocks):
            x = block(x, cache, i)
        if cache is not None:
            cache.length += T
        logits = self.lm_head(self.ln_f(x))  # (B, T, V)
        loss = None
        if targets is not None:
            t = targets.masked_fill(targets == PAD, -1)
            loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), t.view(-1), ignore_index=-1)
        return logits, loss
