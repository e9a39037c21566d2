"""The corpus path of the MIDI reader: rows read without Note objects equal the rows of the Piece
the pretty_midi reader assembles note by note, on multitrack files written here with mido; many
files read at once equal the same files read one by one."""

from __future__ import annotations

import random
import warnings
from pathlib import Path

import mido
import numpy as np
import pytest

import melodygan.formats.midi as midi_module
from melodygan.corpora.preprocess import encode_pieces, encode_rows
from melodygan.errors import MelodyganError
from melodygan.formats.midi import midi_to_piece
from melodygan.formats.midi_arrays import midi_to_arrays, midi_to_arrays_many
from melodygan.piece_arrays import PieceArrays

Event = tuple[int, mido.Message | mido.MetaMessage]
TPB = 480


def _file(path: Path, tracks: list[list[Event]], kind: int = 1) -> Path:
    """Tracks of ``(absolute tick, message)``, same-tick events in their order."""
    mid = mido.MidiFile(type=kind, ticks_per_beat=TPB)
    for events in tracks:
        track, now = mido.MidiTrack(), 0
        for tick, msg in sorted(events, key=lambda e: e[0]):
            track.append(msg.copy(time=tick - now))
            now = tick
        mid.tracks.append(track)
    mid.save(str(path))
    return path


def _part(name: str, program: int, channel: int, notes: list[tuple[int, int, int]], velocity: int = 90) -> list[Event]:
    """A named part: notes as ``(start tick, end tick, pitch)``, note-offs before note-ons at a tick."""
    events: list[Event] = [(0, mido.MetaMessage("track_name", name=name)),
                           (0, mido.Message("program_change", channel=channel, program=program))]
    timed = []
    for start, end, pitch in notes:
        timed.append((start, 1, mido.Message("note_on", channel=channel, note=pitch, velocity=velocity)))
        timed.append((end, 0, mido.Message("note_off", channel=channel, note=pitch)))
    return events + [(t, m) for t, _, m in sorted(timed, key=lambda e: (e[0], e[1]))]


