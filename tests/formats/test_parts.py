"""One MIDI file per part, parts laid over a user's own file, and the chord-symbol text lane,
all read back with mido and pretty_midi."""

from __future__ import annotations

from pathlib import Path

import mido
import pretty_midi
import pytest

from melodygan.chords import parse_chord_symbol
from melodygan.cli import main
from melodygan.engines.arrange import arrange
from melodygan.errors import MelodyganError
from melodygan.formats.export import export_piece
from melodygan.formats.musicxml import piece_to_score
from melodygan.formats.parts import lay_over, split_parts
from melodygan.keys import Key
from melodygan.notes import Note
from melodygan.piece import Piece, chords_from_changes


def band() -> Piece:
    """Two bars of 3/4 in D with a pickup: melody, chords, bass."""
    chords = chords_from_changes([(4, parse_chord_symbol("D")), (16, parse_chord_symbol("A7"))], 28)
    melody = [Note(0, 4, 69), *[Note(4 + 4 * i, 4, p) for i, p in enumerate([74, 73, 71, 69, 76, 74])]]
    return arrange(Piece(melody=melody, chords=chords, key=Key(2, "major"), time_signature=(3, 4), tempo_bpm=96.0,
                         pickup_steps=4, title="split"), "waltz", "root")


def _events(track: mido.MidiTrack) -> list[tuple[int, mido.Message]]:
    out, tick = [], 0
    for msg in track:
        tick += msg.time
        out.append((tick, msg))
    return out


def _notes(pm: pretty_midi.PrettyMIDI, name: str) -> list[tuple[float, float, int, int]]:
    (inst,) = [i for i in pm.instruments if i.name == name]
    return [(n.start, n.end, n.pitch, n.velocity) for n in inst.notes]


def test_every_part_becomes_its_own_file_with_the_song_timing(tmp_path: Path) -> None:
    written = export_piece(band(), tmp_path / "s.mid", split_tracks=True)
    assert [p.name for p in written] == ["s.mid", "s-Melody.mid", "s-Chords.mid", "s-Bass.mid"]
    whole = mido.MidiFile(str(written[0]))
    end = max(t for t, _ in _events(whole.tracks[0]))
    full = pretty_midi.PrettyMIDI(str(written[0]))
    for path, name in zip(written[1:], ("Melody", "Chords", "Bass")):
        part = mido.MidiFile(str(path))
        assert part.type == 1 and len(part.tracks) == 1 and part.ticks_per_beat == whole.ticks_per_beat
        events = _events(part.tracks[0])
        assert events[0][1].type == "track_name" and events[0][1].name == name
        kinds = [m.type for _, m in events]
        for meta in ("set_tempo", "time_signature", "key_signature", "marker", "text"):
            assert meta in kinds, (name, meta)
        assert [(t, m.numerator, m.denominator) for t, m in events if m.type == "time_signature"] == [
            (0, 1, 4), (480, 3, 4)]  # the pickup bar, then 3/4
        assert [m.key for _, m in events if m.type == "key_signature"] == ["D"]
        assert events[-1][0] == end and events[-1][1].type == "end_of_track"  # ends on the final bar line
        own = pretty_midi.PrettyMIDI(str(path))
        assert [i.name for i in own.instruments] == [name]
        assert _notes(own, name) == _notes(full, name)  # the same notes at the same seconds
        (channel,) = {m.channel for _, m in events if hasattr(m, "channel")}
        (original,) = [t for t in whole.tracks if any(m.type == "track_name" and m.name == name for m in t)]
        assert {m.channel for m in original if hasattr(m, "channel")} == {channel}


