"""The melody GAN's networks: shapes, monophony, the note grid, intervals, meter masks, save -> load, seeds."""

import dataclasses
import itertools

import torch

from melodygan.checkpoints import load_checkpoint, save_checkpoint
from melodygan.devices import make_generator
from melodygan.models.gan import (
    ChordDiscriminator,
    GanConfig,
    MelodyGenerator,
    condition_maps,
    interval_rows,
    key_vector,
    scale_pitch_classes,
)


def _inputs(cfg: GanConfig, b: int = 3, n: int = 2, seed: int = 0, bar: int = 16):
    g = make_generator(seed)
    chords = torch.zeros(b, n, cfg.steps_per_bar, 12)
    chords[..., [0, 4, 7]] = 1.0
    key = key_vector(torch.tensor([0, 2, 9])[:b], torch.tensor([False, False, True])[:b])
    meter = torch.zeros(b, 2, cfg.steps_per_bar)
    meter[:, 0, :bar] = 1.0
    meter[:, 1, 0:bar:4] = 1.0
    return (torch.randn(b, cfg.z_phrase, generator=g), torch.randn(b, n, cfg.z_bar, generator=g), chords, key, meter)


def test_generator_shapes_and_monophony():
    cfg = GanConfig.tiny()
    torch.manual_seed(0)
    gen = MelodyGenerator(cfg).eval()
    hard, probs = gen(*_inputs(cfg, n=3))
    assert hard.shape == probs.shape == (3, 3, 2, cfg.steps_per_bar, cfg.num_pitches)
    sustain, onset = hard[:, :, 0], hard[:, :, 1]
    assert set(hard.unique().tolist()) <= {0.0, 1.0}
    assert (sustain.sum(-1) <= 1).all()  # one pitch (or rest) per step
    assert (onset <= sustain).all()
    assert (probs[:, :, 0].sum(-1) <= 1 + 1e-5).all()


def test_meter_mask_silences_padding_steps():
    cfg = GanConfig.tiny()
    gen = MelodyGenerator(cfg).eval()
    hard, probs = gen(*_inputs(cfg, bar=12))  # 3/4: 12 of 16 steps
    assert hard[..., 12:, :].abs().sum() == 0 and probs[..., 12:, :].abs().sum() == 0


def test_discriminator_shapes_and_gradient_reaches_generator():
    cfg = GanConfig.tiny()
    gen, disc = MelodyGenerator(cfg), ChordDiscriminator(cfg)
    z_phrase, z_bars, chords, key, meter = _inputs(cfg)
    hard, _ = gen(z_phrase, z_bars, chords, key, meter)
    score, feats = disc(hard, chords, key, meter)
    assert score.shape == (3,) and feats.shape == (3, 4 * cfg.d_channels)
    score.sum().backward()
    assert gen.out.weight.grad is not None and gen.out.weight.grad.abs().sum() > 0  # straight-through works
    p, ni = cfg.num_pitches, 2 * cfg.max_interval + 1
    rhythm_grad, interval_grad = gen.out.weight.grad[p + ni:], gen.out.weight.grad[p:p + ni]
    assert rhythm_grad.abs().sum() > 0 and interval_grad.abs().sum() > 0  # rhythm and interval heads learn


def test_condition_maps_exact():
    cfg = GanConfig(pitch_low=60, num_pitches=24)
    chords = torch.zeros(1, 1, 16, 12)
    chords[0, 0, :8, [0, 4, 7]] = 1.0  # C major for half a bar, then no chord
    key = key_vector(torch.tensor([7]), torch.tensor([False]))  # G major
    maps = condition_maps(chords, key, cfg.pitch_low, cfg.num_pitches)
    assert maps.shape == (1, 1, 2, 16, 24)
    assert maps[0, 0, 0, 0].nonzero().flatten().tolist() == [0, 4, 7, 12, 16, 19]
    assert maps[0, 0, 0, 8].sum() == 0
    g_major = [0, 2, 4, 6, 7, 9, 11]  # G A B C D E F#
    assert scale_pitch_classes(key)[0].nonzero().flatten().tolist() == g_major
    a_minor = scale_pitch_classes(key_vector(torch.tensor([9]), torch.tensor([True])))[0]
    assert a_minor.nonzero().flatten().tolist() == [0, 2, 4, 5, 6, 7, 8, 9, 11]  # with F# and G#


def test_save_load_identical_outputs(tmp_path):
    cfg = GanConfig.tiny()
    torch.manual_seed(3)
    gen = MelodyGenerator(cfg).eval()
    save_checkpoint(tmp_path / "ck", gen, cfg, "gan-melody", extra={"step": 0})
    loaded, config, _ = load_checkpoint(tmp_path / "ck", MelodyGenerator, GanConfig, "gan-melody")
    inputs = _inputs(cfg)
    assert config == cfg
    for a, b in zip(gen(*inputs), loaded(*inputs)):
        assert torch.equal(a, b)


