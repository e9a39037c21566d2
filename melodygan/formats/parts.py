"""MIDI tracks as a DAW sees them: one file per part, and new parts laid over a user's own file.

* :func:`split_parts` cuts a MIDI file into one file per track that plays notes, for dragging
  parts onto DAW tracks one by one: each is a type-1 file of ONE track named after the part,
  holding the song's timing (every tempo, time-signature and key-signature event, wherever it
  was), the conductor's lanes (chord markers and text) and the part's own events (program,
  controllers, notes, its own meta events) as they were, on its own channel, ending where the
  song ends (the final bar line for melodygan's files). Named ``<stem>-<part>.mid``
  (:func:`part_path`), like the WAV stems.
* :func:`lay_over` writes a Piece read from a MIDI file back over that file, for ``harmonize``:
  every track of the file stays exactly as it was (the melody, drums, controllers, the whole
  tempo map), the piece's voices (the new chord and bass parts) are added as new tracks on
  channels the file does not use, and the chord symbols go with them as markers and text
  events. The file's old chords go: chord-symbol markers and text events (when its markers are
  chord symbols, the reader's test) and an earlier arrangement (tracks "Chords" and "Bass" of a
  file that has a "Chords" track, such as a clip melodygan wrote) are replaced, not doubled.
  With ``keep_tracks=False`` the file is the piece's own (melody and new parts only), under the
  original's tempo map, so the melody still plays at the same seconds.

Times: a Piece read from a file with ``T`` ticks per quarter and ``S`` steps per quarter has its
step ``s`` at tick ``s * T / S`` (what :func:`melodygan.formats.midi.midi_to_piece` reads), so new
parts are written at those ticks and line up with the file's own events under its tempo map.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from melodygan.formats.midi import TICKS_PER_BEAT, MidiImportWarning, piece_to_midifile
from melodygan.piece import Piece

if TYPE_CHECKING:
    import mido

TIMING = frozenset(("set_tempo", "time_signature", "key_signature"))  # the song's, wherever they stand
LANES = frozenset(("marker", "text", "cue_marker", "lyrics", "smpte_offset"))  # the conductor's, kept with it
DRUMS = 9


def _absolute(track: mido.MidiTrack) -> list[tuple[int, mido.Message]]:
    """A track's events with absolute ticks, in file order."""
    out, tick = [], 0
    for msg in track:
        tick += msg.time
        out.append((tick, msg))
    return out


def _encode(events: list[tuple[int, mido.Message]], end_tick: int, name: str | None = None) -> mido.MidiTrack:
    """Absolute-tick events (in the order given) as a track, ``name`` first, ending at ``end_tick``."""
    import mido

    track = mido.MidiTrack()
    if name is not None:
        track.append(mido.MetaMessage("track_name", name=name, time=0))
    now = 0
    for tick, msg in events:
        if msg.type in ("end_of_track", "track_name") and name is not None:
            continue
        track.append(msg.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=max(end_tick - now, 0)))
    return track


def _plays(track: mido.MidiTrack) -> bool:
    return any(m.type == "note_on" for m in track)


def _end_tick(mid: mido.MidiFile) -> int:
    return max((sum(m.time for m in t) for t in mid.tracks), default=0)


def split_parts(mid: mido.MidiFile) -> list[tuple[str, mido.MidiFile]]:
    """One MIDI file per track that plays notes (see the module docstring), with the part's name
    (made unique as the WAV stems are: "Piano", "Piano 2")."""
    import mido

    from melodygan.formats.audio import track_names

    playing = [i for i, t in enumerate(mid.tracks) if _plays(t)]
    shared: list[tuple[int, mido.Message]] = []
    for i, track in enumerate(mid.tracks):
        for tick, msg in _absolute(track):
            if msg.is_meta and (msg.type in TIMING or (i not in playing and msg.type in LANES)):
                shared.append((tick, msg))
    shared.sort(key=lambda e: e[0])  # stable: file order at one tick
    seen: set[tuple[int, str]] = set()
    unique = []
    for t, m in shared:  # the same event in several tracks (a key signature in each part) once
        if (t, repr(m.copy(time=0))) not in seen:
            seen.add((t, repr(m.copy(time=0))))
            unique.append((t, m))
    shared = unique
    end = _end_tick(mid)
    out = []
    for name, i in zip(track_names(mid), playing):
        own = [(t, m) for t, m in _absolute(mid.tracks[i])
               if m.type not in ("track_name", "end_of_track") and (t, repr(m.copy(time=0))) not in seen]
        # the song's timing before the part's own events at the same tick; each keeps its order
        merged = sorted([(t, 0, k, m) for k, (t, m) in enumerate(shared)] +
                        [(t, 1, k, m) for k, (t, m) in enumerate(own)], key=lambda e: e[:3])
        part = mido.MidiFile(type=1, ticks_per_beat=mid.ticks_per_beat)
        part.tracks.append(_encode([(t, m) for t, _, _, m in merged], end, name))
        out.append((name, part))
    return out


