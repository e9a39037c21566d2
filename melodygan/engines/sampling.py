"""Sampling from the lead-sheet transformer: temperature, top-k, top-p, seeds, batches, constraints.

Constraints are logit masks. A :class:`Grammar` follows each sequence token by token and says
which tokens may come next, so every sample is a well-formed lead sheet with exactly the asked
number of bars, and it carries the user's constraints:

* key/scale: free melody pitches only from the given pitch classes;
* pitch range: free melody pitches only inside ``(low, high)``;
* fixed chords: a bar's chords given as ``(pos, chord index)`` → only those, at those onsets;
* fixed melody: a bar's notes given as ``(pos, pitch, duration)`` → forced note for note (the
  harmonize task; a primer forces both);
* a chord at the start of every bar (no chordless bars);
* each bar's head: its ``PLACE`` is forced (from its index and the piece's length), its ``FORM``
  is sampled among the lags that exist (forced from the notes when the bar's melody is given);
  after a ``REPEAT`` the earlier bar's notes are forced, after a ``RHYTHM`` its onsets and lengths
  (the pitches are sampled).

Masks never touch the model: :func:`sample` applies them to the logits of a plain forward pass
with a :class:`~melodygan.models.transformer.KVCache`. Every random draw uses the caller's
``torch.Generator`` (on the CPU, so a seed gives the same tokens on any device).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from melodygan import tokens as tk
from melodygan.models.transformer import KVCache, LeadSheetTransformer

Melody = list[tuple[int, int, int]]
Chords = list[tuple[int, int]]
Events = tuple[tuple[int, int, int], ...]


@dataclass(frozen=True)
class BarSpec:
    """What is fixed in one bar; ``None`` = free. Positions are steps from the bar line."""

    melody: tuple[tuple[int, int | None, int], ...] | None = None  # pitch None: only the rhythm is fixed
    chords: tuple[tuple[int, int], ...] | None = None


@dataclass(frozen=True)
class Constraints:
    """Constraints of one sequence.

    Attributes:
        task: ``'leadsheet'`` or ``'harmonize'`` (the token order).
        num_bars: exact number of bars.
        bar_steps: steps per bar (from the meter).
        scale: allowed pitch classes of free melody notes (None = all 12).
        pitch_range: ``(low, high)`` MIDI pitches of free melody notes, inclusive.
        bars: per-bar fixed content; bars past the end of this tuple are free.
        chord_every_bar: a bar's chords must start at position 0.
        max_chords_per_bar: free chords per bar at most (bounds the length of a sample).
        first_bar: index of this sequence's first bar in the whole piece (segments of a long piece).
        total_bars: bars of the whole piece (``PLACE`` counts the bars left to its end);
            None = ``first_bar + num_bars``.
        pickup: the piece's bar 0 is a pickup.
        history: melody events ``(pos, pitch, duration)`` of each bar before ``first_bar``
            (what ``FORM`` may point back to).
    """

    task: str = "leadsheet"
    num_bars: int = 8
    bar_steps: int = 16
    scale: tuple[int, ...] | None = None
    pitch_range: tuple[int, int] = (48, 96)
    bars: tuple[BarSpec, ...] = ()
    chord_every_bar: bool = True
    max_chords_per_bar: int = 4
    first_bar: int = 0
    total_bars: int | None = None
    pickup: bool = False
    history: tuple[Events, ...] = ()


def _block(name: str) -> tuple[int, int]:
    for n, offset, size in tk.BLOCKS:
        if n == name:
            return offset, offset + size
    raise KeyError(name)


_POS = _block("pos")
_CHORD = _block("chord")
_FORM_LAG_TOKENS = tuple((k, tk.form_token("repeat", k), tk.form_token("rhythm", k)) for k in tk.FORM_LAGS)


@dataclass
class Grammar:
    """Token-by-token state of one sequence under its :class:`Constraints`."""

    c: Constraints
    bar: int = -1
    section: str = "melody"  # harmonize order: "melody" then "chords"
    state: str = "event"  # event | after_pos | after_chord | after_pitch | done
    last_pos: int = -1
    pos: int = 0
    note_i: int = 0
    chord_i: int = 0
    bar_chords: int = 0
    _pitch_ok: np.ndarray = field(init=False, repr=False)
    _events: list[list[tuple[int, int, int]]] = field(init=False, repr=False)  # every bar's notes so far
    _copy: tuple[tuple[int, int | None, int], ...] | None = field(init=False, repr=False, default=None)
    _pitch: int = field(init=False, repr=False, default=0)

    def __post_init__(self) -> None:
        ok = np.zeros(128, dtype=bool)
        lo, hi = self.c.pitch_range
        ok[max(lo, 0):min(hi, 127) + 1] = True
        if self.c.scale is not None:
            ok &= np.isin(np.arange(128) % 12, np.array(self.c.scale))
        if not ok.any():
            raise ValueError(f"no pitch in range {self.c.pitch_range} is in the scale {self.c.scale}")
        self._pitch_ok = ok
        self._events = [list(e) for e in self.c.history]

    # --- the bar's fixed content -----------------------------------------------------------------
    def _given(self) -> BarSpec:
        return self.c.bars[self.bar] if 0 <= self.bar < len(self.c.bars) else BarSpec()

    def _spec(self) -> BarSpec:
        given = self._given()
        if self._copy is not None and given.melody is None:
            return BarSpec(melody=self._copy, chords=given.chords)
        return given

    def _index(self) -> int:
        """The bar's index in the whole piece."""
        return self.c.first_bar + self.bar

    def _allow_forms(self, m: np.ndarray) -> None:
        given = self._given()
        i = self._index()
        if given.melody is not None:  # the bar's notes are known: so is its form
            notes = [(p, q, d) for p, q, d in given.melody if q is not None]
            m[tk.bar_form([*self._events[:i], notes], i)] = True
            return
        m[tk.FORM_NEW] = True
        for k, repeat, rhythm in _FORM_LAG_TOKENS:
            if i - k >= 0 and self._events[i - k]:
                m[repeat] = m[rhythm] = True

    def _allow_pitch(self, m: np.ndarray, note: tuple[int, int | None, int]) -> None:
        if note[1] is None:
            m[tk.PITCH_OFFSET:tk.PITCH_OFFSET + 128] = self._pitch_ok
        else:
            m[tk.pitch_token(note[1])] = True

    def _next_note(self) -> tuple[int, int | None, int] | None:
        m = self._spec().melody
        return m[self.note_i] if m is not None and self.note_i < len(m) else None

    def _next_chord(self) -> tuple[int, int] | None:
        ch = self._spec().chords
        return ch[self.chord_i] if ch is not None and self.chord_i < len(ch) else None

    def _end_token(self) -> int:
        return tk.BAR if self.bar + 1 < self.c.num_bars else tk.EOS

    # --- masks -----------------------------------------------------------------------------------
    def allowed(self) -> np.ndarray:
        """Bool mask ``(VOCAB_SIZE,)`` of the tokens allowed next."""
        m = np.zeros(tk.VOCAB_SIZE, dtype=bool)
        spec = self._spec()
        harm = self.c.task == "harmonize"
        if self.state == "done":
            m[tk.PAD] = True
        elif self.bar < 0:
            m[tk.BAR] = True
        elif self.state == "place":
            total = self.c.total_bars if self.c.total_bars is not None else self.c.first_bar + self.c.num_bars
            m[tk.place_token(self._index(), total, self.c.pickup)] = True
        elif self.state == "form":
            self._allow_forms(m)
        elif self.state == "after_pitch":
            note = self._next_note() if spec.melody is not None else None
            if note is not None:
                m[tk.dur_token(note[2])] = True
            else:
                left = (self.c.num_bars - self.bar) * self.c.bar_steps - self.pos
                m[tk.DUR_OFFSET:tk.DUR_OFFSET + max(1, min(tk.MAX_DURATION, left))] = True
        elif self.state == "after_pos" and (not harm or self.section == "melody"):
            chord, note = self._next_chord(), self._next_note()
            if not harm and chord is not None and chord[0] == self.pos:
                m[tk.chord_token(chord[1])] = True
                return m
            if not harm and spec.chords is None and self.c.chord_every_bar and self.bar_chords == 0:
                m[_CHORD[0] + 1:_CHORD[1]] = True  # the bar opens with a chord
                return m
            if not harm and spec.chords is None and self.bar_chords < self.c.max_chords_per_bar:
                m[_CHORD[0] + 1:_CHORD[1]] = True  # any chord but N.C.
            if spec.melody is None:
                m[tk.PITCH_OFFSET:tk.PITCH_OFFSET + 128] = self._pitch_ok
            elif note is not None and note[0] == self.pos:
                self._allow_pitch(m, note)
        elif self.state == "after_pos":  # harmonize order, chord section
            chord = self._next_chord()
            if chord is not None:
                m[tk.chord_token(chord[1])] = True
            else:
                m[_CHORD[0] + 1:_CHORD[1]] = True
        else:  # event or after_chord: a new onset, or the end of the bar / section
            if self.state == "after_chord":
                note = self._next_note()
                if spec.melody is None:
                    m[tk.PITCH_OFFSET:tk.PITCH_OFFSET + 128] = self._pitch_ok
                elif note is not None and note[0] == self.pos:
                    self._allow_pitch(m, note)
                    return m
            self._allow_onsets(m, spec, harm)
        return m

    def _allow_onsets(self, m: np.ndarray, spec: BarSpec, harm: bool) -> None:
        lo, hi = self.last_pos + 1, self.c.bar_steps - 1
        note, chord = self._next_note(), self._next_chord()
        in_melody = harm and self.section == "melody"
        uses_notes = not harm or in_melody
        uses_chords = not harm or not in_melody
        if uses_notes and spec.melody is not None:
            hi = min(hi, note[0]) if note is not None else hi
            if in_melody:  # nothing but notes here: jump to the next one
                lo = note[0] if note is not None else hi + 1
        if uses_chords and spec.chords is not None:
            hi = min(hi, chord[0]) if chord is not None else hi
            if harm:
                lo = chord[0] if chord is not None else hi + 1
        if not harm and spec.chords is not None and spec.melody is not None:
            nexts = [e[0] for e in (note, chord) if e is not None]
            if nexts:
                lo = hi = min(nexts)
            else:
                lo = hi + 1
        full = spec.chords is None and self.bar_chords >= self.c.max_chords_per_bar
        if full and not harm and spec.melody is not None:  # only the fixed notes are left
            lo = note[0] if note is not None else hi + 1
        if full and harm and not in_melody:
            lo = hi + 1
        starting = (self.last_pos < 0 and self.c.chord_every_bar and uses_chords
                    and (spec.chords is None or (chord is not None and chord[0] == 0)))
        if starting:
            lo = hi = 0  # the bar's chords start at its bar line
        if lo <= hi:
            m[tk.pos_token(lo):tk.pos_token(hi) + 1] = True
        done_notes = not uses_notes or spec.melody is None or note is None
        done_chords = not uses_chords or spec.chords is None or chord is None
        if done_notes and done_chords and not starting:
            if in_melody:
                m[tk.HARM] = True
            else:
                m[self._end_token()] = True

    def advance(self, token: int) -> None:
        """Move past ``token`` (assumed allowed)."""
        k = tk.kind(token)
        if self.state == "done" or token == tk.PAD:
            return
        if token == tk.EOS:
            self.state = "done"
        elif token == tk.BAR:
            self.bar += 1
            if self.bar >= self.c.num_bars:
                self.state = "done"
                return
            self.section, self.state, self.last_pos, self.note_i, self.chord_i = "melody", "place", -1, 0, 0
            self.bar_chords = 0
            self._copy = None
            while len(self._events) <= self._index():
                self._events.append([])
        elif k == "place":
            self.state = "form"
        elif k == "form":
            kind_, lag = tk.form_of(token)
            source = self._events[self._index() - lag] if lag else []
            if kind_ == "repeat":
                self._copy = tuple(source)
            elif kind_ == "rhythm":
                self._copy = tuple((p, None, d) for p, _, d in source)
            self.state = "event"
        elif token == tk.HARM:
            self.section, self.state, self.last_pos = "chords", "event", -1
        elif k == "pos":
            self.pos = self.last_pos = token - tk.POS_OFFSET
            self.state = "after_pos"
        elif k == "chord":
            chord = self._next_chord()
            if chord is not None and chord[0] == self.pos:
                self.chord_i += 1
            self.bar_chords += 1
            self.state = "after_chord" if self.c.task == "leadsheet" else "event"
        elif k == "pitch":
            self._pitch = token - tk.PITCH_OFFSET
            self.state = "after_pitch"
        elif k == "dur":
            self._events[self._index()].append((self.pos, self._pitch, token - tk.DUR_OFFSET + 1))
            note = self._next_note()
            if note is not None and note[0] == self.pos:
                self.note_i += 1
            self.state = "event"


