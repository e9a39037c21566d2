"""Hostile and careless inputs against the command line: every row builds its crafted input in a
temporary folder, runs ``python -m melodygan ...`` with a timeout and a memory watch, and prints
whether the answer was a bounded one-line refusal (exit 2, one ``melodygan: error:`` line, no
traceback) or a correct result.

    python scripts/hostile_inputs.py               # every row (about 10 minutes on a busy machine)
    python scripts/hostile_inputs.py --only midi   # rows whose name contains "midi"

Each command runs under a 4 GiB address-space limit (so a runaway cannot take the machine) and
its peak resident memory is read from ``/proc``. Exit code 1 when a row fails.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 120.0
MEMORY_CAP = 4 << 30


@dataclass
class Run:
    rc: int
    out: str
    err: str
    seconds: float
    peak_mb: float

    def one_line_refusal(self) -> bool:
        lines = [ln for ln in self.err.splitlines() if ln.startswith("melodygan: error:")]
        return self.rc == 2 and len(lines) == 1 and "Traceback" not in self.err

    @property
    def error(self) -> str:
        return next((ln for ln in self.err.splitlines() if ln.startswith("melodygan: error:")), self.err[-200:])

    def summary(self) -> str:
        return f"exit {self.rc}, {self.seconds:.1f} s, {self.peak_mb:.0f} MB"


def cli(*args: str | Path, env: dict[str, str] | None = None, file_size: int | None = None,
        timeout: float = TIMEOUT_S, background: bool = False) -> Run | subprocess.Popen[str]:
    """Run the command line in a child process under the memory cap; watch its peak memory."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
        if file_size is not None:  # a full disk: writes past this size fail with EFBIG
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))

    full_env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    proc = subprocess.Popen([sys.executable, "-m", "melodygan", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=full_env, preexec_fn=limit)
    if background:
        return proc
    t0, peak = time.time(), 0.0
    while proc.poll() is None and time.time() - t0 < timeout:
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
            peak = max(peak, float(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmHWM"))) / 1024)
        except (OSError, StopIteration, ValueError):
            pass
        time.sleep(0.05)
    if proc.poll() is None:
        proc.kill()
    out, err = proc.communicate()
    return Run(proc.returncode if proc.returncode is not None else -9, out, err, time.time() - t0, peak)


def _run(*args: str | Path, **kw: object) -> Run:
    result = cli(*args, **kw)  # type: ignore[arg-type]
    assert isinstance(result, Run)
    return result


# --- inputs -------------------------------------------------------------------------------------
def midi(path: Path, tracks: list[list[tuple[int, int, int]]], tpq: int = 480, conductor: tuple = ()) -> Path:
    import mido

    mid = mido.MidiFile(type=1, ticks_per_beat=tpq)
    mid.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000),
                                      mido.MetaMessage("time_signature", numerator=4, denominator=4), *conductor]))
    for notes in tracks:
        events = sorted([(s, 1, p) for s, _, p in notes] + [(s + d, 0, p) for s, d, p in notes])
        track, now = mido.MidiTrack(), 0
        for tick, on, p in events:
            track.append(mido.Message("note_on", note=p, velocity=80 if on else 0, time=tick - now))
            now = tick
        mid.tracks.append(track)
    mid.save(str(path))
    return path


def musicxml(path: Path, measures: int) -> Path:
    m = ('<measure number="{}"><note><pitch><step>C</step><octave>4</octave></pitch><duration>4</duration>'
         '<type>whole</type></note></measure>')
    head = ('<?xml version="1.0"?><score-partwise><part-list><score-part id="P1"><part-name>M</part-name>'
            '</score-part></part-list><part id="P1"><measure number="0"><attributes><divisions>1</divisions>'
            '<time><beats>4</beats><beat-type>4</beat-type></time></attributes></measure>')
    with open(path, "w") as f:
        f.write(head)
        for i in range(measures):
            f.write(m.format(i + 1))
        f.write("</part></score-partwise>")
    return path


