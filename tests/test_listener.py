"""The listener check: exact feature values on hand-made melodies, the classifier's floor and ceiling, novelty."""

from __future__ import annotations

import math

import numpy as np
import pytest

from melodygan import listener
from melodygan.chords import Chord
from melodygan.keys import Key
from melodygan.notes import Note
from melodygan.piece import Piece

C_MAJOR = Key(0, "major")


def line(pitches: list[int], dur: int = 4, start: int = 0) -> list[Note]:
    """Consecutive notes of one duration."""
    return [Note(start + i * dur, dur, p) for i, p in enumerate(pitches)]


def test_a_scale_is_all_steps() -> None:
    p = Piece(melody=line([60, 62, 64, 65, 67, 69, 71, 72]), key=C_MAJOR)
    f = listener.melody_features(p, bars=2)
    assert f["int_step"] == 1.0 and f["int_repeat"] == 0.0 and f["int_leap5"] == 0.0
    assert f["int_mean_abs"] == pytest.approx(12 / 7)
    assert f["contour_changes"] == 0.0 and f["pitch_range"] == 12.0 and f["notes_per_bar"] == 4.0
    assert f["dur_quarter"] == 1.0 and f["dur_16th"] == 0.0 and f["rhythm_monotony"] == 1.0
    assert f["distinct_durations"] == 1.0 and f["onset_on_beat"] == 1.0 and f["syncopation"] == 0.0
    assert f["rest_share"] == 0.0 and f["in_scale"] == 1.0
    assert f["first_note_tonic"] == 1.0 and f["first_note_tonic_triad"] == 1.0 and f["last_note_tonic"] == 1.0
    assert math.isnan(f["chord_tone"]) and math.isnan(f["first_chord_tonic"])  # no chords: undefined
    assert list(f) == list(listener.MELODY_FEATURES)


def test_an_arpeggio_has_no_steps() -> None:
    p = Piece(melody=line([60, 64, 67, 72, 67, 64, 60], dur=2), key=C_MAJOR)
    f = listener.melody_features(p, bars=1)
    assert f["int_step"] == 0.0
    assert f["int_small_leap"] == pytest.approx(4 / 6) and f["int_leap5"] == pytest.approx(2 / 6)
    assert f["int_leap8"] == 0.0
    assert f["contour_changes"] == pytest.approx(1 / 5)  # up up up down down down
    assert f["dur_8th"] == 1.0 and f["rest_share"] == pytest.approx(2 / 16)  # 14 of 16 steps sound


def test_rhythm_syncopation_and_pickup() -> None:
    # pickup quarter (left out), then: 8th at 0, quarter at 2 (across beat 2), 8th at 6, half at 8, 16th + rest
    notes = [Note(0, 4, 55), Note(4, 2, 60), Note(6, 4, 62), Note(10, 2, 64), Note(12, 8, 65), Note(20, 1, 67)]
    p = Piece(melody=notes, key=C_MAJOR, pickup_steps=4)
    f = listener.melody_features(p, bars=1)
    assert f["notes_per_bar"] == 4.0  # not the pickup note, nor the 16th at step 20 (bar 2)
    notes2 = listener.window(p, 1, 2).melody
    assert [n.start_steps for n in notes2] == [0, 2, 6, 8, 16]
    f = listener.melody_features(p, bars=2)
    assert f["onset_on_beat"] == pytest.approx(3 / 5)
    assert f["syncopation"] == pytest.approx(1 / 5)
    assert f["dur_16th"] == pytest.approx(1 / 5) and f["dur_8th"] == pytest.approx(2 / 5)
    assert f["dur_quarter"] == pytest.approx(1 / 5) and f["dur_long"] == pytest.approx(1 / 5)
    assert f["rhythm_monotony"] == pytest.approx(2 / 5) and f["distinct_durations"] == 4.0
    assert f["rest_share"] == pytest.approx(15 / 32)


def test_repeated_half_gives_lag4_similarity_one() -> None:
    rng = np.random.default_rng(3)
    first = [Note(b * 16 + k * 4, 4, int(rng.integers(60, 80))) for b in range(4) for k in range(4)]
    second = [n.shifted(64) for n in first]
    p = Piece(melody=first + second, key=C_MAJOR)
    f = listener.melody_features(p)
    assert f["sim_lag4"] == 1.0 and f["echo4"] == 1.0
    assert f["sim_lag1"] < 0.5
    assert listener.self_similarity(p, 4) == 1.0
    same = Piece(melody=line([60] * 32), key=C_MAJOR)
    assert listener.self_similarity(same, 1) == 1.0 and listener.melody_features(same)["int_repeat"] == 1.0


def test_bar_similarity_is_jaccard() -> None:
    a = frozenset({(0, 0), (4, 2), (8, 4), (12, 5)})
    b = frozenset({(0, 0), (4, 2), (8, 7), (12, 5)})
    assert listener.bar_similarity(a, b) == pytest.approx(3 / 5)
    assert listener.bar_similarity(a, frozenset()) == 0.0
    assert math.isnan(listener.bar_similarity(frozenset(), frozenset()))


def cadence_piece() -> Piece:
    chords = [Chord(0, "maj", 0, 16), Chord(5, "maj", 16, 8), Chord(7, "dom7", 24, 8), Chord(0, "maj", 32, 16)]
    melody = line([60, 64, 67, 72, 65, 69, 71, 74, 72, 67, 64, 60])
    return Piece(melody=melody, chords=chords, key=C_MAJOR)


