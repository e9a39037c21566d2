"""Metrics on hand-worked examples: every expected value is derived by hand in the comments."""

import math

import numpy as np
import pytest

from melodygan.chords import Chord, parse_chord_symbol
from melodygan.keys import Key
from melodygan.metrics import (
    chord_changes,
    chord_coverage,
    chord_histogram_entropy,
    chord_tonal_distance,
    ctnctr,
    distribution_match,
    empty_bars,
    harmony_metrics,
    in_scale_ratio,
    interval_score,
    mean_metrics,
    melody_chord_tonal_distance,
    notewise_nll,
    overlap_and_kl,
    piece_features,
    pitch_class_roll,
    pitch_consonance_score,
    qualified_notes,
    set_distances,
    sonorities,
    tonal_distance,
    used_pitch_classes,
    voice_leading,
)
from melodygan.notes import Note
from melodygan.piece import Piece
from melodygan.tonal import pitch_class_centroid, tonal_centroid

S3 = math.sqrt(3)


def chord(symbol: str, start: int, dur: int) -> Chord:
    return parse_chord_symbol(symbol, start, dur)


def quarters(pitches: list[int], start: int = 0) -> list[Note]:
    return [Note(start + 4 * i, 4, p) for i, p in enumerate(pitches)]


# --- tonal centroid -----------------------------------------------------------------------------
def test_tonal_centroid_single_pitch_classes():
    # C (l = 0): every sine is 0, every cosine 1 -> (0, 1, 0, 1, 0, 0.5) with r3 = 0.5.
    np.testing.assert_allclose(pitch_class_centroid([0]), [0, 1, 0, 1, 0, 0.5], atol=1e-12)
    # G (l = 7): 7·7π/6 ≡ π/6 -> (1/2, √3/2); 7·3π/2 ≡ π/2 -> (1, 0); 7·2π/3 ≡ 2π/3 -> 0.5·(√3/2, −1/2).
    np.testing.assert_allclose(pitch_class_centroid([7]), [0.5, S3 / 2, 1, 0, S3 / 4, -0.25], atol=1e-12)
    # Empty chroma sits at the origin; weights are L1-normalised so scaling changes nothing.
    np.testing.assert_allclose(tonal_centroid(np.zeros(12)), np.zeros(6))
    c = np.zeros(12)
    c[[0, 4, 7]] = 5.0
    np.testing.assert_allclose(tonal_centroid(c), pitch_class_centroid([0, 4, 7]))


def test_chord_tonal_distance_c_to_g():
    # ζ(C E G)·3 = (0 + √3/2 + 1/2, 1 − 1/2 + √3/2, 1, 2, √3/2, 0)
    # ζ(G B D)·3 = (1/2 + 1/2 + √3/2, √3/2 − √3/2 + 1/2, 2, −1, −√3/4, −3/4)
    # difference·3 = (1/2, √3/2, 1, −3, −3√3/4, −3/4); squared sum = 1/4 + 3/4 + 1 + 9 + 27/16 + 9/16
    # = 13.25 -> CTD = √13.25 / 3 ≈ 1.21335.
    expected = math.sqrt(13.25) / 3
    assert chord_tonal_distance([chord("C", 0, 16), chord("G", 16, 16)]) == pytest.approx(expected)
    # C C G: the repeated C merges, so there is one transition of the same size.
    assert chord_tonal_distance([chord("C", 0, 8), chord("C", 8, 8), chord("G", 16, 16)]) == pytest.approx(expected)
    # C G C: two transitions, both ≈ 1.21335.
    assert chord_tonal_distance([chord("C", 0, 8), chord("G", 8, 8), chord("C", 16, 8)]) == pytest.approx(expected)
    assert math.isnan(chord_tonal_distance([chord("C", 0, 16)]))


# --- chord sequences ----------------------------------------------------------------------------
def test_chord_histogram_entropy_and_coverage():
    seq = [chord("C", 0, 4), chord("G", 4, 4), chord("C", 8, 4), chord("F", 12, 4)]
    # Labels C:2, G:1, F:1 -> p = (1/2, 1/4, 1/4); CHE = 1/2 ln 2 + 2·1/4 ln 4 = 1.5 ln 2.
    assert chord_histogram_entropy(seq) == pytest.approx(1.5 * math.log(2))
    assert chord_coverage(seq) == 3
    # C C G -> changes C G: ln 2, two distinct; a no-chord label is dropped before merging.
    merged = [chord("C", 0, 4), chord("C", 4, 4), chord("N.C.", 8, 4), chord("G", 12, 4)]
    assert len(chord_changes(merged)) == 2
    assert chord_histogram_entropy(merged) == pytest.approx(math.log(2))
    assert chord_coverage(merged) == 2
    # One chord throughout: zero entropy, coverage 1. A slash bass is not a label of its own:
    # C C/E G is the change sequence C G.
    assert chord_histogram_entropy([chord("C", 0, 32)]) == 0.0
    assert chord_coverage([chord("C", 0, 4), chord("C/E", 4, 4), chord("G", 8, 4)]) == 2
    assert len(chord_changes([chord("C", 0, 4), chord("C/E", 4, 4), chord("G", 8, 4)])) == 2
    # Cm is a different label from C.
    assert chord_coverage([chord("C", 0, 4), chord("Cm", 4, 4)]) == 2


