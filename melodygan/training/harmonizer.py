"""Training the chord harmonizer: one explicit, resumable loop, then the path weights on validation songs.

Data: preprocessed folders (``melodygan preprocess``) per genre — folk (Nottingham) and pop
(POP909) — their *train* splits for the network and the transition tables, their *valid* splits
for choosing the best epoch and tuning the path weights; test splits are never read here.
Each folk tune is used whole and as its first 16 bars (the crop teaches where an excerpt ends);
pop songs whole. Everything is encoded relative to the key chosen from the notes
(:func:`melodygan.beats.choose_key`), so the twelve keys are one to the model: a transposition
of the input gives the same chords, transposed.

Loop: AdamW, cosine learning rate, batches of length-sorted random crops (``window_beats``,
starting on a downbeat), loss = cross-entropy of the chord per beat + ``change_weight`` × the
binary cross-entropy of "the chord changes here". After every epoch the greedy per-beat root
accuracy on the validation songs (mean over genres) picks the best checkpoint.

Then the transition tables are counted on the training labels and the path weights
(:class:`melodygan.engines.chordpath.PathWeights`) are tuned per genre on the validation songs by
coordinate ascent on root agreement, with a penalty when the chord changes per bar are more than
5% off the human rate or the share of changes away from a downbeat more than 5 points off the
human share, so the chosen harmonic rhythm stays human-like (held-out songs vary more than that
around it); and whether chord qualities are drawn from the network's belief rather than taken
from the path (whichever comes nearer the human chords' mix of qualities on those songs).

Run folder: ``best/`` (the checkpoint: ``config.json`` with the path weights in ``extra`` +
``model.safetensors``), ``resume.pt`` (last epoch's model, optimizer and RNG; loaded with
``weights_only=True``), ``metrics.jsonl``.
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
import torch.nn.functional as F

from melodygan.beats import (
    GENRE_FEATURES,
    GENRES,
    NUM_LABELS,
    BeatSong,
    feature_slice,
    genre_features,
    label_root,
    song_from_piece,
)
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
from melodygan.engines.chordpath import PathWeights, best_path, draw_qualities, quality_distance
from melodygan.engines.harmonize import encode, predict
from melodygan.errors import MelodyganError
from melodygan.models.harmonizer import MODEL_TYPE, ChordHarmonizer, HarmonizerConfig
from melodygan.piece import Piece

HEAD_BARS = 16
_BEAT0 = feature_slice("beat_in_bar").start  # "first beat of the bar" column


@dataclass(frozen=True)
class HarmonizerTrainConfig:
    """Training settings (saved with the run; a resume must use the same)."""

    epochs: int = 18
    lr: float = 2e-3
    min_lr: float = 1e-4
    weight_decay: float = 0.01
    batch_beats: int = 4000
    window_beats: int = 128
    change_weight: float = 0.5
    seed: int = 0
    max_minutes: float = 150.0

    @classmethod
    def tiny(cls) -> HarmonizerTrainConfig:
        return cls(epochs=2, batch_beats=400, window_beats=32)


Item = tuple[str, np.ndarray, np.ndarray]  # (genre, features (B, F), relative labels (B,))


def songs_of(pieces: list[Piece], genre: str, training: bool) -> list[BeatSong]:
    """BeatSongs with human chords: whole pieces (and, for folk training, their first 16 bars too);
    for validation, folk tunes are cut to their first 16 bars as the evaluation cuts them."""
    out = []
    for p in pieces:
        if not p.melody or not p.chords:
            continue
        if genre == "folk":
            head = song_from_piece(p, genre, bars=HEAD_BARS)
            if training:
                whole = song_from_piece(p, genre)
                out += [whole, head] if whole.num_beats > head.num_beats else [whole]
            else:
                out.append(head)
        else:
            out.append(song_from_piece(p, genre))
    return [s for s in out if (s.chords > 0).any()]


def _windows(items: list[Item], window: int, rng: random.Random) -> list[Item]:
    """Songs longer than ``window`` beats become ceil(len / window) random crops starting on a downbeat."""
    out = []
    for genre, x, y in items:
        n = len(y)
        if n <= window:
            out.append((genre, x, y))
            continue
        down = np.flatnonzero(x[:, _BEAT0] > 0)
        starts = down[down <= n - window]
        if len(starts) == 0:
            starts = np.array([0])
        for _ in range(-(-n // window)):
            s = int(starts[rng.randrange(len(starts))])
            out.append((genre, x[s:s + window], y[s:s + window]))
    return out


def _batches(items: list[Item], batch_beats: int, rng: random.Random) -> list[list[int]]:
    order = sorted(range(len(items)), key=lambda i: len(items[i][2]) + rng.random() * 20)
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order:
        n = len(items[i][2])
        if current and max(longest, n) * (len(current) + 1) > batch_beats:
            batches.append(current)
            current, longest = [], 0
        current.append(i)
        longest = max(longest, n)
    if current:
        batches.append(current)
    rng.shuffle(batches)
    return batches


def _collate(items: list[Item], idx: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    width = max(len(items[i][2]) for i in idx)
    x = np.zeros((len(idx), width, items[idx[0]][1].shape[1]), dtype=np.float32)  # (B, T, F)
    y = np.zeros((len(idx), width), dtype=np.int64)  # (B, T)
    for j, i in enumerate(idx):
        n = len(items[i][2])
        x[j, :n], y[j, :n] = items[i][1], items[i][2]
    return torch.from_numpy(x), torch.from_numpy(y), torch.tensor([len(items[i][2]) for i in idx])


def losses(model: ChordHarmonizer, x: torch.Tensor, y: torch.Tensor, lengths: torch.Tensor,
           change_weight: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Chord cross-entropy per beat (no-chord beats ignored) and the weighted change BCE."""
    logits, change = model(x, lengths)
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=0)
    target = (y[:, 1:] != y[:, :-1]).float()
    valid = ((y[:, 1:] > 0) & (y[:, :-1] > 0)).float()
    bce = F.binary_cross_entropy_with_logits(change[:, 1:], target, reduction="none")
    return ce, change_weight * (bce * valid).sum() / valid.sum().clamp(min=1)