def part_path(midi_path: str | Path, part: str) -> Path:
    """Where the file of one part goes: ``song.mid`` + ``"Lead vox"`` -> ``song-Lead_vox.mid``."""
    from melodygan.formats.audio import stem_path

    return stem_path(midi_path, part).with_suffix(".mid")


def lay_over(base: mido.MidiFile, piece: Piece, *, keep_tracks: bool = True) -> mido.MidiFile:
    """The MIDI file of ``piece`` written over ``base``, the file the piece was read from (see the
    module docstring). ``piece.melody`` is taken to be a track of ``base`` already: with
    ``keep_tracks`` it is not written again, and every voice of the piece is a new track
    (renamed "Bass 2" where the file has a "Bass"), except that a file with a "Chords" track was
    arranged before: its "Chords" and "Bass" tracks are replaced by the piece's, as
    :func:`melodygan.engines.arrange.arrange` replaces an earlier arrangement.

    Args:
        base: the original MIDI file (left unchanged).
        piece: the piece read from it, with its new chords and voices.
        keep_tracks: keep every track of ``base``; False: the piece's own tracks only, under
            ``base``'s tempo map.

    Returns:
        A new ``mido.MidiFile`` (``base``'s resolution with ``keep_tracks``, else 480 per quarter).
    """
    if not keep_tracks:
        return _with_tempo_map(piece_to_midifile(piece), base)
    import mido

    tpb = base.ticks_per_beat
    named = [next((m.name.strip() for m in t if m.type == "track_name"), "") for t in base.tracks]
    # a "Chords" track means the file was arranged before (as melodygan arranges): its "Chords"
    # and bass tracks are that arrangement, and the new one takes their place
    earlier = {i for i, n in enumerate(named) if "Chords" in named and "Chords" in piece.voices and n in piece.voices
               and n in ("Chords", "Bass", "Bass line")}
    kept_tracks = [_without_chord_symbols(t) if _chord_lane(base) else t
                   for i, t in enumerate(base.tracks) if i not in earlier]
    taken = {n for i, n in enumerate(named) if i not in earlier}
    renamed: dict[str, list] = {}
    for name, notes in piece.voices.items():
        new, k = name, 2
        while new in taken:
            new, k = f"{name} {k}", k + 1
        taken.add(new)
        renamed[new] = notes
    drawn = piece_to_midifile(piece.replace(melody=[], voices=renamed,
                                            programs={**piece.programs,
                                                      **{n: piece.programs[o] for n, o in zip(renamed, piece.voices)
                                                         if o in piece.programs}}))

    def tick(t480: int) -> int:  # the writer's 480 per quarter -> the base's resolution
        return round(t480 * tpb / TICKS_PER_BEAT)

    used = {m.channel for t in kept_tracks for m in t if hasattr(m, "channel")}
    free = [c for c in range(16) if c != DRUMS and c not in used]
    # the chord symbols only: tempo, meter and key stay the file's own (in a type-1 file they
    # belong to its first track, which is left as it is)
    lanes = [(tick(t), m) for t, m in _absolute(drawn.tracks[0]) if m.type in ("marker", "text")]
    end = tick(sum(m.time for m in drawn.tracks[0]))
    out = mido.MidiFile(type=1, ticks_per_beat=tpb)
    out.tracks = [_ending_at(t, end) for t in kept_tracks]  # the same events; each ends on the bar line
    new_tracks = drawn.tracks[1:]
    if not new_tracks and lanes:  # chord symbols only: a lane of their own
        out.tracks.append(_encode(lanes, end, "Chord symbols"))
    for k, track in enumerate(new_tracks):
        events = _absolute(track)
        name = next(m.name for _, m in events if m.type == "track_name")
        channel = free[k] if k < len(free) else 15
        if k >= len(free):
            warnings.warn(f"no free MIDI channel for the new part {name!r}: it shares channel {channel + 1}",
                          MidiImportWarning, stacklevel=2)
        moved = [(tick(t), m.copy(channel=channel) if hasattr(m, "channel") else m) for t, m in events]
        if k == 0:  # the chord symbols travel with the first new part, before its notes at one tick
            moved = [(t, m) for t, _, _, m in sorted(
                [(t, 0, i, m) for i, (t, m) in enumerate(lanes)] + [(t, 1, i, m) for i, (t, m) in enumerate(moved)],
                key=lambda e: e[:3])]
        out.tracks.append(_encode(moved, max(end, tick(sum(m.time for m in track))), name))
    return out


