"""Training the melody GAN: one explicit loop, the GAN losses in it, readable top to bottom.

Data. Every tune whose bar fits the 16-step frame (2/4, 3/4, 4/4, 6/8 …) is cut into windows of
``phrase_bars`` bars (hop ``hop_bars``) counted from bar 1 (after any pickup). A window keeps the
melody pitch and onset per step and the chord pitch classes per step. Each batch transposes every
window by its own random shift in -6..+5 semitones (melody, chords and key together), so the
model sees all twelve keys in about the register of the data; melody notes that leave the
three-octave window are folded back by octaves (counted in the run's ``meta.json``).

Losses (hinge GAN with the usual stabilisers):

* discriminator: ``relu(1 - D(real)) + relu(1 + D(fake)) + w_mis * relu(1 + D(real melody, wrong chords))``
  — the last term (a "matching-aware" discriminator) makes it judge melody *against* chords;
  spectral normalisation on every discriminator layer.
* generator: ``-D(fake) + w_fm * ‖mean features(real) - mean features(fake)‖²`` (feature matching).
* Adam with beta1 = 0.5 and a faster discriminator (two time-scale rule).

The checkpoint holds an exponential moving average of the generator's weights (decay
``ema_decay``), which is also what the monitors and sample pictures show.

Monitors, logged beside the losses in ``metrics.jsonl`` every ``log_every`` steps, on a fixed set
of validation conditions and fixed noise: the share of distinct melodies, pitch-class entropy
(bits), EB (% empty bars), UPC (pitch classes per bar), QN (% notes of >= 3 sixteenths), in-scale
and chord-tone ratios — a collapsing generator shows in the first two long before it shows in
the losses. Piano-roll PNGs go to ``samples/``.

Checkpoints: ``RUN/config.json + model.safetensors`` (the generator, via
:mod:`melodygan.checkpoints`) and ``RUN/resume.pt`` (both networks, optimizers, step), loaded with
``weights_only=True``. Every random draw of step ``k`` comes from generators seeded with
``(seed, k)``, so a resumed run continues exactly as an unbroken one.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from melodygan.checkpoints import (
    NonFiniteGuard,
    TrainingRun,
    config_from_dict,
    load_resume_state,
    restoring,
    save_checkpoint,
    weights_finite,
)
from melodygan.devices import make_generator, pick_device
from melodygan.engines.gan import MODEL_TYPE, decode_roll
from melodygan.errors import MelodyganError
from melodygan.keys import Key
from melodygan.models.gan import ChordDiscriminator, GanConfig, MelodyGenerator, key_vector, slot_noise
from melodygan.notes import Note
from melodygan.pianoroll import frames_to_roll, meter_rows
from melodygan.piece import Piece


@dataclass(frozen=True)
class TrainGanConfig:
    """Optimisation settings of :func:`train_gan`."""

    steps: int = 7000
    batch_size: int = 32
    seed: int = 1
    lr_g: float = 1e-4
    lr_d: float = 3e-4
    betas: tuple[float, float] = (0.5, 0.9)
    fm_weight: float = 10.0
    mismatch_weight: float = 0.5
    ema_decay: float = 0.999
    hop_bars: int = 2
    max_shift: int = 6
    log_every: int = 100
    sample_every: int = 500
    checkpoint_every: int = 500
    monitor_size: int = 256


@dataclass
class PhraseArrays:
    """Training windows in the bar frame.

    Attributes:
        pitch: ``(M, N, S)`` int16 MIDI pitch sounding at each step, -1 for rest or padding.
        onset: ``(M, N, S)`` bool, a note starts here.
        chord_bits: ``(M, N, S)`` int16, bit ``pc`` set when pitch class ``pc`` is in the chord.
        tonic: ``(M,)`` int64 key tonic; minor: ``(M,)`` bool.
        meter: ``(M, 2, S)`` float32 meter rows.
    """

    pitch: np.ndarray
    onset: np.ndarray
    chord_bits: np.ndarray
    tonic: np.ndarray
    minor: np.ndarray
    meter: np.ndarray

    def __len__(self) -> int:
        return len(self.pitch)


def to_slot_grid(pitch: np.ndarray, onset: np.ndarray, slot_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Move a melody onto the generator's note grid (every ``slot_steps`` 16ths).

    Each slot takes the note sounding at its first step (or, when that step is silent, at the first
    sounding step inside the slot) for the whole slot; it starts a note where that note started
    inside the slot or the pitch differs from the slot before. Notes that start and end inside a
    slot (16ths on an 8th grid) are dropped; a dotted 8th + 16th becomes two 8ths.

    Args:
        pitch: ``(T,)`` int MIDI pitch per step, -1 = rest; onset: ``(T,)`` bool.
        slot_steps: grid in steps; ``T`` need not be a multiple (the tail is a shorter slot).

    Returns:
        ``(pitch, onset)`` of the same length, notes on the grid.
    """
    if slot_steps == 1:
        return pitch.copy(), onset.copy()
    t = len(pitch)
    k = -(-t // slot_steps)
    pad = k * slot_steps - t
    p = np.concatenate([pitch, np.full(pad, -1, pitch.dtype)]).reshape(k, slot_steps)
    o = np.concatenate([onset, np.zeros(pad, bool)]).reshape(k, slot_steps)
    first = np.where((p >= 0).any(1), (p >= 0).argmax(1), 0)  # first sounding step of each slot
    rows = np.arange(k)
    slot_p = p[rows, first]  # (K,) -1 where the slot is silent
    started = o[rows, first] | (o & (p == slot_p[:, None]) & (np.arange(slot_steps) >= first[:, None])).any(1)
    before = np.concatenate([[-1], slot_p[:-1]])
    slot_o = (slot_p >= 0) & (started | (slot_p != before))
    out_p = np.repeat(slot_p, slot_steps)[:t]
    out_o = np.zeros((k, slot_steps), bool)
    out_o[:, 0] = slot_o
    return out_p, out_o.reshape(-1)[:t]


def phrases_from_pieces(pieces: list[Piece], config: GanConfig, hop_bars: int = 2) -> tuple[PhraseArrays, dict]:
    """Cut pieces into training windows (see the module docstring).

    Returns:
        ``(arrays, counts)`` — counts of pieces used and skipped (with reasons) and windows.
    """
    s, n = config.steps_per_bar, config.phrase_bars
    rows: dict[str, list[Any]] = {k: [] for k in ("pitch", "onset", "chord_bits", "tonic", "minor", "meter")}
    counts = {"pieces_used": 0, "skipped_meter": 0, "skipped_short": 0, "windows": 0}
    for piece in pieces:
        try:
            meter = meter_rows(piece.time_signature, s)
        except MelodyganError:
            counts["skipped_meter"] += 1
            continue
        bar = piece.bar_steps * 4 // piece.steps_per_quarter  # in 16ths
        if piece.steps_per_quarter != 4:
            counts["skipped_meter"] += 1
            continue
        if bar % config.slot_steps:
            counts["skipped_meter"] += 1
            continue
        first = piece.pickup_steps
        num_bars = (piece.content_end_steps - first) // bar
        if num_bars < n:
            counts["skipped_short"] += 1
            continue
        total = first + num_bars * bar
        pitch = np.full(total, -1, dtype=np.int16)
        onset = np.zeros(total, dtype=bool)
        for note in piece.melody:
            if note.start_steps >= total:
                continue
            pitch[note.start_steps:min(note.end_steps, total)] = note.pitch
            onset[note.start_steps] = True
        pitch[first:], onset[first:] = to_slot_grid(pitch[first:], onset[first:], config.slot_steps)
        bits = np.zeros(total, dtype=np.int16)
        for c in piece.chords:
            mask = sum(1 << pc for pc in c.pitch_classes)
            bits[max(c.start_steps, 0):min(c.end_steps, total)] = mask
        counts["pieces_used"] += 1
        for b0 in range(0, num_bars - n + 1, hop_bars):
            sl = slice(first + b0 * bar, first + (b0 + n) * bar)
            frame_p = np.full((n, s), -1, dtype=np.int16)
            frame_o = np.zeros((n, s), dtype=bool)
            frame_c = np.zeros((n, s), dtype=np.int16)
            frame_p[:, :bar] = pitch[sl].reshape(n, bar)
            frame_o[:, :bar] = onset[sl].reshape(n, bar)
            frame_c[:, :bar] = bits[sl].reshape(n, bar)
            rows["pitch"].append(frame_p)
            rows["onset"].append(frame_o)
            rows["chord_bits"].append(frame_c)
            rows["tonic"].append(piece.key.tonic)
            rows["minor"].append(piece.key.mode == "minor")
            rows["meter"].append(meter)
            counts["windows"] += 1
    if not rows["pitch"]:
        raise MelodyganError(f"no training windows of {n} bars in {len(pieces)} pieces (meters up to {s} sixteenths)")
    arrays = PhraseArrays(np.stack(rows["pitch"]), np.stack(rows["onset"]), np.stack(rows["chord_bits"]),
                          np.asarray(rows["tonic"], dtype=np.int64), np.asarray(rows["minor"], dtype=bool),
                          np.stack(rows["meter"]))
    return arrays, counts


def make_batch(data: PhraseArrays, index: np.ndarray, shifts: np.ndarray, config: GanConfig
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Transposed real batch.

    Args:
        data: training windows.
        index: ``(B,)`` window indices; shifts: ``(B,)`` semitones.
        config: the model config (pitch window).

    Returns:
        ``(roll (B, N, 2, S, P), chords (B, N, S, 12), key (B, 13), meter (B, 2, S), folded)``;
        ``folded`` counts note-steps moved by octaves into the pitch window.
    """
    p = data.pitch[index].astype(np.int64)  # (B, N, S)
    rest = p < 0
    col = p + shifts[:, None, None] - config.pitch_low
    below, above = (col < 0) & ~rest, (col >= config.num_pitches) & ~rest
    col = np.where(below, col + 12 * ((-col + 11) // 12), col)
    col = np.where(above, col - 12 * ((col - config.num_pitches) // 12 + 1), col)
    col = np.where(rest, config.num_pitches, col)  # rest -> extra column, dropped below
    sustain = F.one_hot(torch.from_numpy(col), config.num_pitches + 1)[..., :-1].float()  # (B, N, S, P)
    onset = sustain * torch.from_numpy(data.onset[index])[..., None].float()
    roll = torch.stack([sustain, onset], 2)  # (B, N, 2, S, P)
    bits = data.chord_bits[index].astype(np.int64)  # (B, N, S)
    sh = (shifts % 12)[:, None, None]
    bits = ((bits << sh) | (bits >> (12 - sh))) & 0xFFF
    chords = torch.from_numpy((bits[..., None] >> np.arange(12)) & 1).float()  # (B, N, S, 12)
    key = key_vector(torch.from_numpy((data.tonic[index] + shifts) % 12), torch.from_numpy(data.minor[index]))
    meter = torch.from_numpy(data.meter[index])
    return roll, chords, key, meter, int(below.sum() + above.sum())


# --- monitors ---------------------------------------------------------------------------------
def melody_stats(melodies: list[list[Note]], chords_pcs: list[np.ndarray], keys: list[Key], bar_steps: list[int],
                 num_bars: int) -> dict[str, float]:
    """Quick melody statistics for monitoring (the evaluation module has the reference versions).

    Args:
        melodies: notes per melody (steps from the phrase start).
        chords_pcs: per melody ``(T, 12)`` chord pitch classes per step.
        keys: key per melody; bar_steps: bar length per melody; num_bars: bars per melody.

    Returns:
        distinct (share of unique melodies), pc_entropy (bits, over all notes), EB (% bars with no
        sounding note), UPC (distinct pitch classes per bar), QN (% notes >= 3 steps), in_scale,
        chord_tone (share of notes whose pitch class is in the chord at their onset), notes_per_bar,
        steps (share of intervals between consecutive notes of 1-2 semitones), leaps8 (of >= 8).
    """
    keys_seen = {tuple((n.start_steps, n.duration_steps, n.pitch) for n in m) for m in melodies}
    jumps = np.array([abs(b.pitch - a.pitch) for m in melodies for a, b in itertools.pairwise(m)])
    hist = np.zeros(12)
    empty = bars = notes = long_notes = in_scale = chord_tone = 0
    upc: list[int] = []
    for m, pcs, k, bs in zip(melodies, chords_pcs, keys, bar_steps):
        scale = set(k.scale_extended)
        for b in range(num_bars):
            lo, hi = b * bs, (b + 1) * bs
            inside = {n.pitch % 12 for n in m if n.start_steps < hi and n.end_steps > lo}
            bars += 1
            empty += not inside
            if inside:
                upc.append(len(inside))
        for n in m:
            notes += 1
            hist[n.pitch % 12] += 1
            long_notes += n.duration_steps >= 3
            in_scale += n.pitch % 12 in scale
            chord_tone += bool(n.start_steps < len(pcs) and pcs[n.start_steps, n.pitch % 12])
    p = hist / max(hist.sum(), 1)
    entropy = float(-(p[p > 0] * np.log2(p[p > 0])).sum())
    return {
        "distinct": len(keys_seen) / max(len(melodies), 1),
        "pc_entropy": entropy,
        "EB": 100.0 * empty / max(bars, 1),
        "UPC": float(np.mean(upc)) if upc else 0.0,
        "QN": 100.0 * long_notes / max(notes, 1),
        "in_scale": in_scale / max(notes, 1),
        "chord_tone": chord_tone / max(notes, 1),
        "notes_per_bar": notes / max(bars, 1),
        "steps": float(((jumps >= 1) & (jumps <= 2)).mean()) if len(jumps) else 0.0,
        "leaps8": float((jumps >= 8).mean()) if len(jumps) else 0.0,
    }


def _frames_to_melodies(frames: np.ndarray, meter: np.ndarray, pitch_low: int) -> tuple[list[list[Note]], list[int]]:
    melodies, bar_steps = [], []
    for f, m in zip(frames, meter):
        bs = int(m[0].sum())
        melodies.append(decode_roll(frames_to_roll(f, bs), pitch_low))
        bar_steps.append(bs)
    return melodies, bar_steps


def _chord_steps(chords: torch.Tensor, meter: np.ndarray) -> list[np.ndarray]:
    out = []
    for c, m in zip(chords.numpy(), meter):
        bs = int(m[0].sum())
        out.append(c[:, :bs].reshape(-1, 12))
    return out


def save_roll_png(frames: np.ndarray, chords: torch.Tensor, meter: np.ndarray, pitch_low: int, path: Path,
                  title: str) -> None:
    """Piano-roll picture of a few phrases (onsets black, chord tones shaded), written atomically."""
    from melodygan.formats.charts import image_strips

    images, bars = [], []
    for f, c, m in zip(frames, chords.numpy(), meter):
        bs = int(m[0].sum())
        roll = frames_to_roll(f, bs)  # (2, T, P)
        ct = c[:, :bs].reshape(-1, 12)[:, (np.arange(roll.shape[2]) + pitch_low) % 12]  # (T, P) chord tones
        images.append(0.25 * ct.T + roll[0].T)  # (P, T)
        bars.append(bs)
    image_strips(images, path, title=title, line_every=bars, vmax=1.25)


# --- the loop ---------------------------------------------------------------------------------
def _config_dict(config: Any) -> dict[str, Any]:
    return json.loads(json.dumps(dataclasses.asdict(config)))


def train_gan(out_dir: str | Path, train_pieces: list[Piece], monitor_pieces: list[Piece] | None = None, *,
              model_config: GanConfig | None = None, train_config: TrainGanConfig | None = None,
              resume: bool = False, device: str | None = None, data_note: str = "",
              log: Any = print, force: bool = False) -> dict[str, Any]:
    """Train the generator and discriminator; returns the last monitor line.

    Args:
        out_dir: run folder: checkpoint (``config.json``, ``model.safetensors``), ``resume.pt``,
            ``metrics.jsonl``, ``meta.json``, ``samples/*.png``.
        train_pieces: training tunes; monitor_pieces: tunes whose chords condition the monitors
            (default: the training tunes).
        model_config: network sizes (default :class:`GanConfig`); train_config: optimisation.
        resume: continue from ``out_dir/resume.pt`` (configs must match).
        device: ``'cpu'``, ``'cuda'``; None picks CUDA when available.
        data_note: where the data came from, stored in the checkpoint.
        log: called with one progress line per log interval.

    Raises:
        MelodyganError: no usable data, the folder holds another run or is in use, or resume
            without a run (see :class:`~melodygan.checkpoints.TrainingRun`; ``force`` starts afresh).
    """
    with TrainingRun(out_dir, resume=resume, force=force) as run:
        return _train_gan(run, train_pieces, monitor_pieces, model_config, train_config, resume, device,
                          data_note, log)


def _train_gan(run: TrainingRun, train_pieces: list[Piece], monitor_pieces: list[Piece] | None,
               model_config: GanConfig | None, train_config: TrainGanConfig | None, resume: bool,
               device: str | None, data_note: str, log: Any) -> dict[str, Any]:
    out = run.out
    resume_path = out / "resume.pt"
    tcfg = train_config or TrainGanConfig()
    cfg = model_config or GanConfig()
    state = None
    if resume and resume_path.is_file():
        state = load_resume_state(resume_path, ("model_config", "train_config", "generator", "ema",
                                                "discriminator", "opt_g", "opt_d", "step"))
        with restoring(resume_path):
            cfg = config_from_dict(GanConfig, state["model_config"])
            saved_t = config_from_dict(TrainGanConfig, state["train_config"])
        tcfg = dataclasses.replace(saved_t, steps=tcfg.steps)  # only the step budget may change
    dev = pick_device(device)
    out.mkdir(parents=True, exist_ok=True)
    (out / "samples").mkdir(exist_ok=True)

    data, counts = phrases_from_pieces(train_pieces, cfg, tcfg.hop_bars)
    mon_data, _ = phrases_from_pieces(monitor_pieces or train_pieces, cfg, cfg.phrase_bars)
    rng_mon = np.random.default_rng([tcfg.seed, 999])
    mon_idx = rng_mon.choice(len(mon_data), size=min(tcfg.monitor_size, len(mon_data)), replace=False)
    mon_roll, mon_chords, mon_key, mon_meter, _ = make_batch(mon_data, mon_idx, np.zeros(len(mon_idx), np.int64), cfg)
    mon_meter_np = mon_meter.numpy()
    mon_keys = [Key(int(t), "minor" if m else "major")
                for t, m in zip(mon_data.tonic[mon_idx], mon_data.minor[mon_idx])]
    mon_pcs = _chord_steps(mon_chords, mon_meter_np)
    gen_mon = make_generator(tcfg.seed + 12345)
    mon_zp = torch.randn(len(mon_idx), cfg.z_phrase, generator=gen_mon)
    mon_zb = torch.randn(len(mon_idx), cfg.phrase_bars, cfg.z_bar, generator=gen_mon)
    mon_noise = slot_noise(len(mon_idx), cfg.phrase_bars, cfg, gen_mon)
    real_melodies, real_bs = _frames_to_melodies(mon_roll.numpy(), mon_meter_np, cfg.pitch_low)
    data_stats = melody_stats(real_melodies, mon_pcs, mon_keys, real_bs, cfg.phrase_bars)

    torch.manual_seed(tcfg.seed)
    gen, disc = MelodyGenerator(cfg).to(dev), ChordDiscriminator(cfg).to(dev)
    opt_g = torch.optim.Adam(gen.parameters(), lr=tcfg.lr_g, betas=tcfg.betas)
    opt_d = torch.optim.Adam(disc.parameters(), lr=tcfg.lr_d, betas=tcfg.betas)
    # The shipped generator is an exponential moving average of the trained one (Polyak averaging):
    # GAN weights circle around an equilibrium, and the average sits nearer its centre than any
    # single step (note density and pitch variety swing by a third from one log line to the next
    # without it). It never feeds back into training. ema_decay 0 turns it off.
    ema = copy.deepcopy(gen).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    step = 0
    if state is not None:
        with restoring(resume_path):
            gen.load_state_dict(state["generator"])
            ema.load_state_dict(state["ema"])
            disc.load_state_dict(state["discriminator"])
            opt_g.load_state_dict(state["opt_g"])
            opt_d.load_state_dict(state["opt_d"])
            step = int(state["step"])
        lines = (out / "metrics.jsonl").read_text().splitlines() if (out / "metrics.jsonl").exists() else []
        kept = [ln for ln in lines if json.loads(ln).get("step", 0) <= step]
        (out / "metrics.jsonl").write_text("".join(ln + "\n" for ln in kept))
    meta = {"data": data_note, "counts": counts, "data_stats": data_stats, "model_config": _config_dict(cfg),
            "train_config": _config_dict(tcfg)}
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    log(f"{counts['windows']} windows from {counts['pieces_used']} tunes; data: "
        + " ".join(f"{k}={v:.3g}" for k, v in data_stats.items()))

    def save(step: int, last: dict[str, Any]) -> None:
        if not (weights_finite(gen) and weights_finite(ema) and weights_finite(disc)):
            raise MelodyganError(f"training stopped at step {step}: the weights became NaN or infinite; the last "
                                 "checkpoint is kept; lower the learning rates")

        def write(unit: Path) -> None:  # one atomic unit: the generator's checkpoint and the resume state
            save_checkpoint(unit, ema, cfg, MODEL_TYPE, extra={"step": step, "seed": tcfg.seed, "data": data_note,
                                                               "monitors": last, "data_stats": data_stats})
            torch.save({"generator": gen.state_dict(), "ema": ema.state_dict(), "discriminator": disc.state_dict(),
                        "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "step": step, "folded": folded,
                        "model_config": _config_dict(cfg), "train_config": _config_dict(tcfg)}, unit / "resume.pt")

        run.commit(step, write)

    last: dict[str, Any] = {}
    acc: dict[str, float] = {}
    t0 = time.time()
    folded = int(state.get("folded", 0)) if state is not None else 0
    guard = NonFiniteGuard(hint="lower the learning rates")
    while step < tcfg.steps:
        rng = np.random.default_rng([tcfg.seed, step])
        noise = make_generator(tcfg.seed * 1_000_003 + step)
        b = tcfg.batch_size
        idx = rng.integers(len(data), size=b)
        shifts = rng.integers(-tcfg.max_shift, tcfg.max_shift, size=b)
        real, chords, key, meter, nf = make_batch(data, idx, shifts, cfg)
        folded += nf
        real, chords, key, meter = real.to(dev), chords.to(dev), key.to(dev), meter.to(dev)
        z_phrase = torch.randn(b, cfg.z_phrase, generator=noise).to(dev)
        z_bars = torch.randn(b, cfg.phrase_bars, cfg.z_bar, generator=noise).to(dev)
        choice_noise = slot_noise(b, cfg.phrase_bars, cfg, noise).to(dev)
        gen.train()
        disc.train()

        # Discriminator: real vs generated, plus real melodies under another window's chords and key.
        # One discriminator call on the three groups (one spectral-norm power iteration per step).
        fake, _ = gen(z_phrase, z_bars, chords, key, meter, noise=choice_noise)
        scores, feats = disc(torch.cat([real, fake.detach(), real]), torch.cat([chords, chords, chords.roll(1, 0)]),
                             torch.cat([key, key, key.roll(1, 0)]), torch.cat([meter, meter, meter]))
        d_real, d_fake, d_mis = scores.split(b)
        f_real = feats[:b]
        loss_d = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean() \
            + tcfg.mismatch_weight * F.relu(1 + d_mis).mean()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        if bool(torch.isfinite(loss_d.detach())):
            opt_d.step()

        # Generator: fool the discriminator and match its mean features on real phrases.
        g_score, f_fake = disc(fake, chords, key, meter)
        adv = -g_score.mean()
        fm = F.mse_loss(f_fake.mean(0), f_real.detach().mean(0))
        loss_g = adv + tcfg.fm_weight * fm
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        if guard.ok(step, loss_d, loss_g):  # a non-finite step is skipped (D's update too, above)
            opt_g.step()
        with torch.no_grad():
            for p_ema, p in zip(ema.parameters(), gen.parameters()):
                if tcfg.ema_decay > 0:
                    p_ema.lerp_(p, 1.0 - tcfg.ema_decay)
                else:
                    p_ema.copy_(p)
        step += 1

        for k, v in (("loss_d", loss_d), ("loss_g", adv), ("fm", fm), ("d_real", d_real.mean()),
                     ("d_fake", d_fake.mean()), ("d_mismatch", d_mis.mean())):
            acc[k] = acc.get(k, 0.0) + float(v.detach())
        if step % tcfg.log_every == 0 or step == tcfg.steps:
            n_acc = tcfg.log_every if step % tcfg.log_every == 0 else step % tcfg.log_every
            with torch.no_grad():
                hard, _ = ema(mon_zp.to(dev), mon_zb.to(dev), mon_chords.to(dev), mon_key.to(dev), mon_meter.to(dev),
                              noise=mon_noise.to(dev))
            frames = hard.cpu().numpy()
            melodies, bs = _frames_to_melodies(frames, mon_meter_np, cfg.pitch_low)
            stats = melody_stats(melodies, mon_pcs, mon_keys, bs, cfg.phrase_bars)
            last = {"step": step, **{k: v / n_acc for k, v in acc.items()}, **stats,
                    "folded_note_steps": folded, "seconds": round(time.time() - t0, 1)}
            acc = {}
            with open(out / "metrics.jsonl", "a") as f:
                f.write(json.dumps(last) + "\n")
            log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in last.items()))
            if not all(math.isfinite(v) for v in last.values() if isinstance(v, float)):
                raise MelodyganError(f"training diverged at step {step} (non-finite loss); lower the learning rates")
        if step % tcfg.sample_every == 0 or step == tcfg.steps:
            with torch.no_grad():
                hard, _ = ema(mon_zp[:4].to(dev), mon_zb[:4].to(dev), mon_chords[:4].to(dev), mon_key[:4].to(dev),
                              mon_meter[:4].to(dev), noise=mon_noise[:4].to(dev))
            save_roll_png(hard.cpu().numpy(), mon_chords[:4], mon_meter_np[:4], cfg.pitch_low,
                          out / "samples" / f"step_{step:06d}.png", f"step {step}")
        if step % tcfg.checkpoint_every == 0 or step == tcfg.steps:
            save(step, last)
    return last


def train_gan_from_dir(data_dir: str | Path, out_dir: str | Path, *, steps: int = 7000, batch_size: int = 32,
                       seed: int = 1, resume: bool = False, device: str | None = None,
                       log: Any = print, force: bool = False) -> dict[str, Any]:
    """Train on a preprocessed data folder (``melodygan preprocess … --out DIR``): train split,
    monitors on the valid split (the train split when there is none)."""
    if not Path(data_dir).is_dir():
        raise MelodyganError(f"data folder {data_dir} does not exist; make one with `melodygan preprocess`")
    from melodygan.corpora.preprocess import load_pieces

    train = load_pieces(data_dir, "train")
    try:
        valid = load_pieces(data_dir, "valid")
    except MelodyganError:
        valid = []
    tcfg = TrainGanConfig(steps=steps, batch_size=batch_size, seed=seed)
    return train_gan(out_dir, train, valid or None, train_config=tcfg, resume=resume, device=device,
                     data_note=str(data_dir), log=log, force=force)