# --- melody against chords ----------------------------------------------------------------------
def test_ctnctr_passing_tone():
    # Bar 1 over C (C E G): C4 D4 E4 G4. D is not a chord tone; the next different note E4 is
    # 2 semitones away and a tone of its chord -> a passing tone (n_p).
    # Bar 2 over G (G B D): G4 B4 A4 C5. A4 is off the chord and its next note C5 is 3 semitones
    # away -> not n_p; C5 is off the chord and last -> not n_p.
    # n_c = 3 + 2 = 5, n_n = 3, n_p = 1 -> (5 + 1) / (5 + 3) = 0.75.
    melody = quarters([60, 62, 64, 67, 67, 71, 69, 72])
    chords = [chord("C", 0, 16), chord("G", 16, 16)]
    assert ctnctr(melody, chords) == pytest.approx(0.75)


def test_ctnctr_next_different_note_and_no_folding():
    # D D E over C: both Ds look past the repeated D to E (chord tone, 2 semitones) -> n_p = 2.
    # (n_c = 1, n_n = 2) -> (1 + 2) / (1 + 2) = 1.
    assert ctnctr(quarters([62, 62, 64]), [chord("C", 0, 12)]) == pytest.approx(1.0)
    # D5 then C4 over C: 14 semitones apart (2 only mod 12) -> no passing tone: (1 + 0) / (1 + 1).
    assert ctnctr(quarters([74, 60]), [chord("C", 0, 8)]) == pytest.approx(0.5)
    # Notes before the first chord are not counted; no counted note -> NaN.
    assert ctnctr(quarters([62, 60]), [chord("C", 4, 4)]) == pytest.approx(1.0)
    assert math.isnan(ctnctr(quarters([60]), []))


def test_pitch_consonance_score_tiny_grid():
    # Chord C (C E G) over 4 steps; E4 for 2 steps, F4 for 1 step, then a silent step.
    # E vs C: 4 -> +1; vs E: 0 -> +1; vs G: (4 − 7) mod 12 = 9 -> +1; mean 1.
    # F vs C: 5 -> 0; vs E: 1 -> −1; vs G: 10 -> −1; mean −2/3.
    # Frames: 1, 1, −2/3 (the silent step does not count) -> (2 − 2/3) / 3 = 4/9.
    melody = [Note(0, 2, 64), Note(2, 1, 65)]
    assert pitch_consonance_score(melody, [chord("C", 0, 4)]) == pytest.approx(4 / 9)
    # Folding: E6 (88) over C is still a major third -> +1 on every chord tone.
    assert pitch_consonance_score([Note(0, 1, 88)], [chord("C", 0, 1)]) == pytest.approx(1.0)
    assert [interval_score(60, pc) for pc in (0, 7, 1, 9)] == [1, 0, -1, 1]  # C over C, G, C#, A


def test_mctd_duration_weighted():
    # ζ(C) = (0, 1, 0, 1, 0, 1/2); ζ(C E G) = (a, a, 1/3, 2/3, √3/6, 0) with a = (1/2 + √3/2)/3.
    # ‖ζ(C) − ζ(CEG)‖² = a² + (1 − a)² + 1/9 + 1/9 + 1/12 + 1/4.
    a = (0.5 + S3 / 2) / 3
    d_c = math.sqrt(a**2 + (1 - a) ** 2 + 2 / 9 + 1 / 12 + 1 / 4)
    assert melody_chord_tonal_distance([Note(0, 4, 60)], [chord("C", 0, 16)]) == pytest.approx(d_c)
    # A melody note equal to a one-note "chord" would be 0; weight 3:1 of d_c and d_g:
    # G over C (E G): ζ(G) = (1/2, √3/2, 1, 0, √3/4, −1/4), so the difference to ζ(CEG) is
    # (1/2 − a, √3/2 − a, 2/3, −2/3, √3/4 − √3/6, −1/4).
    d_g = math.sqrt((0.5 - a) ** 2 + (S3 / 2 - a) ** 2 + 8 / 9 + (S3 / 12) ** 2 + 1 / 16)
    got = melody_chord_tonal_distance([Note(0, 12, 60), Note(12, 4, 67)], [chord("C", 0, 16)])
    assert got == pytest.approx((12 * d_c + 4 * d_g) / 16)


