"""What the commands users wait on load, each in a fresh interpreter: ``generate --bars 8 --wav``
no notation, audio-analysis or plotting library; neither it nor loading the harmonizer torch's
compiler (its import alone costs seconds)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

NOT_NEEDED = ("music21", "librosa", "matplotlib", "torch._dynamo")


def test_generate_with_wav_and_the_harmonizer_load_only_what_they_use(ar_checkpoint: Path, tmp_path: Path) -> None:
    args = ["generate", "--bars", "8", "--wav", "--checkpoint", str(ar_checkpoint), "--out", str(tmp_path)]
    code = f"""
import sys
from melodygan.cli import main
assert main({args!r}) == 0
print("generate", *[m for m in {NOT_NEEDED!r} if m in sys.modules])
from melodygan.engines.harmonize import load_harmonizer
load_harmonizer()
print("harmonize", *[m for m in {NOT_NEEDED!r} if m in sys.modules])
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[-3:] == ["generate", "harmonize", ""], out.stdout
    assert (tmp_path / "clip-001.wav").stat().st_size > 44
