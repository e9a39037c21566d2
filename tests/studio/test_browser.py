"""The studio end to end in a real browser (Playwright driving Chromium): generate, see the roll,
play, regenerate bars 3-4, upload and harmonize a MIDI melody, upload a hummed WAV, record the hum
through the (fake) microphone, download the MIDI. Skipped when Playwright or a Chromium is missing.

Screenshots go to the test's temporary folder, or to ``$MELODYGAN_STUDIO_SCREENSHOTS`` (the docs'
pictures: ``MELODYGAN_STUDIO_SCREENSHOTS=docs/images``), with ``timings.json`` (round trips through
the page). ``$MELODYGAN_STUDIO_AR_CHECKPOINT`` (and ``_GAN_``, ``_HARMONIZER_``; ``shipped`` for the
shipped weights) replace the suite's tiny random checkpoints, for pictures of real music.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import mido
import numpy as np
import pytest
import soundfile as sf

from melodygan.formats.export import export_piece
from melodygan.keys import Key
from melodygan.notes import Note
from melodygan.piece import Piece
from melodygan.studio.app import StudioSettings

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--autoplay-policy=no-user-gesture-required", "--mute-audio"]
TUNE = [67, 71, 74, 71, 72, 69, 66, 67, 64, 67, 71, 69, 67, 66, 67, 67]


def _chromium() -> str | None:
    for candidate in (os.environ.get("MELODYGAN_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and (path := shutil.which(candidate)):
            return path
    return None


def _settings(base: StudioSettings) -> StudioSettings:
    out = StudioSettings(**base.__dict__)
    for name in ("ar", "gan", "harmonizer"):
        value = os.environ.get(f"MELODYGAN_STUDIO_{name.upper()}_CHECKPOINT")
        if value:
            setattr(out, f"{name}_checkpoint", None if value == "shipped" else value)
    return out


def _hum_wav(path: Path, pitches: list[int], seconds: float = 0.5, sr: int = 22050) -> None:
    parts = [np.zeros(sr // 4)]
    for p in pitches:
        t = np.arange(int(sr * seconds)) / sr
        env = np.clip(np.minimum(t / 0.01, (seconds - t) / 0.03), 0, 1)
        phase = 2 * np.pi * 440 * 2 ** ((p - 69) / 12) * t
        parts.append(0.4 * (np.sin(phase) + 0.3 * np.sin(2 * phase)) * env)
    parts.append(np.zeros(sr // 4))
    sf.write(path, np.concatenate(parts), sr)


def _kept(notes: list[list[int]], lo: int, hi: int) -> list[tuple[int, int]]:
    return [(n[0], n[2]) for n in notes if n[0] < lo or n[0] >= hi]


def _pixels(page: Any) -> dict[str, int]:
    """Counts of the roll's pixels in the melody's, the chords' and the bass's colours."""
    return page.evaluate("""() => {
        const c = document.getElementById('roll'), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const want = {melody: [217, 104, 43], chords: [157, 187, 232], bass: [58, 157, 87]};
        const out = {melody: 0, chords: 0, bass: 0};
        for (let i = 0; i < d.length; i += 4) for (const [k, [r, g, b]] of Object.entries(want)) {
            if (Math.abs(d[i] - r) + Math.abs(d[i + 1] - g) + Math.abs(d[i + 2] - b) < 60) out[k]++;
        }
        return out;
    }""")


def _wait_clip(page: Any, kind: str, after: int, timeout_s: float = 120) -> dict[str, Any]:
    """Wait until the page shows a new clip of ``kind`` (history longer than ``after``); return it."""
    page.wait_for_function(
        "([kind, n]) => window.studio.state.history.length > n && window.studio.state.clip.kind === kind "
        "&& !window.studio.state.busy", arg=[kind, after], timeout=timeout_s * 1000)
    return page.evaluate("() => window.studio.state.clip")


def _history(page: Any) -> int:
    return page.evaluate("() => window.studio.state.history.length")


def test_the_studio_in_a_browser(studio_settings: StudioSettings, live_server_with: Any, tmp_path: Path) -> None:
    chromium = _chromium()
    if chromium is None:
        pytest.skip("no Chromium (apt-get install chromium, or set $MELODYGAN_CHROMIUM)")
    shots = Path(os.environ.get("MELODYGAN_STUDIO_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    tune = Piece(melody=[Note(4 * i, 4, p) for i, p in enumerate(TUNE)], key=Key.parse("G"), tempo_bpm=100,
                 title="my tune")
    tune_mid = export_piece(tune, tmp_path / "my-tune.mid", force=True)[0]
    hum = tmp_path / "hum.wav"
    _hum_wav(hum, [60, 62, 64, 64, 67])
    (tmp_path / "notes.txt").write_text("not music")
    timings: dict[str, float] = {}
    with live_server_with(_settings(studio_settings)) as live, sync_api.sync_playwright() as pw:
        try:
            browser = pw.chromium.launch_persistent_context(
                str(tmp_path / "profile"), executable_path=chromium, headless=True,
                args=[*CHROMIUM_FLAGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                      f"--use-file-for-fake-audio-capture={hum}"],
                viewport={"width": 1360, "height": 940}, accept_downloads=True)
        except sync_api.Error as e:  # a Chromium that cannot start here counts as none
            pytest.skip(f"{chromium} does not start: {str(e).splitlines()[0]}")
        try:
            page = browser.pages[0] if browser.pages else browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(live.url + "/")
            page.wait_for_function("() => document.getElementById('key').options.length > 20")
            page.screenshot(path=str(shots / "studio-start.png"))

            # generate a clip: the roll is drawn
            page.select_option("#key", "G")
            page.fill("#bars", "8")
            page.fill("#seed", "1")
            t0 = time.monotonic()
            page.click("#generate")
            clip = _wait_clip(page, "generate", 0)
            timings["generate_s"] = round(time.monotonic() - t0, 2)
            assert clip["num_bars"] == 8 and clip["key"] == "G"
            page.screenshot(path=str(shots / "studio.png"))
            drawn = _pixels(page)
            assert drawn["melody"] > 200 and drawn["chords"] > 200 and drawn["bass"] > 50, drawn
            assert "Generated" in page.inner_text("#summary")

            # play it: the audio element plays the rendered WAV, the playhead moves
            page.click("#play")
            page.wait_for_function("() => { const a = document.getElementById('player'); "
                                   "return !a.paused && a.currentTime > 0.3; }", timeout=60_000)
            assert page.inner_text("#play").startswith("■")
            page.screenshot(path=str(shots / "studio-playing.png"))
            page.click("#play")
            assert page.evaluate("() => document.getElementById('player').paused")

            # select bars 3-4 on the roll by dragging, regenerate them: the other bars stay
            box = page.locator("#roll").bounding_box()
            x3, x4 = page.evaluate("() => [window.studio.barX(3), window.studio.barX(4)]")
            y = box["y"] + box["height"] / 2
            page.mouse.move(box["x"] + x3, y)
            page.mouse.down()
            page.mouse.move(box["x"] + (x3 + x4) / 2, y)
            page.mouse.move(box["x"] + x4, y)
            page.mouse.up()
            assert page.input_value("#sel") == "3-4"
            page.screenshot(path=str(shots / "studio-select.png"))
            before = _history(page)
            page.click("#regen")
            new = _wait_clip(page, "infill", before)
            assert new["changed_bars"] == [3, 4] and new["chords"] == clip["chords"]
            lo, hi = clip["pickup_steps"] + 2 * clip["bar_steps"], clip["pickup_steps"] + 4 * clip["bar_steps"]
            for part in ("melody",):
                assert _kept(new[part], lo, hi) == _kept(clip[part], lo, hi)
            for name in ("Chords", "Bass"):
                assert _kept(new["voices"][name], lo, hi) == _kept(clip["voices"][name], lo, hi)

            # upload a MIDI melody: it is read, then harmonized
            before = _history(page)
            t0 = time.monotonic()
            page.set_input_files("#file", str(tune_mid))
            sheet = _wait_clip(page, "harmonize", before + 1)
            timings["upload_and_harmonize_s"] = round(time.monotonic() - t0, 2)
            assert [n[2] for n in sheet["melody"]] == TUNE and sheet["chords"] and sheet["voices"]
            assert _pixels(page)["chords"] > 200
            page.screenshot(path=str(shots / "studio-harmonized.png"))

            # upload a hummed WAV: its notes come back
            before = _history(page)
            page.fill("#hum-tempo", "120")
            t0 = time.monotonic()
            page.set_input_files("#file", str(hum))
            hummed = _wait_clip(page, "harmonize", before + 1)
            timings["hum_upload_and_harmonize_s"] = round(time.monotonic() - t0, 2)
            read = page.evaluate("(n) => window.studio.state.history[n]", before)
            assert read["kind"] == "upload" and [n[2] for n in read["melody"]] == [60, 62, 64, 64, 67]
            assert [n[2] for n in hummed["melody"]] == [60, 62, 64, 64, 67]

            # record a hum with the microphone (Chromium's fake one, playing the same WAV in a loop)
            before = _history(page)
            page.click("#record")
            page.wait_for_function("() => window.studio.state.recorder !== null")
            page.wait_for_timeout(3500)
            page.click("#record")
            recorded = _wait_clip(page, "harmonize", before + 1)
            read = page.evaluate("(n) => window.studio.state.history[n]", before)
            assert read["kind"] == "upload" and len(read["melody"]) >= 3
            assert {n[2] for n in read["melody"]} <= {60, 62, 64, 67}, read["melody"]
            assert recorded["chords"]

            # download the MIDI and read it back
            with page.expect_download() as info:
                page.click("#dl-midi")
            saved = tmp_path / "download.mid"
            info.value.save_as(saved)
            mid = mido.MidiFile(saved)
            names = [t.name for t in mid.tracks]
            assert {"Melody", "Chords", "Bass"} <= set(names)
            notes = sum(m.type == "note_on" and m.velocity > 0 for m in mid.tracks[names.index("Melody")])
            assert notes == len(recorded["melody"])
            assert page.get_attribute("#drag", "draggable") == "true"
            assert page.get_attribute("#drag", "href").startswith(recorded["urls"]["midi"])

            # a bad upload: a clear message on the page
            page.set_input_files("#file", str(tmp_path / "notes.txt"))
            page.wait_for_selector("#message:not([hidden])")
            assert ".txt" in page.inner_text("#message")
            assert not errors, errors
        finally:
            browser.close()
    (shots / "timings.json").write_text(json.dumps(timings, indent=1) + "\n")
