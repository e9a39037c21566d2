"""GAN engine: roll decoding on hand-built rolls, meter rows, chord frames, gan_melodies end to end."""

import numpy as np
import pytest

from melodygan.chords import Chord, key_of_chords
from melodygan.engines.gan import decode_roll, gan_melodies
from melodygan.errors import MelodyganError
from melodygan.keys import Key
from melodygan.notes import Note
from melodygan.pianoroll import chords_to_bar_frames, frames_to_roll, meter_rows


def _roll(t: int, p: int) -> np.ndarray:
    return np.zeros((2, t, p), dtype=np.float32)


def test_decode_binary_roll_keeps_repeated_notes():
    r = _roll(8, 4)
    r[0, 0:8, 2] = 1  # one pitch held for 8 steps...
    r[1, 0, 2] = r[1, 4, 2] = 1  # ...struck twice: two quarter notes
    assert decode_roll(r, 60) == [Note(0, 4, 62), Note(4, 4, 62)]


def test_decode_pitch_change_starts_note_without_onset_and_gap_ends_it():
    r = _roll(8, 4)
    r[0, 0:3, 0] = 1
    r[0, 3:5, 3] = 1  # no onset marked: the pitch change starts the note
    r[0, 6:8, 1] = 1  # after a rest, sustain alone starts a note
    assert decode_roll(r, 60) == [Note(0, 3, 60), Note(3, 2, 63), Note(6, 2, 61)]


def test_decode_thresholds_on_probabilities():
    r = _roll(4, 3)
    r[0, :, 1] = [0.6, 0.45, 0.3, 0.7]
    r[0, :, 2] = [0.1, 0.2, 0.1, 0.0]  # step 2: total 0.4 < 0.5 -> rest
    r[1, :, 1] = [0.9, 0.2, 0.0, 0.55]
    # step 0: sounds (0.7), pitch 61, onset; step 1: 0.65 sounds, same pitch, onset 0.2 -> held;
    # step 2: rest; step 3: new note.
    assert decode_roll(r, 60) == [Note(0, 2, 61), Note(3, 1, 61)]
    # A lower sustain threshold lets step 2 sound, a lower onset threshold splits step 1.
    assert decode_roll(r, 60, sustain_threshold=0.35, onset_threshold=0.15) == [
        Note(0, 1, 61), Note(1, 2, 61), Note(3, 1, 61)]


def test_decode_minimum_duration_merges_or_drops():
    r = _roll(10, 5)
    r[0, 0:4, 0] = 1
    r[0, 4:5, 4] = 1  # 1-step note right after a note: absorbed by it
    r[0, 5:7, 2] = 1  # 2 steps: kept with min 2
    r[0, 8:9, 3] = 1  # 1-step note after a rest: dropped
    r[1, [0, 4, 5, 8], [0, 4, 2, 3]] = 1
    assert decode_roll(r, 60, min_duration_steps=2) == [Note(0, 5, 60), Note(5, 2, 62)]
    assert len(decode_roll(r, 60)) == 4


def test_decode_scale_mask_picks_among_allowed_pitches_only():
    r = _roll(2, 3)
    r[0, 0, 1] = 0.5  # C#: not in C major
    r[0, 0, 2] = 0.3  # D
    r[0, 1, :] = [0.1, 0.1, 0.1]  # total 0.3: stays a rest even with the mask
    assert decode_roll(r, 60) == [Note(0, 1, 61)]
    assert decode_roll(r, 60, allowed_pitch_classes=Key(0, "major").scale) == [Note(0, 1, 62)]


def test_meter_rows():
    m44 = meter_rows((4, 4))
    assert m44[0].tolist() == [1.0] * 16
    assert np.flatnonzero(m44[1]).tolist() == [0, 4, 8, 12]
    m68 = meter_rows((6, 8))
    assert m68[0].sum() == 12 and np.flatnonzero(m68[1]).tolist() == [0, 6]
    assert np.flatnonzero(meter_rows((3, 4))[1]).tolist() == [0, 4, 8]
    with pytest.raises(MelodyganError, match="9/8"):
        meter_rows((9, 8))


