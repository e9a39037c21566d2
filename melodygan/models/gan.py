"""Convolutional GAN for melodies over chords (the MidiNet / MuseGAN line).

Tensor layout (written down once, here):

    bar frame      every bar is ``S = steps_per_bar`` (16) steps of 16ths; meters with shorter bars
                   (3/4, 6/8, 2/4: 12, 12, 8 steps) fill the first ``bar_steps`` steps and the rest
                   is masked to zero, so one network serves 4/4, 3/4, 6/8 and 2/4.
    melody roll    ``(B, N, 2, S, P)`` float in [0, 1] — N bars, channel 0 sustain, channel 1 onset
                   (as in :mod:`melodygan.pianoroll`), P pitches from ``pitch_low``.
    chords         ``(B, N, S, 12)`` float — the pitch classes of the chord sounding at each step
                   (slash basses included); all zeros for "no chord".
    key            ``(B, 13)`` float — one-hot tonic pitch class, then 1.0 for minor.
    meter          ``(B, 2, S)`` float — row 0: 1 on the steps the bar really has; row 1: 1 where
                   a beat starts (every 4 steps in 4/4 and 3/4, every 6 in 6/8).

Both networks are convolutions over time with the pitches as channels (MidiNet's layout), which
keeps a bar at about a million multiply-adds: batches of a thousand phrases run in well under a
second on a CPU. Harmony enters on the note grid too: *condition maps* ``(B, N, 2, S, P)`` say
whether pitch ``p`` is a chord tone, or a scale tone of the key, at step ``t``.

Generator: a phrase latent ``z_phrase`` shared by all bars plus one latent per bar (MuseGAN) and the
conditions go through a linear layer and a transposed convolution to the resolution of the *note
grid* (``slot_steps``: one slot per 8th), where per slot it gives rhythm logits (start a note /
continue / silence), absolute-pitch logits and interval logits (from the previous note). A
conditioner network (MidiNet) encodes the previous bar at three time resolutions and is
concatenated at each stage, so bars follow one another; the whole phrase comes out of one
``forward`` call, bar after bar. Each slot's rhythm and pitch are drawn from their softmax
(Gumbel-max, with noise the caller supplies), the pitch from absolute + interval logits (plus a
learned table indexed by the previous interval), the rhythm with a learned table indexed by note
lengths: so lines move by step where the network wants them to, rather than hopping between
chord tones one 16th at a time. The melody is monophonic by construction. The discriminator sees
hard (binary) rolls, as real data are binary; gradients pass through the hard choices with the
straight-through Gumbel-softmax estimator.

Discriminator: per step it sees the roll, the chord's pitch classes, the melody folded to pitch
classes, whether the melody note is a chord tone / a scale tone, the meter rows, the interval into
each note (:func:`interval_rows`) and each note's length (:func:`length_rows`); strided
convolutions over the whole phrase follow, with spectral normalisation on every layer and a
projection term for the key. It returns a score and the pooled features that the generator
matches (feature matching).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

KEY_DIM = 13
MAJOR_STEPS = (0, 2, 4, 5, 7, 9, 11)
MINOR_STEPS = (0, 2, 3, 5, 7, 8, 9, 10, 11)  # natural minor with raised 6th and 7th


@dataclass(frozen=True)
class GanConfig:
    """Sizes of the melody GAN.

    Attributes:
        steps_per_bar: bar frame in 16th steps (bars of shorter meters are padded and masked).
        pitch_low: MIDI pitch of roll column 0 (55 = G3).
        num_pitches: roll width ``P`` (36 = three octaves).
        phrase_bars: bars per training clip (the discriminator's phrase).
        z_phrase: size of the latent shared by all bars of a phrase.
        z_bar: size of each bar's own latent.
        g_channels: generator width.
        c_channels: conditioner (previous-bar encoder) width.
        d_channels: discriminator width.
        slot_steps: the note grid, in 16th steps: a note can start every ``slot_steps`` steps
            (2 = on every 8th) and lasts whole slots.
        max_interval: largest melodic interval (semitones) the generator can take between two notes,
            and the interval rows the discriminator sees.
        interval_memory: the interval logits also get a learned term indexed by the previous
            interval (a ``(2 * max_interval + 2, 2 * max_interval + 1)`` table), so a line can keep
            its direction (scale runs) or turn after a leap.
        rhythm_memory: the rhythm logits also get a learned term indexed by the length (in slots,
            capped at 4) of the previous note and of the note sounding now (a ``(5, 5, 3)`` table), so
            a tune can keep its running 8ths or its quarter-eighth lilt.
    """

    steps_per_bar: int = 16
    pitch_low: int = 55
    num_pitches: int = 36
    phrase_bars: int = 4
    z_phrase: int = 32
    z_bar: int = 32
    g_channels: int = 64
    c_channels: int = 16
    d_channels: int = 64
    slot_steps: int = 2
    max_interval: int = 12
    interval_memory: bool = True
    rhythm_memory: bool = True

    def __post_init__(self) -> None:
        if self.steps_per_bar % 4:
            raise ValueError(f"steps_per_bar must be divisible by 4, got {self.steps_per_bar}")
        if self.slot_steps not in (1, 2, 4):
            raise ValueError(f"slot_steps must be 1, 2 or 4, got {self.slot_steps}")

    @property
    def slots_per_bar(self) -> int:
        """Note slots in the bar frame."""
        return self.steps_per_bar // self.slot_steps

    @classmethod
    def tiny(cls) -> GanConfig:
        """A very small model for tests."""
        return cls(num_pitches=12, pitch_low=60, phrase_bars=2, z_phrase=4, z_bar=4, g_channels=8,
                   c_channels=4, d_channels=8, max_interval=7)


def key_vector(tonic: torch.Tensor, minor: torch.Tensor) -> torch.Tensor:
    """Key condition ``(B, 13)`` from tonic pitch classes ``(B,)`` int and minor flags ``(B,)``."""
    return torch.cat([F.one_hot(tonic.long() % 12, 12).float(), minor.float()[:, None]], dim=1)


def scale_pitch_classes(key: torch.Tensor) -> torch.Tensor:
    """``(B, 12)`` 1.0 on the pitch classes a melody in the key uses (minor: raised 6th and 7th too)."""
    major = torch.zeros(12, device=key.device)
    major[list(MAJOR_STEPS)] = 1.0
    minor = torch.zeros(12, device=key.device)
    minor[list(MINOR_STEPS)] = 1.0
    tonic = key[:, :12].argmax(1)  # (B,)
    rel = (torch.arange(12, device=key.device)[None, :] - tonic[:, None]) % 12  # (B, 12)
    is_minor = key[:, 12:13]  # (B, 1)
    return major[rel] * (1 - is_minor) + minor[rel] * is_minor


def condition_maps(chords: torch.Tensor, key: torch.Tensor, pitch_low: int, num_pitches: int) -> torch.Tensor:
    """Chord-tone and scale-tone maps on the roll grid.

    Args:
        chords: ``(B, N, S, 12)`` chord pitch classes per step.
        key: ``(B, 13)`` key vector (see :func:`key_vector`).
        pitch_low: MIDI pitch of column 0.
        num_pitches: ``P``.

    Returns:
        ``(B, N, 2, S, P)``: channel 0 = chord tone, channel 1 = scale tone.
    """
    b, n, s, _ = chords.shape
    pcs = (torch.arange(num_pitches, device=chords.device) + pitch_low) % 12  # (P,)
    chord_map = chords[..., pcs]  # (B, N, S, P)
    scale_map = scale_pitch_classes(key)[:, pcs][:, None, None, :].expand(b, n, s, num_pitches)
    return torch.stack([chord_map, scale_map], dim=2)  # (B, N, 2, S, P)


def slot_noise(batch: int, bars: int, config: GanConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """Gumbel noise for the generator's choices, ``(B, N, K, P + 3)`` (pitch, then rhythm), K slots a bar."""
    u = torch.rand(batch, bars, config.slots_per_bar, config.num_pitches + 3, generator=generator)
    return -torch.log(-torch.log(u.clamp(1e-9, 1 - 1e-9)))


def straight_through(hard: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
    """Forward value ``hard``, gradient of ``soft``."""
    return hard + (soft - soft.detach())  # exactly hard in value


class PrevBarEncoder(nn.Module):
    """Conditioner (MidiNet): the previous bar's roll at three time resolutions."""

    def __init__(self, num_pitches: int, c: int) -> None:
        super().__init__()
        self.c1 = nn.Conv1d(2 * num_pitches, c, 3, padding=1)
        self.c2 = nn.Conv1d(c, c, 4, stride=2, padding=1)
        self.c3 = nn.Conv1d(c, c, 4, stride=2, padding=1)

    def forward(self, prev: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = prev.transpose(2, 3).flatten(1, 2)  # (B, 2P, S)
        f1 = F.leaky_relu(self.c1(x), 0.2)  # (B, c, S)
        f2 = F.leaky_relu(self.c2(f1), 0.2)  # (B, c, S/2)
        f3 = F.leaky_relu(self.c3(f2), 0.2)  # (B, c, S/4)
        return f1, f2, f3


class MelodyGenerator(nn.Module):
    """Noise + chords + key + meter (+ previous bar) → melody rolls, one phrase per forward call.

    The convolution stack runs at the resolution of the note grid (``slot_steps``, 8ths by default)
    and gives, per slot, three sets of logits: rhythm (start a note / continue / silence),
    absolute pitch (``P``, plus a learned pull towards scale tones) and interval from the previous
    note (``-max_interval .. +max_interval``). A new note's pitch is drawn from the softmax of the sum of its
    absolute-pitch logits and the interval logits read at ``pitch - previous pitch``: a product of
    a "where on the keyboard / against the chord" expert and a "how far from the last note" expert,
    so stepwise motion is one learned number away instead of something the network must discover
    per pitch. With ``interval_memory`` the interval logits also depend on the previous interval
    (a learned table), so runs can keep their direction; with ``rhythm_memory`` the rhythm logits
    depend on the previous note's length and the current note's length so far. These choices are
    a scan over the slots (32 per 4-bar phrase) of gathers on ``(B, P)`` tensors; everything else
    is convolutions over the whole bar.
    """

    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        self.config = cfg = config
        s, p, g, c = cfg.steps_per_bar, cfg.num_pitches, cfg.g_channels, cfg.c_channels
        ni = 2 * cfg.max_interval + 1
        in_dim = cfg.z_phrase + cfg.z_bar + s * 12 + KEY_DIM + 2 * s
        self.fc = nn.Linear(in_dim, g * (s // 4))  # quarter-note resolution
        self.prev = PrevBarEncoder(p, c)
        ups = {4: 0, 2: 1, 1: 2}[cfg.slot_steps]
        self.ups = nn.ModuleList(nn.ConvTranspose1d(g + c, g, 2, stride=2) for _ in range(ups))
        self.mid = nn.Conv1d(g + c + 12 + 2, g, 3, padding=1)
        self.mid2 = nn.Conv1d(g, g, 3, padding=1)
        self.out = nn.Conv1d(g, p + ni + 3, 1)
        with torch.no_grad():
            assert self.out.bias is not None
            # A mild starting prior, all of it learned away or kept by the adversarial game: small
            # intervals a little likelier than large ones (-0.2 per semitone), notes rather than
            # silence at the start, and rests rare.
            self.out.bias[p:p + ni].copy_(-0.2 * (torch.arange(ni) - cfg.max_interval).abs().float())
            self.out.bias[p + ni:].copy_(torch.tensor([0.2, 0.0, -2.0]))
        # Learned pull of the absolute-pitch logits towards chord tones / scale tones. The chord
        # pull starts at 0 (an earlier +2 made every note a chord tone: arpeggios, not lines); the
        # scale pull starts at +1 so the first steps stay in the key.
        self.map_bias = nn.Parameter(torch.tensor([0.0, 1.0]))
        # Row = previous interval (last row: none yet), column = next interval; starts at zero.
        self.interval_table = nn.Parameter(torch.zeros(ni + 1, ni)) if cfg.interval_memory else None
        # [previous note's length, current note's length so far] (slots, 0 = none / silence, 4 = 4+).
        self.rhythm_table = nn.Parameter(torch.zeros(5, 5, 3)) if cfg.rhythm_memory else None

    def bar_logits(self, z_phrase: torch.Tensor, z_bar: torch.Tensor, chords: torch.Tensor, key: torch.Tensor,
                   meter: torch.Tensor, maps: torch.Tensor, prev: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Logits for one bar, per note slot.

        Args:
            z_phrase: ``(B, z_phrase)``; z_bar: ``(B, z_bar)``; chords: ``(B, S, 12)``;
            key: ``(B, 13)``; meter: ``(B, 2, S)``; maps: ``(B, 2, S, P)``; prev: ``(B, 2, S, P)``.

        Returns:
            ``(pitch, interval, rhythm)`` logits: ``(B, K, P)``, ``(B, K, 2 * max_interval + 1)``
            and ``(B, K, 3)`` (start / continue / silence), ``K = slots_per_bar``.
        """
        cfg = self.config
        b, p, q = z_phrase.shape[0], cfg.num_pitches, cfg.slot_steps
        f1, f2, f3 = self.prev(prev)
        by_res = {cfg.steps_per_bar: f1, cfg.steps_per_bar // 2: f2, cfg.steps_per_bar // 4: f3}
        vec = torch.cat([z_phrase, z_bar, chords.flatten(1), key, meter.flatten(1)], dim=1)
        h = F.relu(self.fc(vec)).view(b, -1, cfg.steps_per_bar // 4)  # (B, g, S/4)
        for up in self.ups:
            h = F.relu(up(torch.cat([h, by_res[h.shape[2]]], 1)))  # doubles the time resolution
        slot_chords = F.avg_pool1d(chords.transpose(1, 2), q)  # (B, 12, K)
        slot_meter = F.max_pool1d(meter, q)  # (B, 2, K)
        h = F.relu(self.mid(torch.cat([h, by_res[h.shape[2]], slot_chords, slot_meter], 1)))  # (B, g, K)
        h = F.relu(self.mid2(h)) + h
        o = self.out(h).transpose(1, 2)  # (B, K, P + ni + 3)
        slot_maps = maps[:, :, ::q]  # (B, 2, K, P) at each slot's first step
        bias = (slot_maps * self.map_bias[None, :, None, None]).sum(1)  # (B, K, P)
        ni = 2 * cfg.max_interval + 1
        return o[..., :p] + bias, o[..., p:p + ni], o[..., p + ni:]

    def _start_state(self, prev: torch.Tensor, meter: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """From the previous bar's roll: the pitch row sounding at its last real step ``(B, P)``,
        the last pitch played ``(B,)`` and whether there was one ``(B,)``."""
        b, s = prev.shape[0], prev.shape[2]
        rows = torch.arange(b, device=prev.device)
        sustain = prev[:, 0]  # (B, S, P)
        last_step = (meter[:, 0].sum(1).long() - 1).clamp(min=0)  # (B,)
        held = sustain[rows, last_step]  # (B, P)
        steps = torch.arange(s, device=prev.device)[None].expand(b, s)
        t_last = torch.where(sustain.sum(-1) > 0.5, steps, torch.full_like(steps, -1)).amax(1)  # (B,)
        last = sustain[rows, t_last.clamp(min=0)].argmax(-1)  # (B,)
        return held, last, t_last >= 0

    def forward(self, z_phrase: torch.Tensor, z_bars: torch.Tensor, chords: torch.Tensor, key: torch.Tensor,
                meter: torch.Tensor, prev_bar: torch.Tensor | None = None,
                noise: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Generate a phrase of ``N`` bars.

        Each slot's rhythm and pitch are *drawn* from the softmax of their logits (Gumbel-max with
        ``noise``; the straight-through gradient is that of the Gumbel-softmax), not taken as its
        argmax: an argmax picks every slot's most likely pitch, which over chords is a chord tone, so
        a deterministic generator drifts into arpeggios (more so under weight averaging).

        Args:
            z_phrase: ``(B, z_phrase)`` latent shared by the phrase.
            z_bars: ``(B, N, z_bar)`` one latent per bar.
            chords: ``(B, N, S, 12)`` chord pitch classes per step.
            key: ``(B, 13)``.
            meter: ``(B, 2, S)``.
            prev_bar: ``(B, 2, S, P)`` roll of the bar before the phrase (zeros when None); its last
                note is the first interval's reference and a note sounding at its end may continue.
            noise: ``(B, N, K, P + 3)`` Gumbel noise (:func:`slot_noise`); None = no noise (argmax).

        Returns:
            ``(hard, probs)``, both ``(B, N, 2, S, P)``. ``hard`` is the binary roll, notes on the slot
            grid, differentiable straight-through; it is what the discriminator and the next bar see,
            and what the engine decodes. ``probs`` holds, per slot, the probability of each pitch
            sounding (a new note's pitch softmax times the start probability, plus the continued
            note times the continue probability) and of each pitch starting there.
        """
        cfg = self.config
        b, n = z_bars.shape[:2]
        s, p, q, m = cfg.steps_per_bar, cfg.num_pitches, cfg.slot_steps, cfg.max_interval
        maps = condition_maps(chords, key, cfg.pitch_low, p)  # (B, N, 2, S, P)
        inside = meter[:, 0][:, :, None]  # (B, S, 1)
        slot_inside = meter[:, 0, ::q]  # (B, K)
        prev = prev_bar if prev_bar is not None else z_phrase.new_zeros(b, 2, s, p)
        held, last, has_last = self._start_state(prev, meter)
        last_iv = torch.full_like(last, 2 * m + 1)  # previous interval's index; 2m + 1 = none yet
        dur_now = torch.zeros_like(last)  # slots the sounding note has lasted (0 = silence), capped at 4
        dur_prev = torch.zeros_like(last)  # length of the note before it (0 = none yet)
        cols = torch.arange(p, device=meter.device)[None]  # (1, P)
        hards, probs = [], []
        for i in range(n):
            pitch_logits, interval_logits, rhythm_logits = self.bar_logits(
                z_phrase, z_bars[:, i], chords[:, i], key, meter, maps[:, i], prev)
            g = noise[:, i] if noise is not None else pitch_logits.new_zeros(b, cfg.slots_per_bar, p + 3)
            sus, ons, p_sus, p_ons = [], [], [], []
            for k in range(cfg.slots_per_bar):
                live = slot_inside[:, k:k + 1]  # (B, 1) 1 inside the bar, 0 on padding
                r_logits = rhythm_logits[:, k]  # (B, 3)
                if self.rhythm_table is not None:
                    r_logits = r_logits + self.rhythm_table[dur_prev, dur_now]
                r_soft = r_logits.softmax(-1)
                r_noisy = (r_logits + g[:, k, p:]).softmax(-1)
                r = straight_through(F.one_hot(r_noisy.argmax(-1), 3).to(r_soft.dtype), r_noisy)
                start, cont = r[:, 0:1], r[:, 1:2]  # (B, 1) each, exactly 0 or 1
                # The new note's pitch: absolute logits + interval logits at (pitch - last pitch).
                idx = cols - last[:, None] + m  # (B, P)
                reach = (idx >= 0) & (idx <= 2 * m)
                iv_logits = interval_logits[:, k]  # (B, I)
                if self.interval_table is not None:
                    iv_logits = iv_logits + self.interval_table[last_iv]
                iv = iv_logits.gather(1, idx.clamp(0, 2 * m))  # (B, P)
                iv = torch.where(reach, iv, torch.full_like(iv, -1e4))
                iv = torch.where(has_last[:, None], iv, torch.zeros_like(iv))  # no previous note: absolute only
                logits = pitch_logits[:, k] + iv  # (B, P)
                soft = logits.softmax(-1)
                noisy = (logits + g[:, k, :p]).softmax(-1)
                choice = noisy.argmax(-1)  # (B,)
                new = straight_through(F.one_hot(choice, p).to(soft.dtype), noisy)
                struck = start * new * live  # (B, P)
                now = struck + cont * held * live  # continue = hold the sounding note (or the silence)
                p_sus.append((r_soft[:, 0:1] * soft + r_soft[:, 1:2] * held.detach()) * live)
                p_ons.append(r_soft[:, 0:1] * soft * live)
                started = (start[:, 0] * live[:, 0]) > 0.5  # (B,)
                is_live = live[:, 0] > 0.5
                goes_on = (cont[:, 0] > 0.5) & (dur_now > 0)
                ended = is_live & (dur_now > 0) & ~goes_on
                dur_prev = torch.where(ended, dur_now, dur_prev)
                dur_now = torch.where(is_live, torch.where(started, torch.ones_like(dur_now),
                                                           torch.where(goes_on, (dur_now + 1).clamp(max=4),
                                                                       torch.zeros_like(dur_now))), dur_now)
                last_iv = torch.where(started & has_last, choice - last + m, last_iv)
                last = torch.where(started, choice, last)
                has_last = has_last | started
                held = now + (1 - live) * held  # padding slots keep the state for the next bar
                sus.append(now)
                ons.append(struck)
            sustain = torch.stack(sus, 1).repeat_interleave(q, 1) * inside  # (B, S, P)
            onset = self._on_first_step(torch.stack(ons, 1), q) * inside
            hard = torch.stack([sustain, onset], 1)  # (B, 2, S, P)
            hards.append(hard)
            probs.append(torch.stack([torch.stack(p_sus, 1).repeat_interleave(q, 1) * inside,
                                      self._on_first_step(torch.stack(p_ons, 1), q) * inside], 1))
            prev = hard
        return torch.stack(hards, 1), torch.stack(probs, 1)  # (B, N, 2, S, P) each

    @staticmethod
    def _on_first_step(slots: torch.Tensor, q: int) -> torch.Tensor:
        """``(B, K, P)`` per slot → ``(B, K * q, P)`` with each slot's value on its first step, zeros after."""
        b, k, p = slots.shape
        pad = slots.new_zeros(b, k, q - 1, p)
        return torch.cat([slots[:, :, None], pad], 2).flatten(1, 2)


def interval_rows(roll: torch.Tensor, meter: torch.Tensor, max_interval: int) -> torch.Tensor:
    """Melodic intervals on the step grid: ``(B, N, S, 2 * max_interval + 1)``.

    Row ``d + max_interval`` at step ``t`` is ``sum_p sustain[t - 1, p] * onset[t, p + d]``: 1 where a
    note starts ``d`` semitones from the note sounding just before it (0 = a repeated note), with
    bar lines crossed at each bar's last real step. Bilinear in the roll, so gradients pass.
    """
    b, n, _, _, p = roll.shape
    sustain, onset = roll[:, :, 0], roll[:, :, 1]  # (B, N, S, P)
    last_step = (meter[:, 0].sum(1).long() - 1).clamp(min=0)  # (B,)
    rows = torch.arange(b, device=roll.device)[:, None]
    bar_end = sustain[rows, torch.arange(n, device=roll.device)[None], last_step[:, None]]  # (B, N, P)
    bar_end = torch.cat([bar_end.new_zeros(b, 1, p), bar_end[:, :-1]], 1)  # the previous bar's end
    before = torch.cat([bar_end[:, :, None], sustain[:, :, :-1]], 2)  # (B, N, S, P)
    windows = F.pad(onset, (max_interval, max_interval)).unfold(-1, 2 * max_interval + 1, 1)  # (B, N, S, P, I)
    return torch.einsum("bnsp,bnspi->bnsi", before, windows)


MAX_LENGTH = 8  # note-length rows of the discriminator: 1 .. 7 sixteenths, then 8 or more


def length_rows(roll: torch.Tensor, meter: torch.Tensor, max_length: int = MAX_LENGTH) -> torch.Tensor:
    """Note lengths on the step grid: ``(B, N, S, max_length)``.

    Row ``d - 1`` is 1 at the onset of a note that lasts exactly ``d`` sixteenths (the last row: at
    least ``max_length``), counted over bar lines (the padding steps of short bars skipped). Built
    from products of the roll's values (onset, then sustain without a new onset on the same
    pitch), so gradients pass.
    """
    b, n, _, s, p = roll.shape
    inside = meter[:, 0] > 0.5  # (B, S)
    flat_inside = inside[:, None].expand(b, n, s).reshape(b, n * s)
    order = torch.sort((~flat_inside).to(torch.int8), dim=1, stable=True).indices  # real steps first, in order
    sustain = roll[:, :, 0].reshape(b, n * s, p).gather(1, order[..., None].expand(-1, -1, p))
    onset = roll[:, :, 1].reshape(b, n * s, p).gather(1, order[..., None].expand(-1, -1, p))
    cont = sustain - onset  # (B, T, P) the same note goes on
    running = onset
    at_least = []
    for d in range(1, max_length + 1):  # at_least[d - 1]: a note starts here and lasts >= d steps
        at_least.append(running.sum(-1))
        if d < max_length:
            nxt = torch.cat([cont[:, d:], cont.new_zeros(b, d, p)], 1)  # cont[t + d]
            running = running * nxt
    ge = torch.stack(at_least, -1)  # (B, T, L)
    exact = torch.cat([ge[..., :-1] - ge[..., 1:], ge[..., -1:]], -1)  # (B, T, L)
    out = torch.zeros_like(exact).scatter(1, order[..., None].expand(-1, -1, max_length), exact)
    return out.view(b, n, s, max_length) * inside[:, None, :, None]


class ChordDiscriminator(nn.Module):
    """Scores a phrase (roll + chords + key + meter); returns ``(score, features)``."""

    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        self.config = cfg = config
        d, p = cfg.d_channels, cfg.num_pitches
        sn = spectral_norm
        cin = 2 * p + 12 + 12 + 2 + 2 + 2 * cfg.max_interval + 1 + MAX_LENGTH
        self.c1 = sn(nn.Conv1d(cin, d, 4, stride=2, padding=1))  # 16th steps -> 8ths
        self.c2 = sn(nn.Conv1d(d, d, 4, stride=2, padding=1))  # -> quarters
        self.c3 = sn(nn.Conv1d(d, 2 * d, cfg.steps_per_bar // 4, stride=cfg.steps_per_bar // 4))  # one per bar
        self.t1 = sn(nn.Conv1d(2 * d, 2 * d, 3, padding=1))  # across bars
        self.head = sn(nn.Linear(4 * d, 1))
        self.key_proj = sn(nn.Linear(KEY_DIM, 4 * d, bias=False))

    def forward(self, roll: torch.Tensor, chords: torch.Tensor, key: torch.Tensor,
                meter: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Score phrases.

        Per step it sees the roll, the chord's pitch classes, the melody folded to pitch classes,
        whether the melody note is a chord / scale tone, the meter rows, the interval rows
        (:func:`interval_rows`) and the note-length rows (:func:`length_rows`), so leaps, zigzags and
        a rhythm that keeps changing its note values are one convolution away.

        Args:
            roll: ``(B, N, 2, S, P)`` melody rolls; chords: ``(B, N, S, 12)``; key: ``(B, 13)``;
            meter: ``(B, 2, S)``.

        Returns:
            ``(score, features)``: ``(B,)`` real-vs-fake scores and ``(B, 4d)`` pooled features.
        """
        cfg = self.config
        b, n, _, s, p = roll.shape
        maps = condition_maps(chords, key, cfg.pitch_low, cfg.num_pitches)  # (B, N, 2, S, P)
        sustain = roll[:, :, 0]  # (B, N, S, P)
        fold = F.one_hot((torch.arange(p, device=roll.device) + cfg.pitch_low) % 12, 12).to(roll.dtype)  # (P, 12)
        chroma = sustain @ fold  # (B, N, S, 12)
        fit = (sustain[:, :, None] * maps).sum(-1).transpose(2, 3)  # (B, N, S, 2) chord tone, scale tone
        rows = meter.transpose(1, 2)[:, None].expand(b, n, s, 2)  # (B, N, S, 2)
        intervals = interval_rows(roll, meter, cfg.max_interval)  # (B, N, S, I)
        lengths = length_rows(roll, meter)  # (B, N, S, MAX_LENGTH)
        x = torch.cat([roll.transpose(2, 3).flatten(3), chords, chroma, fit, rows, intervals, lengths], -1)
        x = x.flatten(1, 2).transpose(1, 2)  # (B, C, N*S)
        x = F.leaky_relu(self.c1(x), 0.2)
        x = F.leaky_relu(self.c2(x), 0.2)
        bars = F.leaky_relu(self.c3(x), 0.2)  # (B, 2d, N)
        t = F.leaky_relu(self.t1(bars), 0.2) + bars  # (B, 2d, N)
        features = torch.cat([bars.mean(2), t.amax(2)], 1)  # (B, 4d)
        score = self.head(features).squeeze(1) + (self.key_proj(key) * features).sum(1)  # (B,)
        return score, features