def greedy_root_accuracy(model: ChordHarmonizer, items: list[Item]) -> float:
    accs = []
    for _, x, y in items:
        log_p, _ = predict(model, x)
        judged = y > 0
        accs.append(float(np.mean(label_root(log_p.argmax(-1))[judged] == label_root(y)[judged])))
    return float(np.mean(accs)) if accs else math.nan


def fit_transitions(items: list[Item], smooth: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Per genre: log transition matrix at chord changes ``(G, 169, 169)`` and log label prior ``(G, 169)``."""
    log_t = np.zeros((len(GENRES), NUM_LABELS, NUM_LABELS), dtype=np.float32)
    log_prior = np.zeros((len(GENRES), NUM_LABELS), dtype=np.float32)
    for g, genre in enumerate(GENRES):
        counts = np.full((NUM_LABELS, NUM_LABELS), smooth)
        prior = np.full(NUM_LABELS, smooth)
        for item_genre, _, y in items:
            if item_genre != genre:
                continue
            y = y[y > 0]
            np.add.at(prior, y, 1)
            ch = np.flatnonzero(y[1:] != y[:-1])
            np.add.at(counts, (y[ch], y[ch + 1]), 1)
        np.fill_diagonal(counts, 0)
        counts[:, 0] = 0
        counts[0, :] = smooth
        prior[0] = 0
        with np.errstate(divide="ignore"):
            log_t[g] = np.log(counts / counts.sum(1, keepdims=True))
            log_prior[g] = np.log(prior / prior.sum())
    return log_t, log_prior


TUNING_GRID: dict[str, tuple[float, ...]] = {
    "alpha": (0.0, 0.15, 0.3),
    "w_change": (0.25, 0.5, 1.0, 2.0),
    "w_trans": (0.0, 0.15, 0.3, 0.5, 0.7),
    "bias_downbeat": (0.0, 0.5, 1.0, 2.0),
    "bias_half_bar": (-1.0, -0.5, 0.0, 0.5, 1.0),
    "bias_other": (-3.0, -1.5, -1.0, -0.5, 0.0),
}


RHYTHM_TOLERANCE = 0.05  # changes per bar (relative) and mid-bar share (absolute) allowed off the human ones


def _judge(paths: list[np.ndarray], items: list[Item], downbeats: list[np.ndarray]
           ) -> tuple[float, float, float, float, float]:
    """(root agreement, model and human changes per bar, model and human share of changes away
    from a downbeat) over songs."""
    roots, cpb, human, mid, human_mid = [], [], [], [], []
    for path, (_, _, y), down in zip(paths, items, downbeats):
        judged = y > 0
        roots.append(float(np.mean(label_root(path)[judged] == label_root(y)[judged])))
        bars = max(1, int(down.sum()))
        moves = np.flatnonzero(path[1:] != path[:-1]) + 1
        cpb.append(len(moves) / bars)
        mid.extend((~down[moves]).tolist())
        yy, dd = y[judged], down[judged]
        human_moves = np.flatnonzero(yy[1:] != yy[:-1]) + 1
        human.append(len(human_moves) / bars)
        human_mid.extend((~dd[human_moves]).tolist())
    return (float(np.mean(roots)), float(np.mean(cpb)), float(np.mean(human)),
            float(np.mean(mid)) if mid else 0.0, float(np.mean(human_mid)) if human_mid else 0.0)


def tune_weights(model: ChordHarmonizer, items: list[Item], genre_index: int, rounds: int = 2) -> PathWeights:
    """Coordinate ascent of the path weights on validation songs (see the module docstring)."""
    outs = [predict(model, x) for _, x, _ in items]
    downs = [x[:, _BEAT0] > 0 for _, x, _ in items]
    log_t = model.log_transitions[genre_index].numpy()
    log_prior = model.log_prior[genre_index].numpy()

    def objective(w: PathWeights) -> float:
        paths = [best_path(lp, ch, d, log_t, log_prior, w) for (lp, ch), d in zip(outs, downs)]
        root, cpb, human, mid, human_mid = _judge(paths, items, downs)
        return (root - 0.5 * max(0.0, abs(cpb - human) / max(human, 1e-6) - RHYTHM_TOLERANCE)
                - 0.5 * max(0.0, abs(mid - human_mid) - RHYTHM_TOLERANCE))

    weights = PathWeights()
    best = objective(weights)
    for _ in range(rounds):
        for name, values in TUNING_GRID.items():
            for v in values:
                candidate = dataclasses.replace(weights, **{name: v})  # type: ignore[arg-type]
                if candidate == weights:
                    continue
                score = objective(candidate)
                if score > best + 1e-6:
                    best, weights = score, candidate
    return choose_quality_draw(weights, outs, downs, items, log_t, log_prior)


def choose_quality_draw(weights: PathWeights, outs: list[tuple[np.ndarray, np.ndarray]], downs: list[np.ndarray],
                        items: list[Item], log_t: np.ndarray, log_prior: np.ndarray, seed: int = 1) -> PathWeights:
    """``draw_quality`` on when the drawn qualities come nearer the human chords' mix of qualities
    (triads, sevenths, sixths, sus, …; :func:`melodygan.engines.chordpath.quality_distance`) on the
    validation songs than the path's own; the roots and harmonic rhythm are the same either way."""
    paths = [best_path(lp, ch, d, log_t, log_prior, weights) for (lp, ch), d in zip(outs, downs)]
    rng = np.random.default_rng(seed)
    drawn = [draw_qualities(p, lp, rng) for p, (lp, _) in zip(paths, outs)]
    human = [y for _, _, y in items]
    k = (outs[0][0].shape[1] - 1) // 12 if outs else 1
    plain, draw = quality_distance(paths, human, k), quality_distance(drawn, human, k)
    return dataclasses.replace(weights, draw_quality=bool(draw < plain))


def fit_genre_classifier(pieces: dict[str, list[Piece]], steps: int = 500) -> dict[str, Any]:
    """Logistic regression pop-vs-folk on :func:`melodygan.beats.genre_features` (standardized,
    class-balanced, L2 0.01, gradient descent); the parameters as plain lists for ``extra``."""
    rows, labels = [], []
    for genre, ps in pieces.items():
        for p in ps:
            if p.melody:
                rows.append(genre_features(p))
                labels.append(1.0 if genre == "pop" else 0.0)
    x, y = np.array(rows), np.array(labels)
    if len(set(labels)) < 2:
        return {}
    mean, std = x.mean(0), x.std(0) + 1e-6
    z = (x - mean) / std
    weight = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean()))  # balance the classes
    coef, bias = np.zeros(z.shape[1]), 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(z @ coef + bias)))
        g = weight * (p - y)
        coef -= 0.5 * (z.T @ g / len(y) + 0.01 * coef)
        bias -= 0.5 * float(g.mean())
    return {"features": list(GENRE_FEATURES), "mean": mean.tolist(), "std": std.tolist(), "coef": coef.tolist(),
            "bias": bias}


