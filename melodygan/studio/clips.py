"""The studio's clips: each result (generated, uploaded, harmonized, edited) is a :class:`Clip` with
an id, held in memory; its files (MIDI, WAV, MusicXML) are written on first request into the
store's temporary folder, which is deleted when the server stops.

A clip keeps the lead sheet (melody + chord symbols, the music the engines work on) and the
arranged piece (the lead sheet plus its "Chords" and "Bass" tracks, what is heard and exported).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from melodygan.errors import MelodyganError
from melodygan.keys import Key
from melodygan.notes import Note
from melodygan.piece import Piece

MAX_CLIPS = 300  # the oldest clips (and their files) are dropped past this
FILE_KINDS = {"midi": ".mid", "wav": ".wav", "musicxml": ".musicxml"}
MEDIA_TYPES = {"midi": "audio/midi", "wav": "audio/wav", "musicxml": "application/vnd.recordare.musicxml+xml"}


@dataclass
class Clip:
    """One result shown on the page."""

    id: str
    kind: str  # generate, upload, harmonize, infill, vary, arrange
    sheet: Piece  # melody + chord symbols (+ the voices of an uploaded file)
    piece: Piece  # what is heard and exported: the sheet arranged (or as uploaded)
    settings: dict[str, Any] = field(default_factory=dict)
    parent: str | None = None
    changed_bars: tuple[int, int] | None = None  # the bars an infill rewrote
    notes: list[str] = field(default_factory=list)  # what the readers chose or repaired
    elapsed_s: float = 0.0
    created: float = field(default_factory=time.time)
    files: dict[str, Path] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def stem(self) -> str:
        return f"melodygan-{self.kind}-{self.id}"

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "parent": self.parent, "settings": self.settings,
                "changed_bars": list(self.changed_bars) if self.changed_bars else None,
                "notes": self.notes, "elapsed_s": round(self.elapsed_s, 3), **piece_json(self.piece),
                "urls": {kind: f"/api/clips/{self.id}/{kind}" for kind in FILE_KINDS},
                "filename": self.stem + ".mid"}


def _notes(notes: list[Note]) -> list[list[int]]:
    return [[n.start_steps, n.duration_steps, n.pitch, n.velocity] for n in notes]


def piece_json(piece: Piece) -> dict[str, Any]:
    """The music of a piece for the page and for API clients: times in steps of the grid."""
    return {
        "title": piece.title, "key": piece.key.name, "meter": list(piece.time_signature),
        "tempo_bpm": piece.tempo_bpm, "steps_per_quarter": piece.steps_per_quarter,
        "pickup_steps": piece.pickup_steps, "bar_steps": piece.bar_steps, "beat_steps": piece.beat_steps,
        "end_steps": piece.end_steps, "num_bars": piece.num_bars,
        "seconds_per_step": piece.seconds_per_step, "melody_name": piece.melody_name,
        "melody": _notes(piece.melody),
        "chords": [{"start": c.start_steps, "duration": c.duration_steps, "symbol": c.symbol()}
                   for c in piece.chords],
        "voices": {name: _notes(notes) for name, notes in piece.voices.items()},
    }


class ClipStore:
    """Clips by id (the newest :data:`MAX_CLIPS`), and the temporary folder their files live in."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="melodygan-studio-"))
        self.clips: OrderedDict[str, Clip] = OrderedDict()
        self.lock = threading.Lock()
        self.closed = False

    def add(self, kind: str, sheet: Piece, piece: Piece, **fields: Any) -> Clip:
        clip = Clip(id=uuid.uuid4().hex[:10], kind=kind, sheet=sheet, piece=piece, **fields)
        with self.lock:
            self.clips[clip.id] = clip
            while len(self.clips) > MAX_CLIPS:
                _, old = self.clips.popitem(last=False)
                shutil.rmtree(self.folder / old.id, ignore_errors=True)
        return clip

    def get(self, clip_id: str) -> Clip:
        with self.lock:
            clip = self.clips.get(clip_id)
        if clip is None:
            raise KeyError(clip_id)
        return clip

    def upload_path(self, suffix: str) -> Path:
        """A fresh file name inside the temporary folder (the user's file name is never used)."""
        folder = self.folder / "uploads"
        folder.mkdir(exist_ok=True)
        return folder / f"{uuid.uuid4().hex}{suffix}"

    def file(self, clip: Clip, kind: str) -> Path:
        """The clip's MIDI, WAV or MusicXML, written on first request (one writer at a time per clip)."""
        from melodygan.formats.export import export_piece

        if kind not in FILE_KINDS:
            raise MelodyganError(f"unknown file kind {kind!r}; allowed: {', '.join(FILE_KINDS)}")
        with clip.lock:
            if self.closed:
                raise MelodyganError("the studio is stopping")
            if kind not in clip.files or not clip.files[kind].is_file():
                folder = self.folder / clip.id
                folder.mkdir(parents=True, exist_ok=True)
                midi = folder / (clip.stem + ".mid")
                written = export_piece(clip.piece, midi, wav=kind == "wav", musicxml=kind == "musicxml",
                                       force=True)
                for path in written:
                    for k, suffix in FILE_KINDS.items():
                        if path.suffix == suffix:
                            clip.files[k] = path
            return clip.files[kind]

    def close(self) -> None:
        """Delete every file the studio wrote or received."""
        with self.lock:
            self.closed = True
            clips, self.clips = list(self.clips.values()), OrderedDict()
        for clip in clips:
            with clip.lock:  # a file being written is finished first, then deleted with the rest
                pass
        shutil.rmtree(self.folder, ignore_errors=True)


KEY_NAMES = [Key(pc, mode).name for mode in ("major", "minor") for pc in range(12)]
