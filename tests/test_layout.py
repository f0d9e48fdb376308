"""The house rules of the source tree, checked: module size, no import cycles at module
level, one package per capability."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "ecomap"
MAX_LINES = 600


def modules() -> dict[str, Path]:
    """Dotted name → file of every module of the package."""
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def module_level_imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The ecomap modules ``name`` imports when it is imported (top level only: not
    inside functions, nor under ``if TYPE_CHECKING``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def resolve(base: str, names: list[str]) -> None:
        for n in names:
            if f"{base}.{n}" in known:
                found.add(f"{base}.{n}")
            elif base in known:
                found.add(base)

    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            if base.split(".")[0] == "ecomap":
                resolve(base, [a.name for a in node.names])
    found.discard(name)
    return found


def test_no_module_is_over_600_lines():
    long = {str(p.relative_to(SRC)): n for p in SRC.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_no_two_modules_import_each_other_at_module_level():
    mods = modules()
    known = set(mods)
    graph = {m: module_level_imports(m, p, known) for m, p in mods.items()}
    # A package's __init__ importing its own submodules is how packages re-export.
    mutual = sorted({tuple(sorted((a, b))) for a, deps in graph.items() for b in deps
                     if a in graph.get(b, ())
                     and not (b.startswith(a + ".") or a.startswith(b + "."))})
    assert mutual == []


@pytest.mark.parametrize("capability", ["water", "raster"])
def test_a_capability_lives_in_one_package(capability):
    assert (SRC / capability / "__init__.py").is_file()
    strays = sorted(str(p.relative_to(SRC)) for p in SRC.rglob(f"*{capability}*.py")
                    if capability not in p.relative_to(SRC).parts[:-1]
                    and p.parent != SRC / capability)
    # Readers of raster files stay with the other readers in io/ (only io touches
    # paths); map rendering of rasters stays with the other map builders; the command
    # of a capability lives with the other commands (cli/ has one module per command).
    allowed = {"io/raster.py", "maps/_raster.py", f"cli/{capability}.py"}
    assert [s for s in strays if s not in allowed] == []
