"""Harmonization: chord symbols for a whole given melody, which is kept note for note.

The default harmonizer (:mod:`melodygan.models.harmonizer`) reads the *whole* melody at once:

1. The melody is made monophonic (skyline) and cut into beats (:mod:`melodygan.beats`); the key
   is estimated from the notes, with the file's key signature as evidence, not truth
   (:func:`melodygan.beats.choose_key`), unless ``key`` is given.
2. A bidirectional LSTM over the beat features (pitch classes relative to the key) gives, per
   beat, a distribution over the 168 chords and the probability that the chord changes there.
3. A path search (:mod:`melodygan.engines.chordpath`) picks the chord sequence: the network's
   beliefs, the genre's learned chord transitions and a learned preference for where in the bar
   chords change; ``chord_rate`` limits changes to bars or half bars, ``fix`` pins chords.
4. ``num`` > 1 adds distinct alternatives drawn from the same score (seeded), ranked best first.

The transformer's bar-by-bar harmonizer of earlier versions is kept as
:func:`harmonize_with_transformer` for comparison.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np
import torch

from melodygan.beats import (
    GENRES,
    BeatSong,
    absolute_label,
    beat_features,
    choose_key,
    chords_of,
    genre_features,
    relative_label,
    song_from_piece,
)
from melodygan.checkpoints import checkpoint_folder, config_from_dict, load_checkpoint
from melodygan.chords import Chord, parse_chord_symbol
from melodygan.devices import cpu_threads, make_generator
from melodygan.engines.chordpath import (
    PathWeights,
    best_path,
    change_mask,
    draw_qualities,
    path_score,
    sample_paths,
)
from melodygan.engines.leadsheet import harmonize_bars, load_model, requantize
from melodygan.errors import MelodyganError
from melodygan.keys import Key, semitones_to_c, to_key
from melodygan.models.harmonizer import MODEL_TYPE, ChordHarmonizer, HarmonizerConfig
from melodygan.notes import Note, is_monophonic, skyline
from melodygan.piece import DEFAULT_STEPS_PER_QUARTER, Piece

CHORD_RATES = ("auto", "beat", "half-bar", "bar")
STYLES = ("leadsheet", "chorale")


# --- the model ------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=4)
def _load(path: str) -> tuple[ChordHarmonizer, dict]:
    model, _, extra = load_checkpoint(path, ChordHarmonizer, HarmonizerConfig, MODEL_TYPE, "cpu")
    return model.float().eval(), extra  # type: ignore[return-value]


def load_harmonizer(checkpoint: str | Path | None = None) -> tuple[ChordHarmonizer, dict]:
    """The harmonizer and its checkpoint metadata (shipped weights by default), cached per process.

    Raises:
        MelodyganError: no checkpoint there.
    """
    path = checkpoint_folder(checkpoint, "harmonizer", "harmonizer", "train one with scripts/train_harmonizer.sh")
    return _load(str(path))


def encode(song: BeatSong, key: Key | None = None) -> tuple[np.ndarray, np.ndarray, Key]:
    """Features ``(B, F)``, key-relative labels ``(B,)`` and the key used (chosen from the notes when None)."""
    key = key or choose_key(song.notes, song.key)
    x = beat_features(song, key.tonic, key.mode == "minor")
    return x, relative_label(song.chords, key.tonic).astype(np.int64), key


@torch.no_grad()
def predict(model: ChordHarmonizer, x: np.ndarray, threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Log posteriors ``(T, 169)`` and change probabilities ``(T,)`` for one encoded song
    (on ``threads`` CPU threads; None: :func:`melodygan.devices.sampling_threads`)."""
    model.eval()
    with cpu_threads(threads):
        logits, change = model(torch.from_numpy(x)[None], torch.tensor([len(x)]))
    return torch.log_softmax(logits[0], -1).numpy(), torch.sigmoid(change[0]).numpy()


def path_weights(extra: dict, genre: str) -> PathWeights:
    """The tuned path weights of ``genre`` from a checkpoint's metadata (defaults if absent)."""
    return config_from_dict(PathWeights, extra.get("path_weights", {}).get(genre, {}))


# --- arguments ------------------------------------------------------------------------------------
def _melody_of(piece: Piece) -> list[Note]:
    notes = piece.melody
    if not notes and piece.voices:
        notes = [n for v in piece.voices.values() for n in v]
    if not notes:
        raise MelodyganError("the input has no melody notes (empty or drum-only); give a file with a melody")
    if not is_monophonic(notes):
        notes = skyline(notes)
    return notes


