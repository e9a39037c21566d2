"""Generation: lead-sheet clips (melody + chord symbols) from the transformer, the GAN, or both.

Engines:
    ``"ar"``      the lead-sheet transformer writes chords and melody together;
    ``"gan"``     the convolutional GAN writes a melody over ``chords`` (or, without them, over
                  chords the transformer writes first);
    ``"hybrid"``  the transformer's chords, the GAN's melody.

The transformer was trained with every tune moved to the tonic C, so it always writes in C major
or C minor and the clip is then transposed to the asked key (by -6..+5 semitones, keeping the
register). Without ``key`` the key is drawn (from ``seed``) from the key distribution of the
training tunes. Everything random comes from ``seed``: the same call gives the same clips.
Import cost is kept low: no music21, librosa or matplotlib on this path.
"""

from __future__ import annotations

from pathlib import Path

from melodygan import tokens as tk
from melodygan.chords import Chord, key_of_chords, parse_chord_symbol
from melodygan.devices import batch_threads, cpu_threads, sampling_threads
from melodygan.engines.leadsheet import ENDINGS, requantize, sample_leadsheets
from melodygan.errors import MelodyganError
from melodygan.keys import Key, to_key
from melodygan.piece import DEFAULT_STEPS_PER_QUARTER, Piece, chords_from_changes

ENGINES = ("ar", "gan", "hybrid")


