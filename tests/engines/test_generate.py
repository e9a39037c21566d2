"""generate(): keys, meters, chords, primers, seeds, engines and the CLI, on a tiny untrained checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from melodygan.chords import Chord, parse_chord_symbol
from melodygan.cli import main
from melodygan.engines.generate import generate, parse_progression
from melodygan.errors import MelodyganError
from melodygan.keys import Key
from melodygan.notes import Note
from melodygan.piece import Piece


def test_clips_have_the_asked_bars_key_meter_and_scale(ar_checkpoint: Path) -> None:
    pieces = generate(num=3, bars=4, key="Bb", time_signature=(3, 4), tempo_bpm=90, seed=2, checkpoint=ar_checkpoint)
    assert len(pieces) == 3
    for p in pieces:
        assert p.key == Key(10, "major") and p.time_signature == (3, 4) and p.tempo_bpm == 90
        assert p.num_bars == 4 and p.end_steps == 48
        assert p.melody and all(n.pitch % 12 in Key(10, "major").scale for n in p.melody)
        assert p.chords and p.chords[0].start_steps == 0


def test_same_seed_same_clips(ar_checkpoint: Path) -> None:
    a = generate(num=2, bars=2, seed=7, checkpoint=ar_checkpoint)
    b = generate(num=2, bars=2, seed=7, checkpoint=ar_checkpoint)
    c = generate(num=2, bars=2, seed=8, checkpoint=ar_checkpoint)
    assert a == b and a != c
    assert all(p.key.name in ("G", "Em") for p in a + c)  # drawn from the checkpoint's keys


def test_given_chords_are_kept_and_cycled(ar_checkpoint: Path) -> None:
    (p,) = generate(bars=6, chords="C G Am F", seed=3, checkpoint=ar_checkpoint)
    assert [c.symbol() for c in p.chords] == ["C", "G", "Am", "F", "C", "G"]
    assert [c.start_steps for c in p.chords] == [0, 16, 32, 48, 64, 80]
    assert p.key == Key(0, "major")  # estimated from the chords


def test_progression_with_two_chords_in_a_bar() -> None:
    chords = parse_progression("C G | Am", bars=2, bar_steps=16, beat_steps=4)
    assert [(c.start_steps, c.symbol()) for c in chords] == [(0, "C"), (8, "G"), (16, "Am")]
    with pytest.raises(MelodyganError, match="H7"):
        parse_progression("C H7", 2, 16, 4)


def test_primer_is_continued(ar_checkpoint: Path) -> None:
    primer = Piece(melody=[Note(0, 4, 67), Note(4, 4, 69), Note(8, 8, 71)],
                   chords=[parse_chord_symbol("G", 0, 16)], key=Key(7, "major"))
    (p,) = generate(bars=2, primer=primer, seed=1, checkpoint=ar_checkpoint)
    assert p.num_bars == 3
    assert p.melody[:3] == primer.melody
    assert p.chords[0].symbol() == "G"


@pytest.mark.parametrize("kwargs, match", [
    ({"engine": "diffusion"}, "engine"), ({"bars": 0}, "bars"), ({"key": "H"}, "key"),
    ({"time_signature": (5, 8)}, "5/8"), ({"top_p": 1.5}, "top_p"), ({"genre": "jazz"}, "genre"),
    ({"candidates": 0}, "candidates"), ({"threads": 0}, "threads"),
])
def test_bad_arguments_are_user_errors(ar_checkpoint: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(MelodyganError, match=match):
        generate(checkpoint=ar_checkpoint, **kwargs)


def test_cli_same_seed_byte_identical_midi(ar_checkpoint: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    args = ["generate", "--bars", "4", "--num", "2", "--key", "G", "--meter", "6/8", "--seed", "5",
            "--checkpoint", str(ar_checkpoint)]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    for name in ("clip-001.mid", "clip-002.mid"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    from melodygan.formats.midi import midi_to_piece

    back = midi_to_piece(tmp_path / "a" / "clip-001.mid")
    assert {"Chords", "Bass"} <= set(back.voices) and back.time_signature == (6, 8)
    assert main([*args, "--out", str(tmp_path / "a")]) == 2  # exists, no --force
    assert "exists" in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "a"), "--force"]) == 0


def test_cli_bad_meter_exits_2(ar_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--meter", "four", "--checkpoint", str(ar_checkpoint), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "four" in err[0]


def test_threads_come_from_the_flag_or_the_environment_and_are_restored(ar_checkpoint: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from melodygan.devices import sampling_threads

    monkeypatch.setenv("MELODYGAN_THREADS", "3")
    assert sampling_threads() == 3 and sampling_threads(2) == 2
    monkeypatch.setenv("MELODYGAN_THREADS", "many")
    with pytest.raises(MelodyganError, match="MELODYGAN_THREADS"):
        generate(bars=1, checkpoint=ar_checkpoint)
    from melodygan.devices import _DEFAULT_THREADS, batch_threads

    monkeypatch.setenv("MELODYGAN_THREADS", "3")
    assert batch_threads() == 3 and batch_threads(1) == 1  # the GAN's batch: the same flag and variable
    monkeypatch.delenv("MELODYGAN_THREADS")
    assert batch_threads() == _DEFAULT_THREADS >= 1 and sampling_threads() == 1  # unset: every core vs one
    before = torch.get_num_threads()
    a = generate(bars=2, seed=4, checkpoint=ar_checkpoint, threads=1)
    assert torch.get_num_threads() == before
    assert a[0].melody == generate(bars=2, seed=4, checkpoint=ar_checkpoint, threads=2)[0].melody


def test_hybrid_clips_keep_each_clips_own_key(ar_checkpoint: Path) -> None:
    """Without --key each clip draws its key; the GAN melody, key signature and title follow that
    clip's chords (not the first clip's)."""
    ar = generate("ar", num=8, bars=2, seed=3, checkpoint=ar_checkpoint)
    hybrid = generate("hybrid", num=8, bars=2, seed=3, checkpoint=ar_checkpoint)
    keys = [p.key for p in ar]
    assert len(set(keys)) > 1  # the seed draws both G and Em, so the check means something
    assert [p.key for p in hybrid] == keys
    assert [p.chords for p in hybrid] == [p.chords for p in ar]


def test_the_key_of_given_chords_comes_from_the_chords(ar_checkpoint: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    import mido

    # the checkpoint's own keys are G and Em: without the chords' key, the clip would be drawn in one
    (p,) = generate(bars=4, chords="Dm7 G7 Cmaj7 A7", seed=2, checkpoint=ar_checkpoint)
    assert p.key == Key(0, "major")
    assert [c.symbol(key=p.key) for c in p.chords] == ["Dm7", "G7", "Cmaj7", "A7"]
    out = tmp_path / "jazz"
    assert main(["generate", "--out", str(out), "--bars", "4", "--chords", "Dm7 G7 Cmaj7 A7",
                 "--checkpoint", str(ar_checkpoint)]) == 0
    mid = mido.MidiFile(str(out / "clip-001.mid"))
    assert {m.key for t in mid.tracks for m in t if m.type == "key_signature"} == {"C"}
    assert [m.text for m in mid.tracks[0] if m.type == "marker"] == ["Dm7", "G7", "Cmaj7", "A7"]
    for chords, key in (("Am Dm E7", Key(9, "minor")), ("D A Bm G", Key(2, "major"))):
        (clip,) = generate(bars=4, chords=chords, seed=2, checkpoint=ar_checkpoint)
        assert clip.key == key, chords


def test_a_midi_only_batch_writes_what_each_clip_would_alone(gan_checkpoint: Path, tmp_path: Path) -> None:
    """generate's MIDI-only export encodes the batch together; every file is the one the per-file
    export (arrangement, accents, humanizing with the clip's own seed) writes."""
    from melodygan import cli
    from melodygan.engines.gan import gan_melodies
    from melodygan.formats.midi import midi_to_piece

    bar = 16
    chords = [[Chord(r, q, i * bar, bar) for i, (r, q) in enumerate([(0, "maj"), (7, "dom7")])]] * 4
    pieces = gan_melodies(chords, bars=2, checkpoint=gan_checkpoint, seed=3)
    for extra in ([], ["--humanize", "0.5", "--accompaniment", "arpeggio"]):
        args = cli.build_parser().parse_args(["generate", "--out", str(tmp_path), *extra])
        batch = [tmp_path / f"batch{len(extra)}" / f"clip-{i}.mid" for i in range(4)]
        written = cli._export_batch(list(pieces), batch, args)
        assert [w[0] for w in written] == batch
        for i, (piece, path) in enumerate(zip(pieces, batch)):
            alone = tmp_path / f"alone{len(extra)}-{i}.mid"
            cli._export(cli._arranged(piece, args), alone, args, i)
            assert path.read_bytes() == alone.read_bytes(), (extra, i)
        assert midi_to_piece(batch[0]).melody_name == "Melody"
