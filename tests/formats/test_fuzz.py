"""Hypothesis fuzzing of the MIDI, ABC and MusicXML readers with mutated small real files: every
case reads or is refused with one MelodyganError line, within a time bound. The long run (10,000+
cases, with a report) is ``scripts/fuzz_readers.py``; it shares the seeds and mutations."""

from __future__ import annotations

import atexit
import functools
import importlib.util
import random
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fuzz_readers.py"
BOUND_S = 8.0  # seconds a case may take on a busy machine (most take a few milliseconds)


@functools.cache
def _fuzz():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("fuzz_readers", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.cache
def _seeds() -> dict[str, bytes]:
    return dict(_fuzz().seed_files())


@functools.cache
def _folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="melodygan-fuzz-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder


def _settings(cases: int) -> settings:
    return settings(max_examples=cases, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


CASE = {"pick": st.integers(0, 7), "mutation_seed": st.integers(0, 2**32 - 1), "count": st.integers(1, 4)}


def _check(suffix: str, pick: int, mutation_seed: int, count: int) -> None:
    names = sorted(n for n in _seeds() if n.endswith(suffix))
    name = names[pick % len(names)]
    data = _fuzz().mutate(_seeds()[name], random.Random(mutation_seed), count)
    outcome, _, detail = _fuzz().run_case(name, data, _folder(), BOUND_S)
    if outcome == "slow":  # a hang is slow twice; a busy machine's stall is not (no timing assertion)
        outcome, _, detail = _fuzz().run_case(name, data, _folder(), BOUND_S)
    assert outcome in ("ok", "refused"), f"{name} mutated by seed {mutation_seed} x{count}: {outcome}: {detail}"


# 300 cases in all: music21 takes ~50 ms for an ABC tune, pretty_midi ~5 ms for a MIDI file
@_settings(120)
@given(**CASE)
def test_mutated_midi_reads_or_is_refused_in_one_line(pick: int, mutation_seed: int, count: int) -> None:
    _check(".mid", pick, mutation_seed, count)


@_settings(60)
@given(**CASE)
def test_mutated_abc_reads_or_is_refused_in_one_line(pick: int, mutation_seed: int, count: int) -> None:
    _check(".abc", pick, mutation_seed, count)


@_settings(120)
@given(**CASE)
def test_mutated_musicxml_reads_or_is_refused_in_one_line(pick: int, mutation_seed: int, count: int) -> None:
    _check(".musicxml", pick, mutation_seed, count)


def test_mutations_change_the_files() -> None:
    seeds = _seeds()
    rng = random.Random(0)
    assert {".mid", ".abc", ".musicxml", ".krn"} <= {Path(n).suffix for n in seeds}
    assert sum(_fuzz().mutate(seeds["tunes.abc"], rng) != seeds["tunes.abc"] for _ in range(50)) >= 45
