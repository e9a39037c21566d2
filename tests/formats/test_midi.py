"""MIDI in and out: exact round trips, DAW-ready files read back by pretty_midi, mido and music21,
melody-track choice, quantisation reports and user errors."""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import mido
import pretty_midi
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from melodygan.chords import parse_chord_symbol
from melodygan.errors import MelodyganError
from melodygan.formats.midi import MidiImportWarning, midi_to_piece, piece_to_midi, piece_to_midifile, write_midi
from melodygan.keys import Key
from melodygan.notes import Note
from melodygan.piece import Piece, chords_from_changes


def lead_sheet(pickup: int = 4) -> Piece:
    """Two bars of 3/4 in G with a quarter-note pickup, melody + chords + bass, varied velocities."""
    melody = [Note(0, 4, 62, 70), Note(4, 8, 67, 100), Note(12, 4, 71, 80), Note(16, 2, 74, 96),
              Note(18, 2, 72, 80), Note(20, 8, 71, 99)]
    chords = chords_from_changes([(4, parse_chord_symbol("G")), (16, parse_chord_symbol("D7"))], 28)
    chord_notes = [Note(s, 4, p, 60) for s in (4, 8, 12) for p in (55, 59, 62)]
    chord_notes += [Note(s, 4, p, 60) for s in (16, 20, 24) for p in (54, 57, 60, 62)]
    bass = [Note(4, 12, 43, 90), Note(16, 12, 38, 90)]
    return Piece(melody=melody, chords=chords, voices={"Chords": chord_notes, "Bass": bass}, key=Key(7, "major"),
                 time_signature=(3, 4), tempo_bpm=110.0, pickup_steps=pickup, title="Test tune",
                 programs={"Melody": 73, "Chords": 0, "Bass": 32})


def test_round_trip_is_exact(tmp_path: Path) -> None:
    piece = lead_sheet()
    path = write_midi(piece, tmp_path / "a.mid")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean file must read back without any report
        back = midi_to_piece(path)
    assert back.melody == piece.melody
    assert back.voices == piece.voices
    assert back.chords == piece.chords
    assert (back.key, back.time_signature, back.tempo_bpm) == (piece.key, piece.time_signature, piece.tempo_bpm)
    assert back.pickup_steps == 4 and back.length_steps == piece.end_steps == 28
    assert back.title == "Test tune" and back.melody_name == "Melody"
    assert back.programs == piece.programs
    # and MIDI -> Piece -> MIDI again gives the same bytes
    write_midi(back, tmp_path / "b.mid")
    assert (tmp_path / "a.mid").read_bytes() == (tmp_path / "b.mid").read_bytes()