def test_chord_frames_and_roll_round_trip_in_3_4():
    chords = [Chord(0, "maj", 0, 12), Chord(7, "dom7", 12, 6)]
    frames = chords_to_bar_frames(chords, bars=2, bar_steps=12)
    assert frames.shape == (2, 16, 12)
    assert np.flatnonzero(frames[0, 0]).tolist() == [0, 4, 7]
    assert np.flatnonzero(frames[1, 5]).tolist() == [2, 5, 7, 11]
    assert frames[1, 6].sum() == 0 and frames[0, 12:].sum() == 0  # after the last chord; padding
    f = np.zeros((2, 2, 16, 4), dtype=np.float32)
    f[0, 0, 11, 1] = f[1, 0, 0, 1] = 1  # a note tied over the bar line
    roll = frames_to_roll(f, 12)
    assert roll.shape == (2, 24, 4)
    assert decode_roll(roll, 60) == [Note(11, 2, 61)]


def test_key_of_chords():
    prog = [Chord(7, "maj", 0, 16), Chord(0, "maj", 16, 16), Chord(2, "dom7", 32, 16), Chord(7, "maj", 48, 16)]
    assert key_of_chords(prog) == Key(7, "major")


def test_gan_melodies_end_to_end(gan_checkpoint):
    prog = [Chord(0, "maj", 0, 16), Chord(7, "maj", 16, 16), Chord(9, "min", 32, 16), Chord(5, "maj", 48, 80)]
    eb = [c.transposed(2) for c in prog]  # in D, a key other than C
    pieces = gan_melodies([prog, eb, eb], bars=4, key=Key(2, "major"), seed=7, checkpoint=gan_checkpoint)
    assert len(pieces) == 3
    for p in pieces:
        assert p.key == Key(2, "major") and p.time_signature == (4, 4) and p.end_steps == 64
        assert p.chords[-1].end_steps == 64  # cut to the length
        assert all(60 <= n.pitch < 84 and n.end_steps <= 64 for n in p.melody)
        assert all(a.end_steps <= b.start_steps for a, b in zip(p.melody, p.melody[1:]))
    again = gan_melodies([prog, eb, eb], bars=4, key=Key(2, "major"), seed=7, checkpoint=gan_checkpoint)
    assert [p.melody for p in again] == [p.melody for p in pieces]
    masked = gan_melodies([eb], bars=4, key=Key(2, "major"), seed=7, checkpoint=gan_checkpoint, scale_mask=True)
    assert all(n.pitch % 12 in Key(2, "major").scale for n in masked[0].melody)


def test_gan_melodies_meters_and_errors(gan_checkpoint):
    waltz = gan_melodies([[Chord(0, "maj", 0, 24)]], bars=2, time_signature=(3, 4), checkpoint=gan_checkpoint)
    assert waltz[0].end_steps == 24 and waltz[0].time_signature == (3, 4)
    assert gan_melodies([[]], bars=1, checkpoint=gan_checkpoint)[0].chords == []
    with pytest.raises(MelodyganError, match="5/4"):
        gan_melodies([[]], time_signature=(5, 4), checkpoint=gan_checkpoint)
    with pytest.raises(MelodyganError, match="no GAN checkpoint"):
        gan_melodies([[]], checkpoint=gan_checkpoint.parent / "missing")


def test_decode_inverts_notes_to_roll_for_random_monophonic_melodies():
    from melodygan.pianoroll import notes_to_roll

    rng = np.random.default_rng(0)
    for _ in range(20):
        notes, t = [], 0
        while t < 60:
            t += int(rng.integers(0, 3))  # rests of 0-2 steps
            d = int(rng.integers(1, 6))
            notes.append(Note(t, d, int(rng.integers(60, 72))))
            t += d
        roll = notes_to_roll(notes, t, pitch_low=60, num_pitches=12).astype(np.float32)
        assert decode_roll(roll, 60) == notes


