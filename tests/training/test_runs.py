"""Run folders: a kill at any point of a save, then --resume, ends with the weights of an unbroken
run; one training per folder; a finished run is not replaced silently; non-finite steps are skipped."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from melodygan.checkpoints import CRASH_ENV, SimulatedCrash, TrainingRun, _crash_counts
from melodygan.chords import parse_chord_symbol
from melodygan.errors import MelodyganError
from melodygan.keys import Key
from melodygan.models.transformer import TransformerConfig
from melodygan.notes import Note
from melodygan.piece import Piece
from melodygan.training.ar import TrainConfig, train

MODEL = TransformerConfig(block_size=64, n_layer=1, n_head=2, n_embd=16, dropout=0.1)  # dropout: RNG matters
CONFIG = TrainConfig(steps=6, batch_size=2, window_tokens=48, warmup_steps=1, eval_every=2, log_every=2,
                     eval_pieces=1)


def _pieces() -> list[Piece]:
    out = []
    for i in range(3):
        melody = [Note(4 * j, 4, 60 + (j * (i + 2)) % 12) for j in range(16)]
        chords = [parse_chord_symbol(["C", "F", "G7", "C"][b % 4], 16 * b, 16) for b in range(4)]
        out.append(Piece(melody=melody, chords=chords, key=Key(0, "major")))
    return out


def _train(out: Path, config: TrainConfig = CONFIG, **kw: object) -> dict:
    pieces = _pieces()
    return train(pieces[:2], pieces[2:], out, config, MODEL, progress=False, **kw)  # type: ignore[arg-type]


def _weights(out: Path) -> dict[str, torch.Tensor]:
    return load_file(str(out / "model.safetensors"))


@pytest.fixture(scope="module")
def unbroken(tmp_path_factory: pytest.TempPathFactory) -> dict[str, torch.Tensor]:
    out = tmp_path_factory.mktemp("unbroken") / "run"
    _train(out)
    return _weights(out)


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("point", ["partial:1", "written:1", "renamed:2", "switched:2", "partial:3"])
def test_a_crash_inside_a_save_then_resume_gives_the_unbroken_weights(
        point: str, tmp_path: Path, unbroken: dict[str, torch.Tensor], monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "run"
    monkeypatch.setenv(CRASH_ENV, point)
    _crash_counts.clear()
    with pytest.raises(SimulatedCrash):
        _train(out)
    monkeypatch.delenv(CRASH_ENV)
    leftovers = [p.name for p in (out / ".steps").iterdir()] if (out / ".steps").exists() else []
    assert point.startswith(("switched", "renamed")) or any(n.endswith(".tmp") for n in leftovers)
    with pytest.warns(UserWarning) if point.endswith(":1") else _no_warning():
        result = _train(out, resume=True)
    assert result["step"] == 6
    assert _same(_weights(out), unbroken)
    assert [p.name for p in (out / ".steps").iterdir()] == [os.readlink(out / "current").split("/")[-1]]
    assert not list(out.glob(".*tmp*"))
    steps = [int(line.split('"step": ')[1].split(",")[0]) for line in (out / "metrics.jsonl").read_text().split("\n")
             if line.strip()]
    assert steps == sorted(steps)  # lines of the lost steps were dropped, not repeated


class _no_warning:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *a: object) -> None:
        return None


def test_sigkill_during_the_first_save(tmp_path: Path, unbroken: dict[str, torch.Tensor]) -> None:
    """A real SIGKILL (no cleanup code runs) half-way through writing the first checkpoint."""
    out = tmp_path / "run"
    code = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})
        import torch; torch.set_num_threads(1)
        from test_runs import _train
        from pathlib import Path
        _train(Path({str(out)!r}))
    """)
    env = dict(os.environ, **{CRASH_ENV: "kill:partial:1"})
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    assert not (out / "current").exists() and any((out / ".steps").iterdir())  # a half-written unit
    with pytest.warns(UserWarning, match="starting again from step 0"):
        _train(out, resume=True)
    assert _same(_weights(out), unbroken)


def test_a_finished_run_is_refused_then_extended_or_replaced(tmp_path: Path) -> None:
    out = tmp_path / "run"
    _train(out)
    with pytest.raises(MelodyganError, match="already holds a run; pass --resume"):
        _train(out)
    longer = TrainConfig(**{**CONFIG.__dict__, "steps": 8})
    assert _train(out, longer, resume=True)["step"] == 8
    assert _train(out, force=True)["step"] == 6
    with pytest.raises(MelodyganError, match="nothing to resume"):
        _train(tmp_path / "empty", resume=True)


def test_one_training_per_folder(tmp_path: Path) -> None:
    with TrainingRun(tmp_path / "run"), pytest.raises(MelodyganError, match=f"pid {os.getpid()}"):
        TrainingRun(tmp_path / "run").__enter__()
    with TrainingRun(tmp_path / "run", resume=False):  # released: the next one gets in
        pass


def test_non_finite_steps_are_skipped_then_the_run_stops(tmp_path: Path) -> None:
    huge = TrainConfig(**{**CONFIG.__dict__, "lr": 1e30, "steps": 40, "eval_every": 40})
    with pytest.warns(UserWarning, match="non-finite"), pytest.raises(MelodyganError, match=r"in a row|NaN"):
        _train(tmp_path / "run", huge)
    assert not (tmp_path / "run" / "best").exists()  # nothing non-finite was ever saved


def test_a_run_folder_of_the_old_layout_resumes(tmp_path: Path, unbroken: dict[str, torch.Tensor],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Plain files in the run folder (no .steps/current): resumed, then turned into the new layout."""
    import shutil

    out = tmp_path / "run"
    monkeypatch.setenv(CRASH_ENV, "written:3")  # stop before the last save: the step-4 checkpoint is current
    _crash_counts.clear()
    with pytest.raises(SimulatedCrash):
        _train(out)
    monkeypatch.delenv(CRASH_ENV)
    shutil.rmtree(next(p for p in (out / ".steps").iterdir() if p.name.endswith(".tmp")))
    for link in [p for p in out.iterdir() if p.is_symlink() and p.name != "current"]:
        target = link.resolve()
        link.unlink()
        (shutil.copytree if target.is_dir() else shutil.copy2)(target, link)
    (out / "current").unlink()
    shutil.rmtree(out / ".steps")
    _train(out, resume=True)
    assert (out / "current").is_symlink() and (out / "best").is_symlink()
    assert _same(_weights(out), unbroken)
