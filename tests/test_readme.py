"""The README's Python snippets run as written (each in a fresh folder, with the shipped weights)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
# ```python blocks; ```python no-run marks one that is shown but not run
BLOCKS = [m.group(1) for m in re.finditer(r"^```python\n(.*?)^```$", README.read_text(), re.S | re.M)]


def test_the_readme_has_snippets() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_snippet_runs(index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code = BLOCKS[index]
    exec(compile(code, f"README.md python block {index + 1}", "exec"), {"__name__": "__readme__"})
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    for match in re.finditer(r'"(out/[^"]+\.(?:mid|wav|musicxml|png))"', code):
        assert (tmp_path / match.group(1)).is_file(), f"block {index + 1} did not write {match.group(1)}"
    assert all(os.path.getsize(p) > 0 for p in written)