def test_same_seed_same_output_and_noise_matters():
    cfg = GanConfig.tiny()
    torch.manual_seed(0)
    gen = MelodyGenerator(cfg).eval()
    _, p1 = gen(*_inputs(cfg, seed=5))
    _, p2 = gen(*_inputs(cfg, seed=5))
    _, p3 = gen(*_inputs(cfg, seed=6))
    assert torch.equal(p1, p2)
    assert not torch.equal(p1, p3)


def test_previous_bar_conditions_the_first_bar():
    cfg = GanConfig.tiny()
    torch.manual_seed(0)
    gen = MelodyGenerator(cfg).eval()
    inputs = _inputs(cfg, n=1)
    prev = torch.zeros(3, 2, cfg.steps_per_bar, cfg.num_pitches)
    prev[:, :, :, 4] = 1.0
    _, a = gen(*inputs)
    _, b = gen(*inputs, prev_bar=prev)
    assert not torch.allclose(a, b)


def test_every_note_start_carries_an_onset_even_across_bars_in_3_4():
    cfg = GanConfig.tiny()
    torch.manual_seed(1)
    gen = MelodyGenerator(cfg).eval()
    hard, _ = gen(*_inputs(cfg, n=3, bar=12))
    sustain, onset = hard[:, :, 0, :12], hard[:, :, 1, :12]  # (B, N, 12, P) real steps only
    flat_s = sustain.flatten(1, 2)  # (B, 36, P) continuous over bar lines
    flat_o = onset.flatten(1, 2)
    before = torch.cat([torch.zeros_like(flat_s[:, :1]), flat_s[:, :-1]], 1)
    assert (flat_o >= flat_s * (1 - before)).all()


def _notes(roll: torch.Tensor) -> list[tuple[int, int]]:
    """(step, pitch column) of every onset in a ``(N, 2, S, P)`` roll of 4/4 bars, in time order."""
    onset = roll[:, 1].flatten(0, 1)  # (N*S, P)
    return [(int(t), int(c)) for t, c in onset.nonzero().tolist()]


def test_notes_start_on_the_slot_grid_within_the_interval_limit():
    cfg = GanConfig.tiny()  # 8th slots, intervals up to 7 semitones
    torch.manual_seed(2)
    gen = MelodyGenerator(cfg).eval()
    with torch.no_grad():  # a busier untrained net: many notes and pitch changes
        gen.out.weight.normal_(0.0, 3.0)
        gen.out.bias[cfg.num_pitches + 2 * cfg.max_interval + 1] = 2.0
    hard, _ = gen(*_inputs(cfg, n=3))
    for b in range(3):
        notes = _notes(hard[b])
        assert len(notes) >= 4
        assert all(t % cfg.slot_steps == 0 for t, _ in notes)
        assert all(abs(c2 - c1) <= cfg.max_interval for (_, c1), (_, c2) in itertools.pairwise(notes))
    # sustain is constant within each slot
    sustain = hard[:, :, 0]
    assert torch.equal(sustain[:, :, 0::2], sustain[:, :, 1::2])


def test_interval_logits_steer_the_next_pitch():
    cfg = GanConfig.tiny()
    torch.manual_seed(0)
    gen = MelodyGenerator(cfg).eval()
    p, ni = cfg.num_pitches, 2 * cfg.max_interval + 1
    with torch.no_grad():
        gen.out.weight.zero_()
        gen.map_bias.zero_()
        bias = torch.zeros(p + ni + 3)
        bias[4] = 5.0  # absolute logits: column 4 (E4) first
        bias[p + cfg.max_interval + 2] = 20.0  # then always up a whole tone
        bias[p + ni] = 5.0  # start a note in every slot
        gen.out.bias.copy_(bias)
    hard, _ = gen(*_inputs(cfg, b=1, n=1))
    cols = [c for _, c in _notes(hard[0])]
    assert cols[:4] == [4, 6, 8, 10]  # E F# G# A#, then the top of the range stops the climb
    assert all(c <= p - 1 for c in cols)


def test_interval_rows_exact_across_bar_lines_in_3_4():
    roll = torch.zeros(1, 2, 2, 16, 12)
    meter = torch.zeros(1, 2, 16)
    meter[0, 0, :12] = 1.0
    roll[0, 0, 0, 0:8, 3] = 1.0  # bar 1: D#4 for 8 steps, then G4 to the bar's end
    roll[0, 0, 1, 0, 3] = 1.0
    roll[0, 0, 0, 8:12, 7] = 1.0
    roll[0, 0, 1, 8, 7] = 1.0
    roll[0, 1, 0, 0:4, 2] = 1.0  # bar 2: D4, struck on the downbeat, then D4 again
    roll[0, 1, 1, 0, 2] = 1.0
    roll[0, 1, 0, 4:6, 2] = 1.0
    roll[0, 1, 1, 4, 2] = 1.0
    rows = interval_rows(roll, meter, max_interval=5)  # (1, 2, 16, 11)
    hits = [(bar, t, d - 5) for bar, t, d in rows[0].nonzero().tolist()]
    assert hits == [(0, 8, 4), (1, 0, -5), (1, 4, 0)]  # up a major 3rd, down a 4th over the bar line, repeat
    assert rows.sum() == 3  # the first note has no interval


