"""Humanize: seeded, inside the bar lines, the same length, nothing for amount 0, deviations that
follow the meter and the instrument; end to end through the MIDI file and the command line."""

from __future__ import annotations

from pathlib import Path

import mido
import numpy as np
import pretty_midi
import pytest

import melodygan
from melodygan.chords import parse_chord_symbol
from melodygan.cli import main
from melodygan.engines.arrange import arrange
from melodygan.errors import MelodyganError
from melodygan.formats.export import export_piece
from melodygan.notes import Note
from melodygan.performance import TICKS_PER_QUARTER, humanize
from melodygan.piece import Piece, add_dynamics, chords_from_changes


def clip(bars: int = 8, pickup: int = 4) -> Piece:
    """A 4/4 lead sheet with a pickup, eighths and quarters on and off the beat, chords and bass."""
    symbols = ["C", "F", "G7", "C"]
    chords = chords_from_changes([(pickup + 16 * b, parse_chord_symbol(symbols[b % 4])) for b in range(bars)],
                                 pickup + 16 * bars)
    melody, t = [Note(0, 4, 67)], pickup
    pattern = [4, 2, 2, 4, 4, 2, 2, 2, 2, 8]
    while t < pickup + 16 * bars:
        for d in pattern:
            if t + d > pickup + 16 * bars:
                break
            melody.append(Note(t, d, 60 + (t * 7) % 12 + 12))
            t += d
        else:
            continue
        break
    return add_dynamics(arrange(Piece(melody=melody, chords=chords, tempo_bpm=100.0, pickup_steps=pickup),
                                "block", "root"))


def _bar(piece: Piece, step: int) -> int:
    return -1 if step < piece.pickup_steps else (step - piece.pickup_steps) // piece.bar_steps


def test_same_seed_same_performance_and_amount_zero_is_the_piece() -> None:
    piece = clip()
    assert humanize(piece, 0.7, seed=3) == humanize(piece, 0.7, seed=3)
    assert humanize(piece, 0.7, seed=3) != humanize(piece, 0.7, seed=4)
    assert humanize(piece, 0.0, seed=3) is piece
    assert melodygan.humanize is humanize
    with pytest.raises(MelodyganError, match=r"outside 0\.\.1"):
        humanize(piece, 1.5)


@pytest.mark.parametrize("amount", [0.3, 1.0])
def test_no_note_leaves_its_bar_and_the_length_is_unchanged(amount: float) -> None:
    piece = clip()
    played = humanize(piece, amount, seed=11)
    scale = TICKS_PER_QUARTER // piece.steps_per_quarter
    assert played.steps_per_quarter == TICKS_PER_QUARTER and played.end_steps == piece.end_steps * scale
    assert played.pickup_steps == piece.pickup_steps * scale
    assert [c.start_steps for c in played.chords] == [c.start_steps * scale for c in piece.chords]
    moved = 0
    for name, notes in piece.tracks().items():
        after = played.tracks()[name]
        assert len(after) == len(notes)
        before = sorted(notes, key=lambda n: (n.start_steps, n.pitch))
        for old, new in zip(before, sorted(after, key=lambda n: (n.start_steps // scale, n.pitch))):
            assert new.pitch == old.pitch
            assert _bar(played, new.start_steps) == _bar(piece, old.start_steps), (name, old, new)
            bar_line = piece.pickup_steps + (_bar(piece, old.start_steps) + 1) * piece.bar_steps
            if old.end_steps <= bar_line:
                assert new.end_steps <= bar_line * scale  # a note that stopped by the bar line still does
            assert new.end_steps <= played.end_steps and new.duration_steps >= 1
            moved += new.start_steps != old.start_steps * scale
    assert moved > 20


def test_deviations_follow_the_instrument_and_the_meter() -> None:
    piece = clip(bars=32)
    played = humanize(piece, 1.0, seed=5)
    scale = TICKS_PER_QUARTER // piece.steps_per_quarter

    def spread(name: str) -> float:
        pairs = zip(sorted(piece.tracks()[name]), sorted(played.tracks()[name], key=lambda n: (n.start_steps // scale,
                                                                                               n.pitch)))
        return float(np.mean([abs(b.start_steps - a.start_steps * scale) for a, b in pairs]))

    assert spread("Bass") < spread("Melody")  # the bass holds the time, the tune is freest
    lift = {"downbeat": [], "offbeat": []}
    for old, new in zip(sorted(piece.melody), played.melody):
        pos = (old.start_steps - piece.pickup_steps) % piece.bar_steps
        if pos == 0:
            lift["downbeat"].append(new.velocity - old.velocity)
        elif pos % 2 == 0 and pos % 4:
            lift["offbeat"].append(new.velocity - old.velocity)
    assert np.mean(lift["downbeat"]) > np.mean(lift["offbeat"]) + 4  # downbeats accented, off-beats lighter
    by_onset: dict[int, list[Note]] = {}  # each played chord note by its onset on the 16th grid
    for n in played.voices["Chords"]:
        by_onset.setdefault(round(n.start_steps / scale), []).append(n)
    assert sorted(by_onset) == sorted({n.start_steps for n in piece.voices["Chords"]})
    for group in by_onset.values():
        starts = [n.start_steps for n in sorted(group, key=lambda n: n.pitch)]
        assert starts == sorted(starts) and starts[-1] > starts[0]  # every chord slightly rolled, lowest first
        assert starts[-1] - starts[0] < 30 * TICKS_PER_QUARTER * piece.tempo_bpm / 60000  # by under 30 ms


def test_the_midi_file_keeps_its_end_and_only_amount_zero_keeps_its_bytes(tmp_path: Path) -> None:
    piece = clip()
    plain = export_piece(piece, tmp_path / "a.mid")[0]
    same = export_piece(piece, tmp_path / "b.mid", humanize=0.0, seed=9)[0]
    played = export_piece(piece, tmp_path / "c.mid", humanize=0.6, seed=9)[0]
    assert plain.read_bytes() == same.read_bytes() != played.read_bytes()

    def ends(path: Path) -> list[int]:
        return [sum(m.time for m in t) for t in mido.MidiFile(str(path)).tracks]

    assert ends(played) == ends(plain)  # every track ends on the same bar line: a loop stays a loop
    a, c = pretty_midi.PrettyMIDI(str(plain)), pretty_midi.PrettyMIDI(str(played))
    assert a.get_end_time() == pytest.approx(c.get_end_time())
    assert [len(i.notes) for i in a.instruments] == [len(i.notes) for i in c.instruments]


def test_the_commands_humanize_from_the_seed(tmp_path: Path, ar_checkpoint: Path) -> None:
    base = ["generate", "--bars", "2", "--num", "2", "--checkpoint", str(ar_checkpoint), "--seed", "4"]
    for name, extra in (("plain", []), ("zero", ["--humanize", "0"]), ("a", ["--humanize", "0.5"]),
                        ("b", ["--humanize", "0.5"])):
        assert main([*base, *extra, "--out", str(tmp_path / name)]) == 0
    read = {name: [(tmp_path / name / f"clip-00{i}.mid").read_bytes() for i in (1, 2)]
            for name in ("plain", "zero", "a", "b")}
    assert read["plain"] == read["zero"] and read["a"] == read["b"] and read["a"] != read["plain"]
    assert read["a"][0] != read["a"][1]
    with pytest.raises(SystemExit):
        main([*base, "--humanize", "2", "--out", str(tmp_path / "x")])
    assert not (tmp_path / "x").exists()