def test_shipped_weights_follow_key_and_chords():
    from melodygan.engines.gan import DEFAULT_CHECKPOINT
    from melodygan.metrics import ctnctr

    if not (DEFAULT_CHECKPOINT / "config.json").is_file():
        pytest.skip("no shipped GAN weights in this checkout")
    prog = [Chord(r, q, 16 * i, 16) for i, (r, q) in enumerate([(2, "maj"), (7, "maj"), (9, "dom7"), (2, "maj")] * 2)]
    pieces = gan_melodies([prog] * 40, bars=8, key=Key(2, "major"), seed=1)
    notes = [n for p in pieces for n in p.melody]
    assert len(notes) >= 40 * 8  # at least a note per bar on average
    assert sum(n.pitch % 12 in Key(2, "major").scale for n in notes) / len(notes) >= 0.9
    assert np.mean([ctnctr(p.melody, p.chords) for p in pieces]) >= 0.6
    assert len({tuple(p.melody) for p in pieces}) >= 20  # different noise, mostly different melodies
    # A line, not an arpeggio: mostly steps and small intervals, few big leaps, notes on the 8th grid.
    jumps = np.array([abs(b.pitch - a.pitch) for p in pieces for a, b in zip(p.melody, p.melody[1:])])
    assert ((jumps >= 1) & (jumps <= 2)).mean() >= 0.3
    assert (jumps >= 8).mean() <= 0.1
    assert all(n.start_steps % 2 == 0 and n.duration_steps % 2 == 0 for n in notes)


def test_period_form_restates_bars_1_to_4_in_bars_5_to_8(gan_checkpoint):
    prog = [Chord(r, "maj", 16 * i, 16) for i, r in enumerate([0, 5, 7, 0] * 2)]

    def restated(answer_bars):
        pieces = gan_melodies([prog] * 20, bars=8, key=Key(0, "major"), seed=3, checkpoint=gan_checkpoint,
                              answer_bars=answer_bars)
        same = total = 0
        for p in pieces:
            first = {(n.start_steps, n.pitch) for n in p.melody if n.start_steps < 64}
            second = {(n.start_steps - 64, n.pitch) for n in p.melody if n.start_steps >= 64}
            same += len(first & second)
            total += max(len(first | second), 1)
        return same / total

    assert restated(4) >= 0.5 > restated(0) + 0.2  # the answer reuses the question's noise
    with pytest.raises(MelodyganError, match="answer_bars"):
        gan_melodies([prog], answer_bars=-1, checkpoint=gan_checkpoint)


def _decode_one_by_one(roll: np.ndarray, pitch_low: int, sustain_threshold: float, onset_threshold: float,
                       allowed: tuple[int, ...] | None) -> list[Note]:
    """The rules of the module docstring, one clip and one note at a time (the reference)."""
    sustain, onset = roll[0], roll[1]
    length, num_pitches = sustain.shape
    notes: list[Note] = []
    current: list[int] | None = None  # [start, pitch]
    for t in range(length):
        sounding = float(sustain[t].sum()) >= sustain_threshold
        if sounding:
            scores = [float(sustain[t, p]) + (1e-6 if allowed is None or (p + pitch_low) % 12 in allowed else -1e9)
                      for p in range(num_pitches)]
            pitch = max(range(num_pitches), key=lambda p: (scores[p], -p))
            new = current is None or current[1] != pitch or float(onset[t, pitch]) >= onset_threshold
        if current is not None and (not sounding or new):
            notes.append(Note(current[0], t - current[0], pitch_low + current[1]))
            current = None
        if sounding and current is None:
            current = [t, pitch]
    if current is not None:
        notes.append(Note(current[0], length - current[0], pitch_low + current[1]))
    return notes


def test_batched_decoding_gives_each_clip_its_own_notes() -> None:
    from melodygan.engines.gan import decode_rolls

    rng = np.random.default_rng(3)
    rolls = rng.random((12, 2, 48, 10)).astype(np.float32) ** 3  # (B, 2, T, P) probabilities, often silent
    rolls[3] = 0  # a silent clip
    rolls[5, 0, :, 4] = 1.0  # one long note with onsets here and there
    masks = [None if i % 3 else Key(i % 12, "major").scale for i in range(12)]
    got = decode_rolls(rolls, 60, sustain_threshold=0.4, onset_threshold=0.3, allowed_pitch_classes=masks)
    assert len(got) == 12 and got[3] == []
    for i in range(12):
        assert got[i] == _decode_one_by_one(rolls[i], 60, 0.4, 0.3, masks[i]), i
        assert got[i] == decode_roll(rolls[i], 60, sustain_threshold=0.4, onset_threshold=0.3,
                                     allowed_pitch_classes=masks[i])
    merged = decode_rolls(rolls, 60, sustain_threshold=0.4, onset_threshold=0.3, min_duration_steps=3)
    assert all(n.duration_steps >= 3 for clip in merged for n in clip)
