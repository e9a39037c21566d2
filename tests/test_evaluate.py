"""`melodygan evaluate`: engines, the report folder, refusal to overwrite, plug-in engines, the CLI."""

import json
import math

import numpy as np
import pytest

from melodygan.chords import parse_chord_symbol
from melodygan.cli import main
from melodygan.errors import MelodyganError
from melodygan.evaluate import ENGINE_KINDS, ENGINES, _import, evaluate, excerpt, register_engine
from melodygan.notes import Note
from melodygan.piece import Piece, chords_from_changes

PROGRESSION = ["C", "F", "G", "C", "Am", "Dm", "G", "C", "C", "F", "G", "C"]


def tune(seed: int, bars: int = 12) -> Piece:
    """A C-major tune in quarter notes: each bar's downbeat is a chord tone, the rest scale steps."""
    rng = np.random.default_rng(seed)
    scale = [60, 62, 64, 65, 67, 69, 71, 72]
    notes, changes = [], []
    for b in range(bars):
        chord = parse_chord_symbol(PROGRESSION[b % len(PROGRESSION)])
        changes.append((16 * b, chord))
        root_pitch = 60 + chord.root if 60 + chord.root in scale else 60
        pitches = [root_pitch] + [int(rng.choice(scale)) for _ in range(3)]
        notes += [Note(16 * b + 4 * i, 4, p) for i, p in enumerate(pitches)]
    return Piece(melody=notes, chords=chords_from_changes(changes, 16 * bars), title=f"tune {seed}")


@pytest.fixture(scope="module")
def pieces():
    return [tune(s) for s in range(10)]


def test_rule_engines_write_a_full_report(tmp_path, pieces):
    result = evaluate("rule-triad", pieces, 6, tmp_path / "triad")
    files = sorted(p.name for p in (tmp_path / "triad").iterdir())
    assert files == ["chord_roots.png", "example_roll.png", "metrics.json", "pitch_classes.png", "report.md"]
    saved = json.loads((tmp_path / "triad" / "metrics.json").read_text())
    assert saved["engine"] == "rule-triad" and saved["num_real"] == saved["num_model"] == 6
    assert 0 < saved["model"]["ctnctr"] <= 1 and 0 < saved["real"]["ctnctr"] <= 1
    assert result["kind"] == "harmonizer" and 0 <= result["chord_agreement"] <= 1
    report = (tmp_path / "triad" / "report.md").read_text()
    assert "CTnCTR" in report and "![pitch_classes.png](pitch_classes.png)" in report

    tonic = evaluate("rule-tonic", pieces, 6, tmp_path / "tonic", plots=False)
    assert tonic["model"]["che"] == 0.0 and tonic["model"]["cc"] == 1.0
    # The human chords move (5 distinct chords per 12-bar tune above); the tonic rule does not.
    assert tonic["real"]["cc"] == pytest.approx(5.0)


