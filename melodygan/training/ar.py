"""Training loop of the lead-sheet transformer, readable top to bottom.

``train(train_pieces, valid_pieces, out_dir, config, model_config)``:

1. Pieces are moved to the tonic C (``normalize_key``; a key token still says major or minor) and,
   at load time, transposed by a random ``-augment_semitones..+augment_semitones`` (the key token
   follows). Each piece is tokenized in both orders (lead sheet and harmonize).
2. A batch is ``batch_size`` random windows of whole bars (``BOS TASK KEY METER BAR ...``) of at
   most ``window_tokens`` tokens; a ``harmonize_fraction`` of them in harmonize order.
3. AdamW (decay on matrices only), linear warm-up then cosine decay to ``min_lr``, gradient
   clipping, bf16 autocast on CUDA (on the CPU only when asked: it is slower without AVX-512 bf16),
   optional ``torch.compile``.
4. Every ``eval_every`` steps: validation NLL in nats per token (both orders), ``metrics.jsonl``,
   ``loss.png``, an atomic checkpoint of the latest weights in ``out_dir`` (``config.json`` +
   ``model.safetensors``) with ``resume.pt`` (optimizer, step, RNG; loaded with
   ``weights_only=True``), and the best-validation weights in ``out_dir/best`` (fp16, to ship).

Distributed: under ``torchrun`` (``WORLD_SIZE > 1``) the model is wrapped in
DistributedDataParallel (NCCL on GPUs, gloo on CPUs). Every rank draws the same global batch from
the step's seed and trains on its slice; the loss is normalised by the global token count, so N
processes take exactly the step one process takes on the combined batch.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from melodygan import tokens as tk
from melodygan.checkpoints import (
    NonFiniteGuard,
    TrainingRun,
    config_from_dict,
    load_checkpoint,
    load_resume_state,
    read_checkpoint_meta,
    restoring,
    save_checkpoint,
    trim_metrics,
    weights_finite,
)
from melodygan.devices import autocast, pick_device
from melodygan.errors import MelodyganError
from melodygan.keys import semitones_to_c
from melodygan.models.transformer import MODEL_TYPE, LeadSheetTransformer, TransformerConfig
from melodygan.piece import Piece


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and data settings (saved in the checkpoint's ``extra``)."""

    steps: int = 1100
    batch_size: int = 16
    window_tokens: int = 256
    lr: float = 3e-3
    min_lr: float = 1e-4
    warmup_steps: int = 100
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    normalize_key: bool = True
    augment_semitones: int = 0
    harmonize_fraction: float = 0.25
    opening_fraction: float = 0.2  # windows that start at a piece's first bar (openings are learned from these)
    downbeat_fraction: float = 0.5  # openings of a tune with a pickup shown from bar 1 instead (see _tokenize)
    init_from: str | None = None  # start from these weights (a run folder or weights folder), not at random
    eval_every: int = 100
    eval_pieces: int = 30
    log_every: int = 10
    seed: int = 1
    compile: bool = False
    bf16: bool | None = None  # None: on for CUDA, off for CPU
    max_minutes: float | None = None

    @classmethod
    def tiny(cls) -> TrainConfig:
        return cls(steps=20, batch_size=4, window_tokens=96, warmup_steps=2, eval_every=10, log_every=5)


Corpus = list[Piece] | dict[str, list[Piece]]  # pieces of one genre (folk), or pieces by genre


def by_genre(pieces: Corpus) -> list[tuple[Piece, str]]:
    """``(piece, genre)`` pairs; a plain list is folk."""
    if isinstance(pieces, dict):
        return [(p, g) for g, ps in pieces.items() for p in ps]
    return [(p, "folk") for p in pieces]


DOWNBEAT = "@downbeat"  # task suffix of a tune's tokens without its pickup


