"""The package's floors: files → plan (content/) imports nothing above it, views/ nothing of publishing,
and no import runs in a circle. Read from the source (every import, also inside functions), so a
lazy import cannot hide an arrow that runs back up."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "scheduler"
BOTTOM = (
    "scheduler.posts",
    "scheduler.settings",
    "scheduler.secrets",
    "scheduler.errors",
    "scheduler.logs",
    "scheduler.times",
    "scheduler.terminal",
    "scheduler.formulas",
    "scheduler.words",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every scheduler module `path` imports, by absolute name (`from scheduler.x import y` counts as x.y
    where y is a module, else as x)."""
    found: set[str] = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], base]).strip(".")
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in MODULES else base)
    return {name for name in found if name == "scheduler" or name.startswith("scheduler.")}


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}
GRAPH = {name: imports_of(path) for name, path in MODULES.items()}


def below(prefix: str) -> list[str]:
    return sorted(name for name in MODULES if name == prefix or name.startswith(prefix + "."))


def under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


@pytest.mark.parametrize(
    ("floor", "forbidden"),
    [
        ("scheduler.content", ("scheduler.channels", "scheduler.publish", "scheduler.views", "scheduler.cli")),
        ("scheduler.views", ("scheduler.publish", "scheduler.cli")),
        ("scheduler.channels", ("scheduler.publish", "scheduler.views", "scheduler.cli")),
        ("scheduler.publish", ("scheduler.cli", "scheduler.results", "scheduler.web")),
        ("scheduler.results", ("scheduler.cli", "scheduler.views")),
        ("scheduler.links", ("scheduler.channels", "scheduler.publish", "scheduler.views", "scheduler.cli")),
        ("scheduler.starter", ("scheduler.channels", "scheduler.publish", "scheduler.views", "scheduler.cli")),
        (
            "scheduler.importers",
            ("scheduler.channels", "scheduler.publish", "scheduler.views", "scheduler.cli", "scheduler.starter"),
        ),
        ("scheduler.web", ("scheduler.cli",)),
        # Media files (images made to fit a network, a video's container, captions): beneath everything but the
        # bottom layer, knowing only the rules (scheduler.posts).
        (
            "scheduler.media",
            tuple(
                name
                for name in MODULES
                if name.startswith("scheduler.") and not under(name, ("scheduler.media", *BOTTOM))
            ),
        ),
        # The ledger's stores sit beneath the publisher: they know states and holds, nothing that sends.
        (
            "scheduler.publish.store",
            tuple(
                name
                for name in below("scheduler.publish")
                if not under(name, ("scheduler.publish.store", "scheduler.publish.states", "scheduler.publish.holds"))
                and name != "scheduler.publish"
            ),
        ),
    ],
)
def test_a_floor_imports_nothing_from_the_floors_above_it(floor: str, forbidden: tuple[str, ...]) -> None:
    wrong = {module: sorted(n for n in GRAPH[module] if under(n, forbidden)) for module in below(floor)}
    assert {module: names for module, names in wrong.items() if names} == {}


def test_the_bottom_floor_imports_only_itself() -> None:
    wrong = {module: sorted(n for n in GRAPH[module] if not under(n, BOTTOM)) for module in BOTTOM}
    assert {module: names for module, names in wrong.items() if names} == {}


def test_no_module_imports_itself_through_others() -> None:
    # `scheduler` (the package) is imported with every module, so it is no arrow of its own.
    graph = {name: {n for n in names if n != "scheduler"} for name, names in GRAPH.items() if name != "scheduler"}
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        pytest.fail(f"import cycle: {' → '.join(exc.args[1])}")


def test_the_walk_sees_imports() -> None:  # a guard for the tests above: an empty graph would pass them
    assert "scheduler.posts" in GRAPH["scheduler.content.render"]
    assert "scheduler.cli.app" in GRAPH["scheduler.cli.publishing"]


def test_the_package_keeps_its_rooms_small() -> None:
    """One idea per module (scheduler.publish.store one noun per module, the renderer beside its sandbox and
    outlines): no module of the package over 500 lines, no class with more than 25 public methods."""
    long = {
        name: n for name, path in MODULES.items() if (n := len(path.read_text(encoding="utf-8").splitlines())) > 500
    }
    assert long == {}
    wide = {}
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                public = [m for m in node.body if isinstance(m, ast.FunctionDef) and not m.name.startswith("_")]
                if len(public) > 25:
                    wide[f"{name}.{node.name}"] = len(public)
    assert wide == {}


def test_the_ledger_is_one_store_per_noun() -> None:
    stores = {name.rpartition(".")[2] for name in below("scheduler.publish.store")}
    assert {"schema", "db", "sends", "threads", "operators", "workers", "alerts", "results", "replies"} <= stores
