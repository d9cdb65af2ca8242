"""The import graph between rooms, read from the source (nothing is imported).

A room is a package one level under ``app`` or ``training`` (``app.store``, ``training.inference``)
or, where a module still sits at a package's root, that module (``app.crud`` before issue 18).
``tests/test_architecture.py`` holds the rules over this graph; to print it:

    .venv/bin/python -m tests.architecture [--root DIR]

``--root`` reads another checkout, e.g. a ``git worktree`` of an older commit, for a before/after.
Imports inside functions count, and so do those under ``TYPE_CHECKING``: a room that names
another only for its types still depends on it.
"""

from __future__ import annotations

import argparse
import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("app", "training")


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path, root: Path = ROOT) -> set[str]:
    """Every absolute module a file imports, at any depth; ``from a import b`` counts ``a.b`` too
    (``b`` may be a module)."""
    names: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path, root)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            module = node.module
            if node.level:  # relative: resolve against the file's package
                base = package.split(".")[: -node.level] if package else []
                module = ".".join([*base, module])
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def room_of(module: str, rooms: set[str]) -> str | None:
    """The longest known room that holds ``module``, or None for an outside module."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in rooms:
            return candidate
    return None


def rooms_under(root: Path) -> set[str]:
    """Packages and modules directly under each top package (``app.store``, ``app.main``)."""
    found: set[str] = set()
    for top in PACKAGES:
        for child in (root / top).iterdir():
            if child.name.startswith(("_", ".")) or child.name == "__pycache__":
                continue
            if child.is_dir() and (child / "__init__.py").exists():
                found.add(f"{top}.{child.name}")
            elif child.suffix == ".py":
                found.add(f"{top}.{child.stem}")
    return found


def room_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """room -> the other rooms it imports."""
    rooms = rooms_under(root)
    graph: dict[str, set[str]] = defaultdict(set)
    for top in PACKAGES:
        for path in sorted((root / top).rglob("*.py")):
            source = room_of(module_name(path, root), rooms)
            if source is None:
                continue
            graph[source]
            for name in imported_modules(path, root):
                target = room_of(name, rooms)
                if target and target != source:
                    graph[source].add(target)
    return dict(graph)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of rooms that import each other, directly or through others (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(room: str) -> None:
        index[room] = low[room] = len(index)
        stack.append(room)
        for target in graph.get(room, ()):
            if target not in index:
                visit(target)
                low[room] = min(low[room], low[target])
            elif target in stack:
                low[room] = min(low[room], index[target])
        if low[room] == index[room]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == room:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for room in sorted(graph):
        if room not in index:
            visit(room)
    return sorted(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to read")
    args = parser.parse_args()
    graph = room_graph(args.root.resolve())
    for top in PACKAGES:
        names = sorted(room for room in graph if room.split(".")[0] == top)
        print(f"{top}: {len(names)} rooms")
        for room in names:
            targets = ", ".join(sorted(graph[room])) or "-"
            print(f"  {room} -> {targets}")
    groups = cycles(graph)
    print(f"rooms that import each other: {len(groups)} group(s)")
    for group in groups:
        print("  " + " <-> ".join(group))


if __name__ == "__main__":
    main()