def _tokenize(pieces: Corpus, shift_range: int, normalize: bool) -> list[dict[tuple[int, str], list[list[int]]]]:
    """Per piece: ``{(shift, task): [prefix, bar, bar, ...]}`` for every shift in range that fits MIDI.

    A tune with a pickup also gets ``(shift, task + DOWNBEAT)``: the same tune from bar 1 (pickup
    dropped). Most folk tunes have an upbeat (79% of Nottingham's jigs), while a generated clip
    starts on a downbeat; without these openings the model meets ``START`` + bar 1 in 6/8 almost
    only in pop and 4/4 contexts and opens a jig in a 3/4 feel it then keeps."""
    out = []
    for p, genre in by_genre(pieces):
        base = p.transposed(semitones_to_c(p.key.tonic)) if normalize else p
        versions = [("", base)] + ([(DOWNBEAT, base.from_downbeat())] if base.pickup_steps else [])
        entry: dict[tuple[int, str], list[list[int]]] = {}
        complete = True
        for s in range(-shift_range, shift_range + 1):
            for suffix, version in versions:
                try:
                    q = version.transposed(s)
                except ValueError:
                    continue
                for task in tk.TASKS:
                    try:
                        prefix, bars = tk.encode_bars(q, task, genre=genre)
                    except MelodyganError:  # a meter without a token: the tune is left out
                        complete = False
                        break
                    if bars:
                        entry[(s, task + suffix)] = [prefix, *bars]
        shifts = {s for s, t in entry if t in tk.TASKS}
        if complete and shifts and all((s, t) in entry for s in shifts for t in tk.TASKS):
            out.append(entry)
    return out


def _window(parts: list[list[int]], start_bar: int, max_tokens: int) -> list[int]:
    """Prefix (+ ``START`` at bar 0) + whole bars from ``start_bar`` within ``max_tokens`` (+ EOS at the end)."""
    prefix, bars = parts[0], parts[1:]
    seq = tk.join(prefix, [], start_bar)
    head = len(seq)
    for i in range(start_bar, len(bars)):
        if len(seq) + len(bars[i]) > max_tokens:
            break
        seq += bars[i]
    else:
        if len(seq) < max_tokens:
            seq.append(tk.EOS)
    if len(seq) == head:  # one bar longer than the window: cut it
        seq = (seq + bars[start_bar])[:max_tokens]
    return seq


def make_batch(data: list[dict[tuple[int, str], list[list[int]]]], config: TrainConfig, step: int,
               rank: int = 0, world: int = 1) -> tuple[torch.Tensor, torch.Tensor, int]:
    """This rank's slice of the step's global batch.

    Returns:
        ``(x (b, T) int64, y (b, T) int64, global target-token count)``; ``PAD`` targets are ignored.
    """
    rng = random.Random(config.seed * 1_000_003 + step)
    seqs = []
    for _ in range(config.batch_size):
        entry = data[rng.randrange(len(data))]
        task = "harmonize" if rng.random() < config.harmonize_fraction else "leadsheet"
        shifts = sorted({s for s, t in entry if t == task})
        shift = shifts[rng.randrange(len(shifts))]
        parts = entry[(shift, task)]
        opening = rng.random() < config.opening_fraction
        if opening and (shift, task + DOWNBEAT) in entry and rng.random() < config.downbeat_fraction:
            parts = entry[(shift, task + DOWNBEAT)]
        seqs.append(_window(parts, 0 if opening else rng.randrange(len(parts) - 1), config.window_tokens + 1))
    count = sum(len(s) - 1 for s in seqs)
    per = config.batch_size // world
    mine = seqs[rank * per:(rank + 1) * per]
    T = max(len(s) for s in mine) - 1
    x = torch.full((len(mine), T), tk.PAD, dtype=torch.long)
    y = torch.full((len(mine), T), tk.PAD, dtype=torch.long)
    for i, s in enumerate(mine):
        x[i, :len(s) - 1] = torch.tensor(s[:-1])
        y[i, :len(s) - 1] = torch.tensor(s[1:])
    return x, y, count