def test_pretty_midi_reads_the_same_notes_and_meta(tmp_path: Path) -> None:
    piece = lead_sheet(pickup=0)
    pm = pretty_midi.PrettyMIDI(str(write_midi(piece, tmp_path / "a.mid")))
    assert pm.resolution == 480
    assert [i.name for i in pm.instruments] == ["Melody", "Chords", "Bass"]
    assert [i.program for i in pm.instruments] == [73, 0, 32]
    assert not any(i.is_drum for i in pm.instruments)
    _, tempi = pm.get_tempo_changes()
    assert tempi[0] == pytest.approx(110.0, abs=1e-3)
    assert [(t.numerator, t.denominator) for t in pm.time_signature_changes] == [(3, 4)]
    assert [pretty_midi.key_number_to_key_name(k.key_number) for k in pm.key_signature_changes] == ["G Major"]
    got = sorted((pm.time_to_tick(n.start) // 120, pm.time_to_tick(n.end) // 120, n.pitch, n.velocity)
                 for n in pm.instruments[0].notes)
    assert got == sorted((n.start_steps, n.end_steps, n.pitch, n.velocity) for n in piece.melody)
    # piece_to_midi gives the same object without a file
    assert [len(i.notes) for i in piece_to_midi(piece).instruments] == [len(i.notes) for i in pm.instruments]


def test_mido_sees_a_daw_ready_file(tmp_path: Path) -> None:
    piece = lead_sheet()
    mid = mido.MidiFile(str(write_midi(piece, tmp_path / "a.mid")))
    assert mid.type == 1 and mid.ticks_per_beat == 480
    bar_line = piece.end_steps * 120
    channels = []
    for track in mid.tracks:
        assert sum(m.time for m in track) == bar_line  # end-of-track exactly on the final bar line
        assert track[-1].type == "end_of_track"
        sounding: dict[tuple[int, int], int] = {}
        chans = {m.channel for m in track if hasattr(m, "channel")}
        channels.append(chans)
        tick = 0
        for m in track:
            tick += m.time
            if m.type == "note_on" and m.velocity > 0:
                assert (m.channel, m.note) not in sounding, "a note restarted while sounding"
                sounding[(m.channel, m.note)] = tick
            elif m.type in ("note_off", "note_on"):
                start = sounding.pop((m.channel, m.note))
                assert tick > start, "zero-length note"
        assert not sounding, "stuck note"
    assert channels[0] == set()
    part_channels = [c.pop() for c in channels[1:]]
    assert len(set(part_channels)) == 3 and 9 not in part_channels
    meta = [m for m in mid.tracks[0] if m.is_meta]
    assert [m.text for m in meta if m.type == "marker"] == ["G", "D7"]
    sigs = [(m.numerator, m.denominator) for m in meta if m.type == "time_signature"]
    assert sigs == [(1, 4), (3, 4)]  # the pickup bar, then the meter
    assert [m.key for m in meta if m.type == "key_signature"] == ["G"]


def test_the_direct_encoder_writes_what_mido_writes(tmp_path: Path) -> None:
    """The writer encodes note events itself; mido, reading the file and saving it again, gives the
    same bytes (running status, delta times, end of track), for pickups, keys and velocities alike."""
    import io

    from melodygan.engines.arrange import arrange
    from melodygan.formats.midi import piece_to_midi_bytes

    for pickup, key, tempo in [(0, "Bb", 120.0), (4, "F#m", 93.5), (8, "A", 60.0)]:
        melody = [Note(pickup + 2 * i, 2 + i % 3, 60 + (i * 5) % 14, 40 + (i * 13) % 80) for i in range(40)]
        chords = chords_from_changes([(pickup + 16 * b, parse_chord_symbol(s))
                                      for b, s in enumerate(["C", "G7/B", "Am", "F#m7b5", "Bb"])], pickup + 80)
        piece = arrange(Piece(melody=melody, chords=chords, key=Key.parse(key), tempo_bpm=tempo,
                              pickup_steps=pickup), style="arpeggio", bass="walking")
        data = piece_to_midi_bytes(piece)
        again = io.BytesIO()
        mido.MidiFile(file=io.BytesIO(data)).save(file=again)
        assert again.getvalue() == data


def test_chord_markers_are_spelled_in_the_key(tmp_path: Path) -> None:
    symbols = ["A", "C#m", "F#m", "E7", "G#dim"]
    chords = chords_from_changes([(16 * i, parse_chord_symbol(s)) for i, s in enumerate(symbols)], 80)
    piece = Piece(melody=[Note(16 * i, 16, 69) for i in range(5)], chords=chords, key=Key.parse("A"))
    write_midi(piece, tmp_path / "a.mid")
    mid = mido.MidiFile(str(tmp_path / "a.mid"))  # read by mido, not by melodygan
    assert [m.text for m in mid.tracks[0] if m.type == "marker"] == symbols
    assert [c.symbol() for c in midi_to_piece(tmp_path / "a.mid").chords] == ["A", "Dbm", "F#m", "E7", "Abdim"]


def test_music21_reads_parts_notes_key_meter_tempo(tmp_path: Path) -> None:
    music21 = pytest.importorskip("music21")
    piece = lead_sheet(pickup=0)
    score = music21.converter.parse(str(write_midi(piece, tmp_path / "a.mid")), quantizePost=False)
    names = [p.partName for p in score.parts]
    assert names == ["Melody", "Chords", "Bass"]
    melody = score.parts[0].flatten().stripTies().notes  # a note across a bar line comes back tied
    got = [(float(n.offset) * 4, float(n.quarterLength) * 4, n.pitch.midi) for n in melody]
    assert got == [(n.start_steps, n.duration_steps, n.pitch) for n in piece.melody]
    ts = score.parts[0].flatten().getElementsByClass("TimeSignature")[0]
    assert ts.ratioString == "3/4"
    ks = score.flatten().getElementsByClass("KeySignature")[0]
    assert ks.sharps == 1
    mm = score.flatten().getElementsByClass("MetronomeMark")[0]
    assert mm.number == pytest.approx(110.0, abs=0.01)


def _pm_file(path: Path, tracks: list[tuple[str, int, bool, list[tuple[float, float, int]]]]) -> Path:
    """Write a MIDI with pretty_midi: tracks as (name, program, is_drum, [(start_s, end_s, pitch)])."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    for name, program, drum, notes in tracks:
        inst = pretty_midi.Instrument(program=program, is_drum=drum, name=name)
        inst.notes = [pretty_midi.Note(velocity=80, pitch=p, start=s, end=e) for s, e, p in notes]
        pm.instruments.append(inst)
    pm.write(str(path))
    return path


def test_melody_choice_by_heuristic_name_and_index(tmp_path: Path) -> None:
    # 120 bpm: a 16th = 0.125 s. Piano plays low block chords, Strings a high single line.
    piano = [(i * 0.5, i * 0.5 + 0.5, p) for i in range(8) for p in (48, 52, 55)]
    strings = [(i * 0.25, i * 0.25 + 0.25, 72 + i % 5) for i in range(16)]
    path = _pm_file(tmp_path / "x.mid", [("Piano", 0, False, piano), ("Strings", 48, False, strings)])
    piece = midi_to_piece(path)
    assert piece.melody_name == "Strings" and len(piece.melody) == 16
    assert list(piece.voices) == ["Piano"] and len(piece.voices["Piano"]) == 24
    assert piece.programs == {"Piano": 0, "Strings": 48}
    with pytest.warns(MidiImportWarning, match="polyphonic"):
        assert midi_to_piece(path, melody_track="piano").melody_name == "Piano"
    with pytest.warns(MidiImportWarning, match="polyphonic"):  # the file's track 1 (track 0: tempo)
        assert midi_to_piece(path, melody_track=1).melody_name == "Piano"
    assert midi_to_piece(path, melody_track=2).melody_name == "Strings"
    with pytest.raises(MelodyganError, match="track 0 has no pitched notes"):
        midi_to_piece(path, melody_track=0)
    path2 = _pm_file(tmp_path / "y.mid", [("Lead vocal", 0, False, [(0, 1, 60)]), ("Flute", 73, False, strings)])
    assert midi_to_piece(path2).melody_name == "Lead vocal"
    with pytest.raises(MelodyganError, match="no track named 'Sax'"):
        midi_to_piece(path, melody_track="Sax")
    with pytest.raises(MelodyganError, match="out of range"):
        midi_to_piece(path, melody_track=5)


def test_polyphonic_melody_gets_its_skyline_and_keeps_the_rest(tmp_path: Path) -> None:
    notes = [(i * 0.5, i * 0.5 + 0.5, p) for i in range(4) for p in (60, 64, 67 + i)]
    path = _pm_file(tmp_path / "p.mid", [("Piano", 0, False, notes)])
    with pytest.warns(MidiImportWarning, match="polyphonic"):
        piece = midi_to_piece(path)
    assert [n.pitch for n in piece.melody] == [67, 68, 69, 70]
    assert len(piece.voices["Piano accompaniment"]) == 8


def test_off_grid_notes_are_counted_not_silent(tmp_path: Path) -> None:
    notes = [(0.0, 0.5, 60), (0.53, 1.0, 62), (1.0, 1.46, 64), (1.5, 1.52, 65)]
    path = _pm_file(tmp_path / "h.mid", [("Melody", 0, False, notes)])
    with pytest.warns(MidiImportWarning) as rec:
        piece = midi_to_piece(path)
    text = str(rec[0].message)
    assert "3 notes off the 4-per-quarter grid" in text and "1 notes shorter than a step" in text
    assert [(n.start_steps, n.duration_steps) for n in piece.melody] == [(0, 4), (4, 4), (8, 4), (12, 1)]


def test_key_is_estimated_without_a_key_signature(tmp_path: Path) -> None:
    scale = [(i * 0.5, i * 0.5 + 0.5, p) for i, p in enumerate([62, 64, 66, 67, 69, 71, 73, 74, 69, 62])]
    piece = midi_to_piece(_pm_file(tmp_path / "d.mid", [("Melody", 0, False, scale)]))
    assert piece.key == Key(2, "major")


def test_type_0_file(tmp_path: Path) -> None:
    mid = mido.MidiFile(type=0, ticks_per_beat=96)
    t = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000), mido.Message("note_on", note=60, velocity=64),
                        mido.Message("note_off", note=60, time=96), mido.Message("note_on", note=64, velocity=64),
                        mido.Message("note_off", note=64, time=48)])
    mid.tracks.append(t)
    mid.save(str(tmp_path / "t0.mid"))
    piece = midi_to_piece(tmp_path / "t0.mid")
    assert [(n.start_steps, n.duration_steps, n.pitch) for n in piece.melody] == [(0, 4, 60), (4, 2, 64)]


@pytest.mark.parametrize("kind", ["drums", "empty", "corrupt", "missing"])
def test_bad_files_raise_one_line_errors(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "bad.mid"
    if kind == "drums":
        _pm_file(path, [("Drums", 0, True, [(0, 0.1, 36), (0.5, 0.6, 38)])])
    elif kind == "empty":
        _pm_file(path, [])
    elif kind == "corrupt":
        path.write_bytes(b"MThd\x00\x00\x00\x06garbage")
    with pytest.raises(MelodyganError) as err:
        midi_to_piece(path)
    assert "\n" not in str(err.value) and "bad.mid" in str(err.value)


def test_header_without_tracks_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "bare.mid"
    path.write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x00\x01\xe0")  # type 1, no tracks
    with pytest.raises(MelodyganError, match=r"bare\.mid is not a readable MIDI file") as err:
        midi_to_piece(path)
    assert "\n" not in str(err.value)


def test_each_file_is_parsed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import melodygan.formats.midi as midi_module

    path = write_midi(lead_sheet(), tmp_path / "a.mid")
    expected = midi_to_piece(path)
    loads = []

    class CountingMidiFile(mido.MidiFile):  # type: ignore[misc]
        def __init__(self, *args: object, **kwargs: object) -> None:
            if kwargs.get("file") is not None or kwargs.get("filename") is not None or args:
                loads.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(mido, "MidiFile", CountingMidiFile)
    assert midi_to_piece(path) == expected
    assert loads == []  # symusic reads it; mido and pretty_midi are not involved
    monkeypatch.setattr(midi_module, "_read_with_symusic", lambda *args: None)
    assert midi_to_piece(path) == expected
    if "mido_object" in pretty_midi.PrettyMIDI.__init__.__code__.co_varnames:
        assert len(loads) == 1  # the pretty_midi path: one mido parse, handed to pretty_midi


def test_write_refuses_to_overwrite_unless_forced(tmp_path: Path) -> None:
    path = tmp_path / "a.mid"
    path.write_bytes(b"keep me")
    with pytest.raises(MelodyganError, match="exists"):
        write_midi(lead_sheet(), path)
    assert path.read_bytes() == b"keep me"
    assert list(tmp_path.iterdir()) == [path]  # no temporary left behind
    write_midi(lead_sheet(), path, force=True)
    assert path.read_bytes()[:4] == b"MThd"
    new = write_midi(lead_sheet(), tmp_path / "new.mid")
    umask = os.umask(0)
    os.umask(umask)
    assert new.stat().st_mode & 0o777 == 0o666 & ~umask  # usual permissions, not the temp file's 0600


def test_notes_past_the_requested_length_are_cut_to_the_bar_line() -> None:
    piece = Piece(melody=[Note(0, 16, 60), Note(12, 8, 62), Note(16, 4, 64)], length_steps=16)
    with pytest.warns(MidiImportWarning, match="2 notes ran past"):
        mid = piece_to_midifile(piece)
    assert all(sum(m.time for m in t) == 16 * 120 for t in mid.tracks)


def test_chorale_voices_get_named_tracks_and_choir(tmp_path: Path) -> None:
    satb = Piece(melody=[Note(0, 16, 72)], melody_name="Soprano",
                 voices={"Alto": [Note(0, 16, 67)], "Tenor": [Note(0, 16, 64)], "Bass": [Note(0, 16, 48)]})
    pm = pretty_midi.PrettyMIDI(str(write_midi(satb, tmp_path / "c.mid")))
    assert [(i.name, i.program) for i in pm.instruments] == [("Soprano", 52), ("Alto", 52), ("Tenor", 52),
                                                             ("Bass", 52)]
    back = midi_to_piece(tmp_path / "c.mid")
    assert back.melody_name == "Soprano" and list(back.voices) == ["Alto", "Tenor", "Bass"]


DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"


def _assert_round_trip(pieces: list[Piece], tmp_path: Path) -> None:
    for i, piece in enumerate(pieces):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # nothing may be lost or moved on the way
            back = midi_to_piece(write_midi(piece, tmp_path / f"{i}.mid"))
        for field in ("melody", "voices", "chords", "key", "time_signature", "tempo_bpm", "pickup_steps",
                      "end_steps", "melody_name"):
            assert getattr(back, field) == getattr(piece, field), (piece.title, field)


@pytest.mark.slow
@pytest.mark.skipif(not (DATASETS / "nottingham").is_dir(), reason="Nottingham corpus not present")
def test_nottingham_tunes_round_trip_exactly(tmp_path: Path) -> None:
    from melodygan.corpora.nottingham import read_nottingham

    pieces = read_nottingham(DATASETS / "nottingham" / "ashover.abc")
    pieces += read_nottingham(DATASETS / "nottingham" / "morris.abc")
    assert len(pieces) > 50
    _assert_round_trip(pieces, tmp_path)


@pytest.mark.slow
@pytest.mark.skipif(not (DATASETS / "jsb-chorales").is_dir(), reason="JSB chorales not present")
def test_jsb_chorales_round_trip_exactly(tmp_path: Path) -> None:
    from melodygan.corpora.jsb import read_jsb

    pieces = read_jsb(DATASETS / "jsb-chorales" / "Jsb16thSeparated.json")["valid"]
    assert len(pieces) > 50
    _assert_round_trip(pieces, tmp_path)


@st.composite
def pieces(draw: st.DrawFn) -> Piece:
    """Random pieces on the grid: a monophonic melody, block-chord and bass parts, chord symbols,
    any meter, pickup, tempo, key and velocities."""
    num, den = draw(st.sampled_from([(4, 4), (3, 4), (2, 4), (6, 8), (9, 8), (12, 8), (5, 4), (7, 8), (2, 2)]))
    bar = 16 * num // den
    pickup = draw(st.integers(0, bar - 1))
    melody, t = [], 0
    for _ in range(draw(st.integers(1, 20))):
        t += draw(st.integers(0, 6))
        d = draw(st.integers(1, 12))
        melody.append(Note(t, d, draw(st.integers(40, 100)), draw(st.integers(1, 127))))
        t += d
    chords_part, bass, t = [], [], 0
    for _ in range(draw(st.integers(0, 6))):
        d = draw(st.integers(1, 16))
        root = draw(st.integers(48, 60))
        chords_part += [Note(t, d, root + i, draw(st.integers(1, 127))) for i in (0, 4, 7)]
        bass.append(Note(t, d, root - 12, 90))
        t += d + draw(st.integers(0, 4))
    voices = {"Chords": chords_part, "Bass": bass} if chords_part else {}
    content_end = max([n.end_steps for n in melody + chords_part])
    changes = [(draw(st.integers(0, content_end - 1)), parse_chord_symbol(s))
               for s in draw(st.lists(st.sampled_from(["C", "Am7", "F#dim", "Bb/D", "Ebmaj7", "G7", "Dsus4"]),
                                      max_size=5))]
    bars = -(-max(content_end - pickup, 1) // bar) + draw(st.integers(0, 2))
    end = pickup + bars * bar
    return Piece(melody=melody, voices=voices, chords=chords_from_changes(changes, end), length_steps=end,
                 time_signature=(num, den), pickup_steps=pickup, key=Key(draw(st.integers(0, 11)),
                                                                         draw(st.sampled_from(["major", "minor"]))),
                 tempo_bpm=draw(st.sampled_from([60.0, 97.5, 110.0, 133.33, 200.0])), title="random",
                 programs={"Melody": draw(st.integers(0, 127)), **({"Chords": 0, "Bass": 33} if voices else {})})


@settings(max_examples=40, deadline=None)
@given(pieces())
def test_any_piece_round_trips_exactly(piece: Piece) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = write_midi(piece, Path(tmp) / "p.mid")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            back = midi_to_piece(path)
    for field in ("melody", "voices", "chords", "key", "time_signature", "tempo_bpm", "pickup_steps", "end_steps",
                  "programs", "title"):
        assert getattr(back, field) == getattr(piece, field), field


def test_a_batch_encodes_each_piece_as_alone_and_as_mido_would(tmp_path: Path) -> None:
    import io

    from melodygan.formats.midi import piece_to_midi_bytes, pieces_to_midi_bytes, write_midi_batch

    pieces = [lead_sheet(), lead_sheet(pickup=0).replace(title="Second"), Piece(melody=[Note(0, 4, 60)]),
              Piece(melody=[Note(0, 2, 64), Note(1, 8, 64), Note(4, 4, 67, 30), Note(2000, 40, 72)],  # overlaps,
                    voices={"Bass": [], "Pad": [Note(0, 16, 48), Note(0, 8, 48, 100)]}, length_steps=2016),  # long gap
              Piece(melody=[Note(0, 4, 62), Note(12, 8, 65)], length_steps=16)]  # a note cut at the end
    with pytest.warns(MidiImportWarning, match="1 notes ran past the end"):
        batch = pieces_to_midi_bytes(pieces)
    for piece, data in zip(pieces, batch):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert data == piece_to_midi_bytes(piece)
        again = io.BytesIO()
        mido.MidiFile(file=io.BytesIO(data)).save(file=again)
        assert again.getvalue() == data
    paths = write_midi_batch(pieces[:3], [tmp_path / f"c{i}.mid" for i in range(3)])
    assert [p.read_bytes() for p in paths] == batch[:3]
    assert midi_to_piece(paths[0]).melody == pieces[0].melody
    with pytest.raises(MelodyganError, match="exists"):
        write_midi_batch(pieces[:2], [tmp_path / "new.mid", tmp_path / "c1.mid"])
    assert not (tmp_path / "new.mid").exists()  # all or nothing
    assert write_midi_batch(pieces[3:4], [tmp_path / "c1.mid"], force=True)[0].read_bytes() == batch[3]
    fresh = write_midi_batch(pieces[:2], [tmp_path / "new" / "a.mid", tmp_path / "new" / "b.mid"])
    assert [p.read_bytes() for p in fresh] == batch[:2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c0.mid", "c1.mid", "c2.mid", "new"]  # no staging left


def test_every_part_carries_the_key_signature(tmp_path: Path) -> None:
    """MuseScore takes a part's key from its own track: the key is in every track at tick 0."""
    piece = lead_sheet(pickup=0).replace(key=Key(2, "major"))
    mid = mido.MidiFile(str(write_midi(piece, tmp_path / "d.mid")))
    for track in mid.tracks:
        tick, keys = 0, []
        for m in track:
            tick += m.time
            if m.type == "key_signature":
                keys.append((tick, m.key))
        assert keys == [(0, "D")], track.name
    assert [t.name for t in mid.tracks] == ["Test tune", "Melody", "Chords", "Bass"]
    music21 = pytest.importorskip("music21")
    score = music21.converter.parse(str(tmp_path / "d.mid"), quantizePost=False)
    assert [p.flatten().getElementsByClass("KeySignature")[0].sharps for p in score.parts] == [2, 2, 2]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pretty_midi's warning about meta events outside track 0 is not ours
        assert midi_to_piece(tmp_path / "d.mid").key == Key(2, "major")


def _conductor_file(path: Path, meta: list[mido.MetaMessage], bars: int = 2) -> Path:
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    mid.tracks.append(mido.MidiTrack(meta))
    notes = mido.MidiTrack([mido.MetaMessage("track_name", name="Melody")])
    for i in range(4 * bars):
        notes += [mido.Message("note_on", note=60 + i % 5, velocity=80), mido.Message("note_off", note=60 + i % 5,
                                                                                      time=480)]
    mid.tracks.append(notes)
    mid.save(str(path))
    return path


def test_several_meta_events_at_one_tick_the_last_in_file_order_wins(tmp_path: Path) -> None:
    # a default 2/4 (and key) first, the real 4/4 (and key) after it, all at tick 0
    path = _conductor_file(tmp_path / "m.mid", [
        mido.MetaMessage("time_signature", numerator=2, denominator=4),
        mido.MetaMessage("key_signature", key="C"),
        mido.MetaMessage("time_signature", numerator=4, denominator=4),
        mido.MetaMessage("key_signature", key="A"),
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(120)),
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(90)),
    ])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing "ignored": one meter, one tempo, one key
        piece = midi_to_piece(path)
    assert piece.time_signature == (4, 4) and piece.pickup_steps == 0 and piece.num_bars == 2
    assert piece.key == Key(9, "major") and piece.tempo_bpm == pytest.approx(90.0)
    assert [m.numerator for m in mido.MidiFile(str(path)).tracks[0] if m.type == "time_signature"] == [2, 4]


