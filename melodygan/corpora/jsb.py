"""JSB Chorales (``Jsb16thSeparated.json``, Boulanger-Lewandowski et al. 2012) → Pieces.

The file holds ``{"train": [...], "valid": [...], "test": [...]}`` (229 / 76 / 77 chorales); a
chorale is a list of 16th-note steps, each ``[soprano, alto, tenor, bass]`` MIDI pitches with −1
for silence. Each chorale becomes a Piece with the soprano as melody (``melody_name =
"Soprano"``) and voices ``Alto``, ``Tenor``, ``Bass``; a run of equal pitches in a voice is one
note (the format cannot tell a repeated note from a held one). The format has no meter or key:
4/4 is assumed (every chorale here is in common time), the key is estimated from all voices
(Krumhansl-Schmuckler), tempo 90 bpm, and chords are labelled per beat
(:func:`melodygan.corpora.labelling.label_chords`).
"""

from __future__ import annotations

import json
from pathlib import Path

from melodygan.corpora.labelling import estimate_piece_key, label_chords
from melodygan.errors import MelodyganError
from melodygan.notes import Note
from melodygan.piece import Piece

JSB_SPLITS = ("train", "valid", "test")
VOICE_NAMES = ("Soprano", "Alto", "Tenor", "Bass")
JSB_TEMPO_BPM = 90.0


def steps_to_notes(pitches: list[int]) -> list[Note]:
    """One voice's per-step pitches (−1 = silence) → notes; runs of one pitch merge into one note."""
    notes: list[Note] = []
    start = 0
    for t in range(1, len(pitches) + 1):
        if t == len(pitches) or pitches[t] != pitches[start]:
            if pitches[start] >= 0:
                notes.append(Note(start, t - start, int(pitches[start])))
            start = t
    return notes


def chorale_to_piece(steps: list[list[int]], title: str = "", label: bool = True) -> Piece:
    """One chorale (``T`` steps of ``[S, A, T, B]`` pitches, −1 = silence) → Piece.

    Raises:
        ValueError: a step does not hold four voices, or a pitch is outside −1..127.
    """
    for i, step in enumerate(steps):
        if len(step) != 4:
            raise ValueError(f"step {i} has {len(step)} voices, expected 4 (S, A, T, B)")
    tracks = {name: steps_to_notes([int(s[v]) for s in steps]) for v, name in enumerate(VOICE_NAMES)}
    piece = Piece(melody=tracks["Soprano"], voices={n: tracks[n] for n in VOICE_NAMES[1:]},
                  tempo_bpm=JSB_TEMPO_BPM, length_steps=len(steps), title=title, melody_name="Soprano")
    key, _ = estimate_piece_key(piece)
    piece = piece.replace(key=key)
    return label_chords(piece, per="beat") if label else piece


def read_jsb(path: str | Path, label: bool = True) -> dict[str, list[Piece]]:
    """Read ``Jsb16thSeparated.json`` into ``{"train": [...], "valid": [...], "test": [...]}``.

    Args:
        path: the JSON file.
        label: label chords per beat (slower; off gives chord-less Pieces).

    Raises:
        MelodyganError: the file is missing, not JSON, or not in this layout.
    """
    data = read_jsb_steps(path)
    out: dict[str, list[Piece]] = {}
    for split in JSB_SPLITS:
        pieces = []
        for i, chorale in enumerate(data[split]):
            try:
                pieces.append(chorale_to_piece(chorale, title=f"JSB {split} {i}", label=label))
            except (ValueError, TypeError) as e:
                raise MelodyganError(f"{path}: {split} chorale {i}: {e}") from None
        out[split] = pieces
    return out


def read_jsb_steps(path: str | Path) -> dict[str, list[list[list[int]]]]:
    """The raw steps of ``Jsb16thSeparated.json`` per split: each chorale ``T`` lists of
    ``[S, A, T, B]`` MIDI pitches (−1 = silence), checked to hold four voices per step.

    Raises:
        MelodyganError: the file is missing, not JSON, or not in this layout.
    """
    path = Path(path)
    if not path.is_file():
        raise MelodyganError(
            f"{path}: no such file; pass the JSB Chorales file Jsb16thSeparated.json (see data/jsb-chorales/README.md)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise MelodyganError(f"{path}: not a JSON file ({e})") from None
    if not isinstance(data, dict) or not all(k in data for k in JSB_SPLITS):
        raise MelodyganError(f"{path}: expected a JSON object with keys {', '.join(JSB_SPLITS)}")
    for split in JSB_SPLITS:
        for i, chorale in enumerate(data[split]):
            if not isinstance(chorale, list) or not chorale or any(
                    not isinstance(s, list) or len(s) != 4 or not all(isinstance(p, int) and -1 <= p <= 127 for p in s)
                    for s in chorale):
                raise MelodyganError(f"{path}: {split} chorale {i}: expected steps of 4 MIDI pitches "
                                     "(S, A, T, B; -1 = silence)")
    return {split: data[split] for split in JSB_SPLITS}
