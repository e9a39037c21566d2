"""Sampling speed, side by side in one run: our batched KV-cache sampler vs Hugging Face GPT-2 ``generate()``.

Both models have the same width, depth, heads, vocabulary and context (random weights: speed does
not depend on them), run on the same device and thread count, sample with temperature 1 and no
top-k, from the same 4-token prompt, for exactly ``--new`` tokens. Each side is timed ``--repeats``
times (interleaved, after a warm-up) and the best time is kept. Ours is also timed with the
lead-sheet grammar masks on (what ``melodygan generate`` runs).

    python scripts/bench_sampling.py                      # shipped size, batch 1 and 16, CPU
    python scripts/bench_sampling.py --device cuda --batch 1 64 256

Needs ``transformers`` (the ``bench`` extra).
"""

from __future__ import annotations

import argparse
import time

import torch

from melodygan import tokens as tk
from melodygan.devices import make_generator, pick_device
from melodygan.engines.sampling import Constraints, Grammar, sample_tokens
from melodygan.keys import Key
from melodygan.models.transformer import LeadSheetTransformer, TransformerConfig


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="small", choices=("tiny", "small", "gpu"), help="model size preset")
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 16], help="batch sizes")
    ap.add_argument("--new", type=int, default=256, help="new tokens per sequence")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per side (best kept)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    args = ap.parse_args()
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    cfg = getattr(TransformerConfig, args.size)()
    cfg = TransformerConfig(vocab_size=cfg.vocab_size, block_size=max(cfg.block_size, args.new + 8),
                            n_layer=cfg.n_layer, n_head=cfg.n_head, n_embd=cfg.n_embd, dropout=0.0)
    torch.manual_seed(0)
    ours = LeadSheetTransformer(cfg).to(device).eval()
    hf_cfg = GPT2Config(vocab_size=cfg.vocab_size, n_positions=cfg.block_size, n_embd=cfg.n_embd,
                        n_layer=cfg.n_layer, n_head=cfg.n_head, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                        bos_token_id=tk.BOS, eos_token_id=None, pad_token_id=tk.PAD)
    hf_cfg._attn_implementation = "sdpa"  # the fused attention ours uses too
    hf = GPT2LMHeadModel(hf_cfg).to(device).eval()
    print(f"device {device}, threads {args.threads}, width {cfg.n_embd}, depth {cfg.n_layer}, heads {cfg.n_head}, "
          f"vocab {cfg.vocab_size}, params ours {ours.num_parameters():,} / GPT-2 {hf.num_parameters():,}, "
          f"{args.new} new tokens")
    prefix = tk.prefix_tokens("leadsheet", Key(0, "major"), (4, 4))

    def run_ours(b: int, grammar: bool) -> float:
        prompt = torch.tensor([prefix] * b)
        grammars = [Grammar(Constraints(num_bars=10_000)) for _ in range(b)] if grammar else None
        _sync(device)
        t = time.perf_counter()
        out = sample_tokens(ours, prompt, args.new, make_generator(1), grammars=grammars)
        _sync(device)
        assert out.shape[1] == len(prefix) + args.new
        return time.perf_counter() - t

    def run_hf(b: int) -> float:
        prompt = torch.tensor([prefix] * b, device=device)
        _sync(device)
        t = time.perf_counter()
        with torch.no_grad():
            out = hf.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=True, top_k=0,
                              temperature=1.0, max_new_tokens=args.new, min_new_tokens=args.new)
        _sync(device)
        assert out.shape[1] == len(prefix) + args.new
        return time.perf_counter() - t

    print("| batch | ours tokens/s | ours + grammar masks tokens/s | HF GPT-2 generate() tokens/s | ours / HF |")
    print("|---|---|---|---|---|")
    for b in args.batch:
        run_ours(b, False), run_hf(b)  # warm-up
        times: dict[str, list[float]] = {"ours": [], "grammar": [], "hf": []}
        for _ in range(args.repeats):
            times["ours"].append(run_ours(b, False))
            times["hf"].append(run_hf(b))
            times["grammar"].append(run_ours(b, True))
        rate = {k: b * args.new / min(v) for k, v in times.items()}
        print(f"| {b} | {rate['ours']:,.0f} | {rate['grammar']:,.0f} | {rate['hf']:,.0f} | "
              f"{rate['ours'] / rate['hf']:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
