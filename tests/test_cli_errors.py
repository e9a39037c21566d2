"""Every command, fed bad input, answers with exit code 2 and ONE line on stderr, no traceback;
batches are all-or-nothing; file-system refusals are one line too."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from melodygan.cli import main
from melodygan.errors import MelodyganError


def _bad_checkpoints(base: Path, good: Path) -> dict[str, Path]:
    """Tampered copies of a good transformer checkpoint, by what is wrong with them."""
    out = {}

    def variant(name: str) -> Path:
        p = base / name
        shutil.copytree(good, p)
        out[name] = p
        return p

    meta = json.loads((good / "config.json").read_text())
    p = variant("safetensors-truncated")
    data = (p / "model.safetensors").read_bytes()
    (p / "model.safetensors").write_bytes(data[: len(data) // 2])
    (variant("safetensors-garbage") / "model.safetensors").write_bytes(b"\x00\x01not safetensors" * 10)
    (variant("config-list") / "config.json").write_text("[1, 2, 3]")
    (variant("config-not-json") / "config.json").write_text("{model_type: ")
    for name, change in (("n_head-0", {"n_head": 0}), ("dropout-5", {"dropout": 5.0}),
                         ("n_embd-text", {"n_embd": "big"}), ("absurd-size", {"n_embd": 10**9, "n_head": 1}),
                         ("unknown-key", {"wings": 2})):
        (variant(name) / "config.json").write_text(json.dumps({**meta, "config": {**meta["config"], **change}}))
    (variant("other-model") / "config.json").write_text(json.dumps({**meta, "model_type": "gan-melody"}))
    weights = load_file(str(good / "model.safetensors"))
    first = sorted(weights)[0]
    for name, tensor in (("shape", torch.zeros(3, 3)), ("nan", torch.full_like(weights[first], float("nan")))):
        save_file({**weights, first: tensor}, str(variant(name) / "model.safetensors"))
    return out


def _run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as e:  # argparse's usage errors
        return int(e.code or 0)


def _one_line_error(capsys: pytest.CaptureFixture[str], code: int) -> str:
    err = capsys.readouterr().err
    assert code == 2, err
    lines = [ln for ln in err.splitlines() if ln.startswith("melodygan: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert not [ln for ln in err.splitlines() if ln and not ln.startswith("melodygan: ")], err
    return lines[0]


def test_bad_invocations_of_every_command(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          ar_checkpoint: Path) -> None:
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    text_mid = tmp_path / "text.mid"
    text_mid.write_text("this is not MIDI")
    empty = tmp_path / "empty.mid"
    empty.write_bytes(b"")
    c999 = tmp_path / "c999.abc"
    c999.write_text("X:1\nT:t\nM:4/4\nK:C\nC999|\n")
    ok_abc = tmp_path / "ok.abc"
    ok_abc.write_text("X:1\nT:t\nM:4/4\nL:1/8\nK:C\nCDEF GABc|c4 G4|]\n")
    bad = _bad_checkpoints(tmp_path / "ck", ar_checkpoint)
    broken_run = tmp_path / "broken-run"
    shutil.copytree(bad["config-not-json"], broken_run)
    table: list[list[str]] = [
        ["generate", "--out", str(tmp_path / "g"), "--meter", "4/x"],
        ["generate", "--out", str(tmp_path / "g"), "--bogus"],
        ["generate", "--out", str(a_file / "sub"), "--checkpoint", str(ar_checkpoint), "--bars", "1"],
        *[["generate", "--out", str(tmp_path / "g"), "--checkpoint", str(p)] for p in bad.values()],
        ["harmonize", str(tmp_path / "missing.mid")],
        ["harmonize", str(text_mid)],
        ["harmonize", str(empty)],
        ["harmonize", str(c999)],
        ["harmonize", str(ok_abc), "--num", "99"],
        ["harmonize", str(ok_abc), "--fix", "x:y"],
        ["harmonize", str(ok_abc), "--out", str(a_file / "x.mid")],
        ["render", str(text_mid), "--png"],
        ["render", str(tmp_path / "missing.mid"), "--wav"],
        ["preprocess", "nowhere:x", "--out", str(tmp_path / "p")],
        ["train", "ar", "--out", str(tmp_path / "t")],
        ["train", "ar", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "t")],
        ["train", "gan", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "t"), "--resume"],
        ["train", "harmonizer", "--out", str(tmp_path / "t")],
        ["train", "ar", "--data", str(tmp_path / "none"), "--out", str(broken_run), "--resume"],
        ["evaluate", "--engine", "nope", "--data", str(ok_abc), "--out", str(tmp_path / "e")],
        ["--limit", "nonsense", "tokens"],
        ["nocommand"],
    ]
    for argv in table:
        line = _one_line_error(capsys, _run(argv))
        assert len(line) < 400, (argv, line)
    line = _one_line_error(capsys, main(["generate", "--out", str(tmp_path / "g"), "--checkpoint",
                                         str(bad["shape"])]))
    assert "[3, 3]" in line and "tensor" in line  # names the tensor and both shapes
    assert "NaN" in _one_line_error(capsys, main(["generate", "--out", str(tmp_path / "g"), "--checkpoint",
                                                  str(bad["nan"])]))


def test_a_pickled_or_truncated_resume_state_is_refused_without_running_it(tmp_path: Path) -> None:
    import pickle

    from melodygan.checkpoints import load_resume_state

    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self) -> tuple:
            return (open, (str(marker), "w"))

    (tmp_path / "resume.pt").write_bytes(pickle.dumps(Payload()))
    with pytest.raises(MelodyganError, match="not a resume state") as info:
        load_resume_state(tmp_path / "resume.pt")
    assert "\n" not in str(info.value) and not marker.exists()
    torch.save({"step": 3}, tmp_path / "ok.pt")
    (tmp_path / "cut.pt").write_bytes((tmp_path / "ok.pt").read_bytes()[:40])
    with pytest.raises(MelodyganError, match="not a resume state"):
        load_resume_state(tmp_path / "cut.pt")
    with pytest.raises(MelodyganError, match="lacks optimizer"):
        load_resume_state(tmp_path / "ok.pt", ("step", "optimizer"))


def test_generate_batch_is_all_or_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          ar_checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "g"
    out.mkdir()
    (out / "clip-002.png").write_text("old")
    argv = ["generate", "--num", "3", "--png", "--bars", "1", "--out", str(out), "--checkpoint", str(ar_checkpoint)]
    assert "clip-002.png exists" in _one_line_error(capsys, main(argv))
    assert sorted(p.name for p in out.iterdir()) == ["clip-002.png"]  # refused before any work

    import melodygan.cli as cli

    real, calls = cli._export, []

    def failing(piece: object, path: Path, args: object, *rest: object) -> list[Path]:
        calls.append(path)
        if len(calls) == 2:
            raise MelodyganError("cannot write clip 2: No space left on device")
        return real(piece, path, args, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(cli, "_export", failing)
    assert "No space left" in _one_line_error(capsys, main([*argv, "--force"]))
    assert sorted(p.name for p in out.iterdir()) == ["clip-002.png"] and (out / "clip-002.png").read_text() == "old"
    monkeypatch.setattr(cli, "_export", real)
    assert main([*argv, "--force"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [f"clip-00{i}.{s}" for i in (1, 2, 3) for s in ("mid", "png")]


def test_file_system_refusals_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import tempfile

    from melodygan.files import atomic_output

    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(MelodyganError, match=r"part of the path is a file|in the way"), \
            atomic_output(a_file / "sub" / "x.mid"):
        pass

    def refuse(*a: object, **k: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(MelodyganError, match="Read-only file system"), atomic_output(tmp_path / "x.mid"):
        pass
    monkeypatch.undo()
    with pytest.raises(MelodyganError, match="No space left on device"), atomic_output(tmp_path / "y.mid") as tmp:
        tmp.write_text("half")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
