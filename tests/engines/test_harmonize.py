"""harmonize(): the whole melody comes back note for note with chords; the controls; the CLI end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from melodygan.chords import parse_chord_symbol
from melodygan.cli import main
from melodygan.engines.harmonize import guess_genre, harmonize, parse_fix
from melodygan.engines.leadsheet import chord_fit
from melodygan.errors import MelodyganError
from melodygan.keys import Key
from melodygan.notes import Note
from melodygan.piece import Piece


def _tune(bars: int = 4, pickup: int = 0, tonic: int = 2) -> Piece:
    degrees = (0, 2, 4, 5, 7, 4, 2, 0)
    melody = [Note(pickup + 4 * j, 4 if j % 3 else 2, 60 + tonic + degrees[j % 8]) for j in range(4 * bars)]
    if pickup:
        melody = [Note(0, pickup, 67 + tonic), *melody]
    return Piece(melody=melody, key=Key(tonic, "major"), pickup_steps=pickup, title="t")


def test_chord_fit_on_hand_values() -> None:
    c = [parse_chord_symbol("C", 0, 16)]
    notes = [Note(0, 4, 60), Note(4, 4, 62), Note(8, 4, 64), Note(12, 4, 65)]  # C D E F over C
    # C, E chord tones; D passes to E (chord tone); F's next different note: none → miss
    assert chord_fit(notes, c) == pytest.approx(3 / 4)
    assert chord_fit([], c) == 1.0


@pytest.mark.parametrize("bars, pickup, meter", [(3, 0, (4, 4)), (20, 4, (4, 4)), (6, 2, (3, 4)), (4, 6, (6, 8))])
def test_melody_tempo_meter_pickup_are_kept(harmonizer_checkpoint: Path, bars: int, pickup: int,
                                            meter: tuple[int, int]) -> None:
    tune = _tune(bars, pickup).replace(time_signature=meter, tempo_bpm=97.0)
    out = harmonize(tune, checkpoint=harmonizer_checkpoint)
    assert isinstance(out, Piece)
    assert out.melody == tune.melody
    assert (out.time_signature, out.tempo_bpm, out.pickup_steps) == (meter, 97.0, pickup)
    assert out.chords and out.chords[0].start_steps == 0
    assert all(a.end_steps == b.start_steps for a, b in zip(out.chords, out.chords[1:]))
    assert out.chords[-1].end_steps == out.end_steps


def test_key_controls(harmonizer_checkpoint: Path) -> None:
    tune = _tune(4, tonic=5).replace(key=Key(0, "major"))  # an F tune written without a key signature
    assert harmonize(tune, checkpoint=harmonizer_checkpoint).key == Key(5, "major")  # B-flats: F wins
    assert harmonize(tune, key="C", checkpoint=harmonizer_checkpoint).key == Key(0, "major")  # --key overrides
    with pytest.raises(MelodyganError, match="key"):
        harmonize(tune, key="H#", checkpoint=harmonizer_checkpoint)


def test_chord_rate_and_fix(harmonizer_checkpoint: Path) -> None:
    tune = _tune(8)
    per_bar = harmonize(tune, chord_rate="bar", checkpoint=harmonizer_checkpoint)
    assert all(c.start_steps % 16 == 0 for c in per_bar.chords)
    half = harmonize(tune, chord_rate="half-bar", checkpoint=harmonizer_checkpoint)
    assert all(c.start_steps % 8 == 0 for c in half.chords)
    fixed = harmonize(tune, fix="3:G7,5:Em", checkpoint=harmonizer_checkpoint)
    assert fixed.chord_at(32).symbol() == "G7" and fixed.chord_at(47).symbol() == "G7"  # the whole of bar 3
    assert fixed.chord_at(64).symbol() == "Em" and fixed.chord_at(79).symbol() == "Em"
    assert parse_fix({2: "C"}) == {2: parse_chord_symbol("C")}
    for bad in ("3G7", "x:C", "3:H7"):
        with pytest.raises(MelodyganError, match="fix"):
            harmonize(tune, fix=bad, checkpoint=harmonizer_checkpoint)
    with pytest.raises(MelodyganError, match=r"no such bar|bars 1"):
        harmonize(tune, fix="40:C", checkpoint=harmonizer_checkpoint)


def test_alternatives_are_distinct_ranked_and_seeded(harmonizer_checkpoint: Path) -> None:
    tune = _tune(4)
    best = harmonize(tune, checkpoint=harmonizer_checkpoint)
    alts = harmonize(tune, num=4, seed=5, checkpoint=harmonizer_checkpoint)
    assert isinstance(alts, list) and alts[0] == best and 2 <= len(alts) <= 4
    assert len({tuple(p.chords) for p in alts}) == len(alts)
    again = harmonize(tune, num=4, seed=5, checkpoint=harmonizer_checkpoint)
    assert [p.chords for p in again] == [p.chords for p in alts]
    assert all(p.melody == tune.melody for p in alts)


def test_genre_guess_and_bad_arguments(harmonizer_checkpoint: Path) -> None:
    assert guess_genre(_tune(4)) == "folk"
    sung = Piece(melody=[Note(4 * j + 1, 3, 62 + j % 5) for j in range(16)])  # every onset a 16th late
    assert guess_genre(sung) == "pop"
    tune = _tune(2)
    for kwargs, message in [({"genre": "jazz"}, "genre"), ({"chord_rate": "weekly"}, "chord rate"),
                            ({"num": 0}, "num"), ({"style": "opera"}, "style")]:
        with pytest.raises(MelodyganError, match=message):
            harmonize(tune, checkpoint=harmonizer_checkpoint, **kwargs)  # type: ignore[arg-type]


def test_polyphonic_input_is_reduced_by_skyline(harmonizer_checkpoint: Path) -> None:
    tune = _tune(2)
    lower = [Note(n.start_steps, n.duration_steps, n.pitch - 7) for n in tune.melody]
    out = harmonize(tune.replace(melody=tune.melody + lower), checkpoint=harmonizer_checkpoint)
    assert isinstance(out, Piece) and out.melody == tune.melody


def test_empty_input_is_a_user_error(harmonizer_checkpoint: Path) -> None:
    with pytest.raises(MelodyganError, match="no melody"):
        harmonize(Piece(), checkpoint=harmonizer_checkpoint)


def test_cli_harmonizes_a_midi_file(harmonizer_checkpoint: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    from melodygan.formats.midi import midi_to_piece, write_midi

    src = write_midi(_tune(4), tmp_path / "tune.mid")
    ck = ["--checkpoint", str(harmonizer_checkpoint)]
    assert main(["harmonize", str(src), *ck]) == 0
    back = midi_to_piece(tmp_path / "tune-harmonized.mid")
    assert [(n.start_steps, n.duration_steps, n.pitch) for n in back.melody] == [
        (n.start_steps, n.duration_steps, n.pitch) for n in _tune(4).melody]
    assert {"Chords", "Bass"} <= set(back.voices)
    out = capsys.readouterr().out
    assert "key: D" in out and "chords:" in out
    assert main(["harmonize", str(src), *ck]) == 2  # exists, no --force
    assert "exists" in capsys.readouterr().err
    assert main(["harmonize", str(src), *ck, "--num", "3", "--chord-rate", "bar", "--fix", "2:A7"]) == 0
    assert [p.exists() for p in (tmp_path / f"tune-harmonized-{i}.mid" for i in (1, 2))] == [True, True]
    assert main(["harmonize", str(src), *ck, "--fix", "2:nope", "--out", str(tmp_path / "y.mid")]) == 2
    assert not (tmp_path / "y.mid").exists()
    assert "--fix" in capsys.readouterr().err
    empty = tmp_path / "empty.mid"
    write_midi(Piece(voices={"Drums": []}), empty)
    assert main(["harmonize", str(empty), *ck, "--out", str(tmp_path / "x.mid")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_a_melody_that_stops_mid_bar_gets_a_whole_last_bar(harmonizer_checkpoint: Path, tmp_path: Path) -> None:
    import mido

    # 3 bars of 4/4 and a half: the file ends on the last note, mid-bar
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    mid.tracks.append(mido.MidiTrack([mido.MetaMessage("time_signature", numerator=4, denominator=4),
                                      mido.MetaMessage("key_signature", key="G")]))
    track = mido.MidiTrack([mido.MetaMessage("track_name", name="Melody")])
    pitches = [67, 71, 74, 72, 71, 69, 67, 66, 67, 69, 71, 72, 74, 67]
    for p in pitches:
        track += [mido.Message("note_on", note=p, velocity=80), mido.Message("note_off", note=p, time=480)]
    mid.tracks.append(track)
    src = tmp_path / "half.mid"
    mid.save(str(src))
    assert sum(m.time for m in mido.MidiFile(str(src)).tracks[1]) == 14 * 480  # 3.5 bars

    assert main(["harmonize", str(src), "--checkpoint", str(harmonizer_checkpoint)]) == 0
    out = mido.MidiFile(str(tmp_path / "half-harmonized.mid"))
    bar = 4 * 480
    for t in out.tracks:
        assert sum(m.time for m in t) == 4 * bar  # every track ends on the bar line after the melody
    tick, notes, open_ = 0, [], {}
    for m in out.tracks[1]:  # the melody, read back by mido, note for note
        tick += m.time
        if m.type == "note_on" and m.velocity:
            open_[m.note] = tick
        elif m.type in ("note_on", "note_off"):
            notes.append((open_.pop(m.note), tick, m.note))
    assert notes == [(480 * i, 480 * (i + 1), p) for i, p in enumerate(pitches)]
    markers = [m for t in out.tracks for m in t if m.type == "marker"]  # the file's tracks kept: with the new parts
    assert markers  # chords reach into the padded half bar: the last one lasts to the end
    piece = harmonize(Piece(melody=[Note(0, 4, 67)], length_steps=6), checkpoint=harmonizer_checkpoint)
    assert isinstance(piece, Piece) and piece.end_steps == 16 and piece.chords[-1].end_steps == 16


def test_the_files_f_signature_is_kept_for_a_melody_between_f_and_d_minor(
        harmonizer_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import mido

    from melodygan.formats.readers import read_score
    from melodygan.keys import estimate_key

    pitches = [62, 65, 69, 62, 61, 62, 64, 65, 67, 69, 70, 69, 71, 69, 65, 62, 61, 62, 65, 69]
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    mid.tracks.append(mido.MidiTrack([mido.MetaMessage("key_signature", key="F")]))
    track = mido.MidiTrack([mido.MetaMessage("track_name", name="Melody")])
    for p in pitches:
        track += [mido.Message("note_on", note=p, velocity=80), mido.Message("note_off", note=p, time=480)]
    mid.tracks.append(track)
    src = tmp_path / "rag.mid"
    mid.save(str(src))
    piece = read_score(src)
    assert piece.key == Key(5, "major") and estimate_key(piece.melody)[0] == Key(2, "minor")
    assert harmonize(piece, checkpoint=harmonizer_checkpoint).key == Key(5, "major")
    assert main(["harmonize", str(src), "--checkpoint", str(harmonizer_checkpoint)]) == 0
    assert "key: F\n" in capsys.readouterr().out
    out = mido.MidiFile(str(tmp_path / "rag-harmonized.mid"))
    assert {m.key for t in out.tracks for m in t if m.type == "key_signature"} == {"F"}