def test_chords_in_melody_features() -> None:
    f = listener.melody_features(cadence_piece(), bars=3)
    assert f["chord_tone"] == pytest.approx(1.0)
    assert f["chord_changes_per_bar"] == pytest.approx(1.0)  # F, G7, C in three bars
    assert f["chord_mid_bar"] == pytest.approx(1 / 3)
    assert f["distinct_chords"] == 3.0
    assert f["first_chord_tonic"] == 1.0 and f["last_chord_tonic"] == 1.0 and f["cadence"] == 1.0
    # from bar 2 on, the window opens on F and ends on C after G7
    w = listener.window(cadence_piece(), 2, 2)
    g = listener.melody_features(w, bars=2)
    assert g["first_chord_tonic"] == 0.0 and g["cadence"] == 1.0 and g["chord_changes_per_bar"] == 1.0


def test_chord_features() -> None:
    chords = [Chord(0, "maj", 0, 16), Chord(5, "maj", 16, 16), Chord(7, "dom7", 32, 16), Chord(0, "maj", 48, 16)]
    p = Piece(melody=line([60] * 16), chords=chords, key=C_MAJOR)
    f = listener.chord_features(p)
    assert f["changes_per_bar"] == pytest.approx(3 / 4) and f["mid_bar"] == 0.0 and f["distinct_chords"] == 3.0
    assert (f["root_I"], f["root_IV"], f["root_V"], f["root_ii"], f["root_vi"], f["root_other"]) == (
        0.5, 0.25, 0.25, 0.0, 0.0, 0.0)
    assert f["seventh"] == 0.25 and f["minor"] == 0.0
    assert f["first_chord_I"] == 1.0 and f["last_chord_I"] == 1.0 and f["cadence"] == 1.0
    assert f["held_over_barline"] == 0.0
    assert f["root_motion"] == pytest.approx(4.0) and f["root_motion_4th5th"] == pytest.approx(2 / 3)
    held = p.with_chords([Chord(9, "min", 0, 32), Chord(0, "maj", 32, 32)])
    g = listener.chord_features(held)
    assert g["held_over_barline"] == pytest.approx(2 / 3) and g["root_vi"] == 0.5 and g["cadence"] == 0.0
    assert list(f) == list(listener.CHORD_FEATURES)


def random_piece(rng: np.random.Generator, leaps: bool) -> Piece:
    """A 2-bar melody: a stepwise walk in quarters, or wide leaps in eighths."""
    notes, pitch, t = [], 67, 0
    while t < 32:
        dur = 2 if leaps else 4
        pitch = int(np.clip(pitch + rng.choice([-9, -7, 7, 9] if leaps else [-2, -1, 1, 2]), 48, 90))
        notes.append(Note(t, dur, pitch))
        t += dur
    return Piece(melody=notes, key=C_MAJOR)


def test_classifier_floor_and_ceiling() -> None:
    rng = np.random.default_rng(0)
    steps = [random_piece(rng, False) for _ in range(60)]
    leaps = [random_piece(rng, True) for _ in range(40)]
    feats = [listener.melody_features(p, bars=2) for p in steps + leaps]
    easy = listener.classifier_test(feats[:60], feats[60:], seed=0)
    assert easy["lr"]["mean"] > 0.9 and easy["gb"]["mean"] > 0.9
    assert easy["n_per_class"] == 40
    top = {g["feature"] for g in easy["giveaways"]}
    assert {"int_step", "int_leap5"} & top
    a, b = listener.split_halves(feats[:60], seed=1)
    assert len(a) == len(b) == 30
    floor = listener.classifier_test(a, b, seed=0)
    assert floor["lr"]["mean"] < 0.75 and floor["gb"]["mean"] < 0.75


def test_profile_keys() -> None:
    out = listener.profile([cadence_piece()], bars=3)
    assert out["n"] == 1.0
    assert out["int_step"] == pytest.approx(listener.melody_features(cadence_piece(), 3)["int_step"])
    assert out["cadence"] == 1.0 and set(listener.PROFILE_KEYS) <= set(out)


def test_novelty_finds_a_planted_copy() -> None:
    rng = np.random.default_rng(7)

    def tune(bars: int, key: Key) -> Piece:
        notes = [Note(b * 16 + k * 4, 4, int(rng.integers(55, 85))) for b in range(bars) for k in range(4)]
        return Piece(melody=notes, key=key)

    training = [tune(24, Key(7, "major")) for _ in range(5)]
    clip = tune(8, Key(2, "major"))
    source = training[2]
    copied = [Note(n.start_steps - 9 * 16 + 2 * 16, 4, n.pitch - 5 + 12) for n in source.melody
              if 9 * 16 <= n.start_steps < 13 * 16]  # its bars 10-13, a fourth lower and an octave up, at bars 3-6
    clip = clip.replace(melody=sorted([n for n in clip.melody if not 32 <= n.start_steps < 96] + copied))
    out = listener.novelty([clip, tune(8, Key(0, "major"))], training)
    assert out["per_clip"] == [4, 0] and out["max"] == 4 and out["max_clip"] == 0 and out["max_source"] == 2
    assert out["mean"] == 2.0 and out["share_ge_4"] == 0.5
    assert listener.novelty([training[1]], training)["max"] == 8  # a training tune copies itself: all 8 bars