def lr_at(step: int, config: TrainConfig, elapsed_s: float = 0.0) -> float:
    """Linear warm-up to ``lr``, then cosine decay to ``min_lr`` at ``steps`` — or at ``max_minutes``,
    whichever comes first, so a run cut by its time budget still ends with a decayed rate."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = min(1.0, (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps))
    if config.max_minutes:
        progress = max(progress, min(1.0, elapsed_s / (60 * config.max_minutes)))
    return config.min_lr + 0.5 * (config.lr - config.min_lr) * (1 + math.cos(math.pi * progress))


@torch.no_grad()
def validation_nll(model: LeadSheetTransformer, data: list[dict[tuple[int, str], list[list[int]]]],
                   window_tokens: int, device: torch.device) -> dict[str, float]:
    """Mean NLL in nats per token over windows that cover each validation piece, per order."""
    was_training = model.training
    model.eval()
    out = {}
    for task in tk.TASKS:
        total, count = 0.0, 0
        for entry in data:
            parts = entry[(0, task)]
            bar = 0
            while bar < len(parts) - 1:
                seq = _window(parts, bar, window_tokens + 1)
                x = torch.tensor([seq[:-1]], device=device)
                y = torch.tensor([seq[1:]], device=device)
                _, loss = model(x, y)
                assert loss is not None
                total += float(loss) * (len(seq) - 1)
                count += len(seq) - 1
                n_bars = sum(1 for t in seq[len(parts[0]):] if t == tk.BAR)
                bar += max(n_bars, 1)
        out[task] = total / max(count, 1)
    model.train(was_training)
    return out


def _plot(metrics_path: Path, png: Path) -> None:
    from melodygan.formats.charts import line_chart

    rows = [json.loads(line) for line in metrics_path.read_text().splitlines() if line.strip()]
    line_chart({"train loss": [(r["step"], r["loss"]) for r in rows if "loss" in r],
                "validation NLL": [(r["step"], r["valid_nll"]) for r in rows if "valid_nll" in r]},
               png, xlabel="step", ylabel="nats / token", markers={"validation NLL": "o-"})


def _evaluate_and_save(model: LeadSheetTransformer, model_config: TransformerConfig,
                       optimizer: torch.optim.Optimizer, valid: list[dict[tuple[int, str], list[list[int]]]],
                       config: TrainConfig, dev: torch.device, out: Path, extra: dict[str, Any], step: int,
                       best: float, elapsed_s: float, run: TrainingRun) -> tuple[dict[str, Any], float]:
    """Validation NLL, metrics line, one checkpoint unit (latest weights, resume state, best weights
    in fp16), loss plot. Non-finite weights are never saved; a non-finite NLL never becomes best."""
    if not weights_finite(model):
        raise MelodyganError(f"training stopped at step {step}: the weights became NaN or infinite; the last "
                             "checkpoint is kept; lower --lr")
    nll = validation_nll(model, valid, config.window_tokens, dev) if valid else {}
    mean_nll = sum(nll.values()) / len(nll) if nll else float("nan")
    result = {"step": step, "valid_nll": round(mean_nll, 5),
              **{f"valid_nll_{k}": round(v, 5) for k, v in nll.items()}, "elapsed_s": round(elapsed_s, 1)}
    metrics_path = out / "metrics.jsonl"
    with metrics_path.open("a") as f:
        f.write(json.dumps(result) + "\n")
    info = {**extra, **result}
    improved = mean_nll < best if nll else True  # lower (never NaN), or every save without validation data
    if improved:
        best = mean_nll if nll else best

    def write(unit: Path) -> None:
        save_checkpoint(unit, model, model_config, MODEL_TYPE, info)
        if improved:
            half = LeadSheetTransformer(model_config).half()
            half.load_state_dict(model.state_dict())
            save_checkpoint(unit / "best", half, model_config, MODEL_TYPE, info)
        torch.save({"optimizer": optimizer.state_dict(), "step": step, "best": best, "elapsed_s": elapsed_s,
                    "rng": torch.get_rng_state()}, unit / "resume.pt")

    run.commit(step, write, carry=("best",))
    _plot(metrics_path, out / "loss.png")
    return result, best


def _init_distributed() -> tuple[int, int, int]:
    """``(rank, world, local_rank)``; starts the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0"))
    return 0, 1, 0


