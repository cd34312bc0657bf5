"""House rules that import-linter cannot see: private names stay private, modules stay small,
and every domain package says what it exports."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SRC = REPO / "src" / "waternet"
TREES = [REPO / "src", REPO / "simulators", REPO / "tests", REPO / "bench"]
OWN = ("waternet", "simulators")
MAX_LINES = 400
DOMAINS = ["sensors", "ingest", "timeseries", "network", "isolation", "gis", "jobs", "demo"]


def _python_files() -> list[Path]:
    return sorted(p for tree in TREES for p in tree.rglob("*.py"))


def _module_name(path: Path) -> str:
    rel = path.relative_to(REPO / "src" if path.is_relative_to(REPO / "src") else REPO)
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


def private_uses(source: str, *, here: str, label: str) -> list[str]:
    """``from other import _name`` and ``imported_module._name`` in one module's source."""
    tree = ast.parse(source, filename=label)
    found: list[str] = []
    module_aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if not node.module.startswith(OWN) or node.module == here:
                continue
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{label}:{node.lineno}: imports {full}")
                elif _is_module(full):
                    module_aliases[alias.asname or alias.name] = full
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(OWN) and alias.asname:
                    module_aliases[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in module_aliases
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            target = module_aliases[node.value.id]
            found.append(f"{label}:{node.lineno}: uses {target}.{node.attr}")
    return found


def test_no_private_name_crosses_a_module_boundary() -> None:
    problems = [
        p
        for f in _python_files()
        for p in private_uses(
            f.read_text(encoding="utf-8"), here=_module_name(f), label=str(f.relative_to(REPO))
        )
    ]
    assert problems == []


def test_the_private_name_check_sees_both_forms() -> None:
    source = (
        "from waternet.demo.synthetic import _jitter\n"
        "from waternet.network import service\n"
        "service._cache.clear()\n"
        "service.load_active\n"
    )
    found = private_uses(source, here="tests.probe", label="probe.py")
    assert len(found) == 2
    assert "imports waternet.demo.synthetic._jitter" in found[0]
    assert "uses waternet.network.service._cache" in found[1]


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_modules_stay_under_the_line_limit(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(REPO)} has {lines} lines"


@pytest.mark.parametrize("domain", DOMAINS)
def test_domain_packages_export_their_public_names(domain: str) -> None:
    package = importlib.import_module(f"waternet.{domain}")
    exported = getattr(package, "__all__", None)
    assert exported, f"waternet.{domain} has no __all__"
    for name in exported:
        assert not name.startswith("_")
        assert hasattr(package, name), f"waternet.{domain}.__all__ names missing {name}"
