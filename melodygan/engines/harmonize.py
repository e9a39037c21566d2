"""Harmonization: chord symbols for a given melody, which is kept note for note.

The lead-sheet transformer reads tokens in *harmonize order* (each bar's melody, then ``HARM``,
then that bar's chords), so it sees a whole bar of melody before choosing its chords.
Harmonizing is sampling with the melody forced (a logit mask), a few bars at a time:

1. The melody is made monophonic (skyline); its key is the piece's own, or the Krumhansl-Schmuckler
   estimate when that fits the notes clearly better; the melody is moved to the tonic C, as in training.
2. For each segment of ``segment_bars`` bars (default 1), ``candidates`` chord sequences are sampled in one
   batch, with the previous ``context_bars`` bars (melody and chosen chords) as context.
3. Each candidate is scored by the model's own log-probability of its chords per bar plus a
   consonance critic (:func:`melodygan.engines.leadsheet.critic`: the share of melody notes that
   are chord tones or stepwise passing tones resolving to one, plus the interval consonance of
   notes with chord tones); the best one is kept and the next segment continues from it.
4. The chords are moved back to the melody's key and grid; the melody is returned untouched.
"""

from __future__ import annotations

from pathlib import Path

from melodygan import tokens as tk
from melodygan.devices import make_generator
from melodygan.engines.leadsheet import harmonize_bars, load_model, requantize
from melodygan.errors import MelodyganError
from melodygan.keys import Key, estimate_key, semitones_to_c
from melodygan.notes import Note, is_monophonic, skyline
from melodygan.piece import DEFAULT_STEPS_PER_QUARTER, Piece


def _key_for(piece: Piece) -> Key:
    """The piece's own key when its scale fits the melody about as well as the estimated key's
    (files without a key signature say C major), else the Krumhansl-Schmuckler estimate."""
    estimated, _ = estimate_key(piece.melody)

    def fit(key: Key) -> float:
        total = sum(n.duration_steps for n in piece.melody)
        return sum(n.duration_steps for n in piece.melody if n.pitch % 12 in key.scale_extended) / total

    return piece.key if fit(piece.key) >= fit(estimated) - 0.02 else estimated


def _melody_of(piece: Piece) -> list[Note]:
    notes = piece.melody
    if not notes and piece.voices:
        notes = [n for v in piece.voices.values() for n in v]
    if not notes:
        raise MelodyganError("the input has no melody notes (empty or drum-only); give a file with a melody")
    if not is_monophonic(notes):
        notes = skyline(notes)
    return notes


def harmonize(piece: Piece | str | Path, *, seed: int = 1, checkpoint: str | Path | None = None,
              temperature: float = 0.8, device: str | None = None, candidates: int = 16, segment_bars: int = 1,
              context_bars: int = 4, max_chords_per_bar: int = 2) -> Piece:
    """Add chord symbols to a melody.

    Args:
        piece: the melody, or a score file :func:`melodygan.read_score` reads (``piece.melody``;
            made monophonic by skyline when chords were played
            with it). Other parts are dropped from the result.
        seed: the same seed gives the same chords.
        checkpoint: a transformer checkpoint folder; None = the shipped weights.
        temperature: sampling temperature of the candidates.
        device: ``"cpu"``, ``"cuda"``; None = CUDA when available.
        candidates: chord sequences sampled per segment; the best is kept.
        segment_bars: bars decided together.
        context_bars: bars of earlier melody and chords the model sees.
        max_chords_per_bar: at most this many chord changes per bar (folk tunes rarely have more than 2).

    Returns:
        The piece with the same melody notes, new chords, the estimated key, and no other voices.

    Raises:
        MelodyganError: no melody, an unsupported meter, or bad arguments.
    """
    if candidates < 1 or segment_bars < 1 or context_bars < 0 or max_chords_per_bar < 1:
        raise MelodyganError("candidates, segment_bars and max_chords_per_bar must be >= 1, context_bars >= 0")
    if temperature < 0:
        raise MelodyganError(f"temperature {temperature} must be >= 0")
    if not isinstance(piece, Piece):
        from melodygan.formats.readers import read_score

        piece = read_score(piece)
    melody = _melody_of(piece)
    work = piece.replace(melody=melody, chords=[], voices={})
    if work.steps_per_quarter != DEFAULT_STEPS_PER_QUARTER:
        work = requantize(work)
        melody = tk.monophonic_melody(work.melody)
        work = work.replace(melody=melody)
    key = _key_for(work)
    up = -semitones_to_c(key.tonic)
    try:
        norm = work.transposed(-up).replace(key=Key(0, key.mode))
    except ValueError as e:
        raise MelodyganError(f"melody cannot be moved to C for the model: {e}") from e
    model, _ = load_model(checkpoint, device)
    chords = harmonize_bars(model, norm, make_generator(seed), temperature=temperature, candidates=candidates,
                            segment_bars=segment_bars, context_bars=context_bars,
                            max_chords_per_bar=max_chords_per_bar)
    return work.replace(chords=[c.transposed(up) for c in chords], key=key)
