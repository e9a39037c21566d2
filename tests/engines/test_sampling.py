"""Sampling: filters on hand-made logits, grammar masks, constraints, seeds and batches."""

from __future__ import annotations

import random

import torch

from melodygan import tokens as tk
from melodygan.devices import make_generator
from melodygan.engines.sampling import BarSpec, Constraints, Grammar, filter_logits, sample_tokens
from melodygan.keys import Key
from melodygan.models.transformer import LeadSheetTransformer, TransformerConfig


def _model() -> LeadSheetTransformer:
    torch.manual_seed(0)
    return LeadSheetTransformer(TransformerConfig(block_size=512, n_layer=1, n_head=2, n_embd=32, dropout=0.0)).eval()


def _sample(constraints: Constraints, n: int = 3, seed: int = 1, **kw: object) -> list[list[int]]:
    prefix = tk.prefix_tokens(constraints.task, Key(0, "major"), (4, 4))
    grammars = [Grammar(constraints) for _ in range(n)]
    out = sample_tokens(_model(), torch.tensor([prefix] * n), 400, make_generator(seed), grammars=grammars, **kw)  # type: ignore[arg-type]
    assert all(g.state == "done" for g in grammars)
    return out.tolist()


def test_top_k_and_top_p_on_hand_values() -> None:
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    k2 = filter_logits(logits, top_k=2)
    assert torch.isinf(k2[0, 2:]).all() and torch.isfinite(k2[0, :2]).all()
    p = filter_logits(logits, top_p=0.7)  # 0.5 < 0.7 → keep the second too, then stop
    assert torch.isfinite(p[0, :2]).all() and torch.isinf(p[0, 2:]).all()
    p2 = filter_logits(logits, top_p=0.85)
    assert torch.isfinite(p2[0, :3]).all() and torch.isinf(p2[0, 3])
    t = filter_logits(logits, temperature=0.5)
    torch.testing.assert_close(t, logits * 2)


def test_exact_bars_and_well_formed_sheets() -> None:
    for row in _sample(Constraints(num_bars=5, scale=(0, 2, 4, 5, 7, 9, 11), pitch_range=(60, 72))):
        body = [t for t in row if t != tk.PAD]
        assert body.count(tk.BAR) == 5 and body[-1] == tk.EOS
        piece = tk.decode(body)
        assert piece.num_bars == 5
        assert all(n.pitch % 12 in (0, 2, 4, 5, 7, 9, 11) and 60 <= n.pitch <= 72 for n in piece.melody)
        starts = {c.start_steps for c in piece.chords}
        assert 0 in starts  # every sheet opens with a chord


def test_same_seed_same_tokens_other_seed_other_tokens() -> None:
    c = Constraints(num_bars=3)
    assert _sample(c, seed=5) == _sample(c, seed=5)
    assert _sample(c, seed=5) != _sample(c, seed=6)


def test_fixed_chords_are_kept() -> None:
    g7, am = 1 + 12 * 4 + 7, 1 + 12 + 9  # dom7 on G, min on A
    bars = (BarSpec(chords=((0, 1),)), BarSpec(chords=((0, g7), (8, am))))
    for row in _sample(Constraints(num_bars=2, bars=bars)):
        piece = tk.decode(row)
        assert [(c.start_steps, c.symbol()) for c in piece.chords] == [(0, "C"), (16, "G7"), (24, "Am")]


def test_harmonize_keeps_the_melody_note_for_note() -> None:
    melody = ((0, 64, 4), (4, 65, 4), (8, 67, 8))
    bars = (BarSpec(melody=melody), BarSpec(melody=((0, 72, 16),)))
    for row in _sample(Constraints(task="harmonize", num_bars=2, bars=bars)):
        piece = tk.decode(row)
        assert [(n.start_steps, n.pitch, n.duration_steps) for n in piece.melody] == [
            (0, 64, 4), (4, 65, 4), (8, 67, 8), (16, 72, 16)]
        assert piece.chords and piece.chords[0].start_steps == 0
        assert len([t for t in row if tk.kind(t) == "chord"]) <= 2 * Constraints().max_chords_per_bar


def test_masks_follow_the_grammar() -> None:
    g = Grammar(Constraints(num_bars=1))
    for t in tk.prefix_tokens("leadsheet", Key(0, "major"), (4, 4)):
        g.advance(t)
    allowed = g.allowed()
    assert allowed.nonzero()[0].tolist() == [tk.BAR]
    g.advance(tk.BAR)
    assert g.allowed().nonzero()[0].tolist() == [tk.place_token(0, 1, pickup=False)]  # the bar's place is forced
    g.advance(tk.place_token(0, 1, pickup=False))
    assert g.allowed().nonzero()[0].tolist() == [tk.FORM_NEW]  # nothing earlier to repeat
    g.advance(tk.FORM_NEW)
    assert g.allowed().nonzero()[0].tolist() == [tk.pos_token(0)]  # a bar opens with its chord
    g.advance(tk.pos_token(0))
    assert set(tk.kind(int(t)) for t in g.allowed().nonzero()[0]) == {"chord"}


