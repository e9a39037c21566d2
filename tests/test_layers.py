"""The package's import graph follows its folders: lower layers never import higher ones, no circles,
and only ``melodygan/formats/`` imports the format libraries."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "melodygan"

# Lowest first. A module may import its own layer's modules (without a circle) and any lower layer.
LAYERS: list[tuple[str, ...]] = [
    ("errors", "limits", "files", "devices", "checkpoints", "progress"),  # plumbing
    ("notes", "keys", "chords", "piece", "piece_arrays", "tonal"),  # the nouns
    ("pianoroll", "tokens", "beats", "metrics", "performance"),  # representations, measures, performances
    ("formats",),  # every reader and writer
    ("corpora",),  # datasets → Pieces → arrays
    ("models",),
    ("engines",),
    ("training",),
    ("evaluate", "listener"),  # the quality checks: reports, the listener-style classifier test
    ("cli", "studio", "__main__", "__init__"),  # the user's doors: the command line, the web app
]
FORMAT_LIBRARIES = ("pretty_midi", "mido", "music21", "librosa", "fluidsynth", "soundfile", "matplotlib",
                    "symusic", "audioread")


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__" and len(parts) > 2:
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every absolute import of a module (top level and inside functions) with its line."""
    out: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "melodygan":  # from melodygan.x import y → melodygan.x.y
                out += [(f"{node.module}.{a.name}", node.lineno) for a in node.names]
            else:
                out.append((node.module, node.lineno))
    return out


def _layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else "__init__"
    for i, names in enumerate(LAYERS):
        if top in names:
            return i
    raise AssertionError(f"{module}: its folder or file is in no layer of tests/test_layers.py")


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The package module an import refers to (``melodygan.chords.Chord`` → ``melodygan.chords``)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def test_every_module_has_a_layer() -> None:
    for name in _modules():
        _layer(name)


def test_imports_go_down_the_layers() -> None:
    modules = _modules()
    bad = []
    for name, path in modules.items():
        if name == "melodygan":  # the root re-exports lazily, by name only
            continue
        for target, line in _imports(path):
            if not target.startswith("melodygan"):
                continue
            resolved = _resolve(target, modules)
            if resolved in (None, "melodygan"):
                continue
            if _layer(resolved) > _layer(name):
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {resolved} (a higher layer)")
    assert not bad, "\n".join(bad)


def test_no_import_circles() -> None:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        if name == "melodygan":
            continue
        deps = {_resolve(t, modules) for t, _ in _imports(path) if t.startswith("melodygan")}
        # importing a subpackage runs its __init__; a module importing its own package is no circle
        graph[name] = {d for d in deps if d and d != "melodygan" and d != name and not name.startswith(d + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycle = [*stack[stack.index(dep):], dep]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_format_libraries_only_in_formats() -> None:
    bad = []
    for name, path in _modules().items():
        if name.startswith("melodygan.formats"):
            continue
        for target, line in _imports(path):
            if target.split(".")[0] in FORMAT_LIBRARIES:
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}")
    assert not bad, "format libraries belong in melodygan/formats/:\n" + "\n".join(bad)


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    """The checks above can fail: an upward and a format import in a module are both found."""
    module = tmp_path / "x.py"
    module.write_text("def f():\n    import music21\n    from melodygan.engines import generate\n")
    found = dict(_imports(module))
    assert found == {"music21": 2, "melodygan.engines.generate": 3}
    modules = _modules()
    assert _resolve("melodygan.engines.generate", modules) == "melodygan.engines.generate"
    assert _resolve("melodygan.chords.Chord", modules) == "melodygan.chords"
    assert _layer("melodygan.engines.generate") > _layer("melodygan.notes")