def parse_progression(text: str, bars: int, bar_steps: int, beat_steps: int) -> list[Chord]:
    """``"C G Am F"`` (one chord per bar) or ``"C G | Am F"`` (bars split by ``|``, chords on beats),
    repeated to fill ``bars`` bars.

    Raises:
        MelodyganError: a symbol that is not a chord, or an empty progression.
    """
    bar_groups = [g.split() for g in text.split("|") if g.strip()]
    groups = bar_groups if "|" in text else [[s] for s in text.split()]
    if not groups:
        raise MelodyganError(f"empty chord progression {text!r}; give symbols like \"C G Am F\"")
    out: list[tuple[int, Chord]] = []
    for b in range(bars):
        group = groups[b % len(groups)]
        beats = max(bar_steps // beat_steps, 1)
        for i, sym in enumerate(group):
            try:
                chord = parse_chord_symbol(sym)
            except ValueError as e:
                raise MelodyganError(f"{e}; use symbols like C, Am, G7, F#m7b5, Bb/D") from e
            pos = (i * beats // len(group)) * beat_steps if len(group) <= beats else i * bar_steps // len(group)
            out.append((b * bar_steps + pos, chord))
    return chords_from_changes(out, bars * bar_steps)


def generate(engine: str = "ar", *, num: int = 1, bars: int = 8, key: str | Key | None = None,
             time_signature: tuple[int, int] = (4, 4), tempo_bpm: float = 110.0, seed: int = 1,
             chords: str | list[Chord] | None = None, primer: str | Path | Piece | None = None,
             temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
             checkpoint: str | Path | None = None, device: str | None = None, genre: str | None = None,
             candidates: int = 1, threads: int | None = None, ending: str = "full") -> list[Piece]:
    """Generate ``num`` lead-sheet clips of ``bars`` bars.

    Args:
        engine: ``"ar"``, ``"gan"`` or ``"hybrid"``.
        num: clips.
        bars: bars per clip (after the primer, if any).
        key: ``"G"``, ``"Em"``, a Key, or None (drawn from the training keys; from the chords
            when chords are given).
        time_signature: one of :data:`melodygan.tokens.METERS`, e.g. ``(6, 8)``.
        tempo_bpm: quarter notes per minute (metadata).
        seed: the same seed gives the same clips.
        chords: a progression (``"C G Am F"``, one chord per bar, repeated; ``|`` splits bars
            holding several) or Chords on the step grid; the melody is written over them.
        primer: a Piece or a score file to continue (its bars come first, melody kept).
        temperature, top_k, top_p: sampling filters.
        checkpoint: a transformer checkpoint folder (``"ar"``/``"hybrid"``) or GAN checkpoint
            (``"gan"``); None = the shipped weights.
        device: ``"cpu"``, ``"cuda"``; None = CUDA when available.
        genre: ``"folk"`` or ``"pop"``: the style the transformer writes in (melodies, harmonic
            rhythm, keys); None = guessed from the primer when there is one, else folk.
        candidates: samples of each 4-bar segment of the transformer; more than 1 keeps the most
            likely by the model's own log-probability per token.
        threads: torch CPU threads for the transformer (None: ``$MELODYGAN_THREADS``, else 1 —
            sampling a small model one token at a time gains nothing from a second thread, and
            loses a lot when another process is busy).
        ending: ``"full"``: each clip is a whole tune, ending on a final cadence; ``"open"``: the
            opening of a longer tune, ending where a strain ends (a half close as often as a full
            one; loops and continues well). The transformer's chords and melody (``ar``,
            ``hybrid``, and ``gan`` without given chords).

    Returns:
        Pieces with melody and chords (no accompaniment: see :func:`melodygan.engines.arrange.arrange`).

    Raises:
        MelodyganError: an unknown engine, meter, key or chord symbol; bad numbers.
    """
    if engine not in ENGINES:
        raise MelodyganError(f"unknown engine {engine!r}; allowed: {', '.join(ENGINES)}")
    if not 1 <= num <= 1000:
        raise MelodyganError(f"num {num} must be 1..1000")
    if not 1 <= bars <= 256:
        raise MelodyganError(f"bars {bars} must be 1..256")
    if temperature < 0:
        raise MelodyganError(f"temperature {temperature} must be >= 0")
    if top_p is not None and not 0 < top_p <= 1:
        raise MelodyganError(f"top_p {top_p} must be in (0, 1]")
    if top_k is not None and top_k < 1:
        raise MelodyganError(f"top_k {top_k} must be >= 1")
    if genre is not None and genre not in tk.GENRES:
        raise MelodyganError(f"unknown genre {genre!r}; allowed: {', '.join(tk.GENRES)}")
    if not 1 <= candidates <= 64:
        raise MelodyganError(f"candidates {candidates} must be 1..64")
    if ending not in ENDINGS:
        raise MelodyganError(f"unknown ending {ending!r}; allowed: {', '.join(ENDINGS)}")
    sampling_threads(threads)
    time_signature = (int(time_signature[0]), int(time_signature[1]))
    tk.meter_token(time_signature)
    the_key = to_key(key)
    try:
        grid = Piece(time_signature=time_signature, tempo_bpm=tempo_bpm)
    except ValueError as e:
        raise MelodyganError(str(e)) from e
    chord_list: list[Chord] | None = None
    if isinstance(chords, str):
        chord_list = parse_progression(chords, bars, grid.bar_steps, grid.beat_steps)
    elif chords is not None:
        chord_list = list(chords)
    primer_piece: Piece | None = None
    if primer is not None:
        primer_piece = primer if isinstance(primer, Piece) else _read_primer(primer)
    if genre is None and primer_piece is not None:
        from melodygan.engines.harmonize import guess_genre, load_harmonizer

        genre = guess_genre(primer_piece, load_harmonizer()[1])
    genre = genre or "folk"
    ar_checkpoint = checkpoint if engine == "ar" else None
    if engine == "ar":
        with cpu_threads(threads):
            pieces = sample_leadsheets(num, bars, the_key, time_signature, seed=seed, chords=chord_list,
                                       primer=primer_piece, temperature=temperature, top_k=top_k, top_p=top_p,
                                       checkpoint=ar_checkpoint, device=device, tempo_bpm=tempo_bpm, genre=genre,
                                       candidates=candidates, ending=ending)
        return pieces
    from melodygan.engines import gan as gan_engine  # the GAN engine is only imported when asked for

    key_for_gan: Key | list[Key]
    if chord_list is not None and engine == "gan":
        chord_lists = [chord_list] * num
        key_for_gan = the_key or key_of_chords(chord_list)
    else:
        with cpu_threads(threads):
            sheets = sample_leadsheets(num, bars, the_key, time_signature, seed=seed, chords=chord_list,
                                       temperature=temperature, top_k=top_k, top_p=top_p,
                                       checkpoint=checkpoint if engine == "hybrid" else None, device=device,
                                       tempo_bpm=tempo_bpm, genre=genre, candidates=candidates, ending=ending)
        chord_lists = [s.chords for s in sheets]
        key_for_gan = [s.key for s in sheets]  # each clip's melody in the key of its own chords
    gan_checkpoint = checkpoint if engine == "gan" else None
    with cpu_threads(batch_threads(threads)):  # one batched pass for all clips: every core helps
        pieces = gan_engine.gan_melodies(chord_lists, bars=bars, time_signature=time_signature, key=key_for_gan,
                                         seed=seed, checkpoint=gan_checkpoint, device=device)
    return [p.replace(tempo_bpm=tempo_bpm) for p in pieces]


def _read_primer(path: str | Path) -> Piece:
    from melodygan.formats.readers import read_score

    piece = read_score(path)
    if not piece.melody:
        raise MelodyganError(f"primer {path} has no melody notes")
    if piece.steps_per_quarter != DEFAULT_STEPS_PER_QUARTER:
        piece = requantize(piece)
    return piece


