"""harmonize on a real-world MIDI file: every other track and the whole tempo map kept, the melody
at the same seconds as in the input (read back with pretty_midi and mido)."""

from __future__ import annotations

from pathlib import Path

import mido
import numpy as np
import pretty_midi
import pytest

from melodygan.cli import main

TPB = 96


def multitrack(path: Path) -> Path:
    """Four bars of 4/4, three tempos (120, then 90 from bar 2, 140 from bar 4), a melody, a piano
    with a sustain pedal, drums; the conductor holds the tempo map."""
    mid = mido.MidiFile(type=1, ticks_per_beat=TPB)
    conductor = mido.MidiTrack([
        mido.MetaMessage("track_name", name="Song"),
        mido.MetaMessage("time_signature", numerator=4, denominator=4),
        mido.MetaMessage("set_tempo", tempo=500000),
        mido.MetaMessage("set_tempo", tempo=666667, time=4 * TPB),
        mido.MetaMessage("set_tempo", tempo=428571, time=8 * TPB),
    ])
    melody = mido.MidiTrack([mido.MetaMessage("track_name", name="Lead vocal"),
                             mido.Message("program_change", channel=0, program=53)])
    for p in [67, 69, 71, 72, 74, 72, 71, 69, 67, 66, 67, 71, 74, 72, 71, 67]:  # quarter notes
        melody.append(mido.Message("note_on", channel=0, note=p, velocity=90, time=0))
        melody.append(mido.Message("note_off", channel=0, note=p, time=TPB))
    piano = mido.MidiTrack([mido.MetaMessage("track_name", name="Piano"),
                            mido.Message("control_change", channel=1, control=64, value=127)])
    for chord in [(55, 59, 62), (48, 52, 55), (50, 54, 57), (55, 59, 62)]:  # whole notes
        for p in chord:
            piano.append(mido.Message("note_on", channel=1, note=p, velocity=60, time=0))
        for i, p in enumerate(chord):
            piano.append(mido.Message("note_off", channel=1, note=p, time=4 * TPB if i == 0 else 0))
    drums = mido.MidiTrack([mido.MetaMessage("track_name", name="Drums")])
    for k in range(16):
        drums.append(mido.Message("note_on", channel=9, note=36 if k % 2 == 0 else 38, velocity=100, time=0))
        drums.append(mido.Message("note_off", channel=9, note=36 if k % 2 == 0 else 38, time=TPB))
    mid.tracks += [conductor, melody, piano, drums]
    mid.save(str(path))
    return path


def _melody_seconds(path: Path, name: str) -> list[tuple[float, float, int]]:
    (inst,) = [i for i in pretty_midi.PrettyMIDI(str(path)).instruments if i.name == name]
    return [(n.start, n.end, n.pitch) for n in inst.notes]


def _tempo_map(path: Path) -> tuple[list[float], list[float]]:
    times, tempi = pretty_midi.PrettyMIDI(str(path)).get_tempo_changes()
    return list(np.round(times, 9)), list(np.round(tempi, 6))


def test_the_input_tracks_and_tempo_map_stay_and_the_new_parts_are_added(tmp_path: Path,
                                                                         harmonizer_checkpoint: Path) -> None:
    src = multitrack(tmp_path / "song.mid")
    out = tmp_path / "song-harmonized.mid"
    assert main(["harmonize", str(src), "--checkpoint", str(harmonizer_checkpoint), "--out", str(out),
                 "--melody-track", "Lead vocal"]) == 0
    before, after = mido.MidiFile(str(src)), mido.MidiFile(str(out))
    assert after.ticks_per_beat == TPB
    end = max(sum(m.time for m in t) for t in after.tracks)
    for a, b in zip(before.tracks, after.tracks):  # every input track, event for event, ending on the bar line
        assert [m.copy() for m in a[:-1]] == [m.copy() for m in b[:-1]] and b[-1].type == "end_of_track"
        assert sum(m.time for m in b) == end
    new = after.tracks[len(before.tracks):]
    assert [next(m.name for m in t if m.type == "track_name") for t in new] == ["Chords", "Bass"]
    taken = {m.channel for t in before.tracks for m in t if hasattr(m, "channel")}
    assert not taken & {m.channel for t in new for m in t if hasattr(m, "channel")}  # on free channels
    assert any(m.type == "marker" for m in new[0]) and any(m.type == "text" for m in new[0])
    assert _melody_seconds(out, "Lead vocal") == _melody_seconds(src, "Lead vocal")
    assert _tempo_map(out) == _tempo_map(src) and len(_tempo_map(out)[0]) == 3
    pm = pretty_midi.PrettyMIDI(str(out))
    assert {i.name for i in pm.instruments} == {"Lead vocal", "Piano", "Drums", "Chords", "Bass"}
    chords = next(i for i in pm.instruments if i.name == "Chords")
    assert chords.notes and max(n.end for n in chords.notes) == pytest.approx(pm.get_end_time(), abs=0.01)


def test_melody_only_keeps_the_tempo_map_so_the_melody_does_not_drift(tmp_path: Path,
                                                                      harmonizer_checkpoint: Path) -> None:
    src = multitrack(tmp_path / "song.mid")
    out = tmp_path / "lead.mid"
    assert main(["harmonize", str(src), "--checkpoint", str(harmonizer_checkpoint), "--out", str(out),
                 "--melody-track", "Lead vocal", "--melody-only"]) == 0
    pm = pretty_midi.PrettyMIDI(str(out))
    assert [i.name for i in pm.instruments] == ["Lead vocal", "Chords", "Bass"]
    assert _tempo_map(out) == _tempo_map(src)
    got, want = _melody_seconds(out, "Lead vocal"), _melody_seconds(src, "Lead vocal")
    assert len(got) == len(want) and np.abs(np.array(got) - np.array(want)).max() < 1e-6


def test_a_clip_that_was_arranged_gets_the_new_arrangement_instead_of_two(tmp_path: Path,
                                                                          harmonizer_checkpoint: Path) -> None:
    from melodygan.chords import parse_chord_symbol
    from melodygan.engines.arrange import arrange
    from melodygan.formats.midi import write_midi
    from melodygan.notes import Note
    from melodygan.piece import Piece, chords_from_changes

    tune = Piece(melody=[Note(4 * i, 4, p) for i, p in enumerate([67, 71, 74, 71, 72, 69, 66, 67])],
                 chords=chords_from_changes([(0, parse_chord_symbol("G")), (16, parse_chord_symbol("C"))], 32))
    src = write_midi(arrange(tune, "block", "root"), tmp_path / "clip.mid")
    out = tmp_path / "new.mid"
    assert main(["harmonize", str(src), "--checkpoint", str(harmonizer_checkpoint), "--out", str(out)]) == 0
    names = [next(m.name for m in t if m.type == "track_name") for t in mido.MidiFile(str(out)).tracks]
    assert names[1:] == ["Melody", "Chords", "Bass"]
    after = mido.MidiFile(str(out))
    assert list(after.tracks[1]) == list(mido.MidiFile(str(src)).tracks[1])  # the tune, untouched
    lanes = [[m.type for m in t if m.type in ("marker", "text")] for t in after.tracks]
    assert lanes[0] == [] and lanes[2] and not any(lanes[1:2] + lanes[3:])  # only the new chords remain
    kept = [m for m in after.tracks[0] if m.type not in ("marker", "text")]
    assert [m.type for m in kept] == [m.type for m in mido.MidiFile(str(src)).tracks[0]
                                      if m.type not in ("marker", "text")]