def test_same_seed_same_report_and_refusal_to_overwrite(tmp_path, pieces):
    a = evaluate("rule-triad", pieces, 4, tmp_path / "a", seed=3, plots=False)
    b = evaluate("rule-triad", pieces, 4, tmp_path / "b", seed=3, plots=False)
    assert a["model"] == b["model"] and a["per_piece"] == b["per_piece"]
    with pytest.raises(MelodyganError, match="already exists; pass --force"):
        evaluate("rule-triad", pieces, 4, tmp_path / "a", plots=False)
    c = evaluate("rule-tonic", pieces, 4, tmp_path / "a", force=True, plots=False)
    assert json.loads((tmp_path / "a" / "metrics.json").read_text())["engine"] == "rule-tonic" == c["engine"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folders left behind


def test_errors_are_one_line(tmp_path, pieces):
    with pytest.raises(MelodyganError, match=r"unknown engine 'nope'; available: .*rule-triad"):
        evaluate("nope", pieces, 2, tmp_path / "x")
    with pytest.raises(MelodyganError, match="--num must be >= 1"):
        evaluate("rule-triad", pieces, 0, tmp_path / "x")
    with pytest.raises(MelodyganError, match="does not exist"):
        evaluate("rule-triad", tmp_path / "missing", 2, tmp_path / "x")
    with pytest.raises(MelodyganError, match=r"needs melodygan\.no_such_module"):
        _import("melodygan.no_such_module", "ar")
    assert {"rule-triad", "rule-tonic", "ar", "gan", "hybrid", "harmonize", "harmonize-transformer"} <= set(ENGINES)


def test_plug_in_generator_engine(tmp_path, pieces):
    # A generator registered from outside gets the report (distribution match included) unchanged.
    @register_engine("shifted-real", "generator")
    def shifted(real, num, checkpoint, seed):
        return [p.transposed(2) for p in real[:num]]

    try:
        result = evaluate("shifted-real", pieces, 5, tmp_path / "gen", plots=False)
    finally:
        del ENGINES["shifted-real"], ENGINE_KINDS["shifted-real"]
    assert result["kind"] == "generator" and set(result["distribution"]) >= {"pitch_range", "pitch_class_histogram"}
    # Transposing keeps every interval and duration: those features match the real ones closely.
    assert result["model"]["qn"] == pytest.approx(result["real"]["qn"])
    assert result["distribution"]["avg_ioi"]["oa"] > 0.5
    assert "Distribution match" in (tmp_path / "gen" / "report.md").read_text()


def test_generator_listener_report_has_the_profile_and_the_lag_plot(tmp_path, pieces):
    @register_engine("real-again", "generator")
    def again(real, num, checkpoint, seed):
        return [p.transposed(1) for p in real[:num]]

    try:
        result = evaluate("real-again", pieces, 12, tmp_path / "gen", listener_test=True)
    finally:
        del ENGINES["real-again"], ENGINE_KINDS["real-again"]
    real, model = result["profile"]["real"], result["profile"]["model"]
    assert model["int_step"] == pytest.approx(real["int_step"])  # a transposition keeps every interval
    assert model["sim_lag4"] == pytest.approx(real["sim_lag4"])
    assert (tmp_path / "gen" / "bar_lag_similarity.png").stat().st_size > 1000
    assert "echo4" in (tmp_path / "gen" / "report.md").read_text()


def test_excerpt_drops_pickup_and_clips():
    piece = Piece(melody=[Note(0, 4, 67)] + [Note(4 + 16 * b, 16, 60) for b in range(10)],
                  chords=chords_from_changes([(0, parse_chord_symbol("G")), (4, parse_chord_symbol("C"))], 164),
                  pickup_steps=4)
    ex = excerpt(piece, bars=8)
    assert ex.pickup_steps == 0 and ex.end_steps == 128
    assert [n.start_steps for n in ex.melody] == [16 * b for b in range(8)]
    assert [(c.symbol(), c.start_steps, c.duration_steps) for c in ex.chords] == [("C", 0, 128)]


def test_cli_end_to_end_on_abc(tmp_path, capsys):
    pytest.importorskip("melodygan.corpora.nottingham")
    abc = "\n\n".join(
        f'X: {i}\nT:Tune {i}\nM:4/4\nL:1/4\nK:C\n"C"CEGE|"F"FACA|"G"GBdB|"C"cGEC|"Am"ACEA|"G7"GBdf|"C"e2c2|]\n'
        for i in range(1, 5))
    (tmp_path / "tunes.abc").write_text(abc)
    out = tmp_path / "report"
    code = main(["evaluate", "--engine", "rule-triad", "--data", str(tmp_path / "tunes.abc"),
                 "--num", "3", "--out", str(out), "--no-plots"])
    assert code == 0 and (out / "report.md").exists()
    m = json.loads((out / "metrics.json").read_text())
    assert m["num_real"] == 3 and not math.isnan(m["model"]["pcs"])
    # A second run refuses to overwrite: one line, exit 2.
    assert main(["evaluate", "--engine", "rule-triad", "--data", str(tmp_path / "tunes.abc"),
                 "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_gan_over_real_chords_when_weights_ship(tmp_path, pieces):
    gan_engine = pytest.importorskip("melodygan.engines.gan")
    if not (gan_engine.DEFAULT_CHECKPOINT / "config.json").is_file():
        pytest.skip("no shipped GAN weights")
    result = evaluate("gan-chords", pieces, 3, tmp_path / "gan", plots=False)
    assert result["kind"] == "generator" and result["num_model"] == 3
    # The GAN keeps the chords it is given, so the chord metrics equal the real excerpts'.
    assert result["model"]["cc"] == pytest.approx(result["real"]["cc"])
    assert result["model"]["che"] == pytest.approx(result["real"]["che"])


def test_listener_test_in_the_report(tmp_path, pieces):
    result = evaluate("rule-tonic", pieces, 10, tmp_path / "tonic", plots=False, listener_test=True)
    lv = result["listener"]
    assert 0.0 <= lv["lr"]["mean"] <= 1.0 and 0.0 <= lv["gb"]["mean"] <= 1.0
    assert lv["giveaways"] and "Listener test" in (tmp_path / "tonic" / "report.md").read_text()
