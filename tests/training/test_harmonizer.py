"""Harmonizer training on tiny synthetic tunes: a run folder, a usable checkpoint, resume, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from melodygan.chords import parse_chord_symbol
from melodygan.engines.harmonize import harmonize
from melodygan.errors import MelodyganError
from melodygan.keys import Key
from melodygan.models.harmonizer import HarmonizerConfig
from melodygan.notes import Note
from melodygan.piece import Piece, chords_from_changes
from melodygan.training.harmonizer import HarmonizerTrainConfig, train_harmonizer


def _tunes(n: int, tonic: int = 0) -> list[Piece]:
    """Arpeggios of I–IV–V–I, one bar each, in a few keys: the chord is plain from the notes."""
    out = []
    for i in range(n):
        t = (tonic + 5 * i) % 12
        notes, changes = [], []
        bars = [(0, (0, 4, 7, 4)), (5, (0, 4, 7, 4)), (7, (0, 4, 7, 10)), (0, (0, 4, 7, 0))]
        for bar, (root, shape) in enumerate(bars):
            notes += [Note(16 * bar + 4 * k, 4, 60 + (t + root + s) % 12) for k, s in enumerate(shape)]
            changes.append((16 * bar, parse_chord_symbol(["C", "F", "G7", "C"][bar]).transposed(t)))
        out.append(Piece(melody=notes, chords=chords_from_changes(changes, 64), key=Key(t, "major")))
    return out


def test_a_tiny_run_trains_resumes_and_harmonizes(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    run = tmp_path / "run"
    data = {"folk": _tunes(12)}
    extra = train_harmonizer(run, data, {"folk": _tunes(3, 2)}, model_config=HarmonizerConfig.tiny(),
                             train_config=HarmonizerTrainConfig.tiny(), log=lambda _: None)
    assert extra["epochs"] == 2 and set(extra["path_weights"]) == {"folk", "pop"}
    assert (run / "best" / "config.json").is_file() and (run / "resume.pt").is_file()
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 2
    out = harmonize(_tunes(1, 3)[0], checkpoint=run / "best", genre="folk")
    assert isinstance(out, Piece) and out.chords
    with pytest.raises(MelodyganError, match="already holds a run"):
        train_harmonizer(run, data, {}, model_config=HarmonizerConfig.tiny(), train_config=HarmonizerTrainConfig.tiny())
    more = HarmonizerTrainConfig(**{**HarmonizerTrainConfig.tiny().__dict__, "epochs": 3})
    again = train_harmonizer(run, data, {"folk": _tunes(3, 2)}, model_config=HarmonizerConfig.tiny(),
                             train_config=more, resume=True, log=lambda _: None)
    assert again["epochs"] == 3 and len((run / "metrics.jsonl").read_text().splitlines()) == 3
    other = HarmonizerTrainConfig(**{**more.__dict__, "lr": 1e-2})
    with pytest.raises(MelodyganError, match="other settings"):
        train_harmonizer(run, data, {}, model_config=HarmonizerConfig.tiny(), train_config=other, resume=True)
    with pytest.raises(MelodyganError, match="no training songs"):
        train_harmonizer(tmp_path / "empty", {}, {}, model_config=HarmonizerConfig.tiny())


def test_genre_classifier_tells_on_beat_tunes_from_syncopated_ones() -> None:
    from melodygan.engines.harmonize import guess_genre
    from melodygan.training.harmonizer import fit_genre_classifier

    folk = _tunes(10)
    pop = [p.replace(melody=[Note(n.start_steps + 2, 4, n.pitch) if i % 2 else n
                             for i, n in enumerate(p.melody)][:-1]) for p in _tunes(10, 1)]  # off-beat pushes
    model = fit_genre_classifier({"folk": folk, "pop": pop})
    assert len(model["coef"]) == 8
    assert [guess_genre(p, {"genre_classifier": model}) for p in (folk[0], pop[0])] == ["folk", "pop"]
    assert fit_genre_classifier({"folk": folk}) == {}  # one genre: nothing to tell apart