def test_random_walks_never_reach_a_dead_end() -> None:
    """Any allowed token keeps the grammar alive, whatever is fixed (a fuzz over constraint mixes)."""
    rng = random.Random(0)
    for trial in range(60):
        task = "harmonize" if trial % 2 else "leadsheet"
        bars = []
        for _ in range(3):
            onsets = sorted(rng.sample(range(16), rng.randint(0, 5)))
            melody = tuple((p, 60 + rng.randint(0, 12), rng.randint(1, 8)) for p in onsets)
            chord_onsets = sorted({0, *rng.sample(range(16), rng.randint(0, 2))})
            chords = tuple((p, rng.randint(1, 168)) for p in chord_onsets)
            fixed_melody = task == "harmonize" or rng.random() < 0.5
            bars.append(BarSpec(melody=melody if fixed_melody else None,
                                chords=chords if rng.random() < 0.5 else None))
        g = Grammar(Constraints(task=task, num_bars=4, bars=tuple(bars)))
        for t in tk.prefix_tokens(task, Key(0, "major"), (4, 4)):
            g.advance(t)
        seq = []
        for _ in range(2000):
            allowed = g.allowed().nonzero()[0]
            assert len(allowed), (trial, [tk.token_name(t) for t in seq[-8:]])
            t = int(rng.choice(list(allowed)))
            seq.append(t)
            g.advance(t)
            if g.state == "done":
                break
        assert g.state == "done"
        piece = tk.decode(tk.prefix_tokens(task, Key(0, "major"), (4, 4)) + seq)
        for b, spec in enumerate(bars):
            if spec.melody is not None:
                got = [(n.start_steps - 16 * b, n.pitch) for n in piece.melody if 16 * b <= n.start_steps < 16 * b + 16]
                assert got == [(p, pitch) for p, pitch, _ in spec.melody]


def _walk(g: Grammar, rng: random.Random, choose: dict[int, int] | None = None) -> list[int]:
    """Tokens of a random walk through the grammar; at the i-th FORM choice take ``choose[i]`` if given."""
    seq: list[int] = []
    forms = 0
    while g.state != "done":
        allowed = [int(t) for t in g.allowed().nonzero()[0]]
        if tk.kind(allowed[0]) == "form" and choose and forms in choose:
            assert choose[forms] in allowed
            t = choose[forms]
        else:
            t = rng.choice(allowed)
        forms += tk.kind(allowed[0]) == "form"
        seq.append(t)
        g.advance(t)
    return seq


def test_a_repeat_form_copies_the_earlier_bar_and_a_rhythm_form_its_rhythm() -> None:
    rng = random.Random(3)
    history = (((0, 60, 4), (4, 64, 4), (8, 67, 8)), ((0, 72, 16),))
    g = Grammar(Constraints(num_bars=2, first_bar=2, total_bars=4, history=history))
    prefix = tk.prefix_tokens("leadsheet", Key(0, "major"), (4, 4))
    seq = _walk(g, rng, {0: tk.form_token("repeat", 2), 1: tk.form_token("rhythm", 2)})
    bars = tk.decode([*prefix, tk.BAR, tk.BAR, *seq]).melody
    assert [(n.start_steps - 32, n.pitch, n.duration_steps) for n in bars if n.start_steps < 48] == list(history[0])
    assert [(n.start_steps - 48, n.duration_steps) for n in bars if n.start_steps >= 48] == [(0, 16)]
    assert tk.token_name(seq[1]) == "PLACE(2,2)" and tk.token_name(seq[-1]) == "EOS"


def test_forms_point_only_to_bars_with_notes_and_fixed_bars_get_their_own_form() -> None:
    history = (((0, 60, 16),), ())
    g = Grammar(Constraints(num_bars=2, first_bar=2, total_bars=4, history=history,
                            bars=(BarSpec(melody=((0, 60, 16),)), BarSpec())))
    g.advance(tk.BAR)
    g.advance(int(g.allowed().nonzero()[0][0]))
    forced = [tk.token_name(int(t)) for t in g.allowed().nonzero()[0]]
    assert forced == ["FORM(REPEAT-2)"]  # its given notes equal bar 0's
    g.advance(tk.form_token("repeat", 2))
    while g.state != "place":
        g.advance(int(g.allowed().nonzero()[0][0]))
    g.advance(int(g.allowed().nonzero()[0][0]))
    names = sorted(tk.token_name(int(t)) for t in g.allowed().nonzero()[0])
    assert names == ["FORM(NEW)", "FORM(REPEAT-1)", "FORM(RHYTHM-1)"]  # bar 1 is empty: nothing 2 bars back