def _song(path: Path, seed: int) -> Path:
    """Several tracks: a polyphonic lead (sung line with chords under it) whose repeated notes
    overlap, piano chords, a bass, drums; tempo and meter changes, a pickup bar, some notes off
    the grid."""
    r = random.Random(seed)
    q = TPB
    conductor: list[Event] = [(0, mido.MetaMessage("track_name", name=f"Song {seed}")),
                              (0, mido.MetaMessage("set_tempo", tempo=r.choice([500000, 600000]))),
                              (0, mido.MetaMessage("time_signature", numerator=1, denominator=4)),
                              (q, mido.MetaMessage("time_signature", numerator=r.choice([3, 4]), denominator=4)),
                              (9 * q, mido.MetaMessage("set_tempo", tempo=450000)),
                              (13 * q, mido.MetaMessage("time_signature", numerator=2, denominator=4))]
    if r.random() < 0.5:
        conductor.append((0, mido.MetaMessage("key_signature", key=r.choice(["G", "Eb", "Am"]))))
    lead, t = [], 0
    for _ in range(40):
        length = r.choice([q // 2, q, q, 2 * q]) + r.choice([0, 0, 7, -5])  # some ends off the grid
        pitch = r.choice([67, 69, 71, 72, 74])
        lead.append((t, t + length, pitch))
        if r.random() < 0.25:  # a chord under the line
            lead.append((t, t + length, pitch - r.choice([3, 4, 7])))
        if r.random() < 0.15:  # the same pitch struck again before it ends (a held pedal)
            lead.append((t + q // 4, t + length + q // 4, pitch))
        t += max(length, q // 2)
    piano = [(b * 2 * q, (b + 1) * 2 * q, p) for b in range(t // (2 * q)) for p in (48, 52, 55)]
    bass = [(b * q, b * q + q - 10, 36 + r.choice([0, 5, 7])) for b in range(t // q)]
    drums = [(b * q // 2, b * q // 2 + 30, r.choice([36, 38, 42])) for b in range(t // (q // 2))]
    parts = [_part(r.choice(["Lead Vocal", "Melody", "Voice"]), 0, 0, lead),
             _part("Piano", 0, 1, piano, 70), _part("Bass", 33, 2, bass, 80), _part("Drums", 0, 9, drums, 100)]
    if r.random() < 0.5:
        parts.insert(1, _part("Strings", 48, 3, [(s + q, e + q, p + 12) for s, e, p in piano[::3]]))
    return _file(path, [conductor, *parts])


def _reference(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[object, list[str]]:
    """The Piece of the pretty_midi reader, assembled note by note (or its error), and its warnings."""
    with monkeypatch.context() as m:
        m.setattr(midi_module, "_read_with_symusic", lambda *args: None)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                got: object = midi_to_piece(path)
            except Exception as e:
                got = f"{type(e).__name__}: {e}"
    return got, [str(w.message) for w in caught]


def _arrays(path: Path) -> tuple[object, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            got: object = midi_to_arrays(path)
        except Exception as e:
            got = f"{type(e).__name__}: {e}"
    return got, [str(w.message) for w in caught]


def _same_rows(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("seed", range(6))
def test_rows_equal_those_of_the_piece_the_note_path_assembles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               seed: int) -> None:
    path = _song(tmp_path / f"song{seed}.mid", seed)
    reference, ref_warnings = _reference(path, monkeypatch)
    rows, row_warnings = _arrays(path)
    assert isinstance(reference, midi_module.Piece) and isinstance(rows, PieceArrays)
    assert _same_rows(encode_rows([rows]), encode_pieces([reference]))
    assert rows.tracks == [reference.melody_name, *reference.voices]
    assert (rows.title, rows.programs, rows.key, rows.time_signature) == (
        reference.title, reference.programs, reference.key, reference.time_signature)
    assert rows.to_piece() == reference == midi_to_piece(path)
    assert row_warnings == ref_warnings
    # what the song holds was read, not left out: a pickup, drums counted, notes off the grid and
    # collisions merged, the polyphonic lead split, the tempo and meter changes reported
    assert reference.pickup_steps == 4 and rows.tracks[1].endswith("accompaniment")
    for said in ("drum notes left out", "off the 4-per-quarter grid", "collisions merged", "is polyphonic",
                 "tempo change(s) ignored", "time-signature change(s) ignored"):
        assert said in ref_warnings[0]


def test_many_files_at_once_read_as_one_by_one(tmp_path: Path) -> None:
    paths = [_song(tmp_path / f"s{i}.mid", i) for i in range(5)]
    drums = _file(tmp_path / "drums.mid", [[(0, mido.MetaMessage("set_tempo", tempo=500000))],
                                           _part("Kit", 0, 9, [(0, 100, 36), (480, 580, 38)])])
    broken = tmp_path / "broken.mid"
    broken.write_bytes(b"MThd\x00\x00\x00\x06garbage")
    paths[2:2] = [drums, broken, tmp_path / "missing.mid"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        many = midi_to_arrays_many(paths)
        for path, got in zip(paths, many):
            try:
                one: object = midi_to_arrays(path)
            except MelodyganError as e:
                one = e
            if isinstance(one, PieceArrays):
                assert isinstance(got, PieceArrays) and _same_rows(encode_rows([got]), encode_rows([one]))
                assert got.tracks == one.tracks and got.programs == one.programs
            else:
                assert isinstance(got, MelodyganError) and str(got) == str(one)
    assert [type(g).__name__ for g in many[2:5]] == ["MelodyganError"] * 3


def test_a_melody_track_asked_for_and_a_bad_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _song(tmp_path / "s.mid", 3)
    rows = midi_to_arrays(path, melody_track="Bass")
    assert rows.tracks[0] == "Bass" and rows.to_piece() == midi_to_piece(path, melody_track="Bass")
    with pytest.raises(MelodyganError, match="no track named 'Oboe'"):
        midi_to_arrays(path, melody_track="Oboe")


def test_meta_events_after_the_notes_are_read_where_they_are(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the first part's head holds its name, key and tempo (read by a short walk, the part joins the
    # file's one parse); the second names itself again and changes key and tempo far into its notes
    # (that chunk is read on its own)
    q = TPB
    head = [(0, mido.MetaMessage("set_tempo", tempo=500000))]
    first = [(0, mido.MetaMessage("key_signature", key="D")), (0, mido.MetaMessage("set_tempo", tempo=500000)),
             *_part("Flute", 73, 0, [(k * q, k * q + q, 74 + k % 5) for k in range(64)])]
    second = _part("Piano", 0, 1, [(k * q, k * q + 2 * q, 50 + k % 7) for k in range(0, 64, 2)])
    second += [(40 * q, mido.MetaMessage("track_name", name="Piano 2")), (40 * q, mido.MetaMessage("key_signature",
                                                                                                   key="A")),
               (48 * q, mido.MetaMessage("set_tempo", tempo=400000)), (50 * q, mido.MetaMessage("marker", text="B"))]
    path = _file(tmp_path / "late.mid", [head, first, second])
    reference, ref_warnings = _reference(path, monkeypatch)
    rows, row_warnings = _arrays(path)
    assert isinstance(reference, midi_module.Piece) and isinstance(rows, PieceArrays)
    assert rows.to_piece() == reference and row_warnings == ref_warnings
    assert rows.tracks == ["Flute", "Piano"] and "tempo change(s) ignored" in ref_warnings[0]