def test_harmony_metrics_of_a_piece():
    piece = Piece(melody=quarters([60, 62, 64, 67, 67, 71, 69, 72]),
                  chords=[chord("C", 0, 16), chord("G", 16, 16)])
    m = harmony_metrics(piece)
    assert m["ctnctr"] == pytest.approx(0.75)
    assert m["cc"] == 2 and m["che"] == pytest.approx(math.log(2))
    assert set(m) == {"ctnctr", "pcs", "mctd", "che", "cc", "ctd"}


# --- piano-roll statistics ----------------------------------------------------------------------
def test_empty_bars_upc_qn_on_hand_built_roll():
    # 4/4 on 16ths (16 steps per bar), 3 bars. Bar 1: C4, E4 (4 steps each), C5 (8 steps) ->
    # classes {C, E} = 2. Bar 2: empty. Bar 3: D4 (2), F#4 (1), A4 (1) -> {D, F#, A} = 3.
    notes = [Note(0, 4, 60), Note(4, 4, 64), Note(8, 8, 72), Note(32, 2, 62), Note(34, 1, 66), Note(35, 1, 69)]
    assert empty_bars(notes, 48, 16) == pytest.approx(100 / 3)  # 1 of 3 bars empty
    assert used_pitch_classes(notes, 48, 16) == pytest.approx(2.5)  # (2 + 3) / 2 non-empty bars
    assert qualified_notes(notes) == pytest.approx(50.0)  # 3 of 6 notes last >= 3 steps
    # A note held across the bar line makes bar 2 non-empty.
    assert empty_bars([Note(12, 8, 60)], 48, 16) == pytest.approx(100 / 3)
    assert empty_bars([], 48, 16) == 100.0


def test_tonal_distance_between_tracks():
    # Bar 1: track a plays C E G, track b G B D -> √13.25 / 3; bar 2 both C E G -> 0; bar 3 b is
    # silent (not counted). Mean = √13.25 / 6.
    a = pitch_class_roll([Note(0, 16, p) for p in (60, 64, 67)] + [Note(16, 16, p) for p in (60, 64, 67)], 48)
    b = pitch_class_roll([Note(0, 16, p) for p in (55, 59, 62)] + [Note(16, 16, p) for p in (48, 52, 55)], 48)
    assert tonal_distance(a, b, 16) == pytest.approx(math.sqrt(13.25) / 6)
    assert tonal_distance(a, a, 16) == pytest.approx(0.0)


def test_in_scale_ratio():
    # C major: C and D in, F# out -> 2/3. A minor admits G# (raised 7th).
    assert in_scale_ratio([Note(0, 1, 60), Note(1, 1, 62), Note(2, 1, 66)], Key(0, "major")) == pytest.approx(2 / 3)
    assert in_scale_ratio([Note(0, 1, 68)], Key(9, "minor")) == 1.0


# --- distribution match -------------------------------------------------------------------------
def test_piece_features_by_hand():
    # C4 (quarter), E4 (eighth), G4 (dotted quarter), C4 (whole + quarter: longer than a whole).
    notes = [Note(0, 4, 60), Note(4, 2, 64), Note(6, 6, 67), Note(12, 20, 60)]
    f = piece_features(notes)
    assert f["pitch_count"][0] == 3 and f["pitch_range"][0] == 7 and f["note_count"][0] == 4
    assert f["avg_pitch_interval"][0] == pytest.approx((4 + 3 + 7) / 3)
    assert f["avg_ioi"][0] == pytest.approx((1 + 0.5 + 1.5) / 3)  # in quarter notes
    np.testing.assert_allclose(f["pitch_class_histogram"][[0, 4, 7]], [0.5, 0.25, 0.25])
    trans = f["pitch_class_transition"].reshape(12, 12)
    assert trans[0, 4] == trans[4, 7] == trans[7, 0] == pytest.approx(1 / 3)
    # bins: 16th, 8th, dotted 8th, quarter, dotted quarter, half, dotted half, whole, longer
    np.testing.assert_allclose(f["note_length_histogram"], [0, 0.25, 0, 0.25, 0.25, 0, 0, 0, 0.25])


def test_overlap_identical_and_disjoint():
    x = np.array([0.0, 1.0, 1.5, 2.0, 4.0])
    oa, kl = overlap_and_kl(x, x)
    assert oa == pytest.approx(1.0, abs=1e-6) and kl == pytest.approx(0.0, abs=1e-6)
    oa_far, kl_far = overlap_and_kl(x, x + 100.0)
    assert oa_far < 1e-6 and kl_far > 10
    oa_near, _ = overlap_and_kl(x, x + 0.5)
    assert 0.0 < oa_near < 1.0
    # All-equal samples still give a density (floored bandwidth): identical -> 1.
    assert overlap_and_kl(np.ones(4), np.ones(4))[0] == pytest.approx(1.0, abs=1e-6)


