"""Choosing the melody of a multitrack MIDI file: the scored heuristic on files built here with
mido (a tempo track, then named parts with programs, as a DAW writes them), the file's track
numbers for --melody-track, and the choice printed before any model runs."""

from __future__ import annotations

from pathlib import Path

import mido
import pytest

from melodygan.cli import main
from melodygan.errors import MelodyganError
from melodygan.formats.midi import midi_to_piece
from melodygan.formats.tracks import choose_melody_track, name_score, name_tokens

TPB = 480
# name, GM program, channel, [(start, length, pitch)] in quarters
Part = tuple[str, int, int, list[tuple[float, float, int]]]


def _write(path: Path, parts: list[Part], key: str | None = "C") -> Path:
    """A type-1 file: track 0 = tempo/meter(/key), then one track per part."""
    mid = mido.MidiFile(type=1, ticks_per_beat=TPB)
    conductor = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000),
                                mido.MetaMessage("time_signature", numerator=4, denominator=4)])
    if key:
        conductor.append(mido.MetaMessage("key_signature", key=key))
    mid.tracks.append(conductor)
    for name, program, channel, notes in parts:
        events = []
        for start, length, pitch in notes:
            events.append((round(start * TPB), 1, mido.Message("note_on", channel=channel, note=pitch, velocity=90)))
            events.append((round((start + length) * TPB), 0, mido.Message("note_off", channel=channel, note=pitch)))
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=name),
                                mido.Message("program_change", channel=channel, program=program)])
        now = 0
        for tick, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
            track.append(msg.copy(time=tick - now))
            now = tick
        mid.tracks.append(track)
    mid.save(str(path))
    return path


BARS = 8
# a sung line in C: phrases of two bars, a breath (rest) at the end of each, varied rhythm
_PHRASE = [(0, 1, 67), (1, 0.5, 69), (1.5, 0.5, 67), (2, 1, 64), (3, 1, 65), (4, 1.5, 67), (5.5, 0.5, 64),
           (6, 1, 62)]