def train(train_pieces: Corpus, valid_pieces: Corpus, out_dir: str | Path,
          config: TrainConfig | None = None, model_config: TransformerConfig | None = None,
          resume: bool = False, device: str | None = None, progress: bool = True,
          force: bool = False) -> dict[str, Any]:
    """Train (or resume) a lead-sheet transformer; returns the last validation metrics.

    See :func:`fit` (which also returns the model).
    """
    return fit(train_pieces, valid_pieces, out_dir, config, model_config, resume, device, progress, force)[1]


def fit(train_pieces: Corpus, valid_pieces: Corpus, out_dir: str | Path,
        config: TrainConfig | None = None, model_config: TransformerConfig | None = None,
        resume: bool = False, device: str | None = None,
        progress: bool = True, force: bool = False) -> tuple[LeadSheetTransformer, dict[str, Any]]:
    """Train (or resume) a lead-sheet transformer; returns ``(model, last validation metrics)``.

    ``train_pieces`` and ``valid_pieces`` are lists (folk) or ``{genre: pieces}``; every window is
    drawn from a piece chosen uniformly, so genres weigh by their number of pieces. Validation uses
    up to ``eval_pieces`` pieces of each genre.

    The run folder is a :class:`~melodygan.checkpoints.TrainingRun`: locked while training,
    refused when it holds another run (unless ``resume`` or ``force``), one atomic checkpoint per
    evaluation. Steps with a non-finite loss or gradient norm are skipped (the run stops after
    :data:`~melodygan.checkpoints.MAX_NONFINITE_STEPS` in a row).

    Raises:
        MelodyganError: no training pieces, a batch size not divisible by the number of processes,
            ``resume`` without a run to resume, a folder in use or holding another run.
    """
    config = config or TrainConfig()
    model_config = model_config or TransformerConfig()
    rank, world, local_rank = _init_distributed()
    dev = pick_device(device) if device else pick_device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    if not train_pieces:
        raise MelodyganError("no training pieces: preprocess a corpus first (melodygan preprocess ... --out DIR)")
    if config.window_tokens > model_config.block_size:
        raise MelodyganError(f"window of {config.window_tokens} tokens exceeds the model's block_size "
                             f"{model_config.block_size}")
    if config.batch_size % world:
        raise MelodyganError(f"batch size {config.batch_size} must be divisible by the {world} processes")
    out = Path(out_dir)
    with TrainingRun(out, resume=resume, force=force) if rank == 0 else contextlib.nullcontext() as run:
        return _fit(train_pieces, valid_pieces, out, config, model_config, resume, dev, progress, rank, world,
                    run)


