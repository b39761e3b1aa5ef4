"""scheduler.testing ships with the package for adapter authors, but the daemon never needs pytest:
only scheduler.testing imports pytest, and no other module imports scheduler.testing."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "scheduler"


def imported(path: Path) -> set[str]:
    """Every module name `path` imports, at any depth (also inside functions)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_only_scheduler_testing_imports_pytest_and_nothing_imports_it() -> None:
    wrong = {}
    for path in PACKAGE.rglob("*.py"):
        if path.is_relative_to(PACKAGE / "testing"):
            continue
        names = imported(path)
        found = sorted(
            n for n in names if n.split(".")[0] in ("pytest", "_pytest") or n.startswith("scheduler.testing")
        )
        if found:
            wrong[str(path.relative_to(PACKAGE.parent))] = found
    assert wrong == {}
    assert "pytest" in imported(PACKAGE / "testing" / "conformance.py")  # the walk sees imports


def test_the_daemon_and_every_adapter_load_without_pytest() -> None:
    script = (
        "import sys\n"
        "import scheduler.cli.main\n"
        "from scheduler.content import networks\n"
        "for name in networks.publishing_types(): networks.load(name)\n"
        "assert 'pytest' not in sys.modules and 'scheduler.testing' not in sys.modules, sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