def filter_logits(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                  top_p: float | None = None) -> torch.Tensor:
    """Temperature, then top-k, then nucleus (top-p) filtering of ``(B, V)`` logits (masked = -inf)."""
    logits = logits / max(temperature, 1e-6)
    if top_k is not None and 0 < top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and 0.0 < top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)  # (B, V)
        cum = sorted_logits.softmax(-1).cumsum(-1)
        drop = cum - sorted_logits.softmax(-1) > top_p  # keep the first token over the threshold
        logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    return logits


def draw(logits: torch.Tensor, generator: torch.Generator, temperature: float = 1.0, top_k: int | None = None,
         top_p: float | None = None) -> torch.Tensor:
    """One token per row of ``(B, V)`` logits; ``temperature == 0`` is greedy. Returns ``(B,)`` int64 on the CPU."""
    logits = logits.float().cpu()
    if temperature <= 0:
        return logits.argmax(-1)
    probs = filter_logits(logits, temperature, top_k, top_p).softmax(-1)  # (B, V)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


MaskFn = Callable[[int], torch.Tensor | None]


@torch.no_grad()
def sample_tokens(model: LeadSheetTransformer, prompt: torch.Tensor, max_new_tokens: int,
                  generator: torch.Generator, temperature: float = 1.0, top_k: int | None = None,
                  top_p: float | None = None, grammars: list[Grammar] | None = None,
                  prompt_in_grammar: bool = True, logprobs: torch.Tensor | None = None) -> torch.Tensor:
    """Batched KV-cache sampling.

    Args:
        model: in eval mode, on any device.
        prompt: ``(B, T0)`` int64, the same length for every row (the conditioning prefix).
        max_new_tokens: upper bound of new tokens; stops earlier when every grammar is done.
        generator: CPU generator for every draw.
        grammars: one per row; their masks restrict each draw, and a single allowed token is
            forced (no draw). None = unconstrained.

    Returns:
        ``(B, T0 + n)`` int64 on the CPU, prompt included (finished rows padded with ``PAD``).
    """
    device = next(model.parameters()).device
    B, T0 = prompt.shape
    block = model.config.block_size
    total = T0 + max_new_tokens
    if total > block and B > 1:
        raise ValueError(f"{total} tokens do not fit block_size {block}; sample long pieces one at a time")
    out = prompt.cpu().clone()
    if grammars is not None and prompt_in_grammar:
        for g, row in zip(grammars, out.tolist()):
            for t in row:
                g.advance(t)
    cache = KVCache(model.config, B, device, next(model.parameters()).dtype)
    logits, _ = model(prompt.to(device), cache=cache)
    last = logits[:, -1]  # (B, V)
    history = out
    new: list[torch.Tensor] = []
    for _ in range(max_new_tokens):
        if grammars is not None:
            masks = torch.from_numpy(np.stack([g.allowed() for g in grammars]))  # (B, V)
            logits_cpu = last.float().cpu().masked_fill(~masks, float("-inf"))
            forced = masks.sum(-1) == 1
            if bool(forced.all()):
                nxt = masks.float().argmax(-1)
            else:
                nxt = draw(logits_cpu, generator, temperature, top_k, top_p)
                nxt = torch.where(forced, masks.float().argmax(-1), nxt)
            if logprobs is not None:
                lp = logits_cpu.log_softmax(-1).gather(1, nxt.view(B, 1)).squeeze(1)
                logprobs += torch.where(forced, torch.zeros_like(lp), lp)
            for g, t in zip(grammars, nxt.tolist()):
                g.advance(t)
        else:
            nxt = draw(last, generator, temperature, top_k, top_p)
        new.append(nxt)
        if grammars is not None and all(g.state == "done" for g in grammars):
            break
        if cache.length + 1 > block:  # one sequence only (checked above): keep the prefix and recent bars
            history = torch.cat([out, torch.stack(new, 1)], 1)
            context = _recent_context(history[0].tolist(), T0, block // 2)
            cache = KVCache(model.config, 1, device, next(model.parameters()).dtype)
            logits, _ = model(torch.tensor([context], device=device), cache=cache)
        else:
            logits, _ = model(nxt.view(B, 1).to(device), cache=cache)
        last = logits[:, -1]
    return torch.cat([out, torch.stack(new, 1)], 1) if new else out


def _recent_context(seq: list[int], prefix_len: int, budget: int) -> list[int]:
    """The prefix plus the longest run of whole recent bars (and the current partial bar) within ``budget``."""
    bar_starts = [i for i, t in enumerate(seq) if t == tk.BAR and i >= prefix_len]
    for start in bar_starts:
        if len(seq) - start + prefix_len <= budget:
            return seq[:prefix_len] + seq[start:]
    return seq[:prefix_len] + seq[-(budget - prefix_len):]
