"""music21's bundled corpus sources (no download): one Bach chorale and one folk tune, read as jobs."""

from __future__ import annotations

from melodygan.corpora.sources import list_jobs, run_job


def test_music21_bach_job_gives_a_labelled_four_voice_chorale() -> None:
    jobs = list_jobs("music21:bach")
    assert len(jobs) > 400 and all(j.source == "music21-bach" for j in jobs)
    job = next(j for j in jobs if j.name == "bwv1.6.mxl")
    result = run_job(job)
    assert not result.skipped
    [(pid, split, piece)] = result.items
    assert pid == "music21-bach/bwv1.6" and split is None
    assert piece.melody_name == "Soprano" and list(piece.voices) == ["Alto", "Tenor", "Bass"]
    assert len(piece.chords) > 10 and piece.key.name == "F"  # "Wie schön leuchtet der Morgenstern", F major
    soprano, bass = piece.melody, piece.voices["Bass"]
    assert min(n.pitch for n in soprano) > max(n.pitch for n in bass)


def test_music21_folk_job_reads_abc_tunes() -> None:
    jobs = list_jobs("music21:folk")
    assert len(jobs) > 1000
    job = next(j for j in jobs if j.name == "ryansMammoth/7thRegimentReel.abc")
    result = run_job(job)
    assert not result.skipped and len(result.items) == 1
    pid, _, piece = result.items[0]
    assert pid == "music21-folk/ryansMammoth/7thRegimentReel.abc/0"
    assert len(piece.melody) > 16 and piece.title
