"""The layers import one way: a forbidden import edge fails here, whoever adds it.

    cli.py, vpype_plugin.py, options.py, console.py    (the faces: options and printing)
    app/                                   (jobs: page, outputs, streaming; sampling requests)
    model/   plotter/   gcode/ <- machines/
    core/                                  (profiles, formats, GRBL knowledge, paths)

Read from the source with ``ast``, so an import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sketchplot"
FACES = {"cli", "vpype_plugin", "options", "console"}

# What each part may import besides itself (torch only where training happens).
ALLOWED = {
    "core": {"core"},
    "model": {"core", "model"},
    "plotter": {"core", "plotter"},
    "gcode": {"core", "gcode"},
    "machines": {"core", "gcode", "machines"},
    "app": {"core", "model", "plotter", "gcode", "machines", "app"},
    "cli": {"core", "app", "options", "console"},
    "options": {"core", "model", "plotter", "app"},
    "console": {"core", "gcode", "app"},
    "vpype_plugin": {"core", "plotter", "app", "options"},
}
TORCH_MODULES = {"model/net.py", "model/train.py", "model/classifier_net.py"}


def _part(module: str) -> str:
    """sketchplot.gcode.writer -> 'gcode'; sketchplot.cli -> 'cli'."""
    return module.split(".")[1] if module.count(".") else "sketchplot"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in a file, relative ones resolved."""
    found = []
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found.append((node.lineno, module))
            if node.module is None or node.module == "sketchplot":  # from sketchplot import cli
                found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))


def _edges():
    for path in SOURCES:
        source = _part(_module_name(path))
        for line, module in _imports(path):
            yield path, line, source, module


def test_the_package_has_the_parts_the_rules_name():
    parts = {_part(_module_name(path)) for path in SOURCES} - {"sketchplot"}
    assert parts == set(ALLOWED), "a new top-level part needs its row in ALLOWED"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_forbidden_import(path):
    source = _part(_module_name(path))
    allowed = ALLOWED.get(source, set())
    wrong = [
        f"line {line}: {module}"
        for line, module in _imports(path)
        if module.startswith("sketchplot.") and _part(module) not in allowed
    ]
    assert not wrong, f"{path.relative_to(PACKAGE)} ({source}) may import only {sorted(allowed)}: {wrong}"


def test_nothing_imports_the_faces():
    wrong = [
        f"{path.relative_to(PACKAGE)}:{line} -> {module}"
        for path, line, source, module in _edges()
        if _part(module) in FACES and module.startswith("sketchplot.") and source not in FACES
    ]
    assert not wrong


def test_torch_only_in_training_modules():
    wrong = [
        f"{path.relative_to(PACKAGE)}:{line}"
        for path, line, _, module in _edges()
        if module.split(".")[0] == "torch"
        and str(path.relative_to(PACKAGE)) not in TORCH_MODULES
        and not _inside_function(path, line)
    ]
    assert not wrong, "torch at module level outside the training modules"


def _inside_function(path: Path, line: int) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(
        isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.lineno <= line <= node.end_lineno
        for node in ast.walk(tree)
    )


def test_the_checker_sees_a_forbidden_edge(tmp_path, monkeypatch):
    """The rules are not vacuous: a plotter file that imports the model is caught."""
    fake = PACKAGE / "plotter" / "layout.py"
    imports = _imports(fake) + [(1, "sketchplot.model.sample")]
    monkeypatch.setattr(f"{__name__}._imports", lambda path: imports)
    with pytest.raises(AssertionError, match="model.sample"):
        test_no_forbidden_import(fake)
