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
conditions go through a linear layer and two transposed convolutions to per-step pitch logits,
onset logits and a rest logit; the condition maps add learned biases to the pitch logits. A
conditioner network (MidiNet) encodes the previous bar at three time resolutions and is
concatenated at each stage, so bars follow one another; the whole phrase comes out of one
``forward`` call, bar after bar. The melody is monophonic by construction: at each step one softmax
over ``P`` pitches plus rest. The discriminator sees hard (binary) rolls, as real data are binary;
gradients pass through the hard choice with the straight-through estimator (the deterministic
binary neurons of Dong & Yang 2018).

Discriminator: per step it sees the roll, the chord's pitch classes, the melody folded to pitch
classes, whether the melody note is a chord tone / a scale tone, and the meter rows; strided
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

    def __post_init__(self) -> None:
        if self.steps_per_bar % 4:
            raise ValueError(f"steps_per_bar must be divisible by 4, got {self.steps_per_bar}")

    @classmethod
    def tiny(cls) -> GanConfig:
        """A very small model for tests."""
        return cls(num_pitches=12, pitch_low=60, phrase_bars=2, z_phrase=4, z_bar=4, g_channels=8,
                   c_channels=4, d_channels=8)


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
    """Noise + chords + key + meter (+ previous bar) → melody rolls, one phrase per forward call."""

    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        self.config = cfg = config
        s, p, g, c = cfg.steps_per_bar, cfg.num_pitches, cfg.g_channels, cfg.c_channels
        in_dim = cfg.z_phrase + cfg.z_bar + s * 12 + KEY_DIM + 2 * s
        self.fc = nn.Linear(in_dim, g * (s // 4))
        self.prev = PrevBarEncoder(p, c)
        self.up1 = nn.ConvTranspose1d(g + c, g, 2, stride=2)
        self.up2 = nn.ConvTranspose1d(g + c, g, 2, stride=2)
        self.mid = nn.Conv1d(g + c + 12 + 2, g, 3, padding=1)
        self.out = nn.Conv1d(g, 2 * p + 1, 1)
        with torch.no_grad():  # start with few onsets: most sounding steps of a tune continue a note
            assert self.out.bias is not None
            self.out.bias[p:2 * p].fill_(-2.0)
        # Learned pull towards chord tones and scale tones, added to the pitch logits. It starts
        # at +2 / +1 (e^2 ≈ 7 times likelier on a chord tone): folk melodies sit mostly on chord
        # tones, and a generator that must discover this through the discriminator alone learns it
        # slowly and forgets the key on the way. Training may move it anywhere.
        self.map_bias = nn.Parameter(torch.tensor([2.0, 1.0]))

    def bar_logits(self, z_phrase: torch.Tensor, z_bar: torch.Tensor, chords: torch.Tensor, key: torch.Tensor,
                   meter: torch.Tensor, maps: torch.Tensor, prev: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits for one bar.

        Args:
            z_phrase: ``(B, z_phrase)``; z_bar: ``(B, z_bar)``; chords: ``(B, S, 12)``;
            key: ``(B, 13)``; meter: ``(B, 2, S)``; maps: ``(B, 2, S, P)``; prev: ``(B, 2, S, P)``.

        Returns:
            ``(pitch_logits, onset_logits)``: ``(B, S, P + 1)`` (last column = rest) and ``(B, S, P)``.
        """
        b, p = z_phrase.shape[0], self.config.num_pitches
        f1, f2, f3 = self.prev(prev)
        vec = torch.cat([z_phrase, z_bar, chords.flatten(1), key, meter.flatten(1)], dim=1)
        h = F.relu(self.fc(vec)).view(b, -1, self.config.steps_per_bar // 4)  # (B, g, S/4)
        h = F.relu(self.up1(torch.cat([h, f3], 1)))  # (B, g, S/2)
        h = F.relu(self.up2(torch.cat([h, f2], 1)))  # (B, g, S)
        h = F.relu(self.mid(torch.cat([h, f1, chords.transpose(1, 2), meter], 1)))  # (B, g, S)
        o = self.out(h).transpose(1, 2)  # (B, S, 2P + 1)
        bias = (maps * self.map_bias[None, :, None, None]).sum(1)  # (B, S, P)
        pitch_logits = torch.cat([o[..., :p] + bias, o[..., 2 * p:]], -1)  # (B, S, P + 1)
        return pitch_logits, o[..., p:2 * p]

    def forward(self, z_phrase: torch.Tensor, z_bars: torch.Tensor, chords: torch.Tensor, key: torch.Tensor,
                meter: torch.Tensor, prev_bar: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Generate a phrase of ``N`` bars.

        Args:
            z_phrase: ``(B, z_phrase)`` latent shared by the phrase.
            z_bars: ``(B, N, z_bar)`` one latent per bar.
            chords: ``(B, N, S, 12)`` chord pitch classes per step.
            key: ``(B, 13)``.
            meter: ``(B, 2, S)``.
            prev_bar: ``(B, 2, S, P)`` roll of the bar before the phrase (zeros when None).

        Returns:
            ``(hard, probs)``, both ``(B, N, 2, S, P)``. ``hard`` is the binary roll (argmax pitch or
            rest per step; onset where its probability > 0.5 or where the pitch was silent the step
            before), differentiable straight-through;
            it is what the discriminator and the next bar see. ``probs`` holds the sustain
            probabilities (softmax over pitches and rest, rest dropped) and the per-pitch onset
            probabilities, for decoding with thresholds.
        """
        cfg = self.config
        b, n = z_bars.shape[:2]
        maps = condition_maps(chords, key, cfg.pitch_low, cfg.num_pitches)  # (B, N, 2, S, P)
        inside = meter[:, 0][:, :, None]  # (B, S, 1)
        rows = torch.arange(b, device=meter.device)
        last_step = (meter[:, 0].sum(1).long() - 1).clamp(min=0)  # (B,)
        prev = prev_bar if prev_bar is not None else z_phrase.new_zeros(b, 2, cfg.steps_per_bar, cfg.num_pitches)
        hards, probs = [], []
        for i in range(n):
            pitch_logits, onset_logits = self.bar_logits(z_phrase, z_bars[:, i], chords[:, i], key, meter,
                                                         maps[:, i], prev)
            soft = pitch_logits.softmax(-1)  # (B, S, P + 1)
            one_hot = F.one_hot(soft.argmax(-1), cfg.num_pitches + 1).to(soft.dtype)
            sustain = straight_through(one_hot, soft)[..., :-1] * inside  # (B, S, P)
            onset_p = onset_logits.sigmoid()  # (B, S, P)
            struck = straight_through((onset_p > 0.5).to(soft.dtype), onset_p) * sustain
            # A pitch that sounds where it did not sound the step before starts a note whatever the
            # onset logit says, so the discriminator only ever sees consistent rolls, as in the data.
            last = prev[:, 0][rows, last_step][:, None]  # (B, 1, P) last real step of the previous bar
            before = torch.cat([last, sustain[:, :-1]], 1)  # (B, S, P) sustain one step earlier
            fresh = sustain * (1 - before)
            onset = struck + fresh - struck * fresh  # logical or
            hard = torch.stack([sustain, onset], 1)  # (B, 2, S, P)
            hards.append(hard)
            probs.append(torch.stack([soft[..., :-1] * inside, onset_p * inside], 1))
            prev = hard
        return torch.stack(hards, 1), torch.stack(probs, 1)  # (B, N, 2, S, P) each


class ChordDiscriminator(nn.Module):
    """Scores a phrase (roll + chords + key + meter); returns ``(score, features)``."""

    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        self.config = cfg = config
        d, p = cfg.d_channels, cfg.num_pitches
        sn = spectral_norm
        cin = 2 * p + 12 + 12 + 2 + 2
        self.c1 = sn(nn.Conv1d(cin, d, 4, stride=2, padding=1))  # 16th steps -> 8ths
        self.c2 = sn(nn.Conv1d(d, d, 4, stride=2, padding=1))  # -> quarters
        self.c3 = sn(nn.Conv1d(d, 2 * d, cfg.steps_per_bar // 4, stride=cfg.steps_per_bar // 4))  # one per bar
        self.t1 = sn(nn.Conv1d(2 * d, 2 * d, 3, padding=1))  # across bars
        self.head = sn(nn.Linear(4 * d, 1))
        self.key_proj = sn(nn.Linear(KEY_DIM, 4 * d, bias=False))

    def forward(self, roll: torch.Tensor, chords: torch.Tensor, key: torch.Tensor,
                meter: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Score phrases.

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
        x = torch.cat([roll.transpose(2, 3).flatten(3), chords, chroma, fit, rows], -1)  # (B, N, S, C)
        x = x.flatten(1, 2).transpose(1, 2)  # (B, C, N*S)
        x = F.leaky_relu(self.c1(x), 0.2)
        x = F.leaky_relu(self.c2(x), 0.2)
        bars = F.leaky_relu(self.c3(x), 0.2)  # (B, 2d, N)
        t = F.leaky_relu(self.t1(bars), 0.2) + bars  # (B, 2d, N)
        features = torch.cat([bars.mean(2), t.amax(2)], 1)  # (B, 4d)
        score = self.head(features).squeeze(1) + (self.key_proj(key) * features).sum(1)  # (B,)
        return score, features
