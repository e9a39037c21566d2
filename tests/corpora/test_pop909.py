"""POP909 reader on a song folder built in the test: beat grid, meter, pickup, Harte chords, key, split."""

from __future__ import annotations

from pathlib import Path

import pretty_midi
import pytest

from melodygan.chords import parse_harte
from melodygan.corpora.pop909 import Pop909Stats, legato, read_song, split_of
from melodygan.corpora.sources import list_jobs, run_job
from melodygan.errors import MelodyganError
from melodygan.keys import Key
from melodygan.notes import Note

BEAT_S = 0.5  # 120 bpm


def _song(root: Path, name: str = "010", beats_per_bar: int = 3) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    # 13 beats: one pickup beat, then four bars of 3/4 (downbeats on beats 1, 4, 7, 10)
    beats = [(0.2 + i * BEAT_S, 0.0, 1.0 if i >= 1 and (i - 1) % beats_per_bar == 0 else 0.0) for i in range(13)]
    (folder / "beat_midi.txt").write_text("".join(f"{t:.3f} {h} {d}\n" for t, h, d in beats))
    (folder / "chord_midi.txt").write_text(
        "0.2\t0.7\tN\n0.7\t2.2\tG:maj\n2.2\t3.7\tD:7/3\n3.7\t5.2\tC:sus4(b7)\n5.2\t6.7\tG:maj\n")
    (folder / "key_audio.txt").write_text("0.2\t5.0\tG:maj\n5.0\t6.7\tE:min\n")
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    melody = pretty_midi.Instrument(0, name="MELODY")
    # the pickup on beat 0, then quarter notes; one eighth note (half a beat) in bar 2
    for start_beat, beats_long, pitch in [(0, 1, 62), (1, 1, 67), (2, 1, 71), (3, 1, 74), (4, 0.5, 72),
                                          (4.5, 0.5, 71), (5, 1, 69), (10, 3, 67)]:
        t = 0.2 + start_beat * BEAT_S
        melody.notes.append(pretty_midi.Note(90, pitch, t, t + beats_long * BEAT_S - 0.01))
    pm.instruments.append(melody)
    pm.instruments.append(pretty_midi.Instrument(0, name="PIANO"))
    pm.write(str(folder / f"{name}.mid"))
    return folder


def test_read_song_on_the_beat_grid(tmp_path: Path) -> None:
    stats = Pop909Stats()
    piece = read_song(_song(tmp_path), stats)
    assert piece.time_signature == (3, 4) and piece.tempo_bpm == 120.0 and piece.pickup_steps == 4
    assert [(n.start_steps, n.duration_steps, n.pitch) for n in piece.melody] == [
        (0, 4, 62), (4, 4, 67), (8, 4, 71), (12, 4, 74), (16, 2, 72), (18, 2, 71), (20, 4, 69), (40, 12, 67)]
    assert [(c.start_steps, c.symbol()) for c in piece.chords] == [
        (4, "G"), (16, "D7/F#"), (28, "Csus4"), (40, "G")]
    assert piece.key == Key(7, "major") and stats.key_changes == 1
    assert stats.chords == {"none": 1, "exact": 3, "approx": 1}
    assert piece.end_steps == 4 + 4 * 12  # whole bars after the pickup


def test_irregular_bars_and_missing_melody_are_refused(tmp_path: Path) -> None:
    folder = _song(tmp_path, "011")
    folder.joinpath("beat_midi.txt").write_text("".join(
        f"{0.2 + i * BEAT_S:.3f} 0.0 {1.0 if i in (0, 2, 6, 7, 11) else 0.0}\n" for i in range(13)))
    with pytest.raises(MelodyganError, match="irregular bars"):
        read_song(folder)
    empty = _song(tmp_path, "012")
    pm = pretty_midi.PrettyMIDI()
    pm.instruments.append(pretty_midi.Instrument(0, name="PIANO"))
    pm.write(str(empty / "012.mid"))
    with pytest.raises(MelodyganError, match="no track named 'MELODY'"):
        read_song(empty)


def test_harte_labels() -> None:
    assert parse_harte("Bb:maj/3")[0].symbol() == "Bb/D"
    assert parse_harte("A:min7") == (parse_harte("A:min7")[0], True) and parse_harte("A:min7")[0].quality == "min7"
    chord, exact = parse_harte("D:9")
    assert chord.quality == "dom7" and not exact
    assert parse_harte("N")[0].is_no_chord
    with pytest.raises(ValueError, match="not a Harte chord label"):
        parse_harte("H:maj")


def test_source_spec_gives_its_own_split(tmp_path: Path) -> None:
    _song(tmp_path, "010")
    _song(tmp_path, "021")
    jobs = list_jobs(f"pop909:{tmp_path}")
    assert [j.name for j in jobs] == ["010", "021"]
    items = [item for j in jobs for item in run_job(j).items]
    assert [(pid, split) for pid, split, _ in items] == [("pop909/010", "test"), ("pop909/021", "valid")]
    assert [split_of(s) for s in ("100", "101", "102")] == ["test", "valid", "train"]


def test_preprocess_reads_song_folders(tmp_path: Path) -> None:
    from melodygan.corpora.preprocess import load_pieces, preprocess

    _song(tmp_path / "songs", "010")
    _song(tmp_path / "songs", "022")
    preprocess([f"pop909:{tmp_path / 'songs'}"], tmp_path / "out", workers=1, progress=False)
    assert [p.title for p in load_pieces(tmp_path / "out", "test")] == ["POP909 010"]
    assert [p.title for p in load_pieces(tmp_path / "out", "train")] == ["POP909 022"]


def test_detached_notes_are_held_to_the_next_onset_across_short_silences() -> None:
    notes = [Note(0, 1, 60), Note(4, 1, 62), Note(6, 2, 64), Note(16, 2, 65), Note(18, 1, 67)]
    assert [(n.start_steps, n.duration_steps) for n in legato(notes)] == [
        (0, 4), (4, 2), (6, 2), (16, 2), (18, 1)]  # a silence of a beat or more (8 → 16) stays


def test_a_polyphonic_melody_is_its_skyline_held_to_the_next_onset(tmp_path: Path) -> None:
    from melodygan.corpora.pop909 import read_song_arrays
    from melodygan.notes import skyline

    folder = _song(tmp_path, "030")
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    melody = pretty_midi.Instrument(0, name="MELODY")
    played = [(0, 1, 62), (1, 1, 67), (1, 1, 64), (2, 0.75, 71), (3, 2, 74), (4, 1, 72), (5, 1, 76), (6, 1, 77),
              (6, 0.5, 65), (10, 2, 67)]  # beats: a chord, a note hidden under a held one, a short gap
    for start_beat, beats_long, pitch in played:
        t = 0.2 + start_beat * BEAT_S
        melody.notes.append(pretty_midi.Note(80, pitch, t, t + beats_long * BEAT_S - 0.01))
    pm.instruments.append(melody)
    pm.write(str(folder / "030.mid"))
    piece = read_song(folder)
    on_grid = sorted(Note(round(4 * s), round(4 * d), p, 80) for s, d, p in played)
    assert piece.melody == legato(skyline(on_grid))
    assert [(n.start_steps, n.duration_steps, n.pitch) for n in piece.melody] == [
        (0, 4, 62), (4, 4, 67), (8, 4, 71), (12, 8, 74), (20, 4, 76), (24, 4, 77), (40, 8, 67)]
    rows = read_song_arrays(folder)
    assert rows.to_piece() == piece and rows.tracks == ["Melody"] and rows.melody_count == 7
