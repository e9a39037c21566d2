"""Four-part chorale harmonization: the soprano kept, three voices in range, any meter; the CLI."""

from __future__ import annotations

import itertools
from pathlib import Path

import mido
import pytest

from melodygan.cli import main
from melodygan.engines.chorale import VOICE_RANGES, harmonize_chorale
from melodygan.engines.harmonize import harmonize
from melodygan.errors import MelodyganError
from melodygan.formats.midi import write_midi
from melodygan.keys import Key
from melodygan.notes import Note
from melodygan.piece import Piece


def _hymn(pickup: int = 0, meter: tuple[int, int] = (4, 4), shift: int = 0) -> Piece:
    """'Old Hundredth'-like: long notes, a pickup, ending on the tonic (G major)."""
    pitches = (67, 67, 66, 64, 62, 67, 69, 71, 71, 71, 69, 67, 72, 71, 69, 67)
    start = pickup
    melody = []
    if pickup:
        melody.append(Note(0, pickup, 62 + shift))
    for i, p in enumerate(pitches):
        d = 8 if i % 4 == 3 else 4
        melody.append(Note(start, d, p + shift))
        start += d
    return Piece(melody=melody, key=Key(7, "major"), time_signature=meter, pickup_steps=pickup, tempo_bpm=72.0,
                 title="hymn")


@pytest.mark.parametrize("pickup, meter", [(0, (4, 4)), (4, (4, 4)), (4, (3, 4)), (6, (6, 8))])
def test_the_soprano_is_kept_and_every_voice_stays_in_range(chorale_checkpoint: Path, pickup: int,
                                                             meter: tuple[int, int]) -> None:
    tune = _hymn(pickup, meter)
    out = harmonize_chorale(tune, checkpoint=chorale_checkpoint, seed=3)[0]
    assert out.melody == tune.melody and out.melody_name == "Soprano"
    assert (out.time_signature, out.pickup_steps, out.tempo_bpm) == (meter, pickup, 72.0)
    assert out.end_steps == tune.end_steps
    assert list(out.voices) == ["Alto", "Tenor", "Bass"]
    for name, notes in out.voices.items():
        lo, hi = VOICE_RANGES[name]
        assert notes and all(lo <= n.pitch <= hi for n in notes), name
        assert all(n.end_steps <= tune.end_steps for n in notes)
        assert all(a.end_steps <= b.start_steps for a, b in itertools.pairwise(notes))  # each voice one line
    assert out.chords  # labelled from the four voices


def test_seeds_repeat_and_alternatives_differ(chorale_checkpoint: Path) -> None:
    a = harmonize_chorale(_hymn(), checkpoint=chorale_checkpoint, seed=5)[0]
    b = harmonize_chorale(_hymn(), checkpoint=chorale_checkpoint, seed=5)[0]
    assert a.voices == b.voices
    three = harmonize_chorale(_hymn(), checkpoint=chorale_checkpoint, seed=5, num=3)
    assert len({str(p.voices) for p in three}) == 3


def test_a_melody_an_octave_low_takes_the_voices_down_with_it(chorale_checkpoint: Path) -> None:
    low = _hymn(shift=-12)
    with pytest.warns(UserWarning, match="1 octave below"):
        out = harmonize_chorale(low, checkpoint=chorale_checkpoint)[0]
    assert out.melody == low.melody
    assert max(n.pitch for n in out.voices["Bass"]) <= VOICE_RANGES["Bass"][1] - 12


def test_harmonize_style_chorale_and_its_refusals(chorale_checkpoint: Path) -> None:
    out = harmonize(_hymn(), style="chorale", checkpoint=chorale_checkpoint)
    assert isinstance(out, Piece) and set(out.voices) == {"Alto", "Tenor", "Bass"}
    with pytest.raises(MelodyganError, match="fix does not apply"):
        harmonize(_hymn(), style="chorale", fix="2:G", checkpoint=chorale_checkpoint)
    with pytest.raises(MelodyganError, match="style 'fugue'"):
        harmonize(_hymn(), style="fugue")


def test_cli_writes_four_named_tracks_and_a_score(tmp_path: Path, chorale_checkpoint: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    music21 = pytest.importorskip("music21")
    src = tmp_path / "hymn.mid"
    write_midi(_hymn(4), src)
    out = tmp_path / "hymn-satb.mid"
    assert main(["harmonize", str(src), "--style", "chorale", "--musicxml", "--checkpoint", str(chorale_checkpoint),
                 "--out", str(out)]) == 0
    names = [t.name for t in mido.MidiFile(out).tracks if any(m.type == "note_on" for m in t)]
    assert names == ["Soprano", "Alto", "Tenor", "Bass"]  # no chord or bass accompaniment on top
    score = music21.converter.parse(out.with_suffix(".musicxml"))
    assert [p.partName for p in score.parts] == ["Soprano", "Alto", "Tenor", "Bass"]
    assert main(["harmonize", str(src), "--style", "chorale", "--chord-rate", "bar", "--out",
                 str(tmp_path / "x.mid")]) == 2
    assert "--chord-rate does not apply to --style chorale" in capsys.readouterr().err
    assert not (tmp_path / "x.mid").exists()


def test_the_shipped_voicer_cadences_like_bach() -> None:
    """A G-major hymn ending 2-1 over a dominant: the shipped voicer ends on a G-major chord with
    G in the bass and no parallel fifths or octaves into it."""
    out = harmonize_chorale(_hymn(4), seed=1)[0]
    end = out.end_steps - 1
    last = {name: next(n.pitch for n in notes if n.start_steps <= end < n.end_steps)
            for name, notes in out.tracks().items()}
    assert last["Bass"] % 12 == 7
    assert {p % 12 for p in last.values()} <= {7, 11, 2}