def test_interval_table_makes_the_next_interval_depend_on_the_last():
    cfg = GanConfig.tiny()
    assert cfg.interval_memory
    torch.manual_seed(0)
    gen = MelodyGenerator(cfg).eval()
    p, m = cfg.num_pitches, cfg.max_interval
    ni = 2 * m + 1
    with torch.no_grad():
        gen.out.weight.zero_()
        gen.map_bias.zero_()
        bias = torch.zeros(p + ni + 3)
        bias[4] = 5.0
        bias[p + m + 3] = 10.0  # up a minor 3rd, unless the table says otherwise
        bias[p + ni] = 5.0
        gen.out.bias.copy_(bias)
        assert gen.interval_table is not None
        gen.interval_table[m + 3, m - 1] = 30.0  # after up a minor 3rd: down a semitone
    hard, _ = gen(*_inputs(cfg, b=1, n=1))
    assert [c for _, c in _notes(hard[0])][:6] == [4, 7, 6, 9, 8, 11]
    off = MelodyGenerator(dataclasses.replace(cfg, interval_memory=False))
    assert off.interval_table is None


def test_choices_are_drawn_with_the_noise_given():
    from melodygan.models.gan import slot_noise

    cfg = GanConfig.tiny()
    torch.manual_seed(4)
    gen = MelodyGenerator(cfg).eval()
    with torch.no_grad():
        gen.out.weight.zero_()  # every slot: the same logits, so only the noise can vary the choices
        gen.out.bias.zero_()
        gen.map_bias.zero_()
        assert gen.interval_table is not None
        gen.interval_table.zero_()
    inputs = _inputs(cfg, b=2, n=2)
    argmax, _ = gen(*inputs)
    assert len({c for _, c in _notes(argmax[0])}) <= 1  # no noise: one pitch, or silence
    noise = slot_noise(2, 2, cfg, make_generator(9))
    assert noise.shape == (2, 2, cfg.slots_per_bar, cfg.num_pitches + 3)
    a, _ = gen(*inputs, noise=noise)
    b, _ = gen(*inputs, noise=noise.clone())
    c, _ = gen(*inputs, noise=slot_noise(2, 2, cfg, make_generator(10)))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert len({col for _, col in _notes(a[0])}) >= 3  # uniform logits: the draws spread over pitches
    onset_steps = a[:, :, 1].sum(-1).flatten()
    assert set(onset_steps.tolist()) <= {0.0, 1.0}


def test_rhythm_table_sees_the_previous_note_length():
    cfg = GanConfig.tiny()
    torch.manual_seed(0)
    gen = MelodyGenerator(cfg).eval()
    p, ni = cfg.num_pitches, 2 * cfg.max_interval + 1
    with torch.no_grad():
        gen.out.weight.zero_()
        bias = torch.zeros(p + ni + 3)
        bias[p + ni] = 1.0  # start a note, unless the table says otherwise
        gen.out.bias.copy_(bias)
        assert gen.rhythm_table is not None
        gen.rhythm_table[0, 1, 1] = 5.0  # first note: hold it for a second slot
        gen.rhythm_table[2, 1, 1] = 5.0  # after a 2-slot note, the new one is held too
        gen.rhythm_table[2, 2, 0] = 5.0  # a note 2 slots long ends with a new start
    hard, _ = gen(*_inputs(cfg, b=1, n=2))
    onsets = [t for t, _ in _notes(hard[0])]
    assert onsets == list(range(0, 32, 4))  # quarter notes all the way: the table repeats the length


def test_length_rows_exact_across_bar_lines_in_3_4():
    from melodygan.models.gan import length_rows

    roll = torch.zeros(1, 2, 2, 16, 12)
    meter = torch.zeros(1, 2, 16)
    meter[0, 0, :12] = 1.0
    roll[0, 0, 0, 0:2, 5] = 1.0  # an 8th
    roll[0, 0, 1, 0, 5] = 1.0
    roll[0, 0, 0, 2:6, 5] = 1.0  # a quarter on the same pitch (struck again)
    roll[0, 0, 1, 2, 5] = 1.0
    roll[0, 0, 0, 8:12, 7] = 1.0  # a dotted half tied over the bar line: 4 + 8 = 12 steps
    roll[0, 0, 1, 8, 7] = 1.0
    roll[0, 1, 0, 0:8, 7] = 1.0
    roll[0, 1, 0, 8:11, 2] = 1.0  # a dotted 8th
    roll[0, 1, 1, 8, 2] = 1.0
    rows = length_rows(roll, meter, max_length=8)  # (1, 2, 16, 8)
    hits = [(bar, t, d + 1) for bar, t, d in rows[0].nonzero().tolist()]
    assert hits == [(0, 0, 2), (0, 2, 4), (0, 8, 8), (1, 8, 3)]  # 12 steps counts as "8 or more"
    assert rows.sum() == 4
