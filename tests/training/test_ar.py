"""Training loop: files written, resume, schedule, and two gloo processes = one process on the whole batch."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from melodygan.checkpoints import load_checkpoint
from melodygan.chords import parse_chord_symbol
from melodygan.keys import Key
from melodygan.models.transformer import MODEL_TYPE, LeadSheetTransformer, TransformerConfig
from melodygan.notes import Note
from melodygan.piece import Piece
from melodygan.training.ar import TrainConfig, _tokenize, fit, lr_at, make_batch, train


def _pieces(n: int = 6) -> list[Piece]:
    out = []
    for i in range(n):
        tonic = (2 * i) % 12
        scale = [tonic + s for s in (0, 2, 4, 5, 7, 9, 11, 12)]
        melody = [Note(4 * j, 4, 60 + scale[(j * (i + 1)) % 8]) for j in range(32)]
        chords = [parse_chord_symbol(["C", "F", "G7", "C"][b % 4], 16 * b, 16).transposed(tonic) for b in range(8)]
        out.append(Piece(melody=melody, chords=chords, key=Key(tonic, "major")))
    return out


def test_schedule_warms_up_then_decays() -> None:
    c = TrainConfig(steps=100, warmup_steps=10, lr=1.0, min_lr=0.1)
    assert lr_at(0, c) == pytest.approx(0.1)
    assert lr_at(9, c) == pytest.approx(1.0)
    assert lr_at(100, c) == pytest.approx(0.1)
    assert lr_at(10, c) > lr_at(50, c) > lr_at(90, c)
    timed = TrainConfig(steps=100, warmup_steps=10, lr=1.0, min_lr=0.1, max_minutes=1.0)
    assert lr_at(20, timed, elapsed_s=60.0) == pytest.approx(0.1)  # the time budget ends the cosine too


def test_batches_are_windows_of_whole_bars_moved_to_c() -> None:
    data = _tokenize(_pieces(), 0, True)
    x, y, count = make_batch(data, TrainConfig.tiny(), step=0)
    assert x.shape == y.shape and x.shape[0] == 4
    assert count == int((y != 0).sum())
    assert (x[:, 0] == 1).all()  # BOS
    assert set(x[:, 2].tolist()) == {7}  # KEY(C): every tune moved to C
    torch.testing.assert_close(x[:, 1:], y[:, :-1].masked_fill(x[:, 1:] == 0, 0))


def test_tunes_with_a_pickup_are_also_opened_from_their_first_downbeat() -> None:
    jig = Piece(melody=[Note(0, 2, 67)] + [Note(2 + 2 * j, 2, 72 + (j % 3)) for j in range(24)],
                chords=[parse_chord_symbol(c, s, d) for c, s, d in (("C", 0, 14), ("G", 14, 12), ("C", 26, 12))],
                time_signature=(6, 8), pickup_steps=2)
    bar1 = jig.from_downbeat()
    assert bar1.pickup_steps == 0 and bar1.melody[0] == Note(0, 2, 72) and len(bar1.melody) == 24
    assert [(c.start_steps, c.duration_steps) for c in bar1.chords] == [(0, 12), (12, 12), (24, 12)]
    data = _tokenize([jig, *_pieces(2)], 0, True)
    assert sorted(t for _, t in data[0]) == ["harmonize", "harmonize@downbeat", "leadsheet", "leadsheet@downbeat"]
    assert sorted(t for _, t in data[1]) == ["harmonize", "leadsheet"]  # no pickup: nothing added
    openings = TrainConfig(batch_size=64, opening_fraction=1.0, harmonize_fraction=0.0, downbeat_fraction=0.5)
    x, _, _ = make_batch(data[:1], openings, step=0)
    heads = {tuple(row[6:8].tolist()) for row in x}  # START BAR PLACE …: bar 0 is the pickup or bar 1
    assert len(heads) == 2
    never = TrainConfig(**{**openings.__dict__, "downbeat_fraction": 0.0})
    assert len({tuple(row[6:8].tolist()) for row in make_batch(data[:1], never, step=0)[0]}) == 1


def test_training_can_start_from_other_weights(tmp_path: Path) -> None:
    pieces = _pieces()
    train(pieces[:4], pieces[4:], tmp_path / "a", TrainConfig.tiny(), TransformerConfig.tiny(), progress=False)
    start = TrainConfig(**{**TrainConfig.tiny().__dict__, "steps": 1, "lr": 1e-9, "min_lr": 1e-9,
                           "init_from": str(tmp_path / "a")})
    model, _ = fit(pieces[:4], pieces[4:], tmp_path / "b", start, TransformerConfig.tiny(), progress=False)
    first, _, _ = load_checkpoint(tmp_path / "a", LeadSheetTransformer, TransformerConfig, MODEL_TYPE)
    for (k, v), w in zip(first.state_dict().items(), model.state_dict().values()):
        torch.testing.assert_close(v, w, atol=1e-5, rtol=0, msg=k)  # one step at lr 1e-9: the same weights


def test_train_writes_checkpoints_metrics_plot_and_resumes(tmp_path: Path) -> None:
    pieces = _pieces()
    result = train(pieces[:4], pieces[4:], tmp_path, TrainConfig.tiny(), TransformerConfig.tiny(), progress=False)
    for name in ("config.json", "model.safetensors", "resume.pt", "metrics.jsonl", "loss.png",
                 "best/config.json", "best/model.safetensors"):
        assert (tmp_path / name).is_file(), name
    assert result["step"] == 20 and result["valid_nll"] > 0
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert rows[0]["loss"] > rows[-2]["loss"]  # it learns
    more = TrainConfig(**{**TrainConfig.tiny().__dict__, "steps": 30})
    result = train(pieces[:4], pieces[4:], tmp_path, more, TransformerConfig.tiny(), resume=True, progress=False)
    assert result["step"] == 30
    extra = json.loads((tmp_path / "config.json").read_text())["extra"]
    assert extra["key_counts"] == {"C": 1, "D": 1, "E": 1, "F#": 1}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    pieces = _pieces()
    config = TrainConfig(**{**TrainConfig.tiny().__dict__, "steps": 6, "eval_every": 100})
    model, _ = fit(pieces, [], Path(out) / f"rank{rank}", config, TransformerConfig.tiny(), device="cpu",
                   progress=False)
    torch.save({k: v.detach().clone() for k, v in model.state_dict().items()}, Path(out) / f"weights{rank}.pt")
    dist.destroy_process_group()


def test_two_gloo_processes_equal_one_process_on_the_combined_batch(tmp_path: Path) -> None:
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    w0 = torch.load(tmp_path / "weights0.pt", weights_only=True)
    w1 = torch.load(tmp_path / "weights1.pt", weights_only=True)
    torch.manual_seed(0)
    config = TrainConfig(**{**TrainConfig.tiny().__dict__, "steps": 6, "eval_every": 100})
    single, _ = fit(_pieces(), [], tmp_path / "single", config, TransformerConfig.tiny(), device="cpu", progress=False)
    for k, v in single.state_dict().items():
        torch.testing.assert_close(w0[k], w1[k], rtol=0, atol=0)
        torch.testing.assert_close(w0[k], v, rtol=1e-4, atol=1e-5)
