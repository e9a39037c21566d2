"""Chorale voicer training on tiny synthetic chorales: a run folder, a usable checkpoint, resume, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from melodygan.engines.chorale import harmonize_chorale, jsb_nll
from melodygan.errors import MelodyganError
from melodygan.models.chorale import ChoraleConfig
from melodygan.notes import Note
from melodygan.piece import Piece
from melodygan.training.chorale import ChoraleTrainConfig, train_chorale


def _chorales(n: int, shift: int = 0) -> list[np.ndarray]:
    """I-IV-V-I in close position, a half note each, in a few keys."""
    out = []
    for i in range(n):
        t = (shift + 2 * i) % 7
        rows = []
        for chord in ((72, 67, 64, 48), (72, 65, 57, 53), (71, 67, 62, 55), (72, 67, 64, 48)):
            rows += [[p + t for p in chord]] * 8
        out.append(np.array(rows))
    return out


def test_a_tiny_run_trains_resumes_and_voices(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    run = tmp_path / "run"
    extra = train_chorale(run, _chorales(6), _chorales(2, 1), model_config=ChoraleConfig.tiny(),
                          train_config=ChoraleTrainConfig.tiny(), log=lambda _: None)
    assert extra["epochs"] == 2 and np.isfinite(extra["best_valid_nll"])
    assert (run / "best" / "config.json").is_file() and (run / "resume.pt").is_file()
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2] and rows[1]["train_nll"] < rows[0]["train_nll"]
    melody = [Note(8 * i, 8, p) for i, p in enumerate((72, 72, 71, 72))]
    voiced = harmonize_chorale(Piece(melody=melody), checkpoint=run / "best")[0]
    assert voiced.melody == melody and set(voiced.voices) == {"Alto", "Tenor", "Bass"}
    with pytest.raises(MelodyganError, match="already holds a run"):
        train_chorale(run, _chorales(6), [], model_config=ChoraleConfig.tiny(), train_config=ChoraleTrainConfig.tiny())
    more = ChoraleTrainConfig(**{**ChoraleTrainConfig.tiny().__dict__, "epochs": 3})
    again = train_chorale(run, _chorales(6), _chorales(2, 1), model_config=ChoraleConfig.tiny(), train_config=more,
                          resume=True, log=lambda _: None)
    assert again["epochs"] == 3 and len((run / "metrics.jsonl").read_text().splitlines()) == 3
    other = ChoraleTrainConfig(**{**more.__dict__, "lr": 1e-2})
    with pytest.raises(MelodyganError, match="other settings"):
        train_chorale(run, _chorales(6), [], model_config=ChoraleConfig.tiny(), train_config=other, resume=True)
    with pytest.raises(MelodyganError, match="no training chorales"):
        train_chorale(tmp_path / "empty", [], [], model_config=ChoraleConfig.tiny())


def test_the_nll_of_a_jsb_file_is_per_voice_step(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    run = tmp_path / "run"
    train_chorale(run, _chorales(6), _chorales(2, 1), model_config=ChoraleConfig.tiny(),
                  train_config=ChoraleTrainConfig.tiny(), log=lambda _: None)
    data = {s: [c.tolist() for c in _chorales(2, k)] for k, s in enumerate(("train", "valid", "test"))}
    path = tmp_path / "jsb.json"
    path.write_text(json.dumps(data))
    nll = jsb_nll(path, checkpoint=run / "best")
    assert set(nll) == {"valid", "test"}
    assert 0 < nll["valid"] < np.log(70)  # better than a uniform guess over the 70 tokens after training
    path.write_text(json.dumps({"train": [[[60, 55, 52]]], "valid": [], "test": []}))
    with pytest.raises(MelodyganError, match="4 MIDI pitches"):
        jsb_nll(path, checkpoint=run / "best")