def _fit(train_pieces: Corpus, valid_pieces: Corpus, out: Path, config: TrainConfig, model_config: TransformerConfig,
         resume: bool, dev: torch.device, progress: bool, rank: int, world: int,
         run: TrainingRun | None) -> tuple[LeadSheetTransformer, dict[str, Any]]:
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed + rank)
    train_pairs = by_genre(train_pieces)
    valid_pairs = by_genre(valid_pieces)
    valid_some = {g: [p for p, pg in valid_pairs if pg == g][:config.eval_pieces] for g in tk.GENRES}
    data = _tokenize(train_pieces, config.augment_semitones, config.normalize_key)
    valid = _tokenize(valid_some, 0, config.normalize_key)
    model = LeadSheetTransformer(model_config).to(dev)
    optim_groups = [
        {"params": [p for p in model.parameters() if p.dim() >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in model.parameters() if p.dim() < 2], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(optim_groups, lr=config.lr, betas=(0.9, 0.95))
    step, best, elapsed0 = 0, float("inf"), 0.0
    if config.init_from and not (resume and (out / "resume.pt").is_file()):
        start, saved_config, _ = load_checkpoint(config.init_from, LeadSheetTransformer, TransformerConfig,
                                                 MODEL_TYPE, dev)
        if saved_config != model_config:
            raise MelodyganError(f"--init-from {config.init_from}: a model of another size: {saved_config}")
        model.load_state_dict({k: v.float() for k, v in start.state_dict().items()})
    if resume and (out / "resume.pt").is_file():
        loaded, saved_config, _ = load_checkpoint(out, LeadSheetTransformer, TransformerConfig, MODEL_TYPE, dev)
        if saved_config != model_config:
            raise MelodyganError(f"{out} holds a model of another size: {saved_config}")
        model.load_state_dict(loaded.state_dict())
        state = load_resume_state(out / "resume.pt", ("optimizer", "step", "best", "elapsed_s", "rng"))
        with restoring(out / "resume.pt"):
            optimizer.load_state_dict(state["optimizer"])
            step, best, elapsed0 = int(state["step"]), float(state["best"]), float(state["elapsed_s"])
            torch.set_rng_state(state["rng"])
    if rank == 0:
        trim_metrics(out / "metrics.jsonl", step)
    model.train()
    net: torch.nn.Module = model
    if world > 1:
        net = DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)
    if config.compile:
        net = torch.compile(net)  # type: ignore[assignment]
    use_bf16 = config.bf16 if config.bf16 is not None else dev.type == "cuda"
    metrics_path = out / "metrics.jsonl"
    key_counts: dict[str, dict[str, int]] = {}
    for p, g in train_pairs:  # generation draws its default key from these
        counts = key_counts.setdefault(g, {})
        counts[p.key.name] = counts.get(p.key.name, 0) + 1
    extra = {"train": asdict(config), "train_pieces": len(train_pairs), "valid_pieces": len(valid_pairs),
             "key_counts": key_counts.get("folk") or next(iter(key_counts.values()), {}),
             "key_counts_by_genre": key_counts, "genres": sorted(key_counts)}
    from tqdm import tqdm

    bar = tqdm(total=config.steps, initial=step, disable=not progress or rank != 0, desc="train ar")
    t0 = time.time()
    tokens_seen, last_log = 0, time.time()
    result: dict[str, Any] = {}
    evaluated = step
    guard = NonFiniteGuard(hint="lower --lr")
    while step < config.steps:
        if config.max_minutes is not None and elapsed0 + time.time() - t0 > 60 * config.max_minutes:
            break
        lr = lr_at(step, config, elapsed0 + time.time() - t0)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y, count = make_batch(data, config, step, rank, world)
        x, y = x.to(dev), y.to(dev)
        with autocast(dev, use_bf16):
            _, loss = net(x, y)
        assert loss is not None
        local = int((y != tk.PAD).sum())
        scaled = loss * local / count * world  # DDP averages over ranks → global per-token mean
        optimizer.zero_grad(set_to_none=True)
        scaled.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        if guard.ok(step, loss, grad_norm):
            optimizer.step()
        step += 1
        tokens_seen += count
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}")
        if rank == 0 and (step % config.log_every == 0 or step == config.steps):
            now = time.time()
            row = {"step": step, "loss": round(loss.item(), 5), "lr": lr,
                   "tokens_per_s": round(tokens_seen / max(now - last_log, 1e-9), 1),
                   "elapsed_s": round(elapsed0 + now - t0, 1)}
            tokens_seen, last_log = 0, now
            with metrics_path.open("a") as f:
                f.write(json.dumps(row) + "\n")
        if rank == 0 and (step % config.eval_every == 0 or step == config.steps):
            assert run is not None
            result, best = _evaluate_and_save(model, model_config, optimizer, valid, config, dev, out, extra,
                                              step, best, elapsed0 + time.time() - t0, run)
            evaluated = step
    if rank == 0 and step > evaluated:  # stopped by the time budget between evaluations
        assert run is not None
        result, best = _evaluate_and_save(model, model_config, optimizer, valid, config, dev, out, extra,
                                          step, best, elapsed0 + time.time() - t0, run)
    bar.close()
    return model, result


def load_run_config(out_dir: str | Path) -> tuple[TrainConfig, TransformerConfig]:
    """The configs a run was started with (for ``--resume``); one MelodyganError line when unreadable."""
    meta = read_checkpoint_meta(out_dir)
    with restoring(Path(out_dir) / "config.json"):
        train_config = config_from_dict(TrainConfig, meta["extra"]["train"])
        return train_config, config_from_dict(TransformerConfig, meta["config"])