def to_bar_line(piece: Piece) -> Piece:
    """The piece with its length rounded up to the next bar line (a melody that stops mid-bar
    gets a whole last bar, as a DAW's grid and the chords want); the notes are untouched."""
    body = max(piece.end_steps - piece.pickup_steps, 0)
    end = piece.pickup_steps + max(-(-body // piece.bar_steps), 1) * piece.bar_steps
    return piece if end == piece.end_steps else piece.replace(length_steps=end)


def parse_fix(text: str | dict[int, str] | None) -> dict[int, Chord]:
    """``"3:G7,5:Em"`` (bar numbers from 1, the pickup is bar 0) or ``{3: "G7"}`` → ``{bar: Chord}``.

    Raises:
        MelodyganError: not ``BAR:CHORD`` pairs, or a chord symbol that is not one.
    """
    if text is None:
        return {}
    pairs = text.items() if isinstance(text, dict) else [p.split(":", 1) for p in re.split(r"[,\s]+", text.strip())
                                                          if p]
    out: dict[int, Chord] = {}
    for pair in pairs:
        if len(pair) != 2 or not str(pair[0]).strip().isdigit():
            raise MelodyganError(f"--fix {text!r}: give BAR:CHORD pairs, e.g. 3:G7,5:Em (bars from 1)")
        bar, symbol = int(str(pair[0]).strip()), str(pair[1]).strip()
        try:
            out[bar] = parse_chord_symbol(symbol)
        except ValueError as e:
            raise MelodyganError(f"--fix: {e}") from None
    return out


def _fixed_beats(song: BeatSong, fix: dict[int, Chord], key: Key, bars: int) -> dict[int, int]:
    """Pinned key-relative labels per beat: a fixed chord holds its whole bar."""
    bar_of = np.cumsum(song.downbeat)  # 0 for pickup beats, 1 for the first full bar, ...
    out: dict[int, int] = {}
    for bar, chord in fix.items():
        if not 0 <= bar <= bars:
            raise MelodyganError(f"--fix bar {bar}: the melody has bars 1..{bars}")
        beats = np.flatnonzero(bar_of == bar)
        if len(beats) == 0:
            raise MelodyganError(f"--fix bar {bar}: the melody has no pickup bar" if bar == 0 else
                                 f"--fix bar {bar}: no such bar")
        label = int(relative_label(chord.index, key.tonic))
        for b in beats:
            out[int(b)] = label
    return out


# --- the job --------------------------------------------------------------------------------------
def harmonize(piece: Piece | str | Path, *, key: str | Key | None = None, genre: str | None = None,
              chord_rate: str = "auto", fix: str | dict[int, str] | None = None, num: int = 1, seed: int = 1,
              style: str = "leadsheet", checkpoint: str | Path | None = None,
              temperature: float | None = None, threads: int | None = None) -> Piece | list[Piece]:
    """Chord symbols for a whole melody, or (``style="chorale"``) three voices under it.

    Args:
        piece: the melody, or a score file :func:`melodygan.read_score` reads (``piece.melody``;
            made monophonic by skyline when chords were played with it). Other parts are dropped.
        key: ``"G"``, ``"F#m"``, a Key, or None to estimate it from the notes (the file's key
            signature counts as evidence).
        genre: ``"folk"`` or ``"pop"`` (transition tables and the network's genre input); None
            lets the checkpoint's genre classifier choose from the melody's rhythm (:func:`guess_genre`).
        chord_rate: where chords may change: ``auto`` (learned), ``beat``, ``half-bar``, ``bar``.
        fix: chords to keep exactly, ``"3:G7,5:Em"`` or ``{3: "G7"}`` (bar numbers from 1; a
            fixed chord holds its bar); the rest is chosen around them.
        num: 1 for the best harmonization, more for distinct alternatives, best first.
        seed: the draw of the alternatives, and of the chord qualities where the checkpoint draws
            them (pop: :func:`melodygan.engines.chordpath.draw_qualities`); the same seed gives
            the same chords.
        style: ``"leadsheet"`` (chord symbols) or ``"chorale"`` (alto, tenor and bass in Bach's
            manner under the melody as soprano, with chord symbols labelled from the four voices;
            :func:`melodygan.engines.chorale.harmonize_chorale`; ``genre``, ``chord_rate`` and
            ``fix`` do not apply).
        checkpoint: a harmonizer (or, for chorales, chorale voicer) checkpoint folder; None = the
            shipped weights.
        temperature: spread of the alternatives (higher = more adventurous; default 1; for
            chorales the sampling temperature of the voices, default
            :data:`melodygan.engines.chorale.DEFAULT_TEMPERATURE`).
        threads: torch CPU threads (None: ``$MELODYGAN_THREADS``, else 1).

    Returns:
        The piece with the same melody notes and new chords (key as used), its length rounded up
        to the next bar line (:func:`to_bar_line`), when ``num`` is 1, else
        a list of ``num`` such pieces (fewer if the melody admits fewer distinct ones).

    Raises:
        MelodyganError: no melody, a bad key, genre, chord rate, fix or num.
    """
    if style not in STYLES:
        raise MelodyganError(f"style {style!r}; allowed: {', '.join(STYLES)}")
    if chord_rate not in CHORD_RATES:
        raise MelodyganError(f"chord rate {chord_rate!r}; allowed: {', '.join(CHORD_RATES)}")
    if genre is not None and genre not in GENRES:
        raise MelodyganError(f"genre {genre!r}; allowed: {', '.join(GENRES)}")
    if not 1 <= num <= 32:
        raise MelodyganError(f"num {num} must be 1..32")
    if not isinstance(piece, Piece):
        from melodygan.formats.readers import read_score

        piece = read_score(piece)
    if style == "chorale":
        from melodygan.engines.chorale import DEFAULT_TEMPERATURE, harmonize_chorale

        for name, value, default in (("genre", genre, None), ("chord_rate", chord_rate, "auto"), ("fix", fix, None)):
            if value != default:
                raise MelodyganError(f"{name.replace('_', '-')} does not apply to the chorale style (its chords "
                                     "follow from the four voices)")
        voiced = harmonize_chorale(to_bar_line(piece), key=key, num=num, seed=seed, checkpoint=checkpoint,
                                   threads=threads,
                                   temperature=DEFAULT_TEMPERATURE if temperature is None else temperature)
        return voiced[0] if num == 1 else voiced
    temperature = 1.0 if temperature is None else temperature
    if temperature <= 0:
        raise MelodyganError(f"temperature {temperature} must be > 0")
    work = to_bar_line(piece.replace(melody=_melody_of(piece), chords=[], voices={}))
    the_key = to_key(key)
    pinned = parse_fix(fix)
    with cpu_threads(threads):  # checking and copying the weights: small tensors, one thread
        model, extra = load_harmonizer(checkpoint)
    genre = genre or guess_genre(work, extra)
    song = song_from_piece(work, genre)
    chosen_key = the_key or choose_key(song.notes, work.key)
    x, _, _ = encode(song, chosen_key)
    log_p, change_p = predict(model, x, threads)
    g = GENRES.index(genre)
    log_t, log_prior = model.log_transitions[g].numpy(), model.log_prior[g].numpy()
    weights = path_weights(extra, genre)
    allowed = change_mask(song.downbeat, chord_rate)
    fixed = _fixed_beats(song, pinned, chosen_key, work.num_bars) if pinned else None
    args = (log_p, change_p, song.downbeat, log_t, log_prior, weights)
    paths = [best_path(*args, allowed_changes=allowed, fixed=fixed)]
    if num > 1:
        rng = np.random.default_rng(seed)
        pool = sample_paths(8 * num, rng, *args, temperature=temperature, allowed_changes=allowed, fixed=fixed)
        seen = {paths[0].tobytes()}
        ranked = sorted(pool, key=lambda p: -path_score(p, *args))
        for p in ranked:
            if p.tobytes() not in seen and len(paths) < num:
                seen.add(p.tobytes())
                paths.append(p)
    if weights.draw_quality:  # (alternatives that differ only in qualities may meet: kept once)
        drawn = [draw_qualities(p, log_p, np.random.default_rng([seed, i]), fixed) for i, p in enumerate(paths)]
        paths = list({p.tobytes(): p for p in drawn}.values())
    out = [work.replace(chords=chords_of(song, absolute_label(p, chosen_key.tonic), work.end_steps), key=chosen_key)
           for p in paths]
    return out[0] if num == 1 else out


def guess_genre(piece: Piece, extra: dict | None = None) -> str:
    """``"pop"`` or ``"folk"`` for a melody by the checkpoint's genre classifier (a logistic
    regression on :func:`melodygan.beats.genre_features`, fitted on the training songs); without
    one, pop when a third of the onsets fall off the beat."""
    x = genre_features(piece)
    model = (extra or {}).get("genre_classifier")
    if not model:
        return "pop" if x[0] >= 1 / 3 else "folk"
    z = (x - np.array(model["mean"])) / np.array(model["std"])
    return "pop" if float(z @ np.array(model["coef"]) + model["bias"]) > 0 else "folk"


def harmonize_with_transformer(piece: Piece, *, seed: int = 1, checkpoint: str | Path | None = None,
                               temperature: float = 0.8, candidates: int = 16) -> Piece:
    """The earlier harmonizer: the lead-sheet transformer bar by bar (best of ``candidates`` by its
    likelihood and a consonance critic); kept for comparison in ``melodygan evaluate``."""
    work = to_bar_line(piece.replace(melody=_melody_of(piece), chords=[], voices={}))
    if work.steps_per_quarter != DEFAULT_STEPS_PER_QUARTER:
        work = requantize(work)
    key = choose_key(work.melody, work.key)
    up = -semitones_to_c(key.tonic)
    try:
        norm = work.transposed(-up).replace(key=Key(0, key.mode))
    except ValueError as e:
        raise MelodyganError(f"melody cannot be moved to C for the model: {e}") from e
    model, _ = load_model(checkpoint, None)
    chords = harmonize_bars(model, norm, make_generator(seed), temperature=temperature, candidates=candidates,
                            segment_bars=1, context_bars=4, max_chords_per_bar=2)
    return work.replace(chords=[c.transposed(up) for c in chords], key=key)
