"""The symusic reader gives the Piece the pretty_midi reader gave: same notes, chords, names, order
of voices and the same import warning, on hand-made files with the hard cases and on random ones."""

from __future__ import annotations

import random
import warnings
from pathlib import Path

import mido
import pytest

import melodygan.formats.midi as midi_module
from melodygan.formats.midi import midi_to_piece, write_midi
from melodygan.formats.midi_bytes import split_chunks, walk
from melodygan.formats.midi_reader import read_tracks
from melodygan.notes import Note
from melodygan.piece import Piece

POP909 = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "pop909"
Event = tuple[int, mido.Message | mido.MetaMessage]


def _read(path: Path, fast: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[object, list[str]]:
    """The Piece (or the error text) and the warnings of one reader."""
    with monkeypatch.context() as m:
        if not fast:
            m.setattr(midi_module, "_read_with_symusic", lambda *args: None)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                got: object = midi_to_piece(path)
            except Exception as e:  # both readers must fail alike
                got = f"{type(e).__name__}: {e}"
    return got, [str(w.message) for w in caught]


def assert_same_reading(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    new, new_warnings = _read(path, True, monkeypatch)
    old, old_warnings = _read(path, False, monkeypatch)
    assert new == old, path.name
    if isinstance(new, Piece) and isinstance(old, Piece):
        assert list(new.voices) == list(old.voices) and list(new.programs) == list(old.programs)
    assert new_warnings == old_warnings


def _file(path: Path, tracks: list[list[Event]], ticks_per_beat: int = 480, kind: int = 1) -> Path:
    """Write tracks of ``(absolute tick, message)`` (same-tick events keep their order)."""
    mid = mido.MidiFile(type=kind, ticks_per_beat=ticks_per_beat)
    for events in tracks:
        track, now = mido.MidiTrack(), 0
        for tick, msg in sorted(events, key=lambda e: e[0]):
            track.append(msg.copy(time=tick - now))
            now = tick
        mid.tracks.append(track)
    mid.save(str(path))
    return path


def on(tick: int, pitch: int, velocity: int = 90, channel: int = 0) -> Event:
    return tick, mido.Message("note_on", note=pitch, velocity=velocity, channel=channel)


def off(tick: int, pitch: int, channel: int = 0, as_note_on: bool = False) -> Event:
    if as_note_on:
        return tick, mido.Message("note_on", note=pitch, velocity=0, channel=channel)
    return tick, mido.Message("note_off", note=pitch, channel=channel)


def meta(tick: int, kind: str, **fields: object) -> Event:
    return tick, mido.MetaMessage(kind, **fields)


def conductor(*extra: Event) -> list[Event]:
    return [meta(0, "track_name", name="Song"), meta(0, "set_tempo", tempo=500000),
            meta(0, "time_signature", numerator=4, denominator=4), *extra]


def test_a_multitrack_song_with_pickup_tempo_changes_drums_and_chords(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    head = [meta(0, "track_name", name="Song"), meta(0, "set_tempo", tempo=500000),
            meta(0, "key_signature", key="Bb"), meta(0, "time_signature", numerator=1, denominator=4),
            meta(480, "time_signature", numerator=4, denominator=4), meta(1920, "set_tempo", tempo=400000),
            meta(480, "marker", text="Bb"), meta(2400, "marker", text="F7")]
    melody = [meta(0, "track_name", name="Lead"), (0, mido.Message("program_change", program=73))]
    for i, p in enumerate([65, 70, 72, 74, 70, 69, 67, 65]):
        melody += [on(i * 480, p, 80 + i), off(i * 480 + 470, p)]  # detached: ends just off the grid
    chords = [meta(0, "track_name", name="Pad"), (0, mido.Message("program_change", program=48, channel=1))]
    for start in (480, 2400):
        chords += [e for p in (58, 62, 65) for e in (on(start, p, 60, 1), off(start + 1920, p, 1))]
    drums = [meta(0, "track_name", name="Kit")] + [e for i in range(8) for e in (on(i * 240, 36, 100, 9),
                                                                                   off(i * 240 + 10, 36, 9))]
    path = _file(tmp_path / "song.mid", [head, melody, chords, drums])
    assert read_tracks(path.read_bytes(), 4) is not None  # the fast path reads it itself
    assert_same_reading(path, monkeypatch)
    piece = midi_to_piece(path)
    assert piece.pickup_steps == 4 and piece.melody_name == "Lead" and [c.symbol() for c in piece.chords][:2] == [
        "Bb", "F7"]


def test_overlapping_repeated_and_never_closed_notes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cases = {
        "on-on-off-off": [on(0, 60), on(240, 60), off(480, 60), off(960, 60)],
        "retrigger without off": [on(0, 60), on(240, 60), off(960, 60)],
        "note-on before the note-off at one tick": [on(0, 62), on(480, 62), off(480, 62), off(960, 62)],
        "note-off before the note-on at one tick": [on(0, 62), off(480, 62), on(480, 62), off(960, 62)],
        "zero length": [on(0, 64), off(0, 64), on(120, 64), off(480, 64, as_note_on=True)],
        "two note-ons at one tick": [on(0, 65, 50), on(0, 65, 100), off(480, 65)],
        "never closed": [on(0, 67), on(120, 67), on(240, 67), on(480, 69), off(720, 69)],
        "sustained chord over a melody": [on(0, 48), on(0, 72), off(240, 72), on(240, 72), off(480, 72),
                                          on(480, 48), off(960, 48), off(960, 48)],
    }
    for i, (name, events) in enumerate(cases.items()):
        path = _file(tmp_path / f"case{i}.mid", [conductor(), [meta(0, "track_name", name=name), *events,
                                                               on(1920, 76), off(2400, 76)]])
        assert_same_reading(path, monkeypatch)


def test_type_0_channels_tied_at_their_first_note_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # three channels in one track whose first notes end at the same tick: pretty_midi names and
    # orders them by which note-off comes first in the file, not by channel
    events = [meta(0, "track_name", name="Band"), meta(0, "set_tempo", tempo=500000)]
    for ch in (2, 0, 1):
        events += [(0, mido.Message("program_change", channel=ch, program=ch * 10))]
    for ch, base in ((2, 48), (0, 72), (1, 60)):
        events += [on(0, base, channel=ch)]
    for ch, base in ((2, 48), (0, 72), (1, 60)):
        events += [off(480, base, channel=ch)]
    events += [on(480, 74), off(960, 74), on(480, 50, channel=2), off(1920, 50, channel=2)]
    path = _file(tmp_path / "t0.mid", [events], kind=0)
    assert read_tracks(path.read_bytes(), 4) is not None
    assert_same_reading(path, monkeypatch)
    piece = midi_to_piece(path, melody_track="Band")
    assert list(piece.voices) == ["Band 2", "Band 3"]
    assert piece.programs == {"Band": 20, "Band 2": 0, "Band 3": 10}  # channel 2 first, as its note-off is


def test_names_programs_and_text_as_mido_decodes_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tracks = [conductor(meta(0, "marker", text=""), meta(960, "marker", text="Coda"))]
    for name in ("Mélodie", "Strings", "Strings", ""):
        raw = name.encode("utf-8").decode("latin-1") if name == "Mélodie" else name  # a UTF-8 name as mido sees it
        tracks.append([meta(0, "track_name", name=raw), (0, mido.Message("program_change", program=41)),
                       on(0, 60 + len(tracks)), off(480, 60 + len(tracks))])
    tracks.append([meta(0, "track_name", name="Caf\xe9"), on(0, 50), off(960, 50)])  # Latin-1, not UTF-8
    path = _file(tmp_path / "names.mid", tracks)
    assert_same_reading(path, monkeypatch)
    piece = midi_to_piece(path)
    assert {piece.melody_name, *piece.voices} == {"Mélodie", "Strings", "Strings 2", "Viola", "Café"}
    assert piece.chords == []  # markers that are not all chord symbols are not chords


def test_a_program_change_while_a_channel_plays_is_read_event_by_event(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    part = [meta(0, "track_name", name="Keys"), (0, mido.Message("program_change", program=0)), on(0, 60),
            (240, mido.Message("program_change", program=5)), off(480, 60), on(480, 62), off(960, 62)]
    path = _file(tmp_path / "prog.mid", [conductor(), part])
    chunk = split_chunks(path.read_bytes())[2][1]  # type: ignore[index]
    assert walk(chunk, notes=True).notes == {(0, 5): [(0, 480, 60, 90), (480, 960, 62, 90)]}
    assert_same_reading(path, monkeypatch)


def test_files_melodygan_writes_are_read_by_the_fast_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from melodygan.chords import parse_chord_symbol
    from melodygan.keys import Key
    from melodygan.piece import chords_from_changes

    chords = chords_from_changes([(4, parse_chord_symbol("Bbm7b5")), (16, parse_chord_symbol("Edim7"))], 28)
    piece = Piece(melody=[Note(0, 4, 62), Note(4, 12, 67), Note(16, 12, 70)], chords=chords,
                  voices={"Bass": [Note(4, 12, 43), Note(16, 12, 40)]}, key=Key(10, "minor"), time_signature=(3, 4),
                  pickup_steps=4, title="Tïtle", tempo_bpm=96.0)
    path = write_midi(piece, tmp_path / "w.mid")
    assert read_tracks(path.read_bytes(), 4) is not None
    assert_same_reading(path, monkeypatch)
    assert midi_to_piece(path) == piece.replace(programs={"Melody": 40, "Bass": 32}, length_steps=piece.end_steps)


def test_what_the_fast_path_leaves_to_pretty_midi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = _file(tmp_path / "g.mid", [conductor(), [on(0, 60), off(480, 60)]])
    data = good.read_bytes()
    smpte = tmp_path / "smpte.mid"
    smpte.write_bytes(data[:12] + b"\xe7\x28" + data[14:])  # 25 fps, 40 ticks per frame
    no_end = tmp_path / "no_end.mid"
    no_end.write_bytes(data[:-4])  # the last chunk loses its end-of-track
    for path in (smpte, no_end):
        assert read_tracks(path.read_bytes(), 4) is None
        assert_same_reading(path, monkeypatch)


def random_file(seed: int, path: Path) -> Path:
    """A random file full of what real files get wrong: same-pitch overlaps, same-tick orders,
    note-ons never closed, spurious note-offs, programs, names, type 0 with many channels."""
    r = random.Random(seed)
    kind = r.choice([0, 1, 1])
    tpb = r.choice([96, 120, 384, 480])
    head = [meta(0, "set_tempo", tempo=r.choice([500000, 400000]))]
    if r.random() < 0.7:
        head.append(meta(0, "track_name", name=r.choice(["Song", "Tïtle", "  x ", ""])))
    if r.random() < 0.3:
        head += [meta(0, "time_signature", numerator=1, denominator=4),
                 meta(tpb, "time_signature", numerator=3, denominator=4)]
    if r.random() < 0.4:
        head.append(meta(0, "key_signature", key=r.choice(["C", "G", "Bb", "F#m"])))
    if r.random() < 0.4:
        head += [meta(i * 4 * tpb, "marker", text=s) for i, s in enumerate(r.sample(["C", "G7", "Am", "F"], 3))]
    if r.random() < 0.3:  # several of a kind at one tick: the last in file order counts
        tick = r.choice([0, tpb])
        head += [meta(tick, "set_tempo", tempo=600000), meta(tick, "time_signature", numerator=2, denominator=4),
                 meta(tick, "key_signature", key="Eb"), meta(tick, "marker", text="Dm"),
                 meta(tick, "set_tempo", tempo=450000), meta(tick, "time_signature", numerator=6, denominator=8),
                 meta(tick, "key_signature", key="A"), meta(tick, "marker", text="G")]
    parts = []
    for _ in range(1 if kind == 0 else r.randint(1, 4)):
        events: list[Event] = []
        if r.random() < 0.85:
            events.append(meta(0, "track_name", name=r.choice(["Melody", "Piano", "Bass", "Piano", ""])))
        if r.random() < 0.3:  # a key or tempo in a part too, as notation programs (and melodygan) write them
            events.append(r.choice([meta(0, "key_signature", key="D"), meta(0, "set_tempo", tempo=520000)]))
        channels = [r.choice([0, 1, 2, 9]) for _ in range(r.choice([1, 1, 2, 3]))]
        for ch in sorted(set(channels)):
            if r.random() < 0.7:
                events.append((0, mido.Message("program_change", channel=ch, program=r.randint(0, 80))))
        tick, sounding = 0, []
        for _ in range(r.randint(0, 50)):
            tick += r.choice([0, 0, 1, 5, tpb // 4, tpb // 2, tpb, tpb // 3])
            ch, x = r.choice(channels), r.random()
            if x < 0.45 or not sounding:
                pitch = r.choice([60, 62, 64, 65, 67]) + r.choice([0, 0, 12, -12])
                events.append(on(tick, pitch, r.randint(1, 127), ch))
                sounding.append((ch, pitch))
            elif x < 0.92:
                c, pitch = sounding.pop(r.randrange(len(sounding)) if r.random() < 0.3 else 0)
                events.append(off(tick, pitch, c, as_note_on=r.random() < 0.5))
            elif x < 0.94:
                events.append((tick, mido.Message("program_change", channel=ch, program=r.randint(0, 80))))
            else:
                events.append(off(tick, 60, ch))  # often nothing to close
        if r.random() < 0.7:
            events += [off(tick + tpb, pitch, c) for c, pitch in sounding]
        parts.append(events)
    tracks = [head + [e for p in parts for e in p]] if kind == 0 else [head, *parts]
    for t in tracks:
        t.append(meta(max((e[0] for e in t), default=0) + r.choice([0, 0, 7, tpb]), "end_of_track"))
    return _file(path, tracks, tpb, kind)


@pytest.mark.parametrize("block", range(4))
def test_random_files_read_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    for seed in range(block * 25, block * 25 + 25):
        assert_same_reading(random_file(seed, tmp_path / f"r{seed}.mid"), monkeypatch)


@pytest.mark.slow
def test_many_random_files_read_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for seed in range(1000, 3000):
        assert_same_reading(random_file(seed, tmp_path / "r.mid"), monkeypatch)


@pytest.mark.slow
@pytest.mark.skipif(not POP909.is_dir(), reason="the POP909 folder is not here (see data/pop909/README.md)")
def test_pop909_reads_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    for path in sorted(POP909.glob("*/*.mid")):
        assert read_tracks(path.read_bytes(), 4) is not None, path
        assert_same_reading(path, monkeypatch)


def test_track_notes_in_seconds_as_pretty_midi_gives_them(tmp_path: Path) -> None:
    from melodygan.formats.midi import _track_notes_seconds_pretty_midi, track_notes_seconds

    head = [meta(0, "set_tempo", tempo=600000), meta(0, "set_tempo", tempo=500000),
            meta(700, "set_tempo", tempo=450000), meta(1500, "set_tempo", tempo=450000),
            meta(2000, "set_tempo", tempo=700000)]
    melody = [meta(0, "track_name", name=" melody "), on(0, 60), on(240, 60), off(480, 60), on(650, 62), off(1900, 62),
              on(2100, 64), off(2300, 64)]
    other = [meta(0, "track_name", name="Bass"), meta(100, "set_tempo", tempo=300000), on(0, 40), off(960, 40)]
    path = _file(tmp_path / "sec.mid", [head, melody, other], ticks_per_beat=384)
    got = track_notes_seconds(path, "MELODY")
    assert got == _track_notes_seconds_pretty_midi(path, "MELODY")
    assert [round(s, 6) for s, *_ in got] == [0.0, 0.3125, 0.846354, 2.617187]  # the first track's tempos only
    with pytest.raises(Exception, match="no track named 'Lead'"):
        track_notes_seconds(path, "Lead")