def train_harmonizer(out_dir: str | Path, train: dict[str, list[Piece]], valid: dict[str, list[Piece]], *,
                     model_config: HarmonizerConfig | None = None, train_config: HarmonizerTrainConfig | None = None,
                     resume: bool = False, log: Any = print, force: bool = False) -> dict[str, Any]:
    """Train (or resume) a harmonizer; write the run folder (see the module docstring).

    Args:
        out_dir: run folder.
        train, valid: Pieces with chords per genre (keys of :data:`melodygan.beats.GENRES`).
        model_config, train_config: shapes and settings (defaults: the shipped ones).
        resume: continue from ``resume.pt`` (the same configs are required).
        log: where progress lines go.

    Returns:
        The summary written to ``best/config.json``'s ``extra``.

    Raises:
        MelodyganError: no training songs, or a run folder that does not match, holds another run
            (``force`` starts afresh) or is in use (see :class:`~melodygan.checkpoints.TrainingRun`).
    """
    with TrainingRun(out_dir, resume=resume, force=force) as run:
        return _train_harmonizer(run, train, valid, model_config, train_config, resume, log)


def _train_harmonizer(run: TrainingRun, train: dict[str, list[Piece]], valid: dict[str, list[Piece]],
                      model_config: HarmonizerConfig | None, train_config: HarmonizerTrainConfig | None,
                      resume: bool, log: Any) -> dict[str, Any]:
    mcfg, tcfg = model_config or HarmonizerConfig(), train_config or HarmonizerTrainConfig()
    out = run.out
    torch.manual_seed(tcfg.seed)
    rng = random.Random(tcfg.seed)
    t0 = time.time()
    train_items: list[Item] = []
    valid_items: dict[str, list[Item]] = {}
    for genre in GENRES:
        train_items += [(genre, *encode(s)[:2]) for s in songs_of(train.get(genre, []), genre, training=True)]
        v = [(genre, *encode(s)[:2]) for s in songs_of(valid.get(genre, []), genre, training=False)]
        if v:
            valid_items[genre] = v
    if not train_items:
        raise MelodyganError("no training songs with chords; give preprocessed folders with chord symbols")
    log(f"harmonizer: {len(train_items)} training songs ({sum(len(y) for _, _, y in train_items)} beats), "
        f"valid {', '.join(f'{g} {len(v)}' for g, v in valid_items.items())}; {time.time() - t0:.0f} s to encode")
    model = ChordHarmonizer(mcfg)
    opt = torch.optim.AdamW(model.parameters(), lr=tcfg.lr, weight_decay=tcfg.weight_decay)
    epoch, best = 0, -1.0
    history: list[dict[str, Any]] = []
    state_path = out / "resume.pt"
    if resume and state_path.exists():
        epoch, best = resume_epoch_run(state_path, model, opt, mcfg, tcfg, rng)
    trim_metrics(out / "metrics.jsonl", epoch, key="epoch")
    guard = NonFiniteGuard()
    while epoch < tcfg.epochs and (time.time() - t0) / 60 < tcfg.max_minutes:
        lr = tcfg.min_lr + 0.5 * (tcfg.lr - tcfg.min_lr) * (1 + math.cos(math.pi * epoch / tcfg.epochs))
        for group in opt.param_groups:
            group["lr"] = lr
        model.train()
        crops = _windows(train_items, tcfg.window_beats, rng)
        total_ce = total_bce = 0.0
        batches = _batches(crops, tcfg.batch_beats, rng)
        for idx in batches:
            x, y, lengths = _collate(crops, idx)
            ce, bce = losses(model, x, y, lengths, tcfg.change_weight)
            opt.zero_grad(set_to_none=True)
            (ce + bce).backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            if guard.ok(epoch, ce, bce, grad_norm):
                opt.step()
            total_ce += ce.item()
            total_bce += bce.item()
        epoch += 1
        scores = {g: greedy_root_accuracy(model, v) for g, v in valid_items.items()}
        score = float(np.mean(list(scores.values()))) if scores else -total_ce
        row = {"epoch": epoch, "lr": lr, "ce": total_ce / len(batches), "change_bce": total_bce / len(batches),
               "valid_root": scores, "elapsed_s": round(time.time() - t0, 1)}
        history.append(row)
        with open(out / "metrics.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
        log(f"epoch {epoch}: ce {row['ce']:.3f}, valid root " + ", ".join(f"{g} {s:.3f}" for g, s in scores.items()))
        if not weights_finite(model):
            raise MelodyganError(f"training stopped after epoch {epoch}: the weights became NaN or infinite; "
                                 "the last checkpoint is kept")
        improved = score > best  # never true for a NaN score
        if improved:
            best = score
        commit_epoch(run, epoch, model, opt, mcfg, tcfg, rng, best, improved)
    if (out / "best.pt").exists():
        with restoring(out / "best.pt"):
            model.load_state_dict(load_resume_state(out / "best.pt", ("model",))["model"])
    model.eval()
    log_t, log_prior = fit_transitions(train_items)
    model.log_transitions.copy_(torch.from_numpy(log_t))
    model.log_prior.copy_(torch.from_numpy(log_prior))
    weights = {}
    for g, genre in enumerate(GENRES):
        if genre in valid_items:
            weights[genre] = dataclasses.asdict(tune_weights(model, valid_items[genre], g))
            log(f"path weights ({genre}): {weights[genre]}")
        else:
            weights[genre] = dataclasses.asdict(PathWeights())
    classifier = fit_genre_classifier(train)
    if classifier and len(valid) > 1:
        from melodygan.engines.harmonize import guess_genre

        hits = [guess_genre(p, {"genre_classifier": classifier}) == g for g, ps in valid.items() for p in ps]
        classifier["valid_accuracy"] = float(np.mean(hits))
        log(f"genre classifier: {classifier['valid_accuracy']:.3f} right on the validation songs")
    extra = {"path_weights": weights, "genre_classifier": classifier, "epochs": epoch, "best_valid_root": best,
             "train_songs": len(train_items), "elapsed_s": round(time.time() - t0, 1),
             "train_config": dataclasses.asdict(tcfg)}
    save_checkpoint_folder(out / "best", model, mcfg, MODEL_TYPE, extra)
    return extra
