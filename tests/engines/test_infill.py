"""Infill and variations: the bars asked for are new, everything else is kept exactly."""

from __future__ import annotations

from pathlib import Path

import mido
import pytest

from melodygan.chords import parse_chord_symbol
from melodygan.cli import main
from melodygan.engines.infill import infill, keep_voices_outside, parse_bars, vary, vary_gaps
from melodygan.errors import MelodyganError
from melodygan.keys import Key
from melodygan.notes import Note
from melodygan.piece import Piece, chords_from_changes

BAR = 16


def _sheet() -> Piece:
    pitches = [67, 69, 71, 72, 74, 72, 71, 69]
    melody = [Note(b * BAR + q * 4, 4, pitches[(b + q) % 8]) for b in range(8) for q in range(4)]
    symbols = ["G", "C", "D7", "G", "Em", "C", "D7", "G"]
    chords = chords_from_changes([(b * BAR, parse_chord_symbol(s)) for b, s in enumerate(symbols)], 8 * BAR)
    return Piece(melody=melody, chords=chords, key=Key(7, "major"), title="test sheet")


def _outside(notes: list[Note], lo: int, hi: int) -> list[Note]:
    return [n for n in notes if n.end_steps <= lo or n.start_steps >= hi]


def test_melody_infill_keeps_the_chords_and_every_note_outside_the_gap(ar_checkpoint: Path) -> None:
    sheet = _sheet()
    out = infill(sheet, (3, 4), "melody", num=3, seed=2, checkpoint=ar_checkpoint)
    assert len(out) == 3 and len({tuple(p.melody) for p in out}) == 3
    for p in out:
        assert p.chords == sheet.chords and p.key == sheet.key
        assert _outside(p.melody, 32, 64) == _outside(sheet.melody, 32, 64)
        assert all(32 <= n.start_steps < 64 for n in p.melody if n not in sheet.melody)
        assert max(n.end_steps for n in p.melody if 32 <= n.start_steps < 64) <= 64


def test_chord_infill_keeps_the_melody_and_the_chords_around(ar_checkpoint: Path) -> None:
    sheet = _sheet()
    p = infill(sheet, (5, 6), "chords", seed=3, checkpoint=ar_checkpoint)[0]
    assert p.melody == sheet.melody
    around = [(c.start_steps, c.symbol()) for c in p.chords if c.end_steps <= 64 or c.start_steps >= 96]
    assert around == [(c.start_steps, c.symbol()) for c in sheet.chords if c.end_steps <= 64 or c.start_steps >= 96]
    assert any(c.start_steps == 64 for c in p.chords)  # the gap opens with a chord of its own


def test_variations_rewrite_the_answering_bars_first(ar_checkpoint: Path) -> None:
    assert vary_gaps(8, 0.5) == [(3, 4), (7, 8)]
    assert vary_gaps(8, 1.0) == [(1, 2), (3, 4), (5, 6), (7, 8)]
    sheet = _sheet()
    a, b = vary(sheet, num=2, seed=1, amount=0.5, checkpoint=ar_checkpoint)
    for p in (a, b):
        assert p.chords == sheet.chords
        assert [n for n in p.melody if n.start_steps < 32] == [n for n in sheet.melody if n.start_steps < 32]
    assert a.melody != b.melody


@pytest.mark.parametrize(("call", "match"), [
    (lambda s, c: infill(s, (9, 9), checkpoint=c), "outside"),
    (lambda s, c: infill(s, (2, 3), "drums", checkpoint=c), "part"),
    (lambda s, c: infill(s, (2, 3), num=40, checkpoint=c), "num"),
    (lambda s, c: infill(s.replace(chords=[]), (2, 3), "melody", checkpoint=c), "no chords"),
    (lambda s, c: parse_bars("6-5"), "range"),
    (lambda s, c: vary_gaps(8, 0.0), "amount"),
])
def test_bad_requests_are_user_errors(ar_checkpoint: Path, call, match: str) -> None:
    with pytest.raises(MelodyganError, match=match):
        call(_sheet(), ar_checkpoint)


def test_keep_voices_outside_takes_the_new_arrangement_only_in_the_gap() -> None:
    old = _sheet().replace(voices={"Bass": [Note(b * BAR, BAR, 43) for b in range(8)]})
    new = old.replace(voices={"Bass": [Note(b * BAR, BAR, 36) for b in range(8)]})
    bass = keep_voices_outside(old, new, [(3, 4)]).voices["Bass"]
    assert [n.pitch for n in bass] == [43, 43, 36, 36, 43, 43, 43, 43]


def _events(path: Path) -> list[list[tuple[int, str]]]:
    """Per track: (absolute tick, message) of every event."""
    out = []
    for track in mido.MidiFile(str(path)).tracks:
        tick, rows = 0, []
        for msg in track:
            tick += msg.time
            rows.append((tick, str(msg.copy(time=0))))
        out.append(rows)
    return out


def _notes_outside(events: list[tuple[int, str]], lo: int, hi: int) -> list[tuple[int, int, str]]:
    """(start, end, note-on text) of the notes that start outside ``[lo, hi)``, paired by pitch; one
    sounding into the gap counts up to the gap (infill ends it there)."""
    open_: dict[str, tuple[int, str]] = {}
    notes = []
    for tick, text in events:
        if text.startswith(("note_on", "note_off")):
            pitch = text.split("note=")[1].split()[0]
            if text.startswith("note_on") and "velocity=0" not in text:
                open_[pitch] = (tick, text)
            elif pitch in open_:
                start, on = open_.pop(pitch)
                notes.append((start, tick, on))
    return [(a, min(b, lo) if a < lo else b, on) for a, b, on in notes if not lo <= a < hi]


def test_cli_infill_changes_only_the_melody_events_inside_the_gap(ar_checkpoint: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    clip = tmp_path / "clip-001.mid"
    args = ["generate", "--bars", "8", "--key", "D", "--seed", "3", "--checkpoint", str(ar_checkpoint),
            "--out", str(tmp_path)]
    assert main(args) == 0
    out = tmp_path / "new.mid"
    assert main(["infill", str(clip), "--bars", "3-4", "--checkpoint", str(ar_checkpoint), "--out", str(out)]) == 0
    before, after = _events(clip), _events(out)
    assert len(before) == len(after)
    names = [next(m for _, m in t if "track_name" in m) for t in before]
    lo, hi = 2 * 4 * 480, 4 * 4 * 480  # bars 3-4 in ticks
    for name, a, b in zip(names, before, after):
        if "Melody" in name:
            # every note starting outside the gap, and every other event outside it: as they were
            assert _notes_outside(a, lo, hi) == _notes_outside(b, lo, hi)
            assert [e for e in a if "note" not in e[1] and not lo <= e[0] < hi] == [
                e for e in b if "note" not in e[1] and not lo <= e[0] < hi]
            assert [e for e in a if lo <= e[0] < hi] != [e for e in b if lo <= e[0] < hi]
        else:
            assert a == b, name  # conductor (tempo, meter, key, chord markers), chords, bass
    capsys.readouterr()
    assert main(["infill", str(clip), "--bars", "3-4", "--checkpoint", str(ar_checkpoint),
                 "--out", str(out)]) == 2  # exists
    assert main(["infill", str(clip), "--bars", "x", "--out", str(tmp_path / "x.mid")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "exists" in err[0] and "bar" in err[1]
