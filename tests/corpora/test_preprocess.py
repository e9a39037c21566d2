"""melodygan preprocess: arrays round trip, deterministic splits, skip-and-report, cache reuse, the CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from melodygan.chords import Chord, parse_chord_symbol
from melodygan.cli import main
from melodygan.corpora.preprocess import (
    PreprocessConfig,
    decode_pieces,
    encode_pieces,
    load_pieces,
    piece_from_dict,
    piece_to_dict,
    pieces_to_rolls,
    preprocess,
    split_of,
)
from melodygan.errors import MelodyganError
from melodygan.keys import Key
from melodygan.notes import Note
from melodygan.piece import Piece


def _piece(shift: int = 0, title: str = "t") -> Piece:
    return Piece(
        melody=[Note(0, 4, 67 + shift), Note(4, 2, 69 + shift, 100), Note(6, 10, 71 + shift)],
        chords=[parse_chord_symbol("G", 0, 8), Chord(2, "dom7", 8, 8, bass=6)],
        voices={"Bass": [Note(0, 16, 43 + shift)]}, key=Key(7, "major"), time_signature=(3, 4),
        tempo_bpm=96.5, pickup_steps=4, length_steps=16, title=title, programs={"Bass": 33},
    )


def _same(a: Piece, b: Piece) -> bool:
    return (a.melody, a.chords, a.voices, a.key, a.time_signature, a.tempo_bpm, a.pickup_steps, a.end_steps,
            a.title, a.melody_name) == (b.melody, b.chords, b.voices, b.key, b.time_signature, b.tempo_bpm,
                                        b.pickup_steps, b.end_steps, b.title, b.melody_name)


def test_dict_and_array_round_trips() -> None:
    pieces = [_piece(), _piece(2, "u")]
    assert _same(piece_from_dict(json.loads(json.dumps(piece_to_dict(pieces[0])))), pieces[0])
    arrays = encode_pieces(pieces)
    assert arrays["notes"].shape == (8, 6) and arrays["chords"].shape == (4, 5) and arrays["pieces"].shape == (2, 8)
    assert arrays["chords"][1].tolist() == [0, 8, 8, Chord(2, "dom7").index, 6]
    info = [{"title": p.title, "tracks": ["Melody", "Bass"], "programs": p.programs} for p in pieces]
    back = decode_pieces(arrays, info)
    assert all(_same(a, b) for a, b in zip(back, pieces))
    assert back[0].programs == {"Bass": 33}


def test_split_is_deterministic_and_about_80_10_10() -> None:
    ids = [f"midi/song{i}.mid" for i in range(2000)]
    splits = [split_of(i) for i in ids]
    assert splits == [split_of(i) for i in ids]
    share = {s: splits.count(s) / len(ids) for s in ("train", "valid", "test")}
    assert 0.77 < share["train"] < 0.83 and 0.08 < share["valid"] < 0.12 and 0.08 < share["test"] < 0.12


def test_rolls_and_labels() -> None:
    rolls, labels = pieces_to_rolls([_piece()], length_steps=8, pitch_low=60, num_pitches=24)
    assert rolls.shape == (1, 2, 8, 24) and labels.shape == (1, 8)
    assert rolls[0, 0, :, 7].tolist() == [1, 1, 1, 1, 0, 0, 0, 0]  # G4 sustain
    assert rolls[0, 1, :, 9].tolist() == [0, 0, 0, 0, 1, 0, 0, 0]  # A4 onset
    assert rolls[0, :, :, 11].sum() == 3  # B4 from step 6, cut at 8: 2 sustain + 1 onset
    assert labels[0].tolist() == [parse_chord_symbol("G").index] * 8


@pytest.fixture(scope="module")
def midi_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import pretty_midi

    from melodygan.formats.midi import write_midi

    d = tmp_path_factory.mktemp("midis")
    for i in range(6):
        melody = [Note(4 * k, 4, 60 + (k * (i + 2)) % 12) for k in range(16)]
        bass = [Note(16 * k, 16, 48 + (0, 5, 7, 0)[k]) for k in range(4)]
        write_midi(Piece(melody=melody, voices={"Bass": bass}, title=f"song {i}"), d / f"song{i}.mid")
    (d / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    (d / "empty.mid").write_bytes(b"")
    drums = pretty_midi.PrettyMIDI()
    kit = pretty_midi.Instrument(program=0, is_drum=True, name="Drums")
    kit.notes = [pretty_midi.Note(velocity=100, pitch=36, start=0.5 * k, end=0.5 * k + 0.1) for k in range(8)]
    drums.instruments.append(kit)
    drums.write(str(d / "drums.mid"))
    long = Piece(melody=[Note(4 * k, 4, 60) for k in range(100)], title="long")
    (d / "sub").mkdir()
    write_midi(long, d / "sub" / "long.mid")
    return d


def test_midi_corpus_skips_and_reports(midi_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "pp"
    meta = preprocess([f"midi:{midi_corpus}"], out, workers=1, config=PreprocessConfig(max_steps=256),
                      progress=False)
    assert sum(meta["counts"].values()) == 6
    reasons = {s["input"]: s["reason"] for s in meta["skipped"]}
    assert set(reasons) == {"midi/broken.mid", "midi/empty.mid", "midi/drums.mid", "midi/sub/long.mid"}
    assert "absurdly long" in reasons["midi/sub/long.mid"]
    assert "drum" in reasons["midi/drums.mid"]
    saved = json.loads((out / "meta.json").read_text())
    assert saved["skipped"] == meta["skipped"] and saved["config"]["max_steps"] == 256
    loaded = [p for s in ("train", "valid", "test") for p in load_pieces(out, s)]
    assert sorted(p.title for p in loaded) == [f"song {i}" for i in range(6)]
    assert all(p.chords for p in loaded)  # plain MIDI gets labelled chords
    song = next(p for p in loaded if p.title == "song 0")
    assert [n.pitch for n in song.melody][:4] == [60, 62, 64, 66] and list(song.voices) == ["Bass"]


def _shard_arrays(out: Path) -> dict[str, dict[str, np.ndarray]]:
    return {f.name: dict(np.load(f)) for f in sorted((out / "shards").glob("*.npz"))}


def _all_pieces(out: Path) -> dict[str, list[Piece]]:
    return {s: load_pieces(out, s) for s in ("train", "valid", "test")}


def test_rerun_reuses_cache_and_parallel_is_identical(midi_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "pp"
    first = preprocess([f"midi:{midi_corpus}"], out, workers=1, progress=False)
    arrays = _shard_arrays(out)
    second = preprocess([f"midi:{midi_corpus}"], out, workers=2, progress=False)
    assert first["files"] == {"total": 10, "reused_from_cache": 0}
    assert second["files"] == {"total": 10, "reused_from_cache": 10}
    again = _shard_arrays(out)
    assert again.keys() == arrays.keys() == {"00000.npz"}
    assert all(np.array_equal(arrays[f][k], again[f][k]) for f in arrays for k in arrays[f])
    fresh = preprocess([f"midi:{midi_corpus}"], tmp_path / "pp2", workers=2, progress=False)
    assert fresh["counts"] == first["counts"] and fresh["skipped"] == first["skipped"]


def test_shards_hold_the_same_pieces_as_one(midi_corpus: Path, tmp_path: Path) -> None:
    one = preprocess([f"midi:{midi_corpus}"], tmp_path / "one", workers=1, progress=False)
    many = preprocess([f"midi:{midi_corpus}"], tmp_path / "many", workers=2, progress=False, shard_size=3)
    assert many["shards"] == 4 and one["shards"] == 1
    assert {k: many[k] for k in ("counts", "per_source", "skipped")} == {k: one[k] for k in ("counts", "per_source",
                                                                                              "skipped")}
    assert _all_pieces(tmp_path / "many") == _all_pieces(tmp_path / "one")
    assert sorted(p.name for p in (tmp_path / "many" / "shards").iterdir()) == [
        f"{i:05d}.{x}" for i in range(4) for x in ("json", "npz")]
    # fewer, larger shards later: the folder keeps one dataset, no stale shard
    preprocess([f"midi:{midi_corpus}"], tmp_path / "many", workers=1, progress=False, shard_size=5)
    assert len(list((tmp_path / "many" / "shards").glob("*.npz"))) == 2
    assert _all_pieces(tmp_path / "many") == _all_pieces(tmp_path / "one")


def test_a_run_stopped_midway_resumes_to_the_same_result(midi_corpus: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import melodygan.corpora.preprocess as pre

    whole = preprocess([f"midi:{midi_corpus}"], tmp_path / "whole", workers=1, progress=False, shard_size=3)
    real, calls = pre._cached_job, []

    def dies_after_seven(args: object) -> object:
        if len(calls) == 7:
            raise KeyboardInterrupt  # as a kill would, between two files of the third shard
        calls.append(1)
        return real(args)  # type: ignore[arg-type]

    out = tmp_path / "stopped"
    monkeypatch.setattr(pre, "_cached_job", dies_after_seven)
    with pytest.raises(KeyboardInterrupt):
        preprocess([f"midi:{midi_corpus}"], out, workers=1, progress=False, shard_size=3)
    assert sorted(json.loads((out / "manifest.json").read_text())["done"]) == ["00000", "00001"]
    assert not (out / "meta.json").exists()
    with pytest.raises(MelodyganError, match="melodygan preprocess"):
        load_pieces(out, "train")  # not finished: no meta.json yet
    monkeypatch.setattr(pre, "_cached_job", real)
    read, real_run = [], pre.run_job
    monkeypatch.setattr(pre, "run_job", lambda *a: read.append(a[0].name) or real_run(*a))
    resumed = preprocess([f"midi:{midi_corpus}"], out, workers=1, progress=False, shard_size=3)
    assert len(read) == 3  # shards 0-1 kept; in shard 2 the file read before the stop came from the cache
    assert resumed["files"] == {"total": 10, "reused_from_cache": 7}
    assert {k: resumed[k] for k in ("counts", "per_source", "skipped", "shards")} == {
        k: whole[k] for k in ("counts", "per_source", "skipped", "shards")}
    assert _all_pieces(out) == _all_pieces(tmp_path / "whole")


def _midi_corpus(folder: Path, files: int, notes: int) -> Path:
    """A folder of ``files`` one-track MIDI files of ``notes`` eighth notes each."""
    from melodygan.formats.midi import write_midi

    folder.mkdir()
    for i in range(files):
        write_midi(Piece(melody=[Note(2 * k, 2, 60 + (k * i) % 13) for k in range(notes)], title=f"t{i}"),
                   folder / f"{i:03d}.mid")
    return folder


def test_a_killed_process_resumes(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    corpus = _midi_corpus(tmp_path / "corpus", 60, 32)
    cmd = [sys.executable, "-m", "melodygan", "preprocess", f"midi:{corpus}", "--shard-size", "4", "--workers", "2",
           "--quiet", "--out"]
    out = tmp_path / "killed"
    # its own process group, killed whole (as a terminal's Ctrl-\ or a job scheduler does), so that
    # no worker outlives the test
    proc = subprocess.Popen([*cmd, str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        done = json.loads((out / "manifest.json").read_text()).get("done", {}) if (out / "manifest.json").exists() \
            else {}
        if len(done) >= 2:
            break
        time.sleep(0.05)
    midway = proc.poll() is None and not (out / "meta.json").exists()
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert midway  # killed with shards written and shards to go
    subprocess.run([*cmd, str(out)], check=True, capture_output=True)
    preprocess([f"midi:{corpus}"], tmp_path / "whole", workers=1, progress=False, shard_size=4)
    assert _all_pieces(out) == _all_pieces(tmp_path / "whole")
    meta = json.loads((out / "meta.json").read_text())
    assert meta["counts"] == json.loads((tmp_path / "whole" / "meta.json").read_text())["counts"]
    assert sum(meta["counts"].values()) == 60


def test_workers_leave_when_their_parent_is_killed(tmp_path: Path) -> None:
    import contextlib
    import signal
    import subprocess
    import sys
    import time

    corpus = _midi_corpus(tmp_path / "corpus", 200, 64)
    proc = subprocess.Popen([sys.executable, "-m", "melodygan", "preprocess", f"midi:{corpus}", "--shard-size", "4",
                             "--workers", "2", "--quiet", "--out", str(tmp_path / "out")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def children() -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == proc.pid or int(fields[2]) == proc.pid:  # parent, or process group
                found.append(int(entry.name))
        return [p for p in found if p != proc.pid]

    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None and len(children()) < 2:
            time.sleep(0.05)
        workers = children()
        assert proc.poll() is None and len(workers) >= 2  # the pool is up, jobs in flight
        os.kill(proc.pid, signal.SIGKILL)  # the parent alone: no cleanup code of it runs
        proc.wait()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(Path(f"/proc/{w}").exists() and
                                                   "Z" not in Path(f"/proc/{w}/stat").read_text().split(")")[1][:3]
                                                   for w in workers):
            time.sleep(0.1)
        alive = [w for w in workers if Path(f"/proc/{w}").exists()
                 and "Z" not in Path(f"/proc/{w}/stat").read_text().split(")")[1][:3]]
        assert not alive, f"workers {alive} outlived their parent"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def test_the_single_file_layout_of_older_runs_is_still_read(tmp_path: Path) -> None:
    pieces = [_piece(), _piece(2, "u")]
    arrays = encode_pieces(pieces)
    with open(tmp_path / "train.npz", "wb") as f:
        np.savez_compressed(f, **arrays)  # type: ignore[arg-type]
    for s in ("valid", "test"):
        with open(tmp_path / f"{s}.npz", "wb") as f:
            np.savez_compressed(f, **encode_pieces([]))  # type: ignore[arg-type]
    info = [{"id": f"x/{i}", "title": p.title, "tracks": ["Melody", "Bass"], "programs": p.programs}
            for i, p in enumerate(pieces)]
    (tmp_path / "pieces.json").write_text(json.dumps({"train": info, "valid": [], "test": []}))
    (tmp_path / "meta.json").write_text(json.dumps({"format_version": 1}))
    back = load_pieces(tmp_path, "train")
    assert all(_same(a, b) for a, b in zip(back, pieces)) and len(back) == 2 and load_pieces(tmp_path, "test") == []


def test_jsb_and_nottingham_sources(tmp_path: Path) -> None:
    chorale = [[72, 67, 64, 48]] * 8 + [[71, 67, 62, 43]] * 8
    jsb = tmp_path / "jsb.json"
    jsb.write_text(json.dumps({"train": [chorale] * 3, "valid": [chorale] * 2, "test": [chorale]}))
    abc = tmp_path / "nott"
    abc.mkdir()
    (abc / "tunes.abc").write_text("".join(
        f'X:{i}\nT:Tune {i}\nM:4/4\nL:1/4\nK:G\n"G"GABc|"D7"dcBA|"G"G4|]\n\n' for i in range(1, 4)))
    (abc / "latin1.abc").write_bytes('X:1\nT:Caf\xe9\nM:4/4\nL:1/4\nK:C\n"C"CDEF|]\n'.encode("latin-1"))
    assert main(["preprocess", f"jsb:{jsb}", f"nottingham:{abc}", "--out", str(tmp_path / "o"), "--quiet"]) == 0
    meta = json.loads((tmp_path / "o" / "meta.json").read_text())
    assert meta["per_source"]["jsb"] == {"pieces": 6, "with_chords": 6, "train": 3, "valid": 2, "test": 1}
    assert meta["per_source"]["nottingham"]["pieces"] == 4
    assert meta["per_source"]["nottingham"]["with_chords"] == 4
    titles = {p.title for s in ("train", "valid", "test") for p in load_pieces(tmp_path / "o", s)}
    assert {"Tune 1", "Tune 2", "Tune 3", "Café"} <= titles
    jsb_valid = [p for p in load_pieces(tmp_path / "o", "valid") if p.melody_name == "Soprano"]
    assert len(jsb_valid) == 2 and [c.symbol() for c in jsb_valid[0].chords] == ["C", "G"]


def test_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(MelodyganError, match="KIND:ARG"):
        preprocess(["bach"], tmp_path / "a", progress=False)
    with pytest.raises(MelodyganError, match="music21:bach"):
        preprocess(["music21:bachs"], tmp_path / "a", progress=False)
    with pytest.raises(MelodyganError, match="Jsb16thSeparated"):
        preprocess([f"jsb:{tmp_path / 'none.json'}"], tmp_path / "a", progress=False)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(MelodyganError, match="not a preprocessing folder"):
        preprocess([f"midi:{tmp_path}"], tmp_path / "mine", progress=False)
    with pytest.raises(MelodyganError, match="melodygan preprocess"):
        load_pieces(tmp_path / "mine", "train")
    with pytest.raises(MelodyganError, match="split"):
        load_pieces(tmp_path / "mine", "dev")


def test_shards_written_one_by_one_anywhere_then_finished(midi_corpus: Path, tmp_path: Path) -> None:
    from melodygan.corpora.preprocess import finish_preprocess, preprocess_shard, shard_count

    sources = [f"midi:{midi_corpus}"]
    whole = preprocess(sources, tmp_path / "whole", workers=1, progress=False, shard_size=3)
    out = tmp_path / "tasks"
    n = shard_count(sources, shard_size=3)
    assert n == 4
    for index in reversed(range(1, n)):  # as tasks on several machines would, in any order
        assert preprocess_shard(sources, out, index, shard_size=3) > 0
    with pytest.raises(MelodyganError, match="1 of 4 shards are not written"):
        finish_preprocess(sources, out, shard_size=3)
    preprocess_shard(sources, out, 0, shard_size=3)
    assert preprocess_shard(sources, out, 0, shard_size=3) == 0  # written already
    meta = finish_preprocess(sources, out, shard_size=3)
    assert {k: meta[k] for k in ("counts", "per_source", "skipped")} == {k: whole[k] for k in
                                                                           ("counts", "per_source", "skipped")}
    assert _all_pieces(out) == _all_pieces(tmp_path / "whole")


def test_rows_round_trip_through_the_cache_and_encode_as_the_pieces() -> None:
    from melodygan.corpora.preprocess import encode_rows, rows_from_dict, rows_to_dict
    from melodygan.piece_arrays import PieceArrays

    pieces = [_piece(), _piece(2, "u")]
    rows = [rows_from_dict(json.loads(json.dumps(rows_to_dict(PieceArrays.from_piece(p))))) for p in pieces]
    assert all(_same(r.to_piece(), p) for r, p in zip(rows, pieces))
    want, got = encode_pieces(pieces), encode_rows(rows)
    assert all(got[k].dtype == want[k].dtype and np.array_equal(got[k], want[k]) for k in want)
    empty = encode_rows([])
    assert {k: v.shape for k, v in empty.items()} == {"notes": (0, 6), "chords": (0, 5), "pieces": (0, 8),
                                                      "tempo": (0,)}