def test_a_foreign_file_splits_with_every_tempo_change_wherever_it_was(tmp_path: Path) -> None:
    mid = mido.MidiFile(type=1, ticks_per_beat=96)
    lead, pad = mido.MidiTrack(), mido.MidiTrack()
    lead.append(mido.MetaMessage("track_name", name="Lead"))
    lead.append(mido.MetaMessage("set_tempo", tempo=400000))  # tempo events inside a note track
    lead.append(mido.Message("note_on", channel=3, note=72, velocity=90))
    lead.append(mido.MetaMessage("set_tempo", tempo=800000, time=192))
    lead.append(mido.Message("note_off", channel=3, note=72, time=192))
    pad.append(mido.Message("control_change", channel=5, control=64, value=127))
    pad.append(mido.Message("note_on", channel=5, note=48, velocity=60))
    pad.append(mido.Message("note_off", channel=5, note=48, time=384))
    mid.tracks += [lead, pad]
    parts = split_parts(mid)
    assert [name for name, _ in parts] == ["Lead", "Track 1"]
    for _, part in parts:
        assert [(t, m.tempo) for t, m in _events(part.tracks[0]) if m.type == "set_tempo"] == [(0, 400000),
                                                                                              (192, 800000)]
    pad_events = [(t, m.copy(time=0)) for t, m in _events(parts[1][1].tracks[0]) if not m.is_meta]
    assert pad_events == [(t, m.copy(time=0)) for t, m in _events(pad) if not m.is_meta]  # as they were


def test_parts_are_all_or_nothing(tmp_path: Path) -> None:
    (tmp_path / "s-Bass.mid").write_bytes(b"mine")
    with pytest.raises(MelodyganError, match=r"s-Bass\.mid exists"):
        export_piece(band(), tmp_path / "s.mid", split_tracks=True, wav=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s-Bass.mid"]


def test_render_splits_a_file_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = export_piece(band(), tmp_path / "in" / "s.mid")[0]
    assert main(["render", str(src), "--split-tracks", "--out", str(tmp_path / "parts")]) == 0
    assert sorted(p.name for p in (tmp_path / "parts").iterdir()) == ["s-Bass.mid", "s-Chords.mid", "s-Melody.mid"]
    assert capsys.readouterr().err == ""  # the parts are the file itself: nothing is read as a lead sheet


def test_chord_symbols_are_a_text_lane_as_well_as_markers_and_in_the_musicxml(tmp_path: Path) -> None:
    piece = band()
    mid = mido.MidiFile(str(export_piece(piece, tmp_path / "c.mid")[0]))
    conductor = _events(mid.tracks[0])
    markers = [(t, m.text) for t, m in conductor if m.type == "marker"]
    assert markers == [(480, "D"), (1920, "A7")]
    assert [(t, m.text) for t, m in conductor if m.type == "text"] == markers
    pm = pretty_midi.PrettyMIDI(str(tmp_path / "c.mid"))
    assert [e.text for e in pm.text_events] == ["D", "A7"]  # pretty_midi reads text events, not markers
    symbols = [c.figure for c in piece_to_score(piece).flatten().getElementsByClass("ChordSymbol")]
    assert symbols == ["D", "A7"]


def test_new_parts_are_laid_over_the_original_on_free_channels() -> None:
    base = mido.MidiFile(type=1, ticks_per_beat=96)
    tune = mido.MidiTrack()
    tune.append(mido.MetaMessage("track_name", name="Bass"))  # the user's own part called Bass
    tune.append(mido.Message("note_on", channel=0, note=40, velocity=80))
    tune.append(mido.Message("note_off", channel=0, note=40, time=96))
    base.tracks.append(tune)
    piece = Piece(melody=[Note(0, 4, 40)], chords=chords_from_changes([(0, parse_chord_symbol("E"))], 16),
                  voices={"Bass": [Note(0, 16, 28)]})
    out = lay_over(base, piece)
    kept = [m for m in out.tracks[0] if m.type != "end_of_track"]
    assert out.ticks_per_beat == 96 and kept == [m for m in tune if m.type != "end_of_track"]  # the original's events
    names = [next(m.name for m in t if m.type == "track_name") for t in out.tracks]
    assert names == ["Bass", "Bass 2"]
    new = _events(out.tracks[1])
    assert {m.channel for _, m in new if hasattr(m, "channel")} == {1}  # channel 1 was taken by the user's part
    assert [(t, m.text) for t, m in new if m.type == "marker"] == [(0, "E")]
    assert [(t, m.type) for t, m in new if m.type.startswith("note")] == [(0, "note_on"), (384, "note_off")]