def test_set_distances_shapes_and_values():
    real = np.array([[0.0], [3.0], [4.0]])
    gen = np.array([[1.0], [2.0]])
    intra, inter = set_distances(real, gen)
    np.testing.assert_allclose(sorted(intra), [1.0, 3.0, 4.0])  # |0−3|, |0−4|, |3−4|
    np.testing.assert_allclose(sorted(inter), [1, 1, 2, 2, 2, 3])


def test_distribution_match_prefers_similar_sets():
    rng = np.random.default_rng(0)

    def tune(shift: int) -> list[Note]:
        return [Note(4 * i, 4, 60 + shift + int(rng.integers(0, 7))) for i in range(16)]

    real = [tune(0) for _ in range(12)]
    close = [tune(0) for _ in range(12)]
    far = [[Note(i, 1, 30 + 5 * i) for i in range(15)] for _ in range(12)]
    m_close, m_far = distribution_match(real, close), distribution_match(real, far)
    assert m_close["pitch_range"]["oa"] > m_far["pitch_range"]["oa"]
    assert m_close["note_count"]["kl"] < m_far["note_count"]["kl"]
    assert all(0.0 <= v["oa"] <= 1.0 for v in m_close.values())


# --- voice leading ------------------------------------------------------------------------------
def satb(chords: list[tuple[int, int, int, int]]) -> dict[str, list[Note]]:
    return {name: [Note(4 * k, 4, c[j]) for k, c in enumerate(chords)]
            for j, name in enumerate(("Soprano", "Alto", "Tenor", "Bass"))}


def test_voice_leading_parallels():
    # C5 G4 E4 C3 -> D5 A4 F4 D3: S–B 24 -> 24 semitones (octaves), A–B 19 -> 19 (fifths), all up.
    # S–A 5 -> 5 is a fourth; S–T 8 -> 9, A–T 3 -> 4, T–B 16 -> 15: none. One transition.
    vl = voice_leading(satb([(72, 67, 64, 48), (74, 69, 65, 50)]))
    assert vl["transitions"] == 1
    assert vl["parallel_octaves"] == 100.0 and vl["parallel_fifths"] == 100.0
    assert vl["crossings"] == vl["spacing"] == vl["out_of_range"] == 0.0


def test_voice_leading_contrary_motion_crossing_spacing_range():
    # Tenor–bass is a fifth G3/C3 (7) in chord 1 and a compound fifth A3/D2 (19) in chord 2, but the
    # tenor rises while the bass falls: contrary motion, not parallel fifths. Chord 2 has the alto
    # C5 above the soprano Bb4 (crossing), 15 semitones from alto C5 to tenor A3 (spacing) and a
    # bass D2 (38) below E2 (out of range). Two transitions; the second goes back to chord 1, which
    # has none of these -> every rate is 1 per 2 transitions = 50 per 100.
    c1, c2 = (72, 67, 55, 48), (70, 72, 57, 38)
    vl = voice_leading(satb([c1, c2, c1]))
    assert vl["transitions"] == 2
    assert vl["parallel_fifths"] == 0.0 and vl["parallel_octaves"] == 0.0
    assert vl["crossings"] == 50.0 and vl["spacing"] == 50.0 and vl["out_of_range"] == 50.0


def test_sonorities_merge_repeats_and_need_all_voices():
    v = satb([(72, 67, 64, 48), (72, 67, 64, 48), (74, 69, 65, 50)])
    v["Bass"] = v["Bass"][1:]  # no bass in the first chord -> that sonority is skipped
    s = sonorities([v[k] for k in ("Soprano", "Alto", "Tenor", "Bass")])
    np.testing.assert_array_equal(s, [[72, 67, 64, 48], [74, 69, 65, 50]])


# --- likelihood and helpers ---------------------------------------------------------------------
def test_notewise_nll():
    # p = 1/2 and 1/4 -> (ln 2 + ln 4) / 2 = 1.5 ln 2 nats; a masked-out token does not count.
    lp = np.log(np.array([[0.5, 0.25, 0.01]]))
    assert notewise_nll(lp, np.array([[True, True, False]])) == pytest.approx(1.5 * math.log(2))
    assert notewise_nll(np.log([1.0])) == pytest.approx(0.0)


def test_mean_metrics_ignores_nan():
    assert mean_metrics([{"a": 1.0, "b": math.nan}, {"a": 3.0, "b": 2.0}]) == {"a": 2.0, "b": 2.0}
