"""The package's shape: the library never reaches into its programs, nothing imports in a
circle, and modules stay small."""

from __future__ import annotations

import ast
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGES = ("folkclip", "folkclip_cli")


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in (SRC / pkg).rglob("*.py")}


def _imports(path: Path, name: str, known: dict[str, Path]) -> set[str]:
    """Every project module that ``path`` imports, at module level or inside functions
    (a lazy import still closes a circle); ``from a import b`` counts ``a.b`` when ``b``
    is a module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                       for a in node.names]
        else:
            continue
        found.update(t for t in targets if t in known and t != name)
    return found


def _graph() -> dict[str, set[str]]:
    known = _modules()
    return {name: _imports(path, name, known) for name, path in known.items()}


def test_graph_sees_the_program_imports():
    graph = _graph()  # the checker itself must be able to find an edge
    assert "folkclip_cli.train.runner" in graph["folkclip_cli.train.lm_task"]


def test_no_import_cycles():
    graph = _graph()
    try:
        list(TopologicalSorter(graph).static_order())
    except CycleError as err:
        pytest.fail(f"import cycle: {' -> '.join(err.args[1])}")


def test_cycle_detection_can_fail():
    with pytest.raises(CycleError):
        list(TopologicalSorter({"a": {"b"}, "b": {"c"}, "c": {"a"}}).static_order())


def test_library_never_imports_the_programs():
    graph = _graph()
    bad = sorted((m, d) for m, deps in graph.items() if m.split(".")[0] == "folkclip"
                 for d in deps if d.split(".")[0] != "folkclip")
    assert not bad, f"library modules importing programs: {bad}"


def test_library_imports_with_programs_unimportable(tmp_path):
    """Every library module imports while ``folkclip_cli`` (and Lightning, FastAPI, Ray,
    ONNX Runtime and the audio and MIDI libraries) cannot be."""
    names = sorted(n for n in _modules() if n.split(".")[0] == "folkclip")
    code = (
        "import importlib, sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('folkclip_cli', 'lightning', 'fastapi', 'librosa',\n"
        "                                   'soundfile', 'mido', 'pretty_midi', 'onnxruntime',\n"
        "                                   'ray'):\n"
        "            raise ImportError(f'blocked: {name}')\n"
        "sys.meta_path.insert(0, Block())\n"
        f"for n in {names!r}:\n"
        "    importlib.import_module(n)\n"
        "print('ok')\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"})
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "ok"


def test_modules_stay_small():
    long = {name: n for name, path in _modules().items()
            if (n := len(path.read_text().splitlines())) > 400}
    assert not long, f"modules over 400 lines: {long}"
