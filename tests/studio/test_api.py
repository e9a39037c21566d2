"""The studio's JSON API through the framework's test client: every endpoint, good and bad input."""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mido
import numpy as np
import pytest
import soundfile as sf

from melodygan.cli import main
from melodygan.errors import MelodyganError
from melodygan.formats.export import export_piece
from melodygan.keys import Key
from melodygan.notes import Note
from melodygan.piece import Piece
from melodygan.studio.app import StudioSettings, create_app, sniff
from melodygan.studio.server import check_host, is_loopback

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

Run = Callable[..., list[dict[str, Any]]]  # the run fixture of conftest.py
TUNE = [67, 71, 74, 71, 72, 69, 66, 67]


def _tune_midi(tmp_path: Path) -> bytes:
    piece = Piece(melody=[Note(4 * i, 4, p) for i, p in enumerate(TUNE)], key=Key.parse("G"), title="tune")
    return export_piece(piece, tmp_path / "tune.mid", force=True)[0].read_bytes()


def _sine_wav(pitches: list[int], seconds: float = 0.5, sr: int = 22050) -> bytes:
    parts = [np.zeros(sr // 4)]
    for p in pitches:
        t = np.arange(int(sr * seconds)) / sr
        env = np.clip(np.minimum(t / 0.01, (seconds - t) / 0.03), 0, 1)
        parts.append(0.5 * np.sin(2 * np.pi * 440 * 2 ** ((p - 69) / 12) * t) * env)
    parts.append(np.zeros(sr // 4))
    buf = io.BytesIO()
    sf.write(buf, np.concatenate(parts), sr, format="WAV")
    return buf.getvalue()


def _outside(notes: list[list[int]], lo: int, hi: int) -> list[tuple[int, int]]:
    """Onsets and pitches of the notes that start outside steps lo..hi (a note held into the gap
    from before it is cut at the gap, so its length may change)."""
    return [(n[0], n[2]) for n in notes if n[0] < lo or n[0] >= hi]


# --- page, info, schema -------------------------------------------------------------------------
def test_page_static_files_info_and_openapi(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and '<canvas id="roll"' in page.text and "http" not in page.text.split("<body>")[0]
    for name in ("studio.js", "studio.css"):
        assert client.get(f"/static/{name}").status_code == 200
    info = client.get("/api/info").json()
    assert info["engines"] == ["ar", "gan", "hybrid"] and "G" in info["keys"] and "6/8" in info["meters"]
    assert "none" in info["accompaniments"] and info["checkpoints"]["ar"] != "shipped"
    docs = client.get("/docs")
    assert docs.status_code == 200 and "POST /api/infill" in docs.text and "https://" not in docs.text
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/generate", "/api/upload", "/api/harmonize", "/api/infill", "/api/vary", "/api/arrange",
                 "/api/jobs/{job_id}", "/api/clips", "/api/clips/{clip_id}", "/api/clips/{clip_id}/{kind}"):
        assert path in paths, path


# --- generate and the clip's files --------------------------------------------------------------
@pytest.mark.parametrize("engine", ["ar", "gan", "hybrid"])
def test_generate_each_engine(client: TestClient, engine: str, run: Run) -> None:
    clip, = run("/api/generate", {"engine": engine, "bars": 4, "key": "G", "meter": "4/4", "seed": 3})
    assert clip["kind"] == "generate" and clip["num_bars"] == 4 and clip["key"] == "G"
    assert clip["melody"] and clip["chords"] and set(clip["voices"]) == {"Chords", "Bass"}
    assert all(len(n) == 4 and 0 <= n[2] <= 127 for n in clip["melody"])
    assert client.get(f"/api/clips/{clip['id']}").json()["melody"] == clip["melody"]


def test_same_seed_same_clip_and_arrangement_options(client: TestClient, run: Run) -> None:
    body = {"bars": 4, "key": "D", "meter": "3/4", "seed": 5, "accompaniment": "waltz", "bass": "none"}
    a, = run("/api/generate", body)
    b, = run("/api/generate", body)
    assert a["melody"] == b["melody"] and a["chords"] == b["chords"] and a["id"] != b["id"]
    assert a["meter"] == [3, 4] and set(a["voices"]) == {"Chords"}
    bare, = run("/api/generate", {**body, "accompaniment": "none"})
    assert bare["voices"] == {}
    over, = run("/api/generate", {"bars": 4, "chords": "C G Am F", "seed": 1})
    assert [c["symbol"] for c in over["chords"]] == ["C", "G", "Am", "F"]


def test_files_midi_wav_musicxml(client: TestClient, tmp_path: Path, run: Run) -> None:
    clip, = run("/api/generate", {"bars": 4, "key": "G"})
    r = client.get(clip["urls"]["midi"] + "?download=1")
    assert r.status_code == 200 and r.headers["content-type"] == "audio/midi"
    assert "attachment" in r.headers["content-disposition"] and clip["filename"] in r.headers["content-disposition"]
    (tmp_path / "c.mid").write_bytes(r.content)
    mid = mido.MidiFile(tmp_path / "c.mid")
    names = [t.name for t in mid.tracks]
    assert {"Melody", "Chords", "Bass"} <= set(names)
    melody = mid.tracks[names.index("Melody")]
    assert sum(m.type == "note_on" and m.velocity > 0 for m in melody) == len(clip["melody"])
    wav = client.get(clip["urls"]["wav"])
    assert wav.status_code == 200 and wav.content[:4] == b"RIFF" and wav.content[8:12] == b"WAVE"
    assert "attachment" not in wav.headers.get("content-disposition", "")  # inline, for the audio element
    xml = client.get(clip["urls"]["musicxml"])
    assert xml.status_code == 200 and b"<score-partwise" in xml.content
    assert client.get(f"/api/clips/{clip['id']}/pdf").status_code == 404
    assert client.get("/api/clips/nope/midi").json()["error"].startswith("no clip")
    listed = client.get("/api/clips").json()["clips"]
    assert clip["id"] in [c["id"] for c in listed]


# --- jobs: progress, cancel, other requests meanwhile -------------------------------------------
def test_job_is_polled_and_other_requests_are_served_meanwhile(client: TestClient) -> None:
    runner = client.app.state.runner  # type: ignore[attr-defined]
    release = threading.Event()

    def slow(progress: object) -> dict:
        progress.step("waiting", 0.5)  # type: ignore[attr-defined]
        release.wait(20)
        return {"clips": []}

    job = runner.submit("test", slow)
    assert client.get("/api/info").status_code == 200  # the pool's work does not hold the server
    status = client.get(f"/api/jobs/{job.id}").json()
    assert status["status"] in ("queued", "running") and status["kind"] == "test"
    release.set()
    done = client.get(f"/api/jobs/{job.id}?wait=20").json()
    assert done["status"] == "done" and done["progress"] == 1.0

    r = client.post("/api/generate", json={"bars": 4})
    assert r.status_code in (200, 202) and r.json()["status"] in ("queued", "running", "done")
    finished = client.get(f"/api/jobs/{r.json()['id']}?wait=60").json()
    assert finished["status"] == "done" and finished["result"]["clips"][0]["num_bars"] == 4


def test_cancel_a_job(client: TestClient) -> None:
    runner = client.app.state.runner  # type: ignore[attr-defined]
    release = threading.Event()

    def slow(progress: object) -> dict:
        release.wait(20)
        progress.step("after the model", 0.9)  # type: ignore[attr-defined]
        return {"clips": ["never"]}

    job = runner.submit("test", slow)
    r = client.delete(f"/api/jobs/{job.id}")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    release.set()
    final = client.get(f"/api/jobs/{job.id}?wait=20").json()
    assert final["status"] == "cancelled" and "result" not in final
    assert client.delete("/api/jobs/nope").status_code == 404
    assert client.get("/api/jobs/nope").status_code == 404


# --- editing: infill, vary, arrange ----------------------------------------------------------------
def test_infill_rewrites_the_bars_asked_for_and_keeps_the_rest(client: TestClient, run: Run) -> None:
    clip, = run("/api/generate", {"bars": 8, "key": "G", "seed": 2})
    new, = run("/api/infill", {"clip": clip["id"], "bars": "3-4", "seed": 9})
    assert new["kind"] == "infill" and new["parent"] == clip["id"] and new["changed_bars"] == [3, 4]
    lo, hi = clip["pickup_steps"] + 2 * clip["bar_steps"], clip["pickup_steps"] + 4 * clip["bar_steps"]
    assert new["chords"] == clip["chords"]
    assert _outside(new["melody"], lo, hi) == _outside(clip["melody"], lo, hi)
    for name in ("Chords", "Bass"):
        assert _outside(new["voices"][name], lo, hi) == _outside(clip["voices"][name], lo, hi)
    both, = run("/api/infill", {"clip": clip["id"], "bars": "5", "part": "both", "seed": 1})
    assert both["changed_bars"] == [5, 5] and both["num_bars"] == 8


def test_vary_and_arrange(client: TestClient, run: Run) -> None:
    clip, = run("/api/generate", {"bars": 4, "key": "G", "seed": 4})
    two = run("/api/vary", {"clip": clip["id"], "num": 2, "seed": 3})
    assert len(two) == 2 and all(v["chords"] == clip["chords"] for v in two)
    half, = run("/api/vary", {"clip": clip["id"], "amount": 0.5})
    first_half = clip["pickup_steps"] + 2 * clip["bar_steps"]
    assert _outside(half["melody"], first_half, 10**6) == _outside(clip["melody"], first_half, 10**6)
    rechorded, = run("/api/vary", {"clip": clip["id"], "keep": "melody"})
    assert rechorded["melody"] == clip["melody"] and rechorded["chords"]
    waltz, = run("/api/arrange", {"clip": clip["id"], "accompaniment": "arpeggio", "bass": "walking"})
    assert waltz["melody"] == clip["melody"] and waltz["chords"] == clip["chords"]
    assert waltz["voices"]["Chords"] != clip["voices"]["Chords"] and waltz["settings"]["accompaniment"] == "arpeggio"


# --- uploads and harmonizing ----------------------------------------------------------------------
def test_upload_a_midi_melody_and_harmonize_it(client: TestClient, tmp_path: Path, run: Run) -> None:
    clip, = run("/api/upload", files={"file": ("my tune.mid", _tune_midi(tmp_path), "audio/midi")})
    assert clip["kind"] == "upload" and [n[2] for n in clip["melody"]] == TUNE and not clip["chords"]
    assert clip["settings"]["filename"] == "my tune.mid"
    sheet, = run("/api/harmonize", {"clip": clip["id"], "accompaniment": "block", "bass": "root"})
    assert sheet["kind"] == "harmonize" and sheet["chords"] and set(sheet["voices"]) == {"Chords", "Bass"}
    assert [n[:3] for n in sheet["melody"]] == [n[:3] for n in clip["melody"]]
    fixed, = run("/api/harmonize", {"clip": clip["id"], "fix": "1:C", "chord_rate": "bar"})
    assert fixed["chords"][0]["symbol"] == "C"
    again, = run("/api/infill", {"clip": sheet["id"], "bars": "2", "part": "chords"})
    assert [n[:3] for n in again["melody"]] == [n[:3] for n in sheet["melody"]]
    choir, = run("/api/harmonize", {"clip": clip["id"], "style": "chorale"})  # the shipped chorale voicer
    assert list(choir["voices"]) == ["Alto", "Tenor", "Bass"] and choir["chords"]
    assert [n[:3] for n in choir["melody"]] == [n[:3] for n in clip["melody"]]


def test_upload_a_hummed_wav_gives_its_notes(client: TestClient, run: Run) -> None:
    wav = _sine_wav([60, 62, 64, 64, 67])
    clip, = run("/api/upload", files={"file": ("hum.wav", wav, "audio/wav")}, data={"tempo_bpm": "120"})
    assert [n[2] for n in clip["melody"]] == [60, 62, 64, 64, 67]
    assert clip["settings"]["source"] == "recording" and clip["tempo_bpm"] == 120


def test_upload_abc_and_musicxml(client: TestClient, tmp_path: Path, run: Run) -> None:
    abc = b"X:1\nT:Scale\nM:4/4\nL:1/4\nK:D\n\"D\"DEFG|\"A\"ABcd|]\n"
    clip, = run("/api/upload", files={"file": ("scale.abc", abc, "text/plain")})
    assert len(clip["melody"]) == 8 and [c["symbol"] for c in clip["chords"]] == ["D", "A"]
    piece = Piece(melody=[Note(4 * i, 4, p) for i, p in enumerate(TUNE)], key=Key.parse("G"))
    xml = [p for p in export_piece(piece, tmp_path / "t.mid", musicxml=True, force=True) if p.suffix == ".musicxml"]
    clip, = run("/api/upload", files={"file": ("t.musicxml", xml[0].read_bytes(), "application/xml")})
    assert [n[2] for n in clip["melody"]] == TUNE


def test_bad_uploads_get_a_4xx_with_a_message(client: TestClient, studio_settings: StudioSettings) -> None:
    def up(name: str, data: bytes, **form: str) -> tuple[int, str]:
        r = client.post("/api/upload?wait=60", files={"file": (name, data)}, data=form)
        return r.status_code, r.json().get("error", "")

    code, error = up("notes.txt", b"hello")
    assert code == 415 and ".txt" in error and ".mid" in error
    code, error = up("fake.mid", b"<html>not music</html>")
    assert code == 415 and "not a MID file" in error
    code, error = up("broken.mid", b"MThd\x00\x00\x00\x06garbage")
    assert code == 400 and "broken.mid" in error and "/" not in error.split("broken.mid")[0]  # no temp path shown
    assert up("empty.mid", b"")[0] == 400
    code, error = up("silence.wav", _sine_wav([]))
    assert code == 400 and "silent" in error
    assert up("hum.wav", b"RIFF\x00\x00\x00\x00AVI LIST")[0] == 415
    assert up("x.musicxml", b"\x89PNG\r\n\x1a\n\x00\x00")[0] == 415
    assert up("hum.wav", _sine_wav([60]), tempo_bpm="5000")[0] == 422
    limit = studio_settings.max_upload_bytes
    client.app.state.settings.max_upload_bytes = 1000  # type: ignore[attr-defined]
    try:
        code, error = up("big.mid", b"MThd" + b"\x00" * 5000)
        assert code == 413 and "limit" in error
    finally:
        client.app.state.settings.max_upload_bytes = limit  # type: ignore[attr-defined]
    assert client.post("/api/upload").status_code == 422  # no file at all


def test_bad_requests_get_a_4xx_with_a_message(client: TestClient, run: Run) -> None:
    def post(path: str, body: dict) -> tuple[int, str]:
        r = client.post(path + "?wait=60", json=body)
        return r.status_code, r.json().get("error", "")

    assert post("/api/generate", {"bars": 0})[0] == 422
    code, error = post("/api/generate", {"engine": "rnn"})
    assert code == 422 and "engine" in error
    code, error = post("/api/generate", {"meter": "5/7"})
    assert code == 400 and "meter" in error
    code, error = post("/api/generate", {"key": "H"})
    assert code == 400 and "key" in error
    code, error = post("/api/generate", {"chords": "C Xq7 G"})
    assert code == 400 and "Xq7" in error
    clip, = run("/api/generate", {"bars": 4})
    assert post("/api/harmonize", {"clip": "nope"})[0] == 404
    assert post("/api/harmonize", {"clip": clip["id"], "fix": "zz"})[0] == 400
    code, error = post("/api/infill", {"clip": clip["id"], "bars": "7-8"})
    assert code == 400 and "outside" in error
    assert post("/api/infill", {"clip": clip["id"], "bars": "x"})[0] == 400
    assert post("/api/infill", {"clip": clip["id"], "bars": "1", "part": "drums"})[0] == 422
    assert post("/api/vary", {"clip": clip["id"], "amount": 0})[0] == 422
    assert post("/api/arrange", {"clip": clip["id"], "accompaniment": "polka"})[0] == 422
    r = client.post("/api/generate", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]


def test_melody_only_clip_is_refused_where_chords_are_needed(client: TestClient, tmp_path: Path, run: Run) -> None:
    clip, = run("/api/upload", files={"file": ("t.mid", _tune_midi(tmp_path), "audio/midi")})
    for path, body in (("/api/infill", {"bars": "1"}), ("/api/vary", {}), ("/api/arrange", {})):
        r = client.post(path, json={"clip": clip["id"], **body})
        assert r.status_code == 400 and "harmonize it first" in r.json()["error"]


# --- the server: loopback only, Host headers, nothing kept ------------------------------------------
def test_other_hosts_are_refused_unless_asked() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1") and is_loopback("127.3.4.5")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4") and not is_loopback("example.org")
    with pytest.raises(MelodyganError, match="--allow-remote"):
        check_host("0.0.0.0", allow_remote=False)
    check_host("0.0.0.0", allow_remote=True)
    assert main(["studio", "--host", "0.0.0.0", "--port", "9"]) == 2


def test_foreign_host_headers_are_refused(studio_settings: StudioSettings) -> None:
    settings = StudioSettings(**{**studio_settings.__dict__, "allowed_hosts": ["127.0.0.1", "localhost"]})
    with TestClient(create_app(settings), base_url="http://localhost") as c:
        assert c.get("/api/info").status_code == 200
        assert c.get("/api/info", headers={"Host": "evil.example"}).status_code == 400


def test_a_real_server_keeps_nothing_after_it_stops(live_server: Any) -> None:
    import httpx

    folder = live_server.app.state.store.folder
    r = httpx.post(f"{live_server.url}/api/generate?wait=60", json={"bars": 2}, timeout=90)
    clip = r.json()["result"]["clips"][0]
    assert httpx.get(f"{live_server.url}{clip['urls']['midi']}", timeout=30).content[:4] == b"MThd"
    assert any(folder.rglob("*.mid"))
    live_server.__exit__()
    assert not folder.exists()


def test_sniff() -> None:
    assert sniff(".mid", b"MThd\x00") is None and sniff(".mid", b"RIFF") is not None
    assert sniff(".abc", b"X:1\nT:x") is None and sniff(".abc", b"\x00\x01") is not None
    assert sniff(".musicxml", "\ufeff<?xml".encode()) is None and sniff(".musicxml", b"hello") is not None
