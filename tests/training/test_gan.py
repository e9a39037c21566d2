"""GAN training: windows from pieces, transposed batches, a few-step run, resume, the CLI."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from melodygan.chords import Chord
from melodygan.cli import main
from melodygan.errors import MelodyganError
from melodygan.keys import Key
from melodygan.models.gan import GanConfig
from melodygan.notes import Note
from melodygan.piece import Piece
from melodygan.training.gan import (
    TrainGanConfig,
    make_batch,
    melody_stats,
    phrases_from_pieces,
    to_slot_grid,
    train_gan,
)

TINY = GanConfig.tiny()  # 12 pitches from C4, 2-bar phrases


def _tune(ts=(4, 4), bars=4, pickup=0, tonic=0) -> Piece:
    bar = 16 * ts[0] // ts[1]
    notes = [Note(pickup + i * 4, 4, 60 + tonic + (i % 3) * 2) for i in range(bars * bar // 4)]
    chords = [Chord((tonic + (7 if b % 2 else 0)) % 12, "maj", pickup + b * bar, bar) for b in range(bars)]
    if pickup:
        notes.insert(0, Note(0, pickup, 67 + tonic))
    return Piece(melody=notes, chords=chords, key=Key(tonic, "major"), time_signature=ts, pickup_steps=pickup)


def test_phrases_from_pieces_windows_pickup_and_meters():
    arrays, counts = phrases_from_pieces([_tune(bars=4, pickup=4), _tune((6, 8), bars=2), _tune((9, 8))], TINY, 1)
    assert counts == {"pieces_used": 2, "skipped_meter": 1, "skipped_short": 0, "windows": 4}
    assert arrays.pitch.shape == (4, 2, 16)
    # first window of the first tune starts at bar 1, after the 4-step pickup
    assert arrays.pitch[0, 0, :5].tolist() == [60, 60, 60, 60, 62]
    assert arrays.onset[0, 0, :5].tolist() == [True, False, False, False, True]
    assert arrays.chord_bits[0, 1, 0] == (1 << 7) | (1 << 11) | (1 << 2)  # G major in bar 2
    # 6/8: 12 real steps, padding after
    assert (arrays.pitch[3, :, 12:] == -1).all() and arrays.meter[3, 0].sum() == 12


def test_to_slot_grid_moves_notes_onto_8ths():
    # steps:  0  1  2  3  4  5  6  7  8  9
    pitch = np.array([60, 60, 60, 62, 64, 64, -1, 65, 67, 67], dtype=np.int16)  # dotted 8th C + 16th D, ...
    onset = np.array([1, 0, 0, 1, 1, 0, 0, 1, 1, 0], dtype=bool)  # ... 8th E, 16th rest, 16th F, 8th G
    p, o = to_slot_grid(pitch, onset, 2)
    assert p.tolist() == [60, 60, 60, 60, 64, 64, 65, 65, 67, 67]  # D (a 16th inside a slot) is dropped
    assert o.tolist() == [1, 0, 0, 0, 1, 0, 1, 0, 1, 0]  # F starts the slot its 16th-late onset fell in
    # a note struck on an odd step that runs into the next slot starts there; repeated pitches stay apart
    pitch = np.array([60, 62, 62, 62, 62, 62], dtype=np.int16)
    onset = np.array([1, 1, 0, 0, 1, 0], dtype=bool)
    p, o = to_slot_grid(pitch, onset, 2)
    assert p.tolist() == [60, 60, 62, 62, 62, 62] and o.tolist() == [1, 0, 1, 0, 1, 0]
    assert to_slot_grid(pitch, onset, 1)[0].tolist() == pitch.tolist()


def test_make_batch_transposes_melody_chords_and_key():
    arrays, _ = phrases_from_pieces([_tune(bars=2)], TINY, 1)
    roll, chords, key, _meter, folded = make_batch(arrays, np.array([0, 0]), np.array([0, 2]), TINY)
    assert roll.shape == (2, 2, 2, 16, 12) and chords.shape == (2, 2, 16, 12)
    assert roll[0, 0, 0, 0].argmax() == 0 and roll[1, 0, 0, 0].argmax() == 2  # C4 -> D4
    assert roll[1, 0, 1, :, 2].tolist()[:5] == [1, 0, 0, 0, 0]
    assert chords[1, 0, 0].nonzero().flatten().tolist() == [2, 6, 9]  # C major -> D major
    assert key[1, :12].argmax() == 2 and key[1, 12] == 0
    assert folded == 0
    _, _, _, _, folded = make_batch(arrays, np.array([0]), np.array([-3]), TINY)
    assert folded > 0  # C4 - 3 leaves the window and is folded up an octave


def test_melody_stats_exact():
    mel = [Note(0, 4, 60), Note(4, 2, 64), Note(6, 1, 61)]
    pcs = np.zeros((32, 12))
    pcs[:, [0, 4, 7]] = 1
    s = melody_stats([mel, mel], [pcs, pcs], [Key(0, "major")] * 2, [16, 16], 2)
    assert s["distinct"] == 0.5 and s["EB"] == 50.0 and s["UPC"] == 3.0
    assert s["QN"] == pytest.approx(100 / 3) and s["in_scale"] == pytest.approx(2 / 3)
    assert s["chord_tone"] == pytest.approx(2 / 3)


def _train(out, steps, resume=False):
    tcfg = TrainGanConfig(steps=steps, batch_size=4, log_every=2, sample_every=100, checkpoint_every=2,
                          monitor_size=4)
    pieces = [_tune(bars=4), _tune((3, 4), bars=4, tonic=2)]
    return train_gan(out, pieces, model_config=TINY, train_config=tcfg, resume=resume, log=lambda _: None)


def test_training_smoke_and_exact_resume(tmp_path):
    last = _train(tmp_path / "a", 4)
    assert last["step"] == 4 and np.isfinite(last["loss_d"])
    lines = [json.loads(x) for x in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [2, 4] and "distinct" in lines[0] and "pc_entropy" in lines[0]
    assert (tmp_path / "a" / "samples" / "step_000004.png").stat().st_size > 0
    state = torch.load(tmp_path / "a" / "resume.pt", weights_only=True)
    assert state["step"] == 4
    _train(tmp_path / "b", 2)
    _train(tmp_path / "b", 4, resume=True)
    wa = load_file(str(tmp_path / "a" / "model.safetensors"))
    wb = load_file(str(tmp_path / "b" / "model.safetensors"))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    with pytest.raises(MelodyganError, match="already holds"):
        _train(tmp_path / "a", 4)


def test_cli_train_gan_errors(tmp_path, capsys):
    assert main(["train", "gan", "--data", str(tmp_path / "nothing"), "--out", str(tmp_path / "run"),
                 "--resume"]) == 2
    assert "error" in capsys.readouterr().err