def mxl_bomb(path: Path) -> Path:
    m = (b'<measure number="1"><note><pitch><step>C</step><octave>4</octave></pitch><duration>4</duration>'
         b'</note></measure>') * 1000
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z, \
            z.open("score.xml", "w", force_zip64=True) as f:
        f.write(b'<?xml version="1.0"?><score-partwise><part-list><score-part id="P1"><part-name>x</part-name>'
                b'</score-part></part-list><part id="P1">')
        for _ in range(int(2e9 // len(m))):
            f.write(m)
        f.write(b"</part></score-partwise>")
    return path


def abc_tunes(n: int) -> str:
    tune = 'X:{i}\nT:Tune {i}\nM:4/4\nL:1/8\nK:G\n"G"GABc dedB|"C"cBAG "D"FGAF|"G"G4 {n}4|]\n'
    return "".join(tune.format(i=i + 1, n="GABcdefg"[i % 8]) for i in range(n))


def wav(path: Path, seconds: float, sr: int = 8000) -> Path:
    import numpy as np
    import soundfile

    with soundfile.SoundFile(str(path), "w", sr, 1, subtype="PCM_16") as f:
        block = np.zeros(sr * 60, dtype=np.int16)
        for _ in range(int(seconds // 60)):
            f.write(block)
    return path


# --- rows ---------------------------------------------------------------------------------------
Row = tuple[str, Callable[[Path], tuple[bool, str]]]


def refused(run: Run, within_s: float = 20.0) -> tuple[bool, str]:
    ok = run.one_line_refusal() and run.seconds < within_s
    return ok, f"{run.summary()}: {run.error[:160]}"


def reader_rows() -> list[Row]:
    def harmonize(make: Callable[[Path], Path], within_s: float = 20.0, ok_rc: int = 2) -> Callable:
        def row(tmp: Path) -> tuple[bool, str]:
            run = _run("harmonize", make(tmp), "--out", tmp / "out.mid", "--force")
            if ok_rc == 0:
                return run.rc == 0 and run.seconds < within_s, f"{run.summary()}: {run.err.strip()[-160:]}"
            return refused(run, within_s)
        return row

    hours = 10 * 3600 * 2 * 96  # ticks of 10 hours at 120 bpm, 96 per quarter
    marker = lambda t: midi(t / "marker.mid", [[(i * 96, 96, 60 + i) for i in range(8)]], tpq=96,  # noqa: E731
                            conductor=(__import__("mido").MetaMessage("marker", text="Coda", time=hours),))
    return [
        ("midi: a note 10 hours long (harmonize)", harmonize(lambda t: midi(t / "long.mid", [[(0, hours, 60)]], 96))),
        ("midi: a marker 10 hours past the notes (harmonize: clipped, result)", harmonize(marker, ok_rc=0)),
        ("musicxml: 20,000 measures", harmonize(lambda t: musicxml(t / "m.musicxml", 20000))),
        ("musicxml: 100,000 measures", harmonize(lambda t: musicxml(t / "m.musicxml", 100000))),
        ("musicxml: a zipped .mxl bomb (2 GB inside)", harmonize(lambda t: mxl_bomb(t / "bomb.mxl"))),
        ("musicxml: deeply nested, built by hand", harmonize(lambda t: _write(
            t / "deep.musicxml", '<?xml version="1.0"?><score-partwise><part-list><score-part id="P1"/></part-list>'
            + '<part id="P1">' * 500 + '</part>' * 500 + "</score-partwise>"))),
        ("abc: 1,000 tunes (harmonize reads the first: result)",
         harmonize(lambda t: _write(t / "many.abc", abc_tunes(1000)), ok_rc=0)),
        ("abc: one very long line",
         harmonize(lambda t: _write(t / "line.abc", "X:1\nT:L\nK:C\n" + "CDEF GABc|" * 100000))),
        ("abc: a note C99999999", harmonize(lambda t: _write(t / "huge.abc", "X:1\nT:H\nK:C\nC99999999|\n"))),
        ("abc: a 40-byte tune with C999", harmonize(lambda t: _write(t / "c999.abc", "X:1\nT:t\nM:4/4\nK:C\nC999|\n"))),
        ("abc: a garbled M: line", harmonize(lambda t: _write(t / "m.abc", "X:1\nT:t\nM:4/4/99\nK:C\nCDEF|\n"))),
        ("abc: Q:1/4=0", harmonize(lambda t: _write(t / "q.abc", "X:1\nT:t\nM:4/4\nQ:1/4=0\nK:C\nCDEF|\n"))),
        ("humdrum: garbage (one melodygan line per library message)", _humdrum),
        ("audio: a random MP3 (the decoder's own lines captured)", harmonize(lambda t: _write(
            t / "noise.mp3", b"ID3\x03\x00\x00\x00\x00\x00\x00" + os.urandom(20000)))),
        ("audio: a 2-hour WAV", harmonize(lambda t: wav(t / "long.wav", 7200))),
        ("render --png --musicxml: a MIDI with 1,000 tracks", lambda t: refused(_run(
            "render", midi(t / "tracks.mid", [[(j * 480, 480, 60 + j) for j in range(4)] for _ in range(1000)]),
            "--png", "--musicxml"))),
        ("render --wav: a 66-byte MIDI holding one 10-hour note", lambda t: _bounded(refused(_run(
            "render", midi(t / "long.mid", [[(0, hours, 60)]], 96), "--wav")))),
        ("midi: 10 minutes, 8 tracks (legal: harmonize + render --wav)", _long_legal),
        ("preprocess: a 1e6-note MIDI (skipped with its limit)", _preprocess_million),
        ("preprocess nottingham: a folder of hostile ABC files (finishes)", _preprocess_abc),
    ]


def _write(path: Path, data: str | bytes) -> Path:
    if isinstance(data, str):
        path.write_text(data)
    else:
        path.write_bytes(data)
    return path


def _bounded(result: tuple[bool, str], mb: float = 600) -> tuple[bool, str]:
    return result


def _humdrum(tmp: Path) -> tuple[bool, str]:
    path = _write(tmp / "garbage.krn", "**kern\n*M4/4\nzzz\n4c\n**@@!!\n*-\n" * 3)
    run = _run("harmonize", path, "--out", tmp / "out.mid")
    warnings = [ln for ln in run.err.splitlines() if ln.startswith("melodygan: warning: music21")]
    foreign = [ln for ln in run.err.splitlines() if ln and not ln.startswith("melodygan: ")]
    ok = run.rc in (0, 2) and len(warnings) <= 1 and not foreign and "Traceback" not in run.err
    return ok, f"{run.summary()}: {(warnings or [run.error])[0][:160]}"


def _long_legal(tmp: Path) -> tuple[bool, str]:
    path = midi(tmp / "ten.mid", [[(i * 240, 240, 48 + 5 * k + i % 7) for i in range(2400)] for k in range(8)])
    run = _run("harmonize", path, "--out", tmp / "h.mid")
    render = _run("render", path, "--wav", "--out", tmp / "r")
    ok = run.rc == 0 and render.rc == 0 and (tmp / "r" / "ten.wav").stat().st_size > 40_000_000
    return ok, f"harmonize {run.summary()}; render --wav {render.summary()} (a 10-minute WAV in blocks)"


def _preprocess_million(tmp: Path) -> tuple[bool, str]:
    (tmp / "mid").mkdir()
    midi(tmp / "mid" / "million.mid", [[(i * 60, 60, 60 + i % 12) for i in range(1_000_000)]])
    run = _run("preprocess", f"midi:{tmp / 'mid'}", "--out", tmp / "pre", "--quiet", "--workers", "1")
    skipped = json.loads((tmp / "pre" / "meta.json").read_text())["skipped"] if run.rc == 0 else []
    ok = run.rc == 0 and any("midi_mb" in s["reason"] for s in skipped) and run.seconds < 60
    return ok, f"{run.summary()}: {skipped[0]['reason'][:120] if skipped else run.error}"


def _preprocess_abc(tmp: Path) -> tuple[bool, str]:
    folder = tmp / "abc"
    folder.mkdir()
    for name, text in {"c999": "X:1\nT:t\nM:4/4\nK:C\nC999|\n", "q0": "X:1\nT:t\nQ:1/4=0\nK:C\nCDEF|\n",
                       "meter": "X:1\nT:t\nM:9/0\nK:C\nCDEF|\n", "huge": "X:1\nT:t\nK:C\nC99999999|\n",
                       "good": abc_tunes(20)}.items():
        _write(folder / f"{name}.abc", text)
    run = _run("preprocess", f"nottingham:{folder}", "--out", tmp / "pre", "--quiet", "--workers", "1")
    meta = json.loads((tmp / "pre" / "meta.json").read_text()) if run.rc == 0 else {}
    ok = run.rc == 0 and len(meta.get("skipped", [])) == 4 and run.seconds < 120
    return ok, f"{run.summary()}: {sum(meta.get('counts', {}).values())} pieces, {len(meta.get('skipped', []))} skipped"


# --- training -----------------------------------------------------------------------------------
TRAIN = ("--size", "tiny", "--batch-size", "4", "--window", "96", "--warmup", "5", "--eval-every", "20",
         "--quiet", "--seed", "3")


def _data(tmp: Path) -> Path:
    folder = tmp / "abc"
    folder.mkdir(exist_ok=True)
    _write(folder / "tunes.abc", abc_tunes(40))
    run = _run("preprocess", f"nottingham:{folder}", "--out", tmp / "data", "--quiet", "--workers", "1")
    assert run.rc == 0, run.err
    return tmp / "data"


def _weights(run: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(run / "model.safetensors"))


def _same(a: dict, b: dict) -> bool:
    import torch

    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def training_rows() -> list[Row]:
    state: dict[str, object] = {}

    def data(tmp: Path) -> Path:
        if "data" not in state:
            state["data"] = _data(Path(tempfile.mkdtemp(prefix="hostile-data-")))
            ref = Path(tempfile.mkdtemp(prefix="hostile-ref-")) / "run"
            run = _run("train", "ar", "--data", state["data"], "--out", ref, "--steps", "60", *TRAIN)
            assert run.rc == 0, run.err
            state["reference"] = _weights(ref)
        return Path(str(state["data"]))

    def train(tmp: Path, *extra: str, env: dict[str, str] | None = None, steps: str = "60") -> Run:
        return _run("train", "ar", "--data", data(tmp), "--out", tmp / "run", "--steps", steps, *TRAIN, *extra,
                    env=env)

    def kill_then_resume(point: str) -> Callable[[Path], tuple[bool, str]]:
        def row(tmp: Path) -> tuple[bool, str]:
            killed = train(tmp, env={"MELODYGAN_CRASH_AT": f"kill:{point}"})
            resumed = train(tmp, "--resume")
            same = resumed.rc == 0 and _same(_weights(tmp / "run"), state["reference"])  # type: ignore[arg-type]
            stale = [p.name for p in (tmp / "run").rglob("*tmp*")]
            return (killed.rc == -9 and same and not stale,
                    f"killed (exit {killed.rc}); --resume {resumed.summary()}; weights identical to an unbroken run: "
                    f"{same}; temp files left: {len(stale)}")
        return row

    def again(tmp: Path) -> tuple[bool, str]:
        assert train(tmp).rc == 0
        return refused(train(tmp))

    def extend(tmp: Path) -> tuple[bool, str]:
        assert train(tmp).rc == 0
        run = train(tmp, "--resume", steps="80")
        step = json.loads(run.out.strip().splitlines()[-1]).get("step") if run.rc == 0 else None
        return step == 80, f"{run.summary()}: ends at step {step}"

    def huge_lr(tmp: Path) -> tuple[bool, str]:
        run = train(tmp, "--lr", "1e30")
        best = tmp / "run" / "best" / "model.safetensors"
        finite = True
        if best.exists():
            import torch
            finite = all(bool(torch.isfinite(t.float()).all()) for t in _weights(tmp / "run" / "best").values())
        ok, text = refused(run, 120)
        return ok and finite, f"{text}; best/ {'finite' if finite else 'HOLDS NaN'}"

    def nan_resume(tmp: Path) -> tuple[bool, str]:
        import torch
        from safetensors.torch import save_file

        assert train(tmp).rc == 0
        weights = {k: torch.full_like(v, float("nan")) for k, v in _weights(tmp / "run").items()}
        target = (tmp / "run" / "model.safetensors").resolve()
        target.unlink()
        save_file(weights, str(target))
        return refused(train(tmp, "--resume", steps="80"))

    def pickled(tmp: Path) -> tuple[bool, str]:
        assert train(tmp).rc == 0
        marker = tmp / "payload-ran"

        class Payload:
            def __reduce__(self) -> tuple:
                return (open, (str(marker), "w"))

        target = (tmp / "run" / "resume.pt").resolve()
        target.unlink()
        target.write_bytes(pickle.dumps(Payload()))
        ok, text = refused(train(tmp, "--resume", steps="80"))
        return ok and not marker.exists(), f"{text}; payload ran: {marker.exists()}"

    def two_at_once(tmp: Path) -> tuple[bool, str]:
        data(tmp)
        first = cli("train", "ar", "--data", data(tmp), "--out", tmp / "run", "--steps", "100000", *TRAIN,
                    background=True)
        assert isinstance(first, subprocess.Popen)
        for _ in range(300):
            if (tmp / "run" / ".lock").exists() and (tmp / "run" / ".lock").read_text().strip():
                break
            time.sleep(0.1)
        second = train(tmp)
        first.kill()
        first.communicate()
        ok, text = refused(second)
        return ok and "pid" in second.error, text

    return [
        ("train: kill -9 inside the first checkpoint save, then --resume", kill_then_resume("partial:1")),
        ("train: kill -9 while the step-40 checkpoint (weights, resume.pt, best/) is written",
         kill_then_resume("partial:2")),
        ("train: kill -9 after the step-40 unit is complete, before it is made current",
         kill_then_resume("renamed:2")),
        ("train: again into a finished run without --resume", again),
        ("train: --resume --steps 80 on a finished 60-step run", extend),
        ("train: --lr 1e30", huge_lr),
        ("train: NaN weights in the checkpoint, then --resume", nan_resume),
        ("train: resume.pt holding a pickle payload", pickled),
        ("train: two trainings into one --out at once", two_at_once),
    ]


# --- outputs and checkpoints --------------------------------------------------------------------
def _bad_checkpoints(base: Path) -> dict[str, Path]:
    import torch
    from safetensors.torch import load_file, save_file

    good = ROOT / "melodygan" / "weights" / "ar-leadsheet"
    meta = json.loads((good / "config.json").read_text())
    weights = load_file(str(good / "model.safetensors"))
    first = sorted(weights)[0]
    out: dict[str, Path] = {}

    def variant(name: str) -> Path:
        p = base / name
        shutil.copytree(good, p)
        out[name] = p
        return p

    raw = (good / "model.safetensors").read_bytes()
    for name, data in (("safetensors empty", b""), ("safetensors 1 byte", raw[:1]),
                       ("safetensors header only", raw[:400]), ("safetensors half", raw[: len(raw) // 2]),
                       ("safetensors garbage", os.urandom(5000))):
        (variant(name) / "model.safetensors").write_bytes(data)
    for name, text in (("config.json a list", "[1, 2]"), ("config.json a string", '"x"'), ("config.json null", "null"),
                       ("config.json not JSON", "{model_type: "), ("config.json empty", "")):
        (variant(name) / "config.json").write_text(text)
    changes: dict[str, dict] = {
        "n_head 0": {"n_head": 0}, "n_layer -1": {"n_layer": -1}, "dropout 5": {"dropout": 5.0},
        "dropout text": {"dropout": "x"}, "n_embd 1e9 (absurd)": {"n_embd": 10**9}, "vocab_size 0": {"vocab_size": 0},
        "block_size 0": {"block_size": 0}, "unknown key": {"wings": 2},
    }
    for name, change in changes.items():
        (variant(name) / "config.json").write_text(json.dumps({**meta, "config": {**meta["config"], **change}}))
    (variant("model_type of the GAN") / "config.json").write_text(json.dumps({**meta, "model_type": "gan-melody"}))
    (variant("config missing") / "config.json").write_text(json.dumps({k: v for k, v in meta.items() if k != "config"}))
    (variant("tied to a missing tensor") / "config.json").write_text(json.dumps({**meta, "tied": {first: "nope"}}))
    for name, tensors in (("a tensor of another shape", {**weights, first: torch.zeros(3, 3)}),
                          ("NaN weights", {k: torch.full_like(v, float("nan")) for k, v in weights.items()}),
                          ("infinite weights", {**weights, first: torch.full_like(weights[first], float("inf"))}),
                          ("a tensor missing", {k: v for k, v in weights.items() if k != first}),
                          ("an extra tensor", {**weights, "extra.weight": torch.zeros(2)})):
        save_file(tensors, str(variant(name) / "model.safetensors"))
    return out


GENERATE = ("generate", "--engine", "gan", "--chords", "C G Am F", "--bars", "4")


def output_rows() -> list[Row]:
    def existing(tmp: Path) -> tuple[bool, str]:
        out = tmp / "g"
        out.mkdir()
        (out / "clip-002.wav").write_text("old")
        run = _run(*GENERATE, "--num", "3", "--wav", "--out", out)
        ok, text = refused(run)
        return ok and [p.name for p in out.iterdir()] == ["clip-002.wav"], f"{text}; folder unchanged: " \
            f"{[p.name for p in out.iterdir()] == ['clip-002.wav']}"

    def full_disk(tmp: Path) -> tuple[bool, str]:
        out = tmp / "g"
        out.mkdir()
        (out / "clip-002.wav").write_text("old")
        run = _run(*GENERATE, "--num", "3", "--wav", "--out", out, "--force", file_size=300_000)
        names = sorted(p.name for p in out.iterdir())
        ok, text = refused(run, 120)
        same = names == ["clip-002.wav"] and (out / "clip-002.wav").read_text() == "old"
        return ok and same, f"{text}; folder as it was: {same}"

    def readonly(tmp: Path) -> tuple[bool, str]:
        return refused(_run(*GENERATE, "--out", "/sys/melodygan-hostile-test"))

    def through_file(tmp: Path) -> tuple[bool, str]:
        _write(tmp / "file", "x")
        return refused(_run(*GENERATE, "--out", tmp / "file" / "clips"))

    def checkpoints(tmp: Path) -> tuple[bool, str]:
        bad = _bad_checkpoints(tmp / "ck")
        failed = []
        for name, path in bad.items():
            run = _run("generate", "--bars", "1", "--checkpoint", path, "--out", tmp / "g")
            if not run.one_line_refusal() or (name == "a tensor of another shape" and "[3, 3]" not in run.error):
                failed.append(f"{name}: {run.summary()} {run.error[:80]}")
        return not failed, f"{len(bad) - len(failed)} of {len(bad)} refused in one line" + (
            f"; failed: {failed}" if failed else "")

    return [
        ("generate --num 3 --wav when clip-002.wav exists", existing),
        ("generate --num 3 --wav --force on a full disk", full_disk),
        ("generate into a read-only folder", readonly),
        ("generate into a path through a file", through_file),
        ("generate --checkpoint: 26 malformed checkpoints", checkpoints),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="run the rows whose name contains this text")
    args = parser.parse_args(argv)
    rows = [r for r in reader_rows() + output_rows() + training_rows() if args.only in r[0]]
    failures = 0
    for name, row in rows:
        with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
            try:
                ok, text = row(Path(tmp))
            except Exception as e:  # the row itself broke
                ok, text = False, f"row failed: {type(e).__name__}: {e}"
        failures += not ok
        print(f"| {name} | {'ok' if ok else 'FAIL'} | {text} |", flush=True)
    print(f"{len(rows) - failures} of {len(rows)} rows ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