SUNG = [(8 * k + s, d, p + (2 if k % 2 else 0)) for k in range(BARS // 2) for s, d, p in _PHRASE]
ARPEGGIO = [(0.25 * i, 0.25, (72, 76, 79, 84)[i % 4]) for i in range(16 * BARS)]  # even 16ths, one figure
BASS = [(4 * b, 4, 36 + (0, 5, 7, 0)[b % 4]) for b in range(BARS)]
PADS = [(4 * b, 4, p) for b in range(BARS) for p in (60, 64, 67)]
DRUMS = [(i * 0.5, 0.25, 42) for i in range(8 * BARS)]


def test_a_sung_line_wins_over_a_sequenced_lead(tmp_path: Path) -> None:
    # the names both say "lead"; the synth lead is higher, denser and louder in notes
    path = _write(tmp_path / "fool.mid", [("Sq Lead", 80, 0, ARPEGGIO), ("Lead Voca", 0, 1, SUNG),
                                          ("Bass", 33, 2, BASS), ("Pads", 89, 3, PADS), ("Drums", 0, 9, DRUMS)])
    piece = midi_to_piece(path)
    assert piece.melody_name == "Lead Voca"
    assert [(n.start_steps, n.pitch) for n in piece.melody] == [(round(s * 4), p) for s, _, p in SUNG]
    assert list(piece.voices) == ["Sq Lead", "Bass", "Pads"]


def test_a_french_chant_wins_over_pizzicato_strings(tmp_path: Path) -> None:
    pizz = [(0.5 * i, 0.25, (79, 76, 81, 77)[i % 4] + (i // 16) % 2) for i in range(8 * BARS)]
    low_chant = [(s, d, p - 5) for s, d, p in SUNG]  # sung under the strings
    path = _write(tmp_path / "aicha.mid", [("PizzStr", 45, 0, pizz), ("Chant", 52, 1, low_chant),
                                           ("Basse", 33, 2, BASS)])
    assert midi_to_piece(path).melody_name == "Chant"


def test_names_in_several_languages() -> None:
    assert name_tokens("PizzStr") == ["pizz", "str"] and name_tokens("Mélodie 2") == ["melodie", "2"]
    for name in ("Lead Vocal", "Vox", "Voz", "Chant", "Canto", "Gesang", "Stimme", "Mélodie", "Melody", "Tune",
                 "Soprano", "Singer"):
        assert name_score(name)[0] >= 3, name
    for name in ("Bass", "Drums", "Pad 2", "Strings", "PizzStr", "Arp", "Backing Vox", "Chords", "Choir"):
        assert name_score(name)[0] < 0, name
    assert name_score("Sq Lead")[0] < name_score("Lead Voca")[0]


def test_melody_track_is_the_files_track_number_or_a_name(tmp_path: Path) -> None:
    path = _write(tmp_path / "n.mid", [("Sq Lead", 80, 0, ARPEGGIO), ("Lead Voca", 0, 1, SUNG),
                                       ("Bass", 33, 2, BASS), ("Drums", 0, 9, DRUMS)])
    # as mido numbers them: 0 = the tempo track, 1 = Sq Lead, 2 = Lead Voca, 3 = Bass, 4 = drums
    assert [t.name for t in mido.MidiFile(str(path)).tracks][1:3] == ["Sq Lead", "Lead Voca"]
    assert midi_to_piece(path, melody_track=1).melody_name == "Sq Lead"
    assert midi_to_piece(path, melody_track=3).melody_name == "Bass"
    assert midi_to_piece(path, melody_track="voca").melody_name == "Lead Voca"  # a unique part of a name
    assert midi_to_piece(path, melody_track="SQ LEAD").melody_name == "Sq Lead"
    with pytest.raises(MelodyganError, match="track 0 has no pitched notes"):
        midi_to_piece(path, melody_track=0)
    with pytest.raises(MelodyganError, match="track 4 has no pitched notes"):
        midi_to_piece(path, melody_track=4)
    with pytest.raises(MelodyganError, match=r"out of range.*track 1 'Sq Lead', track 2 'Lead Voca'"):
        midi_to_piece(path, melody_track=9)
    with pytest.raises(MelodyganError, match="matches several tracks"):
        midi_to_piece(path, melody_track="lead")


def test_without_file_numbers_an_index_counts_the_tracks_given() -> None:
    from melodygan.notes import Note

    tracks = {"A": [Note(0, 4, 60)], "B": [Note(0, 4, 72)]}
    assert choose_melody_track(tracks, 1) == ("B", "track 1 'B' (asked for by number)")
    assert choose_melody_track({"A": [Note(0, 4, 60)]})[1] == "track 0 'A' (the only pitched track)"


def test_the_choice_is_printed_with_numbers_and_reason_before_any_model_runs(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path / "song.mid", [("Sq Lead", 80, 0, ARPEGGIO), ("Lead Voca", 0, 1, SUNG),
                                          ("Bass", 33, 2, BASS)])
    # the harmonizer checkpoint does not exist: the command fails when the model is loaded, after reading
    assert main(["harmonize", str(path), "--checkpoint", str(tmp_path / "no-model")]) == 2
    err = capsys.readouterr().err.splitlines()
    chosen = next(i for i, line in enumerate(err) if "melody = " in line)
    failed = next(i for i, line in enumerate(err) if line.startswith("melodygan: error:"))
    assert chosen < failed
    line = err[chosen]
    assert "melody = track 2 'Lead Voca' (name says lead/voice" in line
    assert "next: track 1 'Sq Lead'" in line and "repeats a short figure" in line
    assert line.endswith("other tracks: 1 'Sq Lead', 3 'Bass'")


def test_track_numbers_survive_a_track_pretty_midi_skips(tmp_path: Path) -> None:
    """A track whose only note has no length makes no instrument in pretty_midi: the counts of
    instruments per track disagree, and the numbers come from the track names."""
    path = _write(tmp_path / "z.mid", [("Click", 0, 0, [(0, 0, 60)]), ("Vocal", 0, 1, SUNG),
                                       ("Bass", 33, 2, BASS)])
    assert midi_to_piece(path).melody_name == "Vocal"
    assert midi_to_piece(path, melody_track=3).melody_name == "Bass"
    with pytest.raises(MelodyganError, match="track 1 has no pitched notes"):
        midi_to_piece(path, melody_track=1)


def test_facts_of_many_tracks_at_once_score_as_the_notes_do() -> None:
    import random

    import numpy as np

    from melodygan.formats.tracks import score_tracks, track_facts, track_facts_many
    from melodygan.keys import Key
    from melodygan.notes import Note, NoteColumns

    for seed in range(300):
        r = random.Random(seed)
        bar, key = r.choice([12, 16]), r.choice([None, Key(9, "minor")])
        tracks: dict[str, list[Note]] = {}
        for name in ("Lead Voca", "Sq Lead", "Piano", "Bass")[:r.randint(1, 4)]:
            if r.random() < 0.3:  # an even figure (the sequenced term)
                notes = {Note(2 * i, 2, (60, 64, 67, 72)[i % 4]) for i in range(r.randint(10, 60))}
            else:
                t, notes = 0, set()
                for _ in range(r.randint(1, 60)):
                    t += r.choice([0, 1, 2, 4, 8])
                    notes.add(Note(t, r.choice([1, 2, 4, 8, 16]), r.randint(36, 90), r.randint(1, 127)))
            tracks[name] = sorted(notes)
        cols = NoteColumns.from_notes([n for v in tracks.values() for n in v])
        group = np.repeat(np.arange(len(tracks)), [len(v) for v in tracks.values()])
        scale = None if key is None else np.array([[pc in key.scale_extended for pc in range(12)]] * len(tracks))
        facts = track_facts_many(cols, group, np.full(len(tracks), bar), scale)
        assert facts == [track_facts(v, bar, key) for v in tracks.values()], seed
        by_notes = score_tracks(tracks, key=key, bar_steps=bar)
        by_facts = score_tracks(dict(zip(tracks, facts)), key=key, bar_steps=bar)
        assert [(s.score, s.terms, s.pros, s.cons) for s in by_notes] == [(s.score, s.terms, s.pros, s.cons)
                                                                          for s in by_facts]