def _ending_at(track: mido.MidiTrack, end: int) -> mido.MidiTrack:
    """A copy of ``track`` with its end-of-track moved out to ``end`` when it ends earlier (a melody
    that stops mid-bar: the harmonized file ends on the bar line); every other event as it was."""
    import mido

    out = mido.MidiTrack(track)
    length = sum(m.time for m in out)
    if length < end:
        if out and out[-1].type == "end_of_track":
            out[-1] = out[-1].copy(time=out[-1].time + end - length)
        else:
            out.append(mido.MetaMessage("end_of_track", time=end - length))
    return out


def _is_chord(text: str) -> bool:
    from melodygan.chords import parse_chord_symbol

    try:
        parse_chord_symbol(text)
    except ValueError:
        return False
    return True


def _chord_lane(mid: mido.MidiFile) -> bool:
    """Whether the file's markers are chord symbols (what the reader takes as its chords)."""
    markers = [m.text for t in mid.tracks for m in t if m.type == "marker"]
    return bool(markers) and all(_is_chord(text) for text in markers)


def _without_chord_symbols(track: mido.MidiTrack) -> mido.MidiTrack:
    """``track`` without its chord-symbol markers and text events (the old chords), timing kept."""
    if not any(m.type in ("marker", "text") for m in track):
        return track
    return _encode([(t, m) for t, m in _absolute(track) if not (m.type in ("marker", "text") and _is_chord(m.text))],
                   sum(m.time for m in track))


def _with_tempo_map(mid: mido.MidiFile, base: mido.MidiFile) -> mido.MidiFile:
    """``mid`` (written by melodygan) with its tempo replaced by every tempo change of ``base``
    (moved from ``base``'s resolution to ``mid``'s), up to ``mid``'s end."""
    import mido

    scale = mid.ticks_per_beat / base.ticks_per_beat
    tempos = sorted((round(t * scale), m.tempo) for track in base.tracks for t, m in _absolute(track)
                    if m.type == "set_tempo")
    end = _end_tick(mid)
    tempos = [(t, v) for t, v in tempos if t < end] or [(0, 500000)]  # no tempo: MIDI's default 120 bpm, written out
    if tempos[0][0] > 0:
        tempos.insert(0, (0, 500000))
    conductor = [(t, m) for t, m in _absolute(mid.tracks[0]) if m.type not in ("set_tempo", "end_of_track")]
    events = sorted([(t, 0 if m.type == "track_name" else 2, k, m) for k, (t, m) in enumerate(conductor)] +
                    [(t, 1, k, mido.MetaMessage("set_tempo", tempo=v)) for k, (t, v) in enumerate(tempos)],
                    key=lambda e: e[:3])
    out = mido.MidiFile(type=1, ticks_per_beat=mid.ticks_per_beat)
    out.tracks = [_encode([(t, m) for t, _, _, m in events], end), *mid.tracks[1:]]
    return out
