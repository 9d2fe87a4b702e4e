"""The import rules between our packages: each layer imports only the ones below it, so no cycle can form
and the contract stays free of clients (see the package docstrings of ``schemas`` and ``sinks.kafka``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = {"schemas", "connectors", "pipeline", "sinks", "console", "omnitrail"}
#: Package (or subpackage) -> what of ours it may import besides itself.
ALLOWED = {
    "schemas": set[str](),
    "sinks.kafka": {"schemas"},
    "sinks": {"schemas"},
    "connectors": {"schemas", "sinks.kafka"},
    "pipeline": {"schemas", "sinks"},
}


def imported(path: Path, ours: bool = True) -> set[str]:
    """Our modules (or all modules) ``path`` imports, at any depth of the file (functions included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name.split(".")[0] in OURS or not ours}


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def layer_of(module: str) -> str:
    return "sinks.kafka" if within(module, "sinks.kafka") else module.split(".")[0]


def violations(package: str) -> list[str]:
    found = []
    for path in sorted((ROOT / package.replace(".", "/")).rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        if layer_of(module) != package:
            continue  # sinks.kafka is checked on its own, under its own rule
        for name in imported(path):
            if within(name, package):
                continue
            if not any(within(name, allowed) for allowed in ALLOWED[package]):
                found.append(f"{module} imports {name}")
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_only_the_layers_below(package: str) -> None:
    assert violations(package) == []


def test_nothing_imports_the_shell() -> None:
    found = [
        f"{path.relative_to(ROOT)} imports {name}"
        for package in OURS - {"omnitrail"}
        for path in sorted((ROOT / package).rglob("*.py"))
        for name in imported(path)
        if within(name, "omnitrail")
    ]
    assert found == []


def test_stages_do_no_io() -> None:
    """``pipeline.stages`` are pure functions over batches: no database, no Kafka client, no network."""
    clients = {"psycopg", "psycopg_pool", "aiokafka", "httpx", "sinks"}
    allowed = {"sinks.kafka.records"}  # the record as fetched: a dataclass, no client
    found = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / "pipeline" / "stages").rglob("*.py"))
        for name in imported(path, ours=False)
        if name.split(".")[0] in clients and not any(within(name, a) for a in allowed)
    ]
    assert found == []
