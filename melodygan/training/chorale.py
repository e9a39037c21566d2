"""Training the chorale voicer (:mod:`melodygan.models.chorale`) on the JSB Chorales.

Data: ``Jsb16thSeparated.json`` — its *train* split (229 chorales) for the network, its *valid*
split (76) for choosing the best epoch; the *test* split is never read here. Each chorale is used
whole (its length tells the model where the final cadence is); every time it is drawn it is
transposed by a random interval from −6 to +5 semitones, limited so that no voice leaves the
range Bach's voices use by more than two semitones, so all twelve keys are one to the model.

Loop: AdamW, cosine learning rate, batches of chorales of similar length, loss = the mean
cross-entropy of the alto, tenor and bass tokens (nats per voice-step: the note-wise NLL of
A, T, B given S). After every epoch the same NLL on the untransposed validation chorales picks
the best checkpoint.

Run folder: ``best/`` (``config.json`` + ``model.safetensors``, fp16), ``resume.pt`` (the last epoch's
model, optimizer and RNG state; loaded with ``weights_only=True``), ``metrics.jsonl``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from melodygan.checkpoints import (
    NonFiniteGuard,
    TrainingRun,
    commit_epoch,
    load_resume_state,
    restoring,
    resume_epoch_run,
    save_checkpoint_folder,
    trim_metrics,
    weights_finite,
)
from melodygan.errors import MelodyganError
from melodygan.models.chorale import (
    MODEL_TYPE,
    ChoraleConfig,
    ChoraleVoicer,
    collate,
    conditional_nll,
    token_log_probs,
)

# Bach's voices in the training chorales: S 60-81, A 52-74, T 46-69, B 36-66; a transposition may
# take a voice at most this far past them.
_SPAN_LO, _SPAN_HI = 34, 83


@dataclass(frozen=True)
class ChoraleTrainConfig:
    """Training settings (saved with the run; a resume must use the same, but for the length)."""

    epochs: int = 120
    lr: float = 2e-3
    min_lr: float = 5e-5
    weight_decay: float = 0.01
    batch_size: int = 8
    transpose: int = 6
    seed: int = 1
    max_minutes: float = 150.0

    @classmethod
    def tiny(cls) -> ChoraleTrainConfig:
        return cls(epochs=2, batch_size=2)


def _shift_range(steps: np.ndarray, limit: int) -> tuple[int, int]:
    sounding = steps[steps >= 0]
    lo, hi = (int(sounding.min()), int(sounding.max())) if sounding.size else (60, 60)
    return max(-limit, _SPAN_LO - lo), min(limit - 1, _SPAN_HI - hi)


def _batches(chorales: list[np.ndarray], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Index batches of similar length (sorted with a little noise), in random order."""
    order = sorted(range(len(chorales)), key=lambda i: len(chorales[i]) * (1 + 0.3 * rng.random()))
    batches = [order[k:k + batch_size] for k in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def half_copy(model: ChoraleVoicer) -> ChoraleVoicer:
    """The model in fp16, as shipped (half the size; loading turns it back into fp32)."""
    half = ChoraleVoicer(model.config).half()
    half.load_state_dict(model.state_dict())
    return half


def train_chorale(out_dir: str | Path, train: list[np.ndarray], valid: list[np.ndarray], *,
                  model_config: ChoraleConfig | None = None, train_config: ChoraleTrainConfig | None = None,
                  resume: bool = False, force: bool = False, log: Any = print) -> dict[str, Any]:
    """Train (or resume) a chorale voicer; write the run folder (see the module docstring).

    Args:
        out_dir: run folder.
        train, valid: chorales as ``(T, 4)`` arrays of S, A, T, B MIDI pitches (−1 silence) on a
            16th-note grid (:func:`melodygan.corpora.jsb.read_jsb_steps`).
        model_config, train_config: shapes and settings (defaults: the shipped ones).
        resume: continue from ``resume.pt`` (the same settings are required, but the length).
        force: start afresh in a folder that holds a run.
        log: where progress lines go.

    Returns:
        The summary written to ``best/config.json``'s ``extra``.

    Raises:
        MelodyganError: no training chorales, or a run folder that does not match, holds another
            run or is in use (see :class:`~melodygan.checkpoints.TrainingRun`).
    """
    if not train:
        raise MelodyganError("no training chorales; pass the JSB Chorales file Jsb16thSeparated.json")
    with TrainingRun(out_dir, resume=resume, force=force) as run:
        return _train(run, [np.asarray(c) for c in train], [np.asarray(c) for c in valid],
                      model_config or ChoraleConfig(), train_config or ChoraleTrainConfig(), resume, log)


def _train(run: TrainingRun, train: list[np.ndarray], valid: list[np.ndarray], mcfg: ChoraleConfig,
           tcfg: ChoraleTrainConfig, resume: bool, log: Any) -> dict[str, Any]:
    out = run.out
    t0 = time.time()
    torch.manual_seed(tcfg.seed)
    rng = random.Random(tcfg.seed)
    model = ChoraleVoicer(mcfg)
    opt = torch.optim.AdamW(model.parameters(), lr=tcfg.lr, weight_decay=tcfg.weight_decay)
    epoch, best = 0, math.inf
    state_path = out / "resume.pt"
    if resume and state_path.exists():
        epoch, best = resume_epoch_run(state_path, model, opt, mcfg, tcfg, rng)
    trim_metrics(out / "metrics.jsonl", epoch, key="epoch")
    log(f"chorale voicer: {len(train)} training chorales ({sum(len(c) for c in train)} steps), "
        f"{len(valid)} validation; {sum(p.numel() for p in model.parameters()):,} parameters")
    guard = NonFiniteGuard()
    while epoch < tcfg.epochs and (time.time() - t0) / 60 < tcfg.max_minutes:
        lr = tcfg.min_lr + 0.5 * (tcfg.lr - tcfg.min_lr) * (1 + math.cos(math.pi * epoch / tcfg.epochs))
        for group in opt.param_groups:
            group["lr"] = lr
        model.train()
        total, count = 0.0, 0
        for idx in _batches(train, tcfg.batch_size, rng):
            batch = []
            for i in idx:
                lo, hi = _shift_range(train[i], tcfg.transpose)
                shift = rng.randint(lo, hi) if lo <= hi else 0
                batch.append(np.where(train[i] >= 0, train[i] + shift, -1))
            lp, mask = token_log_probs(model, *collate(batch))
            loss = -lp[mask].mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            if guard.ok(epoch, loss, grad_norm):
                opt.step()
            total += float(loss.detach()) * int(mask.sum())
            count += int(mask.sum())
        epoch += 1
        valid_nll = conditional_nll(model, valid) if valid else total / max(count, 1)
        row = {"epoch": epoch, "lr": lr, "train_nll": total / max(count, 1), "valid_nll": valid_nll,
               "elapsed_s": round(time.time() - t0, 1)}
        with open(out / "metrics.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
        log(f"epoch {epoch}: train NLL {row['train_nll']:.4f}, valid NLL {valid_nll:.4f} "
            f"({row['elapsed_s']:.0f} s)")
        if not weights_finite(model):
            raise MelodyganError(f"training stopped after epoch {epoch}: the weights became NaN or infinite; "
                                 "the last checkpoint is kept")
        improved = valid_nll < best  # never true for NaN
        if improved:
            best = valid_nll
        commit_epoch(run, epoch, model, opt, mcfg, tcfg, rng, best, improved)
    if (out / "best.pt").exists():
        with restoring(out / "best.pt"):
            model.load_state_dict(load_resume_state(out / "best.pt", ("model",))["model"])
    model.eval()
    extra = {"epochs": epoch, "best_valid_nll": best, "train_chorales": len(train),
             "elapsed_s": round(time.time() - t0, 1), "train_config": dataclasses.asdict(tcfg),
             "data": "JSB Chorales (Jsb16thSeparated.json), train split; best epoch by valid NLL"}
    save_checkpoint_folder(out / "best", half_copy(model), mcfg, MODEL_TYPE, extra)
    log(f"best valid NLL {best:.4f} (A, T, B given S, nats per voice-step); wrote {out / 'best'}")
    return extra
