"""generate(): keys, meters, chords, primers, seeds, engines and the CLI, on a tiny untrained checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from melodygan.checkpoints import save_checkpoint
from melodygan.chords import parse_chord_symbol
from melodygan.cli import main
from melodygan.engines.generate import generate, parse_progression
from melodygan.errors import MelodyganError
from melodygan.keys import Key
from melodygan.models.transformer import MODEL_TYPE, LeadSheetTransformer, TransformerConfig
from melodygan.notes import Note
from melodygan.piece import Piece


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    config = TransformerConfig(block_size=512, n_layer=1, n_head=2, n_embd=32, dropout=0.0)
    path = tmp_path_factory.mktemp("ck") / "ar"
    save_checkpoint(path, LeadSheetTransformer(config), config, MODEL_TYPE, {"key_counts": {"G": 3, "Em": 1}})
    return path


def test_clips_have_the_asked_bars_key_meter_and_scale(ckpt: Path) -> None:
    pieces = generate(num=3, bars=4, key="Bb", time_signature=(3, 4), tempo_bpm=90, seed=2, checkpoint=ckpt)
    assert len(pieces) == 3
    for p in pieces:
        assert p.key == Key(10, "major") and p.time_signature == (3, 4) and p.tempo_bpm == 90
        assert p.num_bars == 4 and p.end_steps == 48
        assert p.melody and all(n.pitch % 12 in Key(10, "major").scale for n in p.melody)
        assert p.chords and p.chords[0].start_steps == 0


def test_same_seed_same_clips(ckpt: Path) -> None:
    a = generate(num=2, bars=2, seed=7, checkpoint=ckpt)
    b = generate(num=2, bars=2, seed=7, checkpoint=ckpt)
    c = generate(num=2, bars=2, seed=8, checkpoint=ckpt)
    assert a == b and a != c
    assert all(p.key.name in ("G", "Em") for p in a + c)  # drawn from the checkpoint's keys


def test_given_chords_are_kept_and_cycled(ckpt: Path) -> None:
    (p,) = generate(bars=6, chords="C G Am F", seed=3, checkpoint=ckpt)
    assert [c.symbol() for c in p.chords] == ["C", "G", "Am", "F", "C", "G"]
    assert [c.start_steps for c in p.chords] == [0, 16, 32, 48, 64, 80]
    assert p.key == Key(0, "major")  # estimated from the chords


def test_progression_with_two_chords_in_a_bar() -> None:
    chords = parse_progression("C G | Am", bars=2, bar_steps=16, beat_steps=4)
    assert [(c.start_steps, c.symbol()) for c in chords] == [(0, "C"), (8, "G"), (16, "Am")]
    with pytest.raises(MelodyganError, match="H7"):
        parse_progression("C H7", 2, 16, 4)


def test_primer_is_continued(ckpt: Path) -> None:
    primer = Piece(melody=[Note(0, 4, 67), Note(4, 4, 69), Note(8, 8, 71)],
                   chords=[parse_chord_symbol("G", 0, 16)], key=Key(7, "major"))
    (p,) = generate(bars=2, primer=primer, seed=1, checkpoint=ckpt)
    assert p.num_bars == 3
    assert p.melody[:3] == primer.melody
    assert p.chords[0].symbol() == "G"


@pytest.mark.parametrize("kwargs, match", [
    ({"engine": "diffusion"}, "engine"), ({"bars": 0}, "bars"), ({"key": "H"}, "key"),
    ({"time_signature": (5, 8)}, "5/8"), ({"top_p": 1.5}, "top_p"),
])
def test_bad_arguments_are_user_errors(ckpt: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(MelodyganError, match=match):
        generate(checkpoint=ckpt, **kwargs)


def test_cli_same_seed_byte_identical_midi(ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["generate", "--bars", "4", "--num", "2", "--key", "G", "--meter", "6/8", "--seed", "5",
            "--checkpoint", str(ckpt)]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    for name in ("clip-001.mid", "clip-002.mid"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    from melodygan.formats.midi import midi_to_piece

    back = midi_to_piece(tmp_path / "a" / "clip-001.mid")
    assert {"Chords", "Bass"} <= set(back.voices) and back.time_signature == (6, 8)
    assert main([*args, "--out", str(tmp_path / "a")]) == 2  # exists, no --force
    assert "exists" in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "a"), "--force"]) == 0


def test_cli_bad_meter_exits_2(ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--meter", "four", "--checkpoint", str(ckpt), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "four" in err[0]