def test_polyphony_report_counts_what_was_set_aside(tmp_path: Path) -> None:
    # legato: each note overlaps the next by a 16th, nothing is under the line
    legato = [(i * 0.5, i * 0.5 + 0.625, 60 + i) for i in range(8)]
    path = _pm_file(tmp_path / "l.mid", [("Melody", 0, False, legato)])
    with pytest.warns(MidiImportWarning) as rec:
        piece = midi_to_piece(path)
    text = " ".join(str(r.message) for r in rec)
    assert "has overlapping notes: 7 shortened to end where the next begins" in text
    assert "polyphonic" not in text and "accompaniment" not in text
    assert len(piece.melody) == 8 and not piece.voices
    # chords: three notes an onset, the top one kept, the other two under it set aside
    chords = [(i * 0.5, i * 0.5 + 0.5, p) for i in range(4) for p in (60, 64, 67 + i)]
    path = _pm_file(tmp_path / "c.mid", [("Piano", 0, False, chords)])
    with pytest.warns(MidiImportWarning, match=r"kept its top line \(4 of 12 notes\), the other 8 as "
                                               r"'Piano accompaniment'"):
        piece = midi_to_piece(path)
    assert len(piece.voices["Piano accompaniment"]) == 8


@pytest.mark.slow
def test_musescore_imports_the_key_of_every_part(tmp_path: Path) -> None:
    """A D-major 3/4 clip opened in MuseScore 3 (converted to MusicXML by it) is in D in every part."""
    import shutil
    import subprocess

    music21 = pytest.importorskip("music21")
    exe = next((shutil.which(n) for n in ("musescore3", "mscore3", "mscore") if shutil.which(n)), None)
    if exe is None:
        pytest.skip("MuseScore 3 is not installed")
    src = write_midi(lead_sheet(pickup=0).replace(key=Key(2, "major")), tmp_path / "d.mid")
    out = tmp_path / "d.musicxml"
    subprocess.run([exe, "-o", str(out), str(src)], check=True, capture_output=True, timeout=120,
                   env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    score = music21.converter.parse(str(out))
    assert [p.flatten().getElementsByClass("KeySignature")[0].sharps for p in score.parts] == [2] * len(score.parts)
